"""The Papers page: six published results, each beside the engine's reproduction, with a tolerance and a verdict
computed from the numbers (pure; the page caches the studies, ``python -m bench papers`` runs them at full scale).

A :class:`Reproduction` is one row: the published statement and where it stands, the checks (each our number with
its spread over seeds, the tolerance and whether they agree), the scale used and the command. The verdict functions
below are small and pure, so tests can try them on any numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bptt_core.lab import paper_laws, paper_methods
from bptt_core.lab.tasks import copy_baseline
from dashboard.catalog.verdict import VERDICT_DECADES
from dashboard.learning.stochastic import NOISE_SE

#: How large each study runs: on the page (seconds, cached) and in ``python -m bench papers`` (minutes).
SCALES: dict[str, dict[str, dict]] = {
    "page": {
        "pascanu": {"rates": (0.5, 0.9, 1.1, 2.0, 4.0), "n_seeds": 2, "T": 100, "H": 16, "B": 2},
        "chaos": {
            "sizes": (32, 64),
            "gains": (0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.5, 2.0),
            "n_seeds": 3,
            "transient": 100,
            "discard": 100,
            "steps": 300,
        },
        "checkpoint": {"cells": ("rnn", "lstm"), "T": 1000, "B": 2, "H": 8},
        "truncation": {"cells": ("rnn", "lstm"), "n_draws": 60, "T": 30, "B": 4, "H": 8},
        "copy": {"cells": ("rnn", "gru", "lstm"), "T": 10, "n_seeds": 2, "iterations": 150, "H": 16, "B": 16},
        "error_flow": {"n_seeds": 3, "T": 100, "H": 16, "B": 4},
    },
    "bench": {
        "pascanu": {
            "rates": (0.25, 0.5, 0.8, 0.95, 1.05, 1.25, 2.0, 4.0, 8.0),
            "n_seeds": 5,
            "T": 200,
            "H": 32,
            "B": 4,
        },
        "chaos": {
            "sizes": (32, 64, 128),
            "gains": (0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.35, 1.5, 2.0),
            "n_seeds": 4,
            "transient": 200,
            "discard": 200,
            "steps": 400,
        },
        "checkpoint": {"cells": ("rnn", "gru", "lstm"), "T": 1000, "B": 4, "H": 32},
        "truncation": {"cells": ("rnn", "gru", "lstm"), "n_draws": 400, "T": 50, "B": 4, "H": 16},
        "copy": {"cells": ("rnn", "gru", "lstm"), "T": 50, "n_seeds": 2, "iterations": 300, "H": 32, "B": 16},
        "error_flow": {"n_seeds": 8, "T": 200, "H": 16, "B": 4},
    },
}
STUDIES: dict[str, Callable] = {
    "pascanu": paper_laws.pascanu_study,
    "chaos": paper_laws.chaos_study,
    "checkpoint": paper_methods.checkpoint_study,
    "truncation": paper_methods.truncation_studies,
    "copy": paper_methods.copy_study,
    "error_flow": paper_laws.error_flow_study,
}
BENCH_COMMAND = "python -m bench papers"

#: Tolerances, each with its reason. The bound is exact: only rounding (log10).
BOUND_ROUNDING = 1e-9
#: A tolerance's edge counts as within it: ``1 + 0.1`` is not exactly 1.1 in floating point.
ROUNDING = 1e-12
#: The zero crossing of λ₁ at the largest size may sit this far from g = 1 (finite N shifts and spreads it).
CROSSING_TOLERANCE = 0.1
#: Finite-time rates of two estimates over one trajectory differ by about this much per step (natural log).
RATE_TOLERANCE = 0.02
#: The two largest sizes' spectra, against i/N, may differ on average by this share of the spectrum's span
#: (finite-size corrections).
SHAPE_TOLERANCE = 0.05
#: The modelled extra time may differ from the published one third by this much.
TIME_TOLERANCE = 0.1
#: The variance rises with p when its rank correlation with p is at least this.
RISING_RANK = 0.8
#: A trained cell's final loss within this share of the memoryless baseline is "at" it.
PLATEAU_TOLERANCE = 0.1
#: The error signal's measured and predicted rates per step (natural log) may differ by this much.
DECAY_TOLERANCE = 0.03


@dataclass(frozen=True)
class Check:
    """One comparison: what is checked, our number (with its spread), the tolerance, and whether they agree."""

    what: str
    ours: str
    tolerance: str
    agrees: bool


@dataclass(frozen=True)
class Reproduction:
    """One published result beside the engine's reproduction (a row of the Papers page and of the bench table)."""

    key: str
    title: str
    paper: str
    source: str
    published: str
    checks: tuple[Check, ...]
    scale: str
    command: str  # the engine call that computes it at this scale

    @property
    def verdict(self) -> str:
        return "agree" if all(c.agrees for c in self.checks) else "disagree"


def study(key: str, scale: str = "page"):
    """Run the study of row ``key`` at ``scale`` (``"page"`` or ``"bench"``)."""
    if key not in STUDIES:
        raise ValueError(f"key must be one of {tuple(STUDIES)}, got {key!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}")
    return STUDIES[key](**SCALES[scale][key])


def command(key: str, scale: str) -> str:
    """The engine call that computes row ``key`` at ``scale``, as Python."""
    fn = STUDIES[key]
    args = ", ".join(f"{k}={v!r}" for k, v in SCALES[scale][key].items())
    return f"{fn.__module__}.{fn.__name__}({args})"


# ---- verdicts: pure functions of the numbers ----------------------------------------------------------------


