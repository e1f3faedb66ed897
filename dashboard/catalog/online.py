"""Beyond BPTT: every way of computing the gradient, on the sidebar's network, side by side.

Pure functions of a :class:`~dashboard.config.RunConfig` (cached in :mod:`dashboard.shell.cache`): which methods
run here and why the others do not (:func:`methods`), one gradient by each against exact BPTT
(:func:`method_rows`), UORO over many seeds (:func:`uoro_study`), what each keeps and holds against T
(:func:`memory_lengths`) with the crossover length T* (:func:`crossover`), and each one's memory, FLOPs and time
over a grid of T and H (:func:`cost_sweep`). Every number comes from :mod:`bptt_core.online`: its ledgers, its
counted FLOPs, its ``method_table``.

Sizes, so that the page's first view stays quick: one gradient per method on the sidebar's batch, a method
counting more than :data:`PAGE_FLOPS` is not run (the page says so); BPTT's memory is measured at about a dozen
lengths up to twice T* (at most :data:`LONGEST`); the cost sweep runs T in :data:`T_SWEEP` and H in
:data:`H_SWEEP` and times only the points counting at most :data:`SWEEP_FLOPS`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core import budget
from bptt_core.analysis.truncation_study import compare_gradients
from bptt_core.online import crossover_length, flop_counts, method_table, online_bytes, stored_crossover
from bptt_core.online.compare import MethodRow
from bptt_core.online.gradient import SINGLE_LAYER
from bptt_core.result import flatten_grads
from dashboard.catalog.compute import Params, Problem, preset_params, problem
from dashboard.catalog.memory import DASHBOARD_BUDGET
from dashboard.config import RunConfig
from dashboard.vocabulary.numbers import human_bytes, readable

#: Truncated BPTT's window when the sidebar's truncation is off (the Memory page's "truncation 8").
DEFAULT_WINDOW = 8
#: UORO's draws for its bias and variance (seeds config.seed, config.seed + 1, ...).
UORO_SEEDS = 100
#: A method whose one gradient counts more FLOPs is not run on the page (about a second here).
PAGE_FLOPS = 2e9
#: A point of the cost sweep counting more FLOPs is drawn from its count but not run.
SWEEP_FLOPS = 3e8
#: The memory-against-T figure measures BPTT up to this length (and within a quarter of the budget).
LONGEST = 4096
T_SWEEP = (10, 30, 100, 300)
H_SWEEP = (2, 4, 8, 16, 32, 64)
#: The length of the H sweep (the sidebar's T, up to this).
SWEEP_T = 100
ONLINE = ("rtrl", "uoro", "snap1", "diagonal")
#: Why UORO, SnAp-1 and the exact diagonal method do not run on a stack (the page says it once, above all).
STACK_REFUSAL = "defined here for one recurrent layer (set Layers L to 1)"
LABELS = {"rtrl": "RTRL", "uoro": "UORO", "snap1": "SnAp-1", "diagonal": "exact diagonal", "bptt": "BPTT"}


@dataclass(frozen=True)
class Method:
    """One way of computing the gradient on this network.

    ``key`` names its row (``bptt_checkpoint``: BPTT with the sidebar's checkpoints), ``method`` the engine's
    method, ``options`` its keyword options as pairs, ``left_out`` why it does not run here ("" when it does).
    """

    key: str
    method: str
    label: str
    options: tuple = ()
    left_out: str = ""

    @property
    def kwargs(self) -> dict:
        return dict(self.options)


def window(config: RunConfig) -> int:
    """Truncated BPTT's k: the sidebar's, or :data:`DEFAULT_WINDOW` when it is off."""
    return config.truncation or DEFAULT_WINDOW


def structural_refusal(config: RunConfig, method: str, params: Params | None = None) -> str:
    """Why ``method`` cannot run on this network at any size ("" when it can)."""
    if method in ONLINE and config.bidirectional:
        return "an online method runs forward in time and cannot read the future, which the reverse direction needs"
    if method == "tbptt" and config.bidirectional:
        return "truncation needs a unidirectional network"
    if method in SINGLE_LAYER and config.num_layers > 1:
        return STACK_REFUSAL
    if method == "diagonal":
        p = problem(config.replace(T=1), params)
        try:  # the first step shows whether the recurrence couples its units
            bc.online_gradient(p.spec, p.params, p.x, p.y, "diagonal", loss=config.loss, dtype=config.dtype)
        except ValueError as err:  # a coupled recurrence (the budget is cost_refusal's to say)
            if "diagonal recurrence" in str(err):
                return (
                    "exact only where no unit's state depends on another's (LRU, minGRU, a diagonal W_hh); these couple"
                )
    return ""


def cost_refusal(config: RunConfig, method: str, flops_limit: float = PAGE_FLOPS) -> str:
    """Why ``method`` is not run at these sizes: too many counted FLOPs, or over the memory budget ("" if none)."""
    flops = sum(flop_counts(config.spec, config.T, config.batch_size, method).values())
    if flops > flops_limit:
        return f"one gradient counts {readable(flops)} FLOPs here, more than {readable(flops_limit)}: lower H, B or T"
    if (
        method in ONLINE
        and (need := online_bytes(config.spec, config.batch_size, method, config.dtype)) > DASHBOARD_BUDGET
    ):
        return f"it would hold about {human_bytes(need)}, over the memory budget: lower H or B"
    return ""


def methods(config: RunConfig, params: Params | None = None) -> tuple[Method, ...]:
    """Every method of the page for this network, in the figures' order: RTRL, UORO, SnAp-1, the exact diagonal
    method, truncated BPTT, BPTT (and BPTT with the sidebar's checkpoints when it sets some)."""
    found = []
    for m in ONLINE:
        why = structural_refusal(config, m, params) or cost_refusal(config, m)
        found.append(Method(m, m, LABELS[m], (), why))
    k = window(config)
    found.append(
        Method("tbptt", "tbptt", f"truncated BPTT (k = {k})", (("truncation", k),), structural_refusal(config, "tbptt"))
    )
    found.append(Method("bptt", "bptt", "BPTT"))
    if config.checkpoint != "none":
        ck = "sqrt" if config.checkpoint == "sqrt" else int(config.checkpoint)
        name = "√T" if ck == "sqrt" else f"every {ck}"
        found.append(Method("bptt_checkpoint", "bptt", f"BPTT, checkpoint {name}", (("checkpoint", ck),)))
    return tuple(found)


def running(config: RunConfig, params: Params | None = None) -> tuple[Method, ...]:
    return tuple(m for m in methods(config, params) if not m.left_out)


def _loss_options(config: RunConfig, p: Problem) -> dict:
    return {"loss": config.loss, "reduction": config.reduction, "mask": p.mask, "dtype": config.dtype}


def _row(m: Method, cosine: float, error: float, memory: int, stored: int, flops: int, seconds: float) -> dict:
    return {
        "key": m.key,
        "method": m.label,
        "cosine": cosine,
        "relative_error": error,
        "memory_bytes": memory,
        "stored_bytes": stored,
        "flops": flops,
        "seconds": seconds,
    }


def method_rows(config: RunConfig, params: Params | None = None) -> pd.DataFrame:
    """One gradient by each running method on the sidebar's problem, against exact BPTT: cosine, relative error,
    peak held and kept (ledger), counted FLOPs and seconds. UORO's is one draw (seed ``config.seed``);
    :func:`uoro_study` draws :data:`UORO_SEEDS`. The deterministic methods go through ``method_table``."""
    p = problem(config, params)
    options = _loss_options(config, p)
    rows = {}
    for m in running(config, params):
        if m.method == "uoro":
            exact = flatten_grads(bc.online_gradient(p.spec, p.params, p.x, p.y, "bptt", **options).grads)
            start = time.perf_counter()
            res = bc.online_gradient(p.spec, p.params, p.x, p.y, "uoro", seed=config.seed, **options)
            seconds = time.perf_counter() - start
            error, cosine = compare_gradients(flatten_grads(res.grads), exact)
            rows[m.key] = _row(m, cosine, error, res.memory_bytes, res.stored_bytes, res.flops, seconds)
            continue
        (r,) = method_table(p.spec, p.params, p.x, p.y, (m.method,), n_seeds=2, **m.kwargs, **options)
        rows[m.key] = _row(m, r.cosine, r.relative_error, r.memory_bytes, r.stored_bytes, r.flops, r.seconds)
    return pd.DataFrame(list(rows.values()))


@dataclass(frozen=True)
class UOROStudy:
    """UORO's draws against exact BPTT (``row.statistics``: bias, variance, z-scores), and the parameter each
    coordinate of the z-scores belongs to (``bptt_core.result.flatten_grads``'s order)."""

    row: MethodRow
    names: tuple[str, ...]
    seeds: int
    first_seed: int


def uoro_study(config: RunConfig, params: Params | None = None) -> UOROStudy | None:
    """UORO over :data:`UORO_SEEDS` seeds with ``method_table`` (None where UORO does not run here)."""
    if not any(m.method == "uoro" for m in running(config, params)):
        return None
    p = problem(config, params)
    with np.errstate(all="ignore"):  # overflowed draws give inf/nan statistics, which the caption names
        (row,) = method_table(
            p.spec, p.params, p.x, p.y, ("uoro",), n_seeds=UORO_SEEDS, seed=config.seed, **_loss_options(config, p)
        )
    names = tuple(k for k in sorted(p.params) for _ in range(p.params[k].size))
    return UOROStudy(row, names, UORO_SEEDS, config.seed)


def crossover(config: RunConfig) -> int | None:
    """T*: the shortest length from which BPTT's tape (full storage) outweighs RTRL's influence. One layer:
    ``stored_crossover``'s closed form; a stack: ``crossover_length(what="stored")`` on the ledgers; None for a
    bidirectional network, or a stack whose RTRL does not fit the budget."""
    if config.bidirectional:
        return None
    if config.num_layers == 1:
        return stored_crossover(config.spec)
    try:
        return crossover_length(config.spec, config.batch_size, what="stored", dtype=config.dtype)
    except ValueError:  # RTRL's one step is over the engine's budget
        return None


def longest_length(config: RunConfig) -> int:
    """The longest T at which the memory figure runs BPTT: :data:`LONGEST`, or less where a quarter of the budget
    ends (never below the sidebar's T, which the sidebar already admitted)."""
    one, two = (budget.bptt_bytes(config.spec, T, config.batch_size, dtype=config.dtype) for T in (1, 2))
    by_budget = 1 + (DASHBOARD_BUDGET // 4 - one) // max(two - one, 1)
    return max(config.T, min(LONGEST, int(by_budget)))


def length_grid(config: RunConfig, t_star: int | None) -> np.ndarray:
    """Nine lengths from 1 to twice the larger of T and T* (at most :func:`longest_length`), and T itself."""
    top = min(2 * max(config.T, t_star or 1), longest_length(config))
    grid = np.r_[np.geomspace(1, max(top, 2), 9).round(), config.T].astype(int)
    return np.unique(grid[grid >= 1])


def _zeros(config: RunConfig, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Inputs, targets and mask of length T (any T), all zeros and ones: memory does not depend on the values."""
    B, dtype = config.batch_size, config.dtype
    x = np.zeros((T, B, config.input_size), dtype)
    y = np.zeros((T, B), int) if config.loss == "cross_entropy" else np.zeros((T, B, config.output_size), dtype)
    return x, y, np.ones((T, B)) if config.ragged else None


def memory_lengths(config: RunConfig, params: Params | None = None) -> pd.DataFrame:
    """Kept and held bytes (ledgers) of the methods through time at every length of :func:`length_grid` (BPTT
    also at T* - 1 and T*), and of the online methods at T = 1 (their bytes do not depend on T;
    :func:`method_rows` has them at the sidebar's T). Zero inputs: memory does not depend on the values.

    Returns
    -------
    DataFrame with columns ``key``, ``method``, ``T``, ``stored_bytes``, ``memory_bytes``
    """
    rows = []
    ran = running(config, params)
    spec, weights = config.spec, params if params is not None else preset_params(config)
    options = {"loss": config.loss, "reduction": config.reduction, "dtype": config.dtype}
    t_star = crossover(config)
    grid = length_grid(config, t_star)
    marks = {t_star - 1, t_star} if t_star and t_star <= grid[-1] else set()
    for T in sorted({*grid.tolist(), *marks} - {0}):
        x, y, mask = _zeros(config, int(T))
        for m in ran:
            if (m.method in ONLINE and T != 1) or (T in marks and T not in grid and m.key != "bptt"):
                continue  # BPTT alone at T* - 1 and T*: the crossing is drawn where it is
            res = bc.online_gradient(spec, weights, x, y, m.method, mask=mask, seed=0, **m.kwargs, **options)
            rows.append((m.key, m.label, int(T), res.stored_bytes, res.memory_bytes))
    return pd.DataFrame(rows, columns=["key", "method", "T", "stored_bytes", "memory_bytes"])


def _sweep_point(config: RunConfig, m: Method, params: Params | None, axis: str) -> tuple:
    """One method at one size: ledger bytes and seconds (the best of up to three calls, while they take under 50 ms
    together) when its counted FLOPs are at most :data:`SWEEP_FLOPS`."""
    flops = int(sum(flop_counts(config.spec, config.T, config.batch_size, m.method).values()))
    base = (axis, config.T, config.hidden_size, m.key, m.label, flops)
    if cost_refusal(config, m.method, SWEEP_FLOPS):
        return (*base, np.nan, np.nan, np.nan)
    p = problem(config, params)
    seconds = []
    while len(seconds) < 3 and sum(seconds) < 0.05:  # the best of up to three quick calls: less noise
        start = time.perf_counter()
        res = bc.online_gradient(p.spec, p.params, p.x, p.y, m.method, seed=0, **m.kwargs, **_loss_options(config, p))
        seconds.append(time.perf_counter() - start)
    return (*base, res.memory_bytes, res.stored_bytes, min(seconds))


def cost_sweep(config: RunConfig, params: Params | None = None) -> pd.DataFrame:
    """Each method's held and kept bytes, counted FLOPs and seconds against T (at the sidebar's H, its weights)
    and against H (at the sidebar's T up to :data:`SWEEP_T`, the preset's weights), on the sidebar's batch.
    Points counting more than :data:`SWEEP_FLOPS` keep their FLOPs and have NaN bytes and seconds. The exact
    diagonal method is left out: it runs SnAp-1's update.

    Returns
    -------
    DataFrame with columns ``axis`` ("T" or "H"), ``T``, ``H``, ``key``, ``method``, ``flops``, ``memory_bytes``,
    ``stored_bytes``, ``seconds``
    """
    chosen = [m for m in methods(config, params) if m.method != "diagonal" and not structural_refusal(config, m.method)]
    rows = []
    for T in sorted({*T_SWEEP}):
        rows += [_sweep_point(config.replace(T=T), m, params, "T") for m in chosen]
    T = min(config.T, SWEEP_T)
    for H in sorted({*H_SWEEP}):
        rows += [_sweep_point(config.replace(T=T, hidden_size=H), m, None, "H") for m in chosen]
    columns = ["axis", "T", "H", "key", "method", "flops", "memory_bytes", "stored_bytes", "seconds"]
    return pd.DataFrame(rows, columns=columns)
