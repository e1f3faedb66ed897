"""Long short-term memory cell (Hochreiter & Schmidhuber 1997) as a step pair.

Equations (PyTorch gate order i, f, g, o)
-----------------------------------------
.. math::

    [a_i, a_f, a_g, a_o] &= W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh} \\\\
    i, f, o &= \\sigma(a_i), \\sigma(a_f), \\sigma(a_o), \\quad g = \\tanh(a_g) \\\\
    c_t &= f \\odot c_{t-1} + i \\odot g, \\qquad h_t = o \\odot \\tanh(c_t)

The additive path ``c_t = f c_{t-1} + ...`` is the constant error carousel:
``dc_{t-1} = f dc_t`` carries gradient without a weight matrix in between.
"""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def _gate_scales(H: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(0.5, 0.5, 1, 0.5) and (0.5, 0.5, 0, 0.5) per gate block: tanh(a s) s + shift is sigmoid or tanh.

    Read-only constants (cached per size and dtype)."""
    half = np.full(4 * H, 0.5, dtype=dtype)
    half[2 * H : 3 * H] = 1.0
    shift = np.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H : 3 * H] = 0.0
    half.flags.writeable = shift.flags.writeable = False
    return half, shift


def forward_step(
    params: dict[str, np.ndarray], xw_t: np.ndarray, state: tuple[np.ndarray, np.ndarray], activation: str = "tanh"
) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """One step forward.

    Parameters
    ----------
    xw_t : ndarray of shape (B, 4H)
        Input projection ``x_t W_ih^T + b_ih``.
    state : tuple (h_prev, c_prev), each of shape (B, H)

    Returns
    -------
    state_next : tuple (h_t, c_t)
    cache : dict
        ``h_prev``, ``c_prev``, ``gates`` (B, 4H) after their non-linearities,
        ``c`` and ``tanh_c`` (B, H).
    """
    h_prev, c_prev = state
    H = h_prev.shape[-1]
    a = h_prev @ params["weight_hh"].mT
    a += xw_t
    a += params["bias_hh"]
    # one tanh for all four gates: sigmoid(a) = (1 + tanh(a / 2)) / 2 for i, f, o; tanh(a) for g
    half, shift = _gate_scales(H, a.dtype)
    gates = np.tanh(a * half)
    gates *= half
    gates += shift
    i, f, g, o = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H : 3 * H], gates[..., 3 * H :]
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return (h, c), {"h_prev": h_prev, "c_prev": c_prev, "gates": gates, "c": c, "tanh_c": tanh_c, "h": h}


def backward_step(
    params: dict[str, np.ndarray], d_state: tuple[np.ndarray, np.ndarray], cache: dict
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """One step backward.

    Parameters
    ----------
    d_state : tuple (dh, dc), each of shape (..., B, H)
        Gradients arriving at ``h_t`` and ``c_t`` from later steps and the loss.

    Returns
    -------
    d_state_prev : tuple (dh_prev, dc_prev)
    d_xw, d_hw : ndarray of shape (..., B, 4H)
        Gradient of the gate pre-activations (the same for both terms).
    """
    dh, dc = d_state
    gates, tanh_c, c_prev = cache["gates"], cache["tanh_c"], cache["c_prev"]
    H = tanh_c.shape[-1]
    i, f, g, o = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H : 3 * H], gates[..., 3 * H :]
    # backprop through h = o * tanh(c), then the cell-state sum
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    da = np.empty(np.broadcast_shapes(dc.shape[:-1] + (4 * H,), gates.shape), dtype=dc.dtype)
    da[..., :H] = dc * g * i * (1.0 - i)  # input gate through sigmoid
    da[..., H : 2 * H] = dc * c_prev * f * (1.0 - f)  # forget gate through sigmoid
    da[..., 2 * H : 3 * H] = dc * i * (1.0 - g * g)  # candidate through tanh
    da[..., 3 * H :] = dh * tanh_c * o * (1.0 - o)  # output gate through sigmoid
    # backprop into the previous state: through W_hh for h, through the forget gate for c
    dh_prev = da @ params["weight_hh"]
    dc_prev = dc * f
    return (dh_prev, dc_prev), da, da
