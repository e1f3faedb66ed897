"""One-number summaries of a gradient-norm curve."""

from __future__ import annotations

import numpy as np


def growth_rate(log10_norms: np.ndarray) -> float:
    """Slope of ``ln ||.||`` per step: a finite-time Lyapunov exponent estimate.

    Least squares over the finite points of the curve; negative means vanishing
    (``exp(rate)`` is the average factor per step), positive exploding.

    Parameters
    ----------
    log10_norms : ndarray of shape (L,)
        log10 of a norm at lags 0, 1, ..., L-1.

    Returns
    -------
    float
        nan when fewer than two points are finite.
    """
    y = np.asarray(log10_norms, dtype=np.float64)
    lags = np.arange(y.size)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    slope = np.polyfit(lags[ok], y[ok], 1)[0]
    return float(slope * np.log(10.0))


def memory_horizon(log10_norms: np.ndarray, threshold: float = 1e-3) -> int | None:
    """The first lag at which the norm falls below ``threshold`` times its peak.

    Parameters
    ----------
    log10_norms : ndarray of shape (L,)
    threshold : float in (0, 1)

    Returns
    -------
    int or None
        None if the curve never falls that low (gradients reach the whole sequence).
    """
    y = np.asarray(log10_norms, dtype=np.float64)
    ok = np.isfinite(y)
    if not ok.any():
        return None
    below = np.flatnonzero(ok & (y < np.max(y[ok]) + np.log10(threshold)))
    return int(below[0]) if below.size else None


def first_overflow(values: np.ndarray) -> int | None:
    """Index of the first entry along axis 0 that holds a non-finite number, or None.

    Parameters
    ----------
    values : ndarray of shape (T, ...)
    """
    v = np.asarray(values)
    bad = ~np.all(np.isfinite(v.reshape(v.shape[0], -1)), axis=1)
    return int(np.argmax(bad)) if bad.any() else None
