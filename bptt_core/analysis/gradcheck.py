"""Central-difference gradient checks in float64, for tests and for the curious."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


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
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


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
    u = rng.standard_normal(x.shape)
    u /= np.linalg.norm(u)
    old = x.copy()
    x += eps * u
    up = f()
    x[...] = old - eps * u
    down = f()
    x[...] = old
    return (up - down) / (2 * eps), float(np.sum(analytic * u))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max(max|a|, max|b|, tiny)``: one number for a whole array."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-300)
    return float(np.max(np.abs(a - b), initial=0.0) / scale)
