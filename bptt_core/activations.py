"""Element-wise non-linearities of the vanilla RNN, with derivatives from their outputs.

Writing ``phi'`` in terms of ``h = phi(z)`` lets the backward step use the stored
output instead of keeping the pre-activation too (tanh: ``1 - h^2``, sigmoid:
``h (1 - h)``, relu: ``h > 0``, linear: ``1``).
"""

from __future__ import annotations

import numpy as np

#: Upper bound ``gamma`` of ``|phi'(z)|`` used by Pascanu, Mikolov & Bengio (2013).
DERIVATIVE_BOUND = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25, "linear": 1.0}


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function as ``(1 + tanh(z / 2)) / 2``: no overflow for large ``|z|``, one transcendental.

    ``out`` may be ``z`` itself (computed in place).
    """
    s = np.tanh(np.multiply(z, 0.5, out=out), out=out)
    s += 1.0
    s *= 0.5
    return s


def apply(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``phi(z)`` for the named activation, into ``out`` when given (may be ``z``)."""
    if name == "tanh":
        return np.tanh(z, out=out)
    if name == "relu":
        return np.maximum(z, 0.0, out=out)
    if name == "sigmoid":
        return sigmoid(z, out=out)
    if out is None:
        return z.copy()
    np.copyto(out, z)
    return out


def derivative_from_output(name: str, h: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | float:
    """``phi'(z)`` expressed through ``h = phi(z)``, into ``out`` when given (1.0 for linear)."""
    if name == "tanh":
        return np.subtract(1.0, np.multiply(h, h, out=out), out=out)
    if name == "relu":
        return np.greater(h, 0, out=out) if out is not None else (h > 0).astype(h.dtype)
    if name == "sigmoid":
        return np.multiply(np.subtract(1.0, h, out=out), h, out=out)
    return 1.0
