"""One-number summaries of a gradient-norm curve.

A Jacobian-product curve ``log10 ||dh_t/dh_k||`` against the lag ``t - k`` starts at 0 (the identity)
and, over the lags measured, does one of three things:

* **decaying**: it falls below ``threshold`` times the largest norm at the lags before it; that lag is
  its horizon (:func:`decay_horizon`, equal to :func:`memory_horizon` whenever the curve's peak comes
  before its fall, as on every decaying curve);
* **growing**: it rises above ``1 / threshold`` times its value at the first lag before it ever falls
  that low; that lag is where it blows up (:func:`blowup_lag`);
* **flat**: neither, within the lags measured (gradients reach the whole sequence without exploding).

Its growth per step (:func:`growth_rate`, the least-squares slope of ``ln ||.||``) is defined for all
three. :func:`summarise_curve` gives all of it for one curve; :func:`spread` the median and the worst of
a quantity over sequences, so that one average never hides the sequences that explode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import validate as v


def curve(log10_norms: object, lags: object | None) -> tuple[np.ndarray, np.ndarray]:
    """A 1-d real curve (NaN and inf allowed: they mark underflow and overflow) and its finite lags, as float64."""
    y = v.as_array("log10_norms", log10_norms)
    if y.ndim != 1:
        raise ValueError(f"log10_norms must be a 1-d curve, got shape {y.shape}")
    if lags is None:
        return y.astype(np.float64), np.arange(y.size, dtype=np.float64)
    lags = v.check_array("lags", lags, (None,), np.float64)
    if lags.shape != y.shape:
        raise ValueError(f"lags has {lags.size} entries and log10_norms {y.size}: give one lag per point")
    return y.astype(np.float64), lags


#: What a Jacobian-product curve does over the lags measured (:func:`curve_regime`).
REGIMES = ("decaying", "flat", "growing")


def growth_rate(log10_norms: np.ndarray, lags: np.ndarray | None = None) -> float:
    """Slope of ``ln ||.||`` per step: a finite-time Lyapunov exponent estimate.

    Least squares over the finite points of the curve; negative means vanishing
    (``exp(rate)`` is the average factor per step), positive exploding.

    Parameters
    ----------
    log10_norms : ndarray of shape (L,)
        log10 of a norm at ``lags``.
    lags : ndarray of shape (L,), optional
        The lag of each point (0, 1, ..., L-1 when None): a curve sampled at spread lags
        must say so, or each sample would count as one step.

    Returns
    -------
    float
        nan when fewer than two points are finite.
    """
    y, lags = curve(log10_norms, lags)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    slope = np.polyfit(lags[ok], y[ok], 1)[0]
    return float(slope * np.log(10.0))


def memory_horizon(log10_norms: np.ndarray, threshold: float = 1e-3, lags: np.ndarray | None = None) -> int | None:
    """The first lag at which the norm falls below ``threshold`` times its peak.

    Parameters
    ----------
    log10_norms : ndarray of shape (L,)
        log10 of a norm at ``lags``.
    threshold : float in (0, 1)
    lags : ndarray of shape (L,), optional
        The lag of each point (0, 1, ..., L-1 when None). Between two sampled lags the
        crossing is placed by interpolating the log-norm linearly.

    Returns
    -------
    int or None
        None if the curve never falls that low (gradients reach the whole sequence).
    """
    y, lags = curve(log10_norms, lags)
    threshold = v.check_number("threshold", threshold, 0.0, 1.0, lo_open=True, hi_open=True)
    ok = np.isfinite(y)
    if not ok.any():
        return None
    level = np.full(y.shape, np.max(y[ok]) + np.log10(threshold))
    return _first_crossing(y, level, lags, below=True)


def _first_crossing(y: np.ndarray, level: np.ndarray, lags: np.ndarray, *, below: bool) -> int | None:
    """The first whole lag at which ``y`` is below (or above) ``level``; between two sampled lags the
    crossing is placed by interpolating ``y - level`` linearly."""
    ok = np.isfinite(y) & np.isfinite(level)
    gap = (level - y) if below else (y - level)  # > 0 once crossed
    crossed = np.flatnonzero(ok & (gap > 0))
    if not crossed.size:
        return None
    i = crossed[0]
    if i == 0 or not ok[i - 1] or lags[i] - lags[i - 1] <= 1:
        return int(lags[i])
    # the first whole lag past the crossing, between the samples i - 1 and i
    crossing = lags[i - 1] + -gap[i - 1] / (gap[i] - gap[i - 1]) * (lags[i] - lags[i - 1])
    return int(np.floor(crossing)) + 1


def decay_horizon(log10_norms: np.ndarray, threshold: float = 1e-3, lags: np.ndarray | None = None) -> int | None:
    """The first lag at which the norm falls below ``threshold`` times the largest norm at the lags before it.

    On a curve whose peak comes before its fall (every decaying curve) this is :func:`memory_horizon`;
    on a growing curve, whose peak is at its end, it is None rather than 0. Parameters as
    :func:`memory_horizon` (``log10_norms`` of shape (L,), ``threshold`` in (0, 1), ``lags`` of shape (L,)).

    Returns
    -------
    int or None
        None if the curve never falls that low below its running peak.
    """
    y, lags = curve(log10_norms, lags)
    peak = np.fmax.accumulate(np.where(np.isfinite(y), y, -np.inf))
    return _first_crossing(y, peak + np.log10(threshold), lags, below=True)


def blowup_lag(log10_norms: np.ndarray, threshold: float = 1e-3, lags: np.ndarray | None = None) -> int | None:
    """The first lag at which the norm rises above ``1 / threshold`` times its value at the first lag.

    Parameters
    ----------
    log10_norms : ndarray of shape (L,)
        log10 of a norm at ``lags`` (a Jacobian product starts at the identity: 0 at lag 0).
    threshold : float in (0, 1)
    lags : ndarray of shape (L,), optional

    Returns
    -------
    int or None
        None if the curve never rises that high (or its first point is not finite).
    """
    y, lags = curve(log10_norms, lags)
    if not y.size or not np.isfinite(y[0]):
        return None
    return _first_crossing(y, np.full(y.shape, y[0] - np.log10(threshold)), lags, below=False)


def curve_regime(log10_norms: np.ndarray, threshold: float = 1e-3, lags: np.ndarray | None = None) -> str:
    """ "decaying", "growing" or "flat": which of :func:`decay_horizon` and :func:`blowup_lag` the curve
    reaches first within its lags (neither: flat)."""
    fall, rise = decay_horizon(log10_norms, threshold, lags), blowup_lag(log10_norms, threshold, lags)
    if fall is None and rise is None:
        return "flat"
    if rise is None or (fall is not None and fall <= rise):
        return "decaying"
    return "growing"


@dataclass(frozen=True)
class CurveSummary:
    """What one Jacobian-product curve does over its lags.

    Attributes
    ----------
    regime : str
        One of :data:`REGIMES`.
    growth : float
        ln growth per step (:func:`growth_rate`); nan with fewer than two finite points.
    horizon : int or None
        The decay horizon (:func:`decay_horizon`) of a decaying curve; None for flat and growing ones.
    blowup : int or None
        The lag where a growing curve passes ``1 / threshold`` (:func:`blowup_lag`); None otherwise.
    """

    regime: str
    growth: float
    horizon: int | None
    blowup: int | None


def summarise_curve(log10_norms: np.ndarray, threshold: float = 1e-3, lags: np.ndarray | None = None) -> CurveSummary:
    """Regime, growth per step, horizon and blow-up lag of one curve (see the module's definitions)."""
    y, lags = curve(log10_norms, lags)
    regime = curve_regime(y, threshold, lags)
    return CurveSummary(
        regime=regime,
        growth=growth_rate(y, lags),
        horizon=decay_horizon(y, threshold, lags) if regime == "decaying" else None,
        blowup=blowup_lag(y, threshold, lags) if regime == "growing" else None,
    )


def spread(values: np.ndarray, worst: str) -> tuple[float, float]:
    """The median and the worst of ``values`` over sequences (nan ignored; inf counts, as "never").

    Parameters
    ----------
    values : ndarray of shape (n,)
    worst : {"max", "min"}
        Which end is the worst: "max" for growth and Lyapunov exponents, "min" for horizons.

    Returns
    -------
    (float, float)
        nan, nan when no value is a number.
    """
    if worst not in ("max", "min"):
        raise ValueError(f"worst must be 'max' or 'min', got {worst!r}")
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[~np.isnan(v)]
    if not v.size:
        return float("nan"), float("nan")
    return float(np.median(v)), float(v.max() if worst == "max" else v.min())


def first_overflow(values: np.ndarray) -> int | None:
    """Index of the first entry along axis 0 that holds a non-finite number, or None.

    Parameters
    ----------
    values : ndarray of shape (T, ...)
    """
    values = v.as_array("values", values)
    if values.ndim < 1 or values.shape[0] < 1:
        raise ValueError(f"values must have at least one entry along axis 0, got shape {values.shape}")
    bad = ~np.all(np.isfinite(values.reshape(values.shape[0], -1)), axis=1)
    return int(np.argmax(bad)) if bad.any() else None
