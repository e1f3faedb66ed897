"""Every method against exact BPTT, ready for a figure: accuracy, memory, FLOPs and time.

:func:`method_table` gives one row per method (cosine and relative error against BPTT; bias,
variance and standard error over seeds for UORO), :func:`cost_table` each method's memory,
FLOPs and time over a grid of hidden sizes and lengths, and :func:`crossover_length` the
length T* beyond which RTRL holds less than BPTT, found on their ledgers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .. import budget
from .. import validate as v
from ..analysis.truncation_study import compare_gradients
from ..arguments import inputs
from ..cells import CELLS
from ..init import init_params
from ..result import flatten_grads
from ..spec import RNNSpec, check_spec
from .costs import ONLINE, online_work
from .gradient import METHODS, SINGLE_LAYER, online_gradient

#: The methods :func:`method_table` compares by default (those that do not apply to the network are left out).
DEFAULT_METHODS = ("rtrl", "uoro", "snap1", "tbptt", "bptt")


@dataclass(frozen=True)
class GradientStatistics:
    """Draws of a stochastic gradient against the exact one.

    Attributes
    ----------
    relative_bias : float
        ``||mean(g_i) - g|| / ||g||``.
    relative_variance : float
        ``mean_i ||g_i - mean(g_i)||^2 / ||g||^2``.
    relative_standard_error : float
        ``sqrt(relative_variance / n)``: the relative bias that sampling alone produces, in size.
    z : ndarray of shape (P,)
        Per coordinate, ``(mean - exact) / (sd / sqrt(n))`` (0 where every draw is exact).
    z_critical : float
        The two-sided Bonferroni bound at ``alpha`` over the P coordinates.
    """

    relative_bias: float
    relative_variance: float
    relative_standard_error: float
    z: np.ndarray
    z_critical: float

    @property
    def consistent(self) -> bool:
        """No coordinate's mean is further from the exact value than sampling explains (the z-test)."""
        return bool(np.all(np.abs(self.z) <= self.z_critical))


def gradient_statistics(draws: np.ndarray, exact: np.ndarray, alpha: float = 1e-3) -> GradientStatistics:
    """Bias, variance and a per-coordinate z-test of ``draws`` (n, P) against ``exact`` (P,).

    A coordinate whose draws all agree has no standard error: its z is 0 if the mean equals the
    exact value to rounding (1e-9 of the gradient's largest entry) and infinite otherwise.
    """
    draws = v.check_finite("draws", v.as_array("draws", draws))
    if draws.ndim != 2 or draws.shape[0] < 2:
        raise ValueError(f"draws must be an array (n, P) of n >= 2 gradients, got shape {draws.shape}")
    exact = v.check_array("exact", exact, (draws.shape[1],), np.float64)
    alpha = v.check_number("alpha", alpha, 0.0, 1.0, lo_open=True, hi_open=True)
    n = draws.shape[0]
    mean = draws.mean(axis=0)
    scale = max(float(np.linalg.norm(exact)), 1e-300)
    se = draws.std(axis=0, ddof=1) / np.sqrt(n)
    diff = mean - exact
    tiny = 1e-9 * max(float(np.max(np.abs(exact))), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > tiny, diff / se, np.where(np.abs(diff) <= tiny, 0.0, np.inf))
    variance = float(np.mean(np.sum((draws - mean) ** 2, axis=1))) / scale**2
    return GradientStatistics(
        relative_bias=float(np.linalg.norm(diff)) / scale,
        relative_variance=variance,
        relative_standard_error=float(np.sqrt(variance / n)),
        z=z,
        z_critical=NormalDist().inv_cdf(1.0 - alpha / (2 * draws.shape[1])),
    )


@dataclass(frozen=True)
class MethodRow:
    """One method against exact BPTT. Stochastic methods: accuracy is the mean over the draws of each
    draw's cosine and relative error, and ``statistics`` holds their bias and variance."""

    method: str
    cosine: float
    relative_error: float
    memory_bytes: int
    stored_bytes: int
    flops: int
    seconds: float
    statistics: GradientStatistics | None = None


