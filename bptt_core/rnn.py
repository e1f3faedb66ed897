"""Vanilla (Elman) RNN cell as a forward/backward step pair.

Equations
---------
.. math::

    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}, \\qquad h_t = \\phi(z_t)

The input term ``xw_t = W_ih x_t + b_ih`` is computed for all steps in one
matrix product by the driver and handed to :func:`forward_step`.
"""

from __future__ import annotations

import numpy as np

from . import activations


def forward_step(
    params: dict[str, np.ndarray], xw_t: np.ndarray, state: tuple[np.ndarray], activation: str = "tanh"
) -> tuple[tuple[np.ndarray], dict[str, np.ndarray]]:
    """One step forward.

    Parameters
    ----------
    params : dict of ndarray
        ``weight_hh`` of shape (H, H) and ``bias_hh`` of shape (H,) are used here.
    xw_t : ndarray of shape (B, H)
        Input projection ``x_t W_ih^T + b_ih``.
    state : tuple (h_prev,)
        ``h_prev`` of shape (B, H).
    activation : {"tanh", "relu", "sigmoid", "linear"}

    Returns
    -------
    state_next : tuple (h_t,)
    cache : dict
        ``h_prev`` and ``h`` (both (B, H)): all the backward step needs.
    """
    (h_prev,) = state
    z = xw_t + h_prev @ params["weight_hh"].mT + params["bias_hh"]
    h = activations.apply(activation, z)
    return (h,), {"h_prev": h_prev, "h": h, "activation": activation}


def backward_step(
    params: dict[str, np.ndarray], d_state: tuple[np.ndarray], cache: dict
) -> tuple[tuple[np.ndarray], np.ndarray, np.ndarray]:
    """One step backward.

    Parameters
    ----------
    d_state : tuple (dh,)
        ``dL/dh_t`` of shape (..., B, H); leading axes batch several adjoints at once.
    cache : dict
        What :func:`forward_step` returned.

    Returns
    -------
    d_state_prev : tuple (dh_prev,)
        ``dL/dh_{t-1}`` of shape (..., B, H).
    d_xw, d_hw : ndarray of shape (..., B, H)
        Gradients of the input and recurrent pre-activation terms; the driver
        turns them into weight gradients with one matrix product per segment.
    """
    (dh,) = d_state
    # backprop through the non-linearity
    dz = dh * activations.derivative_from_output(cache["activation"], cache["h"])
    # backprop into the previous hidden state through W_hh
    dh_prev = dz @ params["weight_hh"]
    return (dh_prev,), dz, dz
