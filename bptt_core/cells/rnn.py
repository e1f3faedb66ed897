"""Vanilla (Elman) RNN cell as a forward/backward step pair.

Equations
---------
.. math::

    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}, \\qquad h_t = \\phi(z_t)

The input term ``xw_t = W_ih x_t + b_ih + b_hh`` is computed for all steps in
one matrix product by the driver and handed to :func:`forward_step`.
"""

from __future__ import annotations

import numpy as np

from .. import activations
from ..workspace import Workspace, buffer, matmul, transposed
from . import dense
from .protocol import Cell

#: What a step stores for backward besides ``h_prev``, in units of H; the first entry
#: receives the input projection before the step (see :func:`bptt_core.unroll.tape`).
TAPE = {"h": 1}
#: The gate blocks, in PyTorch's order.
GATES = ("a",)
#: ``d_hw`` is a separate array (True) or ``d_xw`` itself.
SEPARATE_HW_GRAD = False


def forward_step(
    params: dict[str, np.ndarray],
    xw_t: np.ndarray,
    state: tuple[np.ndarray],
    activation: str = "tanh",
    out: dict[str, np.ndarray] | None = None,
    work: Workspace | None = None,
) -> tuple[tuple[np.ndarray], dict[str, np.ndarray]]:
    """One step forward.

    Parameters
    ----------
    params : dict of ndarray
        ``weight_hh`` of shape (H, H) is used here (or a stack (..., H, H)).
    xw_t : ndarray of shape (B, H)
        Input projection ``x_t W_ih^T + b_ih + b_hh`` (:func:`input_bias`).
    state : tuple (h_prev,)
        ``h_prev`` of shape (B, H).
    activation : {"tanh", "relu", "sigmoid", "linear"}
    out : dict of ndarray, optional
        Buffer ``"h"`` (B, H) to store ``h_t`` in; it may be ``xw_t`` itself.
    work : Workspace, optional
        Scratch for the recurrent product.

    Returns
    -------
    state_next : tuple (h_t,)
    cache : dict
        ``h_prev`` and ``h`` (both (B, H)): all the backward step needs.
    """
    (h_prev,) = state
    z = matmul(h_prev, transposed(work, params["weight_hh"]), out=buffer(work, "fwd_hh", h_prev.shape, h_prev.dtype))
    z += xw_t
    h = activations.apply(activation, z, out=z if out is None else out["h"])
    return (h,), {"h_prev": h_prev, "h": h, "activation": activation}


def backward_step(
    params: dict[str, np.ndarray],
    d_state: tuple[np.ndarray],
    cache: dict,
    out: dict[str, np.ndarray] | None = None,
    work: Workspace | None = None,
) -> tuple[tuple[np.ndarray], np.ndarray, np.ndarray]:
    """One step backward.

    Parameters
    ----------
    d_state : tuple (dh,)
        ``dL/dh_t`` of shape (..., B, H); leading axes batch several adjoints at once.
    cache : dict
        What :func:`forward_step` returned.
    out : dict of ndarray, optional
        Buffer ``"d_xw"`` (B, H) for the pre-activation gradient.
    work : Workspace, optional
        Scratch; the returned ``dh_prev`` is then a workspace buffer, valid until the next call.

    Returns
    -------
    d_state_prev : tuple (dh_prev,)
        ``dL/dh_{t-1}`` of shape (..., B, H).
    d_xw, d_hw : ndarray of shape (..., B, H)
        Gradients of the input and recurrent pre-activation terms (the same array here); the
        driver turns them into weight gradients with one matrix product per segment.
    """
    (dh,) = d_state
    h = cache["h"]
    # backprop through the non-linearity
    deriv = activations.derivative_from_output(cache["activation"], h, out=buffer(work, "bwd_deriv", h.shape, h.dtype))
    dz = np.multiply(dh, deriv, out=None if out is None else out["d_xw"])
    # backprop into the previous hidden state through W_hh
    dh_prev = matmul(dz, params["weight_hh"], out=buffer(work, "bwd_dh_prev", dz.shape, dz.dtype))
    return (dh_prev,), dz, dz


CELL = Cell(
    name="rnn",
    torch_module="RNN",
    state_parts=("h",),
    tape=TAPE,
    separate_hw_grad=SEPARATE_HW_GRAD,
    activations=("tanh", "relu", "sigmoid", "linear"),
    forward_step=forward_step,
    backward_step=backward_step,
    gate_entry="h",
    pascanu_bound=True,
    **dense.layout(GATES, None, dense.summed_bias),
)