def bound_holds(excess: np.ndarray, rounding: float = BOUND_ROUNDING) -> bool:
    """Every product at or under the bound: the largest excess (log10) at most ``rounding``; nan fails."""
    excess = np.asarray(excess, float)
    return bool(excess.size and np.all(np.isfinite(excess)) and excess.max() <= rounding)


def regions(rate: np.ndarray, lowest: np.ndarray, highest: np.ndarray) -> dict[str, int]:
    """Counts of settings by region: below 1 and vanished (every sequence under 10⁻² at the last lag), below 1 in
    all, exploded (a sequence above 10²), exploded with γσ_max > 1, and above 1 in all."""
    rate, lowest, highest = (np.asarray(a, float) for a in (rate, lowest, highest))
    below, exploded = rate < 1, highest > VERDICT_DECADES
    return {
        "below": int(below.sum()),
        "vanished_below": int((below & (highest < -VERDICT_DECADES)).sum()),
        "exploded": int(exploded.sum()),
        "exploded_above": int((exploded & (rate > 1)).sum()),
        "above": int((rate > 1).sum()),
    }


def regions_agree(counts: dict[str, int]) -> bool:
    """Sufficient: every setting below 1 vanished; necessary: every setting that exploded is above 1."""
    return counts["vanished_below"] == counts["below"] and counts["exploded_above"] == counts["exploded"]


def crossing_agrees(crossings: np.ndarray, tolerance: float = CROSSING_TOLERANCE) -> bool:
    """The median zero crossing (over seeds, finite ones) within ``tolerance`` of g = 1 (inclusive, to rounding);
    none finite fails."""
    c = np.asarray(crossings, float)
    c = c[np.isfinite(c)]
    return bool(c.size and abs(np.median(c) - 1.0) <= tolerance + ROUNDING)


def spectrum_gaps(spectra: tuple[np.ndarray, ...]) -> list[float]:
    """The mean absolute difference between the spectra of consecutive sizes (smallest first), both read against
    i/N at 19 fractions from 0.05 to 0.95 (linear interpolation at ``(i - 1/2) / N``), over the larger size's span
    (largest minus smallest) on those fractions; empty for one size. A shape that does not depend on N leaves only
    finite-size corrections; a spectrum that depended on i rather than i/N would be stretched by N'/N."""
    grid = np.linspace(0.05, 0.95, 19)

    def on_grid(s: np.ndarray) -> np.ndarray:
        return np.interp(grid, (np.arange(s.size) + 0.5) / s.size, s)

    ordered = [on_grid(s) for s in sorted(spectra, key=len)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return [float(np.mean(np.abs(a - b)) / np.ptp(b)) for a, b in itertools.pairwise(ordered)]


def shape_agrees(gaps: list[float], tolerance: float = SHAPE_TOLERANCE) -> bool:
    """The two largest sizes' spectra within ``tolerance`` of each other (a nan gap fails; one size cannot tell)."""
    return bool(gaps and np.isfinite(gaps[-1]) and gaps[-1] <= tolerance + ROUNDING)


def rates_agree(measured: np.ndarray, predicted: np.ndarray, tolerance: float) -> bool:
    """The median over draws of ``|measured - predicted|`` (natural log per step) within ``tolerance``."""
    d = np.abs(np.asarray(measured, float) - np.asarray(predicted, float))
    d = d[np.isfinite(d)]
    return bool(d.size and np.median(d) <= tolerance)


def time_agrees(saved: float, time: float, target: float, tolerance: float = TIME_TOLERANCE) -> bool:
    """At least the published share saved, for a modelled extra time within ``tolerance`` of one third (both
    inclusive, to rounding)."""
    return bool(saved >= target - ROUNDING and abs(time - 1.0 / 3.0) <= tolerance + ROUNDING)


def unbiased(bias: np.ndarray, standard_error: np.ndarray, n_se: float = NOISE_SE) -> bool:
    """Every relative bias within ``n_se`` standard errors (sampling noise); a non-finite one fails."""
    b, se = np.asarray(bias, float), np.asarray(standard_error, float)
    return bool(b.size and np.all(np.isfinite(b) & np.isfinite(se)) and np.all(b <= n_se * se))


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties broken by order; nan for fewer than two points or a constant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2:
        return float("nan")
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    with np.errstate(invalid="ignore"):
        return float(np.corrcoef(rx, ry)[0, 1])


def rises(x: np.ndarray, y: np.ndarray, rank: float = RISING_RANK) -> bool:
    """``y`` rises with ``x``: higher at the largest ``x`` than at the smallest, rank correlation at least ``rank``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or not np.all(np.isfinite(y)):
        return False
    order = np.argsort(x)
    return bool(y[order[-1]] > y[order[0]] and rank_correlation(x, y) >= rank)


def position(ratio: float, tolerance: float = PLATEAU_TOLERANCE) -> str:
    """Where a final loss ends against the baseline (``ratio`` = loss / baseline): below, at or above it."""
    if not np.isfinite(ratio):
        return "diverged"
    return "below" if ratio < 1 - tolerance else ("above" if ratio > 1 + tolerance else "at")


#: How a sentence says where a final loss ends (:func:`position`).
ENDINGS = {
    "below": "ends below the baseline",
    "at": "ends at the baseline",
    "above": "ends above the baseline",
    "diverged": "diverged",
}


def baseline_agrees(memoryless: float, T: int) -> bool:
    """The memoryless strategy's measured loss equals ``10 ln 8 / (T + 20)`` (``T`` the lag) to rounding."""
    return bool(np.isclose(memoryless, copy_baseline(T), rtol=1e-9, atol=0.0))
