"""Every public function with a valid call, and for each argument the kind of bad values it must refuse.

The property test (``test_public_arguments.py``) replaces one argument of a valid call by a bad value of
its kind (``bad_values.py``) and expects a ``ValueError`` that names the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import bptt_core as bc
from bptt_core.analysis import gradcheck, jacobians, spectral, summaries, sweeps, truncation_study
from bptt_core.lab import chain_rule, estimators, optim, signals, tasks, train

from .bad_values import B, T

SPEC = bc.RNNSpec("lstm", 2, 3, 2)
STACK = bc.RNNSpec("gru", 2, 3, 2, num_layers=2, bidirectional=True)


@dataclass(frozen=True)
class Call:
    """``fn(**valid())`` runs; each argument in ``kinds`` has bad values of that kind."""

    name: str
    fn: Callable
    valid: Callable[[], dict]
    kinds: dict


def problem(spec: bc.RNNSpec = SPEC) -> dict:
    rng = np.random.default_rng(0)
    return {
        "spec": spec,
        "params": bc.init_params(spec, seed=0),
        "x": rng.standard_normal((T, B, spec.input_size)),
        "y": rng.standard_normal((T, B, spec.output_size)),
    }


def jacobian_list() -> list:
    return [np.random.default_rng(t).standard_normal((B, 3, 3)) for t in range(T)]


def perturbable() -> np.ndarray:
    return np.ones(3)


ENGINE = {"spec": "spec", "params": "params", "x": "x"}
CALLS = [
    Call(
        "bptt",
        bc.bptt,
        lambda: problem() | {"h0": np.zeros((1, B, 3)), "c0": np.zeros((B, 3))},
        ENGINE
        | {
            "y": "array",
            "loss": "choice",
            "reduction": "choice",
            "mask": "mask",
            "truncation": "opt_pos_int",
            "clip": "opt_pos_number",
            "clip_value": "opt_pos_number",
            "checkpoint": "checkpoint",
            "h0": "opt_array",
            "c0": "opt_array",
            "random_truncation": "prob",
            "seed": "opt_nonneg_int",
            "dtype": "dtype",
            "step_contributions": "bool",
            "memory_budget": "budget",
            "workspace": "workspace",
            "return_sequences": "bool",
            "input_grad": "bool",
        },
    ),
    Call(
        "bptt binomial",
        bc.bptt,
        lambda: problem() | {"checkpoint": "binomial", "checkpoint_slots": 2},
        {"checkpoint_slots": "pos_int"},
    ),
    Call(
        "flow_matrix",
        bc.flow_matrix,
        lambda: problem() | {"origins": [1, 3]},
        ENGINE | {"y": "array", "loss": "choice", "mask": "mask", "origins": "origins", "memory_budget": "budget"},
    ),
    Call(
        "gradient_contributions",
        bc.gradient_contributions,
        lambda: problem() | {"direction": np.ones((12, 3))},
        ENGINE | {"y": "array", "reduction": "choice", "direction": "opt_array", "dtype": "dtype"},
    ),
    Call(
        "output_sensitivity",
        bc.output_sensitivity,
        lambda: {k: v for k, v in problem(STACK).items() if k != "y"} | {"t": 2, "mask": np.ones((T, B))},
        ENGINE | {"t": "opt_index", "mask": "mask", "memory_budget": "budget"},
    ),
    Call(
        "input_connectivity",
        bc.input_connectivity,
        lambda: {k: v for k, v in problem().items() if k != "y"} | {"t": 1},
        ENGINE | {"t": "index"},
    ),
    Call(
        "gate_saturation",
        bc.gate_saturation,
        lambda: {k: v for k, v in problem(STACK).items() if k != "y"} | {"h0": np.zeros((4, B, 3))},
        ENGINE | {"tol": "unit_open", "h0": "opt_array", "memory_budget": "budget"},
    ),
    Call(
        "lyapunov_spectrum",
        bc.lyapunov_spectrum,
        lambda: {k: v for k, v in problem(STACK).items() if k != "y"} | {"layer": 1, "direction": 1, "k": 2},
        ENGINE | {"layer": "index", "direction": "index", "k": "opt_index", "memory_budget": "budget"},
    ),
    Call(
        "lyapunov_from_jacobians",
        bc.lyapunov_from_jacobians,
        lambda: {"jacobians": jacobian_list(), "k": 2},
        {"jacobians": "jacobians", "k": "opt_index"},
    ),
    Call(
        "iter_local_jacobians",
        jacobians.iter_local_jacobians,
        lambda: {k: v for k, v in problem(STACK).items() if k != "y"} | {"layer": 1},
        ENGINE | {"layer": "index", "direction": "index", "memory_budget": "budget"},
    ),
    Call(
        "local_jacobians",
        jacobians.local_jacobians,
        lambda: {k: v for k, v in problem().items() if k != "y"},
        ENGINE | {"layer": "index", "memory_budget": "budget"},
    ),
    Call(
        "jacobian_products",
        jacobians.jacobian_products,
        lambda: {"jacobians": jacobian_list(), "hidden_size": 3, "max_points": 2},
        {"jacobians": "jacobians", "hidden_size": "index", "max_points": "opt_pos_int", "steps": "opt_pos_int"},
    ),
    Call(
        "init_params",
        bc.init_params,
        lambda: {"spec": SPEC, "seed": 1},
        {
            "spec": "spec",
            "seed": "opt_nonneg_int",
            "init": "choice",
            "scale": "nonneg_number",
            "forget_bias": "number",
            "memory_budget": "budget",
        },
    ),
    Call(
        "RNNSpec",
        bc.RNNSpec,
        lambda: {"cell": "lstm", "input_size": 2, "hidden_size": 3, "output_size": 2},
        {
            "cell": "choice",
            "input_size": "pos_int",
            "hidden_size": "pos_int",
            "output_size": "pos_int",
            "activation": "choice",
            "num_layers": "pos_int",
            "bidirectional": "bool",
        },
    ),
    Call("Workspace", bc.Workspace, dict, {"output_bytes": "budget"}),
    Call("checkpoint_schedule", bc.checkpoint_schedule, lambda: {"T": 10, "checkpoint": 3}, {"T": "pos_int"}),
    Call(
        "checkpoint_schedule k",
        bc.checkpoint_schedule,
        lambda: {"T": 10, "checkpoint": 3},
        {"checkpoint": "checkpoint"},
    ),
    Call("global_norm", bc.global_norm, lambda: {"arrays": {"a": np.ones(3)}}, {"arrays": "dict"}),
    Call(
        "layer_params",
        bc.layer_params,
        lambda: {"params": problem()["params"]},
        {"params": "dict", "layer": "index", "direction": "index"},
    ),
    Call(
        "param_key",
        bc.param_key,
        lambda: {"name": "weight_hh", "layer": 1, "direction": 1},
        {"name": "name", "layer": "nonneg_int", "direction": "index"},
    ),
    Call(
        "numerical_gradient",
        bc.numerical_gradient,
        lambda: {"f": lambda: 1.0, "x": perturbable()},
        {"f": "callable", "x": "perturbable", "eps": "pos_number"},
    ),
    Call(
        "relative_error",
        bc.relative_error,
        lambda: {"a": np.ones(3), "b": np.ones(3)},
        {"a": "array_any", "b": "array_any"},
    ),
    Call(
        "orthogonal", bc.orthogonal, lambda: {"n": 3, "rng": np.random.default_rng(0)}, {"n": "pos_int", "rng": "rng"}
    ),
    Call("spectral_radius", bc.spectral_radius, lambda: {"w": np.eye(3)}, {"w": "array"}),
    Call(
        "directional_check",
        gradcheck.directional_check,
        lambda: {"f": lambda: 1.0, "x": perturbable(), "analytic": np.ones(3), "rng": np.random.default_rng(0)},
        {"f": "callable", "x": "perturbable", "analytic": "array_any", "rng": "rng", "eps": "pos_number"},
    ),
    Call(
        "spectral_report",
        spectral.spectral_report,
        lambda: {"spec": STACK, "params": problem(STACK)["params"], "layer": 1, "direction": 1},
        {"spec": "spec", "params": "dict", "layer": "index", "direction": "index"},
    ),
    Call(
        "pascanu_bound",
        spectral.pascanu_bound,
        lambda: {"lags": np.arange(4), "rate": 0.9},
        {"lags": "nonneg_vector", "rate": "nonneg_number"},
    ),
    Call(
        "growth_rate",
        summaries.growth_rate,
        lambda: {"log10_norms": -np.arange(4.0), "lags": np.arange(4)},
        {"log10_norms": "array_any", "lags": "opt_array"},
    ),
    Call(
        "memory_horizon",
        summaries.memory_horizon,
        lambda: {"log10_norms": -np.arange(4.0), "threshold": 0.1, "lags": np.arange(4)},
        {"log10_norms": "array_any", "threshold": "unit_open", "lags": "opt_array"},
    ),
    Call("first_overflow", summaries.first_overflow, lambda: {"values": np.ones((3, 2))}, {"values": "values"}),
    Call(
        "gradient_ratio_sweep",
        sweeps.gradient_ratio_sweep,
        lambda: {"cell": "gru", "radii": [0.5, 1.5], "lengths": [2, 4], "hidden_size": 3, "batch": 2},
        {
            "cell": "choice",
            "radii": "nonneg_vector",
            "lengths": "positive_ints",
            "hidden_size": "pos_int",
            "input_size": "pos_int",
            "batch": "pos_int",
            "activation": "choice",
            "forget_bias": "number",
            "input_scale": "nonneg_number",
            "seed": "nonneg_int",
        },
    ),
    Call(
        "truncation_study",
        truncation_study.truncation_study,
        lambda: problem() | {"ks": [1, 2]},
        {"ks": "positive_ints"},
    ),
    Call(
        "random_truncation_study",
        truncation_study.random_truncation_study,
        lambda: problem() | {"probabilities": [0.5], "n_draws": 2},
        {"probabilities": "prob_vector", "n_draws": "count", "seed": "nonneg_int"},
    ),
    Call(
        "TrainConfig",
        train.TrainConfig,
        lambda: {"task": "sine", "cell": "rnn", "T": 3, "hidden_size": 2, "batch_size": 2, "iterations": 1},
        {
            "task": "choice",
            "cell": "choice",
            "T": "pos_int",
            "hidden_size": "pos_int",
            "batch_size": "pos_int",
            "iterations": "pos_int",
            "lr": "pos_number",
            "optimizer": "choice",
            "clip": "opt_pos_number",
            "truncation": "opt_pos_int",
            "init": "choice",
            "forget_bias": "number",
            "seed": "nonneg_int",
            "delay": "nonneg_int",
            "activation": "choice",
            "num_layers": "pos_int",
            "bidirectional": "bool",
            "scale": "nonneg_number",
        },
    ),
    Call(
        "train",
        train.train,
        lambda: {"config": train.TrainConfig("sine", "rnn", T=3, hidden_size=2, batch_size=2, iterations=1)},
        {"config": "spec", "callback": "callable_or_none", "every": "pos_int"},
    ),
    Call("task_sizes", tasks.task_sizes, lambda: {"task": "adding"}, {"task": "choice"}),
    Call(
        "make_batch",
        tasks.make_batch,
        lambda: {"task": "recall", "T": 5, "B": 2, "rng": np.random.default_rng(0), "delay": 2},
        {"task": "choice", "T": "pos_int", "B": "pos_int", "rng": "rng", "delay": "nonneg_int"},
    ),
    Call(
        "init_state",
        optim.init_state,
        lambda: {"name": "adam", "params": {"w": np.ones(2)}},
        {"name": "choice", "params": "dict"},
    ),
    Call(
        "optim.step",
        optim.step,
        lambda: {
            "name": "adam",
            "params": {"w": np.ones(2)},
            "grads": {"w": np.ones(2)},
            "state": optim.init_state("adam", {"w": np.ones(2)}),
            "lr": 0.1,
        },
        {
            "grads": "dict",
            "state": "dict",
            "lr": "pos_number",
            "beta": "unit_right_open",
            "beta2": "unit_right_open",
            "eps": "pos_number",
        },
    ),
    Call(
        "make_inputs",
        signals.make_inputs,
        lambda: {"kind": "tokens", "T": 4, "B": 2, "I": 3, "seed": 1},
        {"kind": "choice", "T": "pos_int", "B": "pos_int", "I": "pos_int", "seed": "nonneg_int"},
    ),
    Call(
        "delayed_targets",
        signals.delayed_targets,
        lambda: {"x": np.ones((4, 2, 3)), "output_size": 2, "delay": 1, "loss": "mse"},
        {"x": "x_free", "output_size": "pos_int", "delay": "nonneg_int", "loss": "choice"},
    ),
    Call(
        "ragged_mask",
        signals.ragged_mask,
        lambda: {"T": 4, "B": 2, "seed": 0},
        {"T": "pos_int", "B": "pos_int", "seed": "nonneg_int"},
    ),
    Call(
        "exact_gradient",
        estimators.exact_gradient,
        lambda: {"kind": "categorical", "theta": np.array([0.5, -1.0, 0.2]), "target": np.array([0.0, 1.0, 0.0])},
        {"kind": "choice", "theta": "vector", "target": "array"},
    ),
    Call(
        "estimates",
        estimators.estimates,
        lambda: {
            "name": "gumbel_softmax",
            "kind": "bernoulli",
            "theta": 0.3,
            "target": 0.2,
            "n": 4,
            "rng": np.random.default_rng(0),
        },
        {"name": "choice", "theta": "number", "target": "number", "n": "count", "rng": "rng", "tau": "pos_number"},
    ),
    Call(
        "estimator_study",
        estimators.estimator_study,
        lambda: {"kind": "bernoulli", "theta": 0.3, "target": 0.2, "taus": [1.0, 0.5], "n": 4},
        {"taus": "pos_vector", "n": "count", "seed": "nonneg_int"},
    ),
    Call(
        "scalar_chain",
        chain_rule.scalar_chain,
        lambda: {"x": 0.5, "y": 0.2, "w1": 1.0, "w2": -0.5},
        {
            "x": "number",
            "y": "number",
            "w1": "number",
            "w2": "number",
            "hidden": "choice",
            "output": "choice",
            "backward_hidden": "opt_choice",
            "eps": "pos_number",
        },
    ),
]
