"""Central-difference gradient checks in float64, for tests and for the curious."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import validate as v


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``df/dx`` by central differences, perturbing ``x`` in place one entry at a time.

    Parameters
    ----------
    f : callable
        Reads ``x`` (closed over) and returns a float.
    x : ndarray of float64
        Restored exactly after each perturbation.

    Returns
    -------
    ndarray of the shape of ``x``
    """
    f, x, eps = v.check_callable("f", f), _perturbable(x), v.check_number("eps", eps, 0.0, lo_open=True)
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = _value(f)
        flat[i] = old - eps
        down = _value(f)
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def _perturbable(x: object) -> np.ndarray:
    """``x`` if it is a writable, contiguous float64 array (it is perturbed in place, entry by entry)."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float64 or not x.flags.writeable or not x.flags.c_contiguous:
        raise ValueError(
            f"x must be a writable, contiguous float64 ndarray (it is perturbed in place), got {v.show(x)}"
        )
    return x


def _value(f: Callable[[], float]) -> float:
    """``f()``, which must be a real number (a nan or inf is a result, passed on)."""
    out = f()
    if not (v.is_real(out) or (isinstance(out, np.ndarray) and out.ndim == 0 and out.dtype.kind in "fiu")):
        raise ValueError(f"f must return a real number, got {v.show(out)}")
    return float(out)


def directional_check(
    f: Callable[[], float], x: np.ndarray, analytic: np.ndarray, rng: np.random.Generator, eps: float = 1e-6
) -> tuple[float, float]:
    """Compare ``<analytic, u>`` with ``(f(x + eps u) - f(x - eps u)) / 2 eps`` for a random unit ``u``.

    One check along a random direction scales to large parameter arrays
    (as HIPS/autograd's ``check_grads`` does).

    Returns
    -------
    (numeric, analytic) : tuple of float
    """
    f, x, rng = v.check_callable("f", f), _perturbable(x), v.check_generator("rng", rng)
    analytic = v.check_shape("analytic", v.as_array("analytic", analytic), x.shape)
    eps = v.check_number("eps", eps, 0.0, lo_open=True)
    u = rng.standard_normal(x.shape)
    u /= np.linalg.norm(u)
    old = x.copy()
    x += eps * u
    up = _value(f)
    x[...] = old - eps * u
    down = _value(f)
    x[...] = old
    return (up - down) / (2 * eps), float(np.sum(analytic * u))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max(max|a|, max|b|, tiny)``: one number for two real arrays of the same shape (nan where
    either holds nan)."""
    a, b = v.as_array("a", a), v.as_array("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape} and b {b.shape}; compare arrays of the same shape")
    a, b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-300)
    return float(np.max(np.abs(a - b), initial=0.0) / scale)
