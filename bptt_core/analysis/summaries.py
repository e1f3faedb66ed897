"""One-number summaries of a gradient-norm curve."""

from __future__ import annotations

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
    level = np.max(y[ok]) + np.log10(threshold)
    below = np.flatnonzero(ok & (y < level))
    if not below.size:
        return None
    i = below[0]
    if i == 0 or not ok[i - 1] or lags[i] - lags[i - 1] <= 1:
        return int(lags[i])
    # the first whole lag past the crossing, between the samples i - 1 and i
    crossing = lags[i - 1] + (y[i - 1] - level) / (y[i - 1] - y[i]) * (lags[i] - lags[i - 1])
    return int(np.floor(crossing)) + 1


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
