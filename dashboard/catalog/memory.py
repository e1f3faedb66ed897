"""Memory views of a configuration: the strategies compared, the budget and its advice, the Pareto front.

Pure functions (cached in :mod:`dashboard.shell.cache`); the engine's ledger and checkpoint plans are the source
of every number.
"""

from __future__ import annotations

import os

import numpy as np

import bptt_core as bc
from bptt_core import budget
from bptt_core.checkpoint import plan
from dashboard.catalog.compute import Params, bptt_options, flow_origins, problem
from dashboard.config import RunConfig

STRATEGIES = ("full storage", "checkpoint sqrt(T)", "checkpoint every 4", "truncation 8")
_STRATEGY_OPTIONS = {
    "full storage": {},
    "checkpoint sqrt(T)": {"checkpoint": "sqrt"},
    "checkpoint every 4": {"checkpoint": 4},
    "truncation 8": {"truncation": 8},
}


def strategies(config: RunConfig) -> tuple[str, ...]:
    """The memory strategies the Memory page compares: truncation only for a unidirectional network."""
    return tuple(s for s in STRATEGIES if not (config.bidirectional and "truncation" in _STRATEGY_OPTIONS[s]))


def strategy_runs(config: RunConfig, params: Params | None = None) -> dict[str, bc.BPTTResult]:
    """The same problem under full storage, sqrt and every-4 checkpointing, and truncation 8
    (:func:`strategies`).

    Run on the first sequence (B = 1), without the returned sequences: the bytes are what
    one sequence's pass holds (the tape and checkpoints scale with the batch, the fixed
    buffers do not).
    """
    p = problem(config.replace(batch_size=1, ragged=False), params)
    base = {k: v for k, v in bptt_options(config).items() if k in ("loss", "reduction", "dtype")}
    return {
        name: bc.bptt(p.spec, p.params, p.x, p.y, mask=p.mask, return_sequences=False, **base, **opts)
        for name, opts in _STRATEGY_OPTIONS.items()
        if name in strategies(config)
    }


def memory_scaling(config: RunConfig, n: int = 8) -> dict[str, np.ndarray]:
    """Bytes stored for backward and extra forward steps against T for each strategy, for one sequence.

    Measured by running the engine (B = 1, :func:`strategy_runs`): ``bytes`` is the peak of the
    tape and checkpoints (stored for backward), ``recomputed`` every forward step beyond the T that each
    layer and direction runs once (the vocabulary's recomputed steps).

    Returns
    -------
    dict with "T" (n,), and per strategy "<name> bytes" and "<name> recomputed" (n,)
    """
    Ts = np.unique(np.geomspace(1, max(config.T, 2), n).astype(int))
    out: dict[str, np.ndarray] = {"T": Ts}
    for name in strategies(config):
        out[f"{name} bytes"] = np.zeros(Ts.size)
        out[f"{name} recomputed"] = np.zeros(Ts.size)
    for i, T in enumerate(Ts):
        runs = strategy_runs(config.replace(T=int(T)))
        for name, res in runs.items():
            out[f"{name} bytes"][i] = res.stored_bytes
            out[f"{name} recomputed"][i] = res.forward_steps - T * len(config.owners)  # beyond each layer's T
    return out


def memory_budget(config: RunConfig, params: Params | None = None) -> dict[str, dict[str, int]]:
    """Bytes of parameters, gradient buffers, stored activations and the running state, per dtype.

    Measured with full-storage runs on the first sequence, scaled by the batch
    (exact: every stored array has the batch as a factor).

    Returns
    -------
    dict dtype -> {"parameters", "gradient buffers", "stored activations (peak)", "state (prediction)"}
    """
    p = problem(config.replace(batch_size=1, ragged=False), params)
    return budget_of(p.spec, p.params, p.x, p.y, config.batch_size, loss=config.loss, reduction=config.reduction)


def budget_of(
    spec: bc.RNNSpec, params: Params, x: np.ndarray, y: np.ndarray, batch_size: int, **options
) -> dict[str, dict[str, int]]:
    """:func:`memory_budget` for any network and one sequence ``x`` (1, ...) scaled to ``batch_size``."""
    out = {}
    for dtype in ("float64", "float32"):
        res = bc.bptt(spec, params, x, y, dtype=dtype, return_sequences=False, **options)
        state = bc.CELLS[spec.cell].state_width * spec.num_layers * spec.directions * spec.hidden_size
        out[dtype] = {
            "parameters": res.param_bytes,
            "gradient buffers": res.grad_bytes,
            "stored activations (peak)": res.stored_bytes * batch_size,  # the tape scales with B exactly
            "state (prediction)": state * batch_size * np.dtype(dtype).itemsize,
        }
    return out


