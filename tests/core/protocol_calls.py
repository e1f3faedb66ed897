"""The cell protocol's public paths with a valid call each, and the kinds of bad values every argument must
refuse (as :mod:`tests.core.public_calls`): the LRU and minGRU, the scan, the cells' own init options, the
online methods and their costs, the textbook loop and the norms."""

from __future__ import annotations

import numpy as np

import bptt_core as bc
from bptt_core import online
from bptt_core.analysis import spectral
from bptt_core.reference import reference_bptt

from .public_calls import ENGINE, Call, problem

LRU = bc.RNNSpec("lru", 2, 3, 2)
MINGRU = bc.RNNSpec("mingru", 2, 3, 2, num_layers=2)
RNN = bc.RNNSpec("rnn", 2, 3, 2)


def draws() -> dict:
    rng = np.random.default_rng(0)
    return {"draws": rng.standard_normal((3, 4)), "exact": rng.standard_normal(4)}


ONLINE_KINDS = ENGINE | {
    "y": "array",
    "method": "choice",
    "loss": "choice",
    "reduction": "choice",
    "mask": "mask",
    "seed": "opt_nonneg_int",
    "truncation": "opt_pos_int",
    "checkpoint": "checkpoint",
    "h0": "opt_array",
    "dtype": "dtype",
    "memory_budget": "budget",
}
PROTOCOL_CALLS = [
    Call(
        "bptt lru scan",
        bc.bptt,
        lambda: problem(LRU) | {"scan": True},
        ENGINE | {"y": "array", "scan": "bool", "h0": "opt_array", "truncation": "opt_pos_int", "mask": "mask"},
    ),
    Call(
        "bptt mingru stack scan",
        bc.bptt,
        lambda: problem(MINGRU) | {"scan": True, "checkpoint": 2},
        ENGINE | {"y": "array", "scan": "bool", "checkpoint": "checkpoint", "memory_budget": "budget"},
    ),
    Call(
        "init_params lru options",
        bc.init_params,
        lambda: {"spec": LRU, "seed": 1, "r_min": 0.5, "r_max": 0.9, "max_phase": 1.0},
        {"spec": "spec", "seed": "opt_nonneg_int", "r_min": "unit_right_open", "r_max": "number"}
        | {"max_phase": "pos_number", "memory_budget": "budget"},
    ),
    Call(
        "gradient_contributions lru param",
        bc.gradient_contributions,
        lambda: problem(LRU) | {"param": "theta_log"},
        ENGINE | {"y": "array", "param": "opt_choice", "direction": "opt_array"},
    ),
    Call(
        "spectral_report lru",
        spectral.spectral_report,
        lambda: {"spec": LRU, "params": problem(LRU)["params"]},
        {"spec": "spec", "params": "dict", "layer": "index", "direction": "index"},
    ),
    Call("online_gradient rtrl", bc.online_gradient, lambda: problem() | {"method": "rtrl"}, ONLINE_KINDS),
    Call("online_gradient lru uoro", bc.online_gradient, lambda: problem(LRU) | {"method": "uoro"}, ONLINE_KINDS),
    Call(
        "online_gradient tbptt",
        bc.online_gradient,
        lambda: problem(RNN) | {"method": "tbptt", "truncation": 2},
        {"truncation": "pos_int", "checkpoint": "checkpoint"},
    ),
    Call(
        "method_table",
        online.method_table,
        lambda: problem(RNN) | {"methods": ("rtrl", "uoro"), "n_seeds": 2},
        ENGINE
        | {"y": "array", "methods": "methods", "n_seeds": "count", "seed": "opt_nonneg_int"}
        | {"truncation": "opt_pos_int"},
    ),
    Call(
        "cost_table",
        online.cost_table,
        lambda: {"cell": "mingru", "hidden_sizes": [2], "lengths": [3], "methods": ("rtrl", "bptt")},
        {"cell": "choice", "hidden_sizes": "positive_ints", "lengths": "positive_ints", "methods": "methods"}
        | {"B": "pos_int", "input_size": "pos_int", "seed": "nonneg_int", "truncation": "opt_pos_int"},
    ),
    Call(
        "crossover_length",
        online.crossover_length,
        lambda: {"spec": RNN, "max_length": 8},
        {"spec": "spec", "B": "pos_int", "what": "choice", "dtype": "dtype", "max_length": "pos_int"},
    ),
    Call(
        "gradient_statistics",
        online.gradient_statistics,
        draws,
        {"draws": "x_free", "exact": "array", "alpha": "unit_open"},
    ),
    Call(
        "flop_counts",
        online.flop_counts,
        lambda: {"spec": LRU, "T": 5, "B": 2, "method": "snap1"},
        {"spec": "spec", "T": "pos_int", "B": "pos_int", "method": "choice", "forward_steps": "opt_nonneg_int"},
    ),
    Call(
        "online_bytes",
        online.online_bytes,
        lambda: {"spec": MINGRU, "B": 2, "method": "rtrl"},
        {"spec": "spec", "B": "pos_int", "method": "choice", "dtype": "dtype"},
    ),
    Call(
        "influence_bytes",
        online.influence_bytes,
        lambda: {"spec": LRU, "B": 2, "method": "uoro"},
        {"spec": "spec", "B": "pos_int", "method": "choice", "dtype": "dtype"},
    ),
    Call("stored_crossover", online.stored_crossover, lambda: {"spec": LRU}, {"spec": "spec"}),
    Call(
        "reference_bptt",
        reference_bptt,
        lambda: problem(LRU),
        ENGINE | {"y": "array", "loss": "choice", "reduction": "choice", "mask": "mask"},
    ),
    Call(
        "scaled_norm",
        bc.scaled_norm,
        lambda: {"a": np.ones((2, 3)), "axis": 1},
        {"a": "any_array", "axis": "axis"},
    ),
]