def _timed(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` and the seconds it took."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def method_table(
    spec: RNNSpec,
    params: dict,
    x: np.ndarray,
    y: np.ndarray,
    methods: tuple[str, ...] | None = None,
    *,
    n_seeds: int = 100,
    seed: int = 0,
    truncation: int | None = None,
    checkpoint: int | str | None = None,
    **loss_options,
) -> list[MethodRow]:
    """Each method's gradient against exact BPTT, with its memory, FLOPs and time.

    Parameters
    ----------
    spec, params, x, y : as in :func:`bptt_core.bptt`
    methods : tuple of str, optional
        Default: :data:`DEFAULT_METHODS` that apply (one-layer methods for one layer, ``tbptt`` with a
        ``truncation``, no online method for a bidirectional network).
    n_seeds : int
        Draws of UORO (seeds ``seed, seed + 1, ...``); at least 2.
    truncation, checkpoint
        For ``tbptt`` and ``bptt``.
    **loss_options
        ``loss``, ``reduction``, ``mask``, ``h0``, ``c0``, ``dtype`` as in :func:`online_gradient`.
    """
    n_seeds, seed = v.check_int("n_seeds", n_seeds, 2), v.check_seed(seed) or 0
    truncation = v.check_positive_int("truncation", truncation, allow_none=True)
    if methods is None:
        methods = tuple(m for m in DEFAULT_METHODS if _applies(check_spec(spec), m, truncation))
    methods = _check_methods(methods)
    T, B, _ = inputs(check_spec(spec), x).shape
    calls = {m: n_seeds if m == "uoro" else 1 for m in methods}
    work = sum(k * _call_work(spec, T, B, m, truncation) for m, k in calls.items())
    what = budget.sized(f"this table of {sum(calls.values())} gradients", T, B)
    budget.check(budget.array_bytes(n_seeds + 2, spec.n_params()), what, "lower n_seeds", None, per_call=False)
    budget.check_work(work, what, "lower n_seeds, ask for fewer methods or shorten T")
    exact = flatten_grads(online_gradient(spec, params, x, y, "bptt", **loss_options).grads)
    rows = []
    for m in methods:
        kw = _method_options(m, truncation, checkpoint)
        draws = n_seeds if m == "uoro" else 1
        results, seconds = [], 0.0
        for i in range(draws):
            res, dt = _timed(online_gradient, spec, params, x, y, m, seed=seed + i, **kw, **loss_options)
            results.append(flatten_grads(res.grads))
            seconds += dt / draws
        acc = np.mean([compare_gradients(g, exact) for g in results], axis=0)  # relative error, cosine
        stats = gradient_statistics(np.stack(results), exact) if draws > 1 else None
        rows.append(
            MethodRow(m, float(acc[1]), float(acc[0]), res.memory_bytes, res.stored_bytes, res.flops, seconds, stats)
        )
    return rows


def _applies(spec: RNNSpec, method: str, truncation: int | None) -> bool:
    """Whether a default method runs on this network."""
    if spec.bidirectional:
        return method == "bptt"
    if method in SINGLE_LAYER and spec.num_layers > 1:
        return False
    return method != "tbptt" or truncation is not None


@dataclass(frozen=True)
class CostRow:
    """One method at one size: ``memory_bytes`` and ``stored_bytes`` from its ledger, counted ``flops``,
    measured ``seconds``."""

    method: str
    hidden_size: int
    T: int
    memory_bytes: int
    stored_bytes: int
    flops: int
    seconds: float


def cost_table(
    cell: str,
    hidden_sizes,
    lengths,
    methods: tuple[str, ...],
    *,
    B: int = 1,
    input_size: int = 4,
    seed: int = 0,
    truncation: int | None = None,
    checkpoint: int | str | None = None,
) -> list[CostRow]:
    """Each method's memory, FLOPs and time at every (H, T) of the grid, on a random problem (one layer,
    ``input_size`` inputs and outputs, mse); ``truncation`` for tbptt, ``checkpoint`` for bptt."""
    v.check_choice("cell", cell, tuple(CELLS))
    hidden_sizes, lengths = v.check_int_vector("hidden_sizes", hidden_sizes), v.check_int_vector("lengths", lengths)
    methods, seed = _check_methods(methods), v.check_int("seed", seed, 0)
    truncation = v.check_positive_int("truncation", truncation, allow_none=True)
    B, input_size = v.check_positive_int("B", B), v.check_positive_int("input_size", input_size)
    grid = [(RNNSpec(cell, input_size, int(H), input_size), int(T)) for H in hidden_sizes for T in lengths]
    work = sum(_call_work(spec, T, B, m, truncation) for spec, T in grid for m in methods)
    budget.check_work(work, f"this cost table of {len(grid) * len(methods)} runs", "use a smaller grid")
    rows = []
    for H in hidden_sizes:
        spec = RNNSpec(cell, input_size, int(H), input_size)
        params = init_params(spec, seed=seed)
        for T in lengths:
            rng = np.random.default_rng(seed)
            x, y = rng.standard_normal((int(T), B, input_size)), rng.standard_normal((int(T), B, input_size))
            for m in methods:
                kw = _method_options(m, truncation, checkpoint)
                res, seconds = _timed(online_gradient, spec, params, x, y, m, seed=seed, **kw)
                rows.append(CostRow(m, int(H), int(T), res.memory_bytes, res.stored_bytes, res.flops, seconds))
    return rows


def _check_methods(methods: object) -> tuple[str, ...]:
    """A non-empty tuple of method names (:data:`bptt_core.online.METHODS`)."""
    if isinstance(methods, str) or not isinstance(methods, (tuple, list)) or not methods:
        raise ValueError(f"methods must be a non-empty tuple of names from {METHODS}, got {v.show(methods)}")
    return tuple(v.check_choice("methods", m, METHODS) for m in methods)


def _call_work(spec: RNNSpec, T: int, B: int, method: str, truncation: int | None) -> int:
    """Multiply-adds of one :func:`online_gradient` call (BPTT's through time, without checkpointing)."""
    if method in ONLINE:
        return online_work(spec, T, B, method)
    return budget.bptt_work(spec, T, B, truncation=truncation if method == "tbptt" else None)


def _method_options(method: str, truncation: int | None, checkpoint: int | str | None) -> dict:
    """The options that go with ``method``: the window of tbptt, the checkpoints of bptt."""
    if method == "tbptt":
        return {"truncation": truncation}
    return {"checkpoint": checkpoint} if method == "bptt" else {}


def crossover_length(
    spec: RNNSpec, B: int = 1, *, what: str = "held", dtype: str = "float64", max_length: int = 2**20
) -> int | None:
    """The shortest length T at which BPTT holds more bytes than RTRL, or None up to ``max_length``.

    RTRL's bytes do not depend on T (one step measures them); BPTT's grow with T. Both are read off
    the ledgers of real calls (zero inputs; memory does not depend on the values): BPTT's at
    doubling lengths until it exceeds RTRL's, then by bisection.

    Parameters
    ----------
    what : {"held", "stored"}
        Compare the peak held (``memory_bytes``) or what each keeps to form its gradient
        (``stored_bytes``: BPTT's tape against RTRL's influence).
    """
    check_spec(spec)
    v.check_choice("what", what, ("held", "stored"))
    v.check_dtype(dtype)
    B, max_length = v.check_positive_int("B", B, allow_none=False), v.check_positive_int("max_length", max_length)

    def measure(method: str, T: int) -> int:
        x, y = np.zeros((T, B, spec.input_size)), np.zeros((T, B, spec.output_size))
        res = online_gradient(spec, init_params(spec, seed=0), x, y, method, dtype=dtype)
        return res.memory_bytes if what == "held" else res.stored_bytes

    rtrl, hi = measure("rtrl", 1), 1
    while measure("bptt", hi) <= rtrl:
        if hi >= max_length:
            return None
        hi = min(2 * hi, max_length)
    lo = hi // 2  # BPTT held no more than RTRL there (or lo = 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if measure("bptt", mid) > rtrl else (mid, hi)
    return hi
