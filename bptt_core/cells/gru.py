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

from ..activations import sigmoid
from ..workspace import Workspace, buffer, common_shape, field, matmul, transposed
from . import dense
from .protocol import Cell

#: What a step stores for backward besides ``h_prev``, in units of H; the first entry
#: receives the input projection before the step.
TAPE = {"gates": 3, "hw_n": 1, "h": 1}
#: The gate blocks, in PyTorch's order.
GATES = ("r", "z", "n")
#: ``d_hw`` is a separate array (True) or ``d_xw`` itself.
SEPARATE_HW_GRAD = True


def input_bias(params: dict[str, np.ndarray]) -> np.ndarray:
    """The bias added once to the input projection: ``b_ih`` plus the r and z blocks of ``b_hh``
    (``b_hn`` stays inside the reset product)."""
    b = params["bias_ih"].copy()
    H = b.shape[-1] // 3
    b[..., : 2 * H] += params["bias_hh"][..., : 2 * H]
    return b


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
    xw_t : ndarray of shape (B, 3H)
        Input projection ``x_t W_ih^T`` plus :func:`input_bias`.
    state : tuple (h_prev,), of shape (B, H)
    out : dict of ndarray, optional
        Buffers for the stored values (keys of :data:`TAPE`); ``out["gates"]`` may be ``xw_t``.
    work : Workspace, optional
        Scratch for the temporaries.

    Returns
    -------
    state_next : tuple (h_t,)
    cache : dict
        ``h_prev``, ``gates`` = [r, z, n] (B, 3H) after their non-linearities, the
        recurrent candidate term ``hw_n = W_hn h_{t-1} + b_hn`` and ``h`` (B, H).
    """
    (h_prev,) = state
    H, dt = h_prev.shape[-1], h_prev.dtype
    w_t = transposed(work, params["weight_hh"])  # (H, 3H)
    hw = matmul(h_prev, w_t, out=buffer(work, "fwd_hh", (*h_prev.shape[:-1], 3 * H), dt))
    shape = hw.shape[:-1] + (H,)
    gates = field(out, "gates", hw.shape, dt)
    rz = np.add(xw_t[..., : 2 * H], hw[..., : 2 * H], out=gates[..., : 2 * H])
    sigmoid(rz, out=rz)
    r, z = gates[..., :H], gates[..., H : 2 * H]
    hw_n = np.add(hw[..., 2 * H :], params["bias_hh"][..., 2 * H :], out=field(out, "hw_n", shape, dt))
    r_hw_n = np.multiply(r, hw_n, out=buffer(work, "fwd_rh", shape, dt))
    n = np.add(xw_t[..., 2 * H :], r_hw_n, out=gates[..., 2 * H :])
    np.tanh(n, out=n)
    h = np.subtract(h_prev, n, out=field(out, "h", shape, dt))
    h *= z
    h += n
    return (h,), {"h_prev": h_prev, "gates": gates, "hw_n": hw_n, "h": h}


def backward_step(
    params: dict[str, np.ndarray],
    d_state: tuple[np.ndarray],
    cache: dict,
    out: dict[str, np.ndarray] | None = None,
    work: Workspace | None = None,
) -> tuple[tuple[np.ndarray], np.ndarray, np.ndarray]:
    """One step backward.

    Coefficients that depend on the cache only are formed once at (B, H) size and
    then applied to gradients with any leading axes (several adjoints at once).

    Parameters
    ----------
    d_state : tuple (dh,), of shape (..., B, H)
    out : dict of ndarray, optional
        Buffers ``"d_xw"`` and ``"d_hw"`` (B, 3H).
    work : Workspace, optional
        Scratch; the returned ``dh_prev`` is then a workspace buffer, valid until the next call.

    Returns
    -------
    d_state_prev : tuple (dh_prev,)
    d_xw : ndarray of shape (..., B, 3H)
        Gradient of ``W_ih x_t + b_ih``.
    d_hw : ndarray of shape (..., B, 3H)
        Gradient of ``W_hh h_{t-1} + b_hh`` (its n block is scaled by r).
    """
    (dh,) = d_state
    h_prev, gates, hw_n = cache["h_prev"], cache["gates"], cache["hw_n"]
    H, dt = hw_n.shape[-1], hw_n.dtype
    r, z, n = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
    # coefficients (cache-sized), each the product of the local derivatives along one path
    k = buffer(work, "bwd_k", (*hw_n.shape[:-1], 4 * H), dt)
    k_r, k_z, k_n, k_rn = k[..., :H], k[..., H : 2 * H], k[..., 2 * H : 3 * H], k[..., 3 * H :]
    np.multiply(n, n, out=k_n)
    np.subtract(1.0, k_n, out=k_n)
    k_n *= np.subtract(1.0, z, out=k_z)  # h = (1 - z) n + z h_prev, then n = tanh(.)
    np.multiply(k_n, r, out=k_rn)  # the candidate's recurrent term is scaled by r
    np.subtract(1.0, r, out=k_r)
    k_r *= r
    k_r *= hw_n
    k_r *= k_n  # reset gate: through n, times W_hn h_prev + b_hn, through sigmoid
    k_z *= z  # k_z still holds 1 - z
    k_z *= np.subtract(h_prev, n, out=buffer(work, "bwd_hn", hw_n.shape, dt))  # update gate through sigmoid
    shape = common_shape(dh.shape, hw_n.shape)
    d_xw = field(out, "d_xw", (*shape[:-1], 3 * H), dt)
    d_hw = field(out, "d_hw", (*shape[:-1], 3 * H), dt)
    np.multiply(
        dh[..., None, :], k[..., None, : 3 * H].reshape(*k.shape[:-1], 3, H), out=d_xw.reshape(*shape[:-1], 3, H)
    )
    np.copyto(d_hw[..., : 2 * H], d_xw[..., : 2 * H])
    np.multiply(dh, k_rn, out=d_hw[..., 2 * H :])
    # backprop into the previous hidden state: the direct z path and through W_hh
    dh_prev = matmul(d_hw, params["weight_hh"], out=buffer(work, "bwd_dh_prev", shape, dt))
    dh_prev += np.multiply(dh, z, out=buffer(work, "bwd_dhz", shape, dt))
    return (dh_prev,), d_xw, d_hw


CELL = Cell(
    name="gru",
    torch_module="GRU",
    state_parts=("h",),
    tape=TAPE,
    separate_hw_grad=SEPARATE_HW_GRAD,
    activations=("tanh",),
    forward_step=forward_step,
    backward_step=backward_step,
    gate_kinds=("sigmoid", "sigmoid", "tanh"),
    **dense.layout(GATES, None, input_bias),
)
