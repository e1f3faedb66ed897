"""Element-wise non-linearities of the vanilla RNN, with derivatives from their outputs.

Writing ``phi'`` in terms of ``h = phi(z)`` lets the backward step use the stored
output instead of keeping the pre-activation too (tanh: ``1 - h^2``, sigmoid:
``h (1 - h)``, relu: ``h > 0``, linear: ``1``).
"""

from __future__ import annotations

import numpy as np

#: Upper bound ``gamma`` of ``|phi'(z)|`` used by Pascanu, Mikolov & Bengio (2013).
DERIVATIVE_BOUND = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25, "linear": 1.0}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function as ``(1 + tanh(z / 2)) / 2``: no overflow for large ``|z|``, one transcendental."""
    s = np.tanh(0.5 * z)
    s += 1.0
    s *= 0.5
    return s


def apply(name: str, z: np.ndarray) -> np.ndarray:
    """``phi(z)`` for the named activation."""
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return sigmoid(z)
    return z.copy()


def derivative_from_output(name: str, h: np.ndarray) -> np.ndarray | float:
    """``phi'(z)`` expressed through ``h = phi(z)``."""
    if name == "tanh":
        return 1.0 - h * h
    if name == "relu":
        return (h > 0).astype(h.dtype)
    if name == "sigmoid":
        return h * (1.0 - h)
    return 1.0