#: Bytes one page computation may allocate; above it the sidebar refuses the configuration.
DASHBOARD_BUDGET = int(os.environ.get("BPTT_DASHBOARD_BUDGET", min(budget.DEFAULT_BUDGET, 2**30)))


def estimate_bytes(config: RunConfig) -> int:
    """The largest allocation any page makes for this configuration (a BPTT run or the flow matrix)."""
    ck = bptt_options(config)["checkpoint"]
    run_bytes = budget.bptt_bytes(
        config.spec,
        config.T,
        config.batch_size,
        checkpoint=ck,
        truncation=config.truncation or None,
        dtype=config.dtype,
    )
    flow_bytes = budget.flow_bytes(config.spec, config.T, config.batch_size, len(flow_origins(config.T)), config.dtype)
    return max(run_bytes, flow_bytes)


def budget_advice(config: RunConfig) -> str:
    """Single changes that bring ``config`` within :data:`DASHBOARD_BUDGET`, each with the value that fits."""

    def fits(c: RunConfig) -> bool:
        return estimate_bytes(c) <= DASHBOARD_BUDGET

    def largest(name: str) -> int | None:
        lo, hi = 0, getattr(config, name)  # the largest value of this one setting that fits
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(config.replace(**{name: mid})) else (lo, mid)
        return lo or None

    options = []
    if config.checkpoint == "none" and fits(config.replace(checkpoint="sqrt")):
        options.append("turn on √T checkpointing")
    if config.dtype == "float64" and fits(config.replace(dtype="float32")):
        options.append("switch to float32")
    labels = {"T": "T", "batch_size": "Batch B", "hidden_size": "Hidden H", "num_layers": "Layers L"}
    for name, label in labels.items():
        value = largest(name)
        if value is not None:
            options.append(f"lower {label} to {value}")
    return ", or ".join(options) if options else "lower T, the batch and the hidden size together"


def training_ratio(budget_row: dict[str, int]) -> float:
    """Training memory (parameters, gradients, tape) over prediction memory (parameters, state)."""
    prediction = budget_row["parameters"] + budget_row["state (prediction)"]
    return (
        budget_row["parameters"] + budget_row["gradient buffers"] + budget_row["stored activations (peak)"]
    ) / prediction


def pareto_front(config: RunConfig) -> dict[str, np.ndarray]:
    """Bytes stored for backward against extra forward steps for full storage, every-k, sqrt and binomial.

    Each schedule's counts come from the engine's own :class:`bptt_core.checkpoint.Plan` (its
    ``stored_peak`` equals the ledger's tape and checkpoints, its ``forward_steps`` the steps the
    engine runs; tests/core check both), at this configuration's batch, width and dtype.

    Returns
    -------
    dict with "strategy", "label" (str arrays), "bytes", "recomputed", "forward" (float arrays)
    """
    T, B, H = config.T, config.batch_size, config.hidden_size
    cell, item = bc.CELLS[config.cell], np.dtype(config.dtype).itemsize
    state, step = B * H * item * cell.state_width, B * H * item * cell.tape_width
    sqrt_k = int(np.ceil(np.sqrt(T)))
    schedules = [("full storage", "full", None, None)]
    schedules += [
        ("checkpoint sqrt(T)" if k == sqrt_k else "checkpoint every k", f"k={k}", k, None)
        for k in sorted({2, 4, 8, 16, 32, 64, sqrt_k})
        if k < T
    ]
    schedules += [("binomial (revolve)", f"S={s}", "binomial", s) for s in range(1, 13)]
    rows = []
    for strategy, label, checkpoint, slots in schedules:
        schedule = plan(T, checkpoint, slots)
        rows.append((strategy, label, schedule.stored_peak(state, step), schedule.forward_steps - T))
    strategy, label, nbytes, extra = zip(*rows)
    return {
        "strategy": np.array(strategy),
        "label": np.array(label),
        "bytes": np.array(nbytes, float),
        "recomputed": np.array(extra, float),
        "forward": np.array(extra, float) + T,  # every forward step, the pass itself included
    }
