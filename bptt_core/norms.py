"""Euclidean norms that neither underflow nor overflow on the way.

``sqrt(sum(x**2))`` loses a gradient of 1e-170 (its square is below float64's range, so the norm reads 0)
and one of 1e170 (its square is inf). Every norm the engine and the dashboard report divides by the
largest magnitude first, as LAPACK's ``dnrm2`` does, so a norm is 0 only where every entry is 0 and inf
only where an entry is.
"""

from __future__ import annotations

import numpy as np

from . import validate as v


def scaled_norm(a: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray | float:
    """The Euclidean (Frobenius) norm of ``a`` over ``axis``, in float64, scaled against under- and overflow.

    The plain sum of squares is taken first (no copy of ``a``); only where it left float64's safe range
    are the entries divided by their largest magnitude and summed again.

    Parameters
    ----------
    a : ndarray of any shape
    axis : int or tuple of int, optional
        The axes reduced (all when None).

    Returns
    -------
    float or ndarray of float64
        The norm over ``axis`` (the remaining axes kept in order); inf where an entry is inf, nan where
        one is nan.
    """
    a = v.as_array("a", a)  # real (complex, text and ragged lists refused)
    axes = tuple(range(a.ndim)) if axis is None else _axes(axis, a.ndim)
    kept = [d for d in range(a.ndim) if d not in axes]
    rows = np.moveaxis(a, [*kept, *axes], range(a.ndim)).reshape(*[a.shape[d] for d in kept], -1)
    with np.errstate(invalid="ignore", over="ignore"):
        squares = np.einsum("...i,...i->...", rows, rows, dtype=np.float64)
        risky = ~((squares > _SAFE_LOW) & (squares < _SAFE_HIGH))  # underflowed, overflowed, nan, or 0
        norm = np.sqrt(squares)
        if np.any(risky):
            norm = np.where(risky, _scaled_rows(rows), norm)
    return float(norm) if norm.ndim == 0 else norm


def _axes(axis: object, ndim: int) -> tuple[int, ...]:
    """``axis`` (an integer or a tuple of them, each in [-ndim, ndim)) as non-negative axes."""
    given = (axis,) if v.is_integer(axis) else axis
    if not isinstance(given, tuple) or not all(v.is_integer(d) and -ndim <= d < ndim for d in given):
        raise ValueError(
            f"axis must be None, an integer or a tuple of integers in [{-ndim}, {ndim}), got {v.show(axis)}"
        )
    return tuple(int(d) % ndim for d in given)


#: Sums of squares inside this range lost nothing to under- or overflow on the way (float64).
_SAFE_LOW, _SAFE_HIGH = 1e-280, 1e280


def _scaled_rows(rows: np.ndarray) -> np.ndarray:
    """The norm of each row (last axis) after dividing it by its largest magnitude."""
    mag = np.abs(rows.astype(np.float64, copy=False))
    if mag.shape[-1] == 0:
        return np.zeros(mag.shape[:-1])
    scale = np.max(mag, axis=-1, keepdims=True)
    safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    norm = np.sqrt(np.sum(np.square(mag / safe), axis=-1, keepdims=True)) * safe
    return np.where(np.isfinite(scale), norm, scale)[..., 0]  # an inf entry: inf; a nan entry: nan


def global_norm(arrays: dict[str, np.ndarray]) -> float:
    """L2 norm of all arrays taken together (the norm that global clipping uses), without under- or overflow;
    inf or nan where they hold it.

    Parameters
    ----------
    arrays : dict of str to real array-like
    """
    parts = [v.as_array(f"arrays[{key!r}]", a) for key, a in v.check_dict("arrays", arrays).items()]
    return float(scaled_norm(np.array([scaled_norm(a) for a in parts])))
