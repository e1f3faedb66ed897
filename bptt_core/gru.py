"""Gated recurrent unit (Cho et al. 2014) as a step pair, PyTorch's variant.

Equations (PyTorch gate order r, z, n)
--------------------------------------
.. math::

    r &= \\sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\\\
    z &= \\sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\\\
    n &= \\tanh(W_{in} x_t + b_{in} + r \\odot (W_{hn} h_{t-1} + b_{hn})) \\\\
    h_t &= (1 - z) \\odot n + z \\odot h_{t-1}

``b_hn`` sits inside the reset product, so ``bias_ih`` and ``bias_hh`` are kept apart.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid


def forward_step(
    params: dict[str, np.ndarray], xw_t: np.ndarray, state: tuple[np.ndarray], activation: str = "tanh"
) -> tuple[tuple[np.ndarray], dict[str, np.ndarray]]:
    """One step forward.

    Parameters
    ----------
    xw_t : ndarray of shape (B, 3H)
        Input projection ``x_t W_ih^T + b_ih``.
    state : tuple (h_prev,), of shape (B, H)

    Returns
    -------
    state_next : tuple (h_t,)
    cache : dict
        ``h_prev``, ``gates`` = [r, z] (B, 2H), candidate ``n`` and the recurrent
        candidate term ``hw_n = W_hn h_{t-1} + b_hn`` (B, H).
    """
    (h_prev,) = state
    H = h_prev.shape[-1]
    hw = h_prev @ params["weight_hh"].mT + params["bias_hh"]
    gates = sigmoid(xw_t[..., : 2 * H] + hw[..., : 2 * H])  # r, z
    r, z = gates[..., :H], gates[..., H:]
    hw_n = hw[..., 2 * H :]
    n = np.tanh(xw_t[..., 2 * H :] + r * hw_n)
    h = n + z * (h_prev - n)
    return (h,), {"h_prev": h_prev, "gates": gates, "n": n, "hw_n": hw_n, "h": h}


def backward_step(
    params: dict[str, np.ndarray], d_state: tuple[np.ndarray], cache: dict
) -> tuple[tuple[np.ndarray], np.ndarray, np.ndarray]:
    """One step backward.

    Parameters
    ----------
    d_state : tuple (dh,), of shape (..., B, H)

    Returns
    -------
    d_state_prev : tuple (dh_prev,)
    d_xw : ndarray of shape (..., B, 3H)
        Gradient of ``W_ih x_t + b_ih``.
    d_hw : ndarray of shape (..., B, 3H)
        Gradient of ``W_hh h_{t-1} + b_hh`` (its n block is scaled by r).
    """
    (dh,) = d_state
    h_prev, gates, n, hw_n = cache["h_prev"], cache["gates"], cache["n"], cache["hw_n"]
    H = n.shape[-1]
    r, z = gates[..., :H], gates[..., H:]
    shape = np.broadcast_shapes(dh.shape[:-1] + (3 * H,), n.shape[:-1] + (3 * H,))
    d_xw = np.empty(shape, dtype=dh.dtype)
    # backprop through h = (1 - z) n + z h_prev
    dn_pre = dh * (1.0 - z) * (1.0 - n * n)  # ... and through tanh
    d_xw[..., 2 * H :] = dn_pre
    d_xw[..., H : 2 * H] = dh * (h_prev - n) * z * (1.0 - z)  # update gate through sigmoid
    d_xw[..., :H] = dn_pre * hw_n * r * (1.0 - r)  # reset gate through sigmoid
    d_hw = d_xw.copy()
    d_hw[..., 2 * H :] *= r  # the reset gate scales the recurrent candidate term
    # backprop into the previous hidden state: the direct z path and through W_hh
    dh_prev = dh * z + d_hw @ params["weight_hh"]
    return (dh_prev,), d_xw, d_hw
