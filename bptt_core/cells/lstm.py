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

from ..workspace import Workspace, buffer, common_shape, field, matmul, transposed
from . import dense
from .protocol import Cell

#: What a step stores for backward besides ``h_prev`` and ``c_prev``, in units of H; the
#: first entry receives the input projection before the step.
TAPE = {"gates": 4, "c": 1, "tanh_c": 1, "h": 1}
#: The gate blocks, in PyTorch's order.
GATES = ("i", "f", "g", "o")
#: The gate whose bias ``init_params(forget_bias=...)`` raises (Gers et al. 2000).
FORGET_GATE = "f"
#: ``d_hw`` is a separate array (True) or ``d_xw`` itself.
SEPARATE_HW_GRAD = False


@cache
def _gate_scales(H: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per gate block: ``half`` (0.5, 0.5, 1, 0.5), ``shift`` (0.5, 0.5, 0, 0.5) and ``half**2``.

    ``tanh(a * half) * half + shift`` is sigmoid(a) for i, f, o and tanh(a) for g, and its
    derivative is ``half**2 - (gate - shift)**2``. Read-only constants (cached per size and dtype).
    """
    half = np.full(4 * H, 0.5, dtype=dtype)
    half[2 * H : 3 * H] = 1.0
    shift = np.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H : 3 * H] = 0.0
    half2 = half * half
    half.flags.writeable = shift.flags.writeable = half2.flags.writeable = False
    return half, shift, half2


def _blocks(a: np.ndarray, H: int) -> tuple[np.ndarray, ...]:
    return a[..., :H], a[..., H : 2 * H], a[..., 2 * H : 3 * H], a[..., 3 * H :]


def forward_step(
    params: dict[str, np.ndarray],
    xw_t: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    activation: str = "tanh",
    out: dict[str, np.ndarray] | None = None,
    work: Workspace | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """One step forward.

    Parameters
    ----------
    xw_t : ndarray of shape (B, 4H)
        Input projection ``x_t W_ih^T + b_ih + b_hh`` (:func:`input_bias`).
    state : tuple (h_prev, c_prev), each of shape (B, H)
    out : dict of ndarray, optional
        Buffers for the stored values (keys of :data:`TAPE`); ``out["gates"]`` may be ``xw_t``.
    work : Workspace, optional
        Scratch for the temporaries.

    Returns
    -------
    state_next : tuple (h_t, c_t)
    cache : dict
        ``h_prev``, ``c_prev``, ``gates`` (B, 4H) after their non-linearities,
        ``c``, ``tanh_c`` and ``h`` (B, H).
    """
    h_prev, c_prev = state
    H = h_prev.shape[-1]
    dt = h_prev.dtype
    w_t = transposed(work, params["weight_hh"])  # (H, 4H)
    a = matmul(h_prev, w_t, out=buffer(work, "fwd_hh", (*h_prev.shape[:-1], 4 * H), dt))
    gates = np.add(a, xw_t, out=a if out is None else out["gates"])
    # one tanh for all four gates: sigmoid(a) = (1 + tanh(a / 2)) / 2 for i, f, o; tanh(a) for g
    half, shift, _ = _gate_scales(H, dt)
    gates *= half
    np.tanh(gates, out=gates)
    gates *= half
    gates += shift
    i, f, g, o = _blocks(gates, H)
    shape = gates.shape[:-1] + (H,)
    c = np.multiply(f, c_prev, out=field(out, "c", shape, dt))
    c += np.multiply(i, g, out=buffer(work, "fwd_ig", shape, dt))
    tanh_c = np.tanh(c, out=field(out, "tanh_c", shape, dt))
    h = np.multiply(o, tanh_c, out=field(out, "h", shape, dt))
    return (h, c), {"h_prev": h_prev, "c_prev": c_prev, "gates": gates, "c": c, "tanh_c": tanh_c, "h": h}


def backward_step(
    params: dict[str, np.ndarray],
    d_state: tuple[np.ndarray, np.ndarray],
    cache: dict,
    out: dict[str, np.ndarray] | None = None,
    work: Workspace | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """One step backward.

    The step is linear in the incoming gradients, with coefficients that depend on
    the cache only: those are formed once at (B, .) size and then applied to
    gradients with any leading axes (several adjoints at once).

    Parameters
    ----------
    d_state : tuple (dh, dc), each of shape (..., B, H)
        Gradients arriving at ``h_t`` and ``c_t`` from later steps and the loss.
    out : dict of ndarray, optional
        Buffer ``"d_xw"`` (B, 4H) for the gate pre-activation gradient.
    work : Workspace, optional
        Scratch; the returned ``dh_prev``, ``dc_prev`` are then workspace buffers,
        valid until the next call (``dc`` may be the previous call's ``dc_prev``).

    Returns
    -------
    d_state_prev : tuple (dh_prev, dc_prev)
    d_xw, d_hw : ndarray of shape (..., B, 4H)
        Gradient of the gate pre-activations (the same array for both terms).
    """
    dh, dc = d_state
    gates, tanh_c, c_prev = cache["gates"], cache["tanh_c"], cache["c_prev"]
    H, dt = tanh_c.shape[-1], tanh_c.dtype
    i, f, g, o = _blocks(gates, H)
    _, shift, half2 = _gate_scales(H, dt)
    # coefficients (cache-sized): d c_t / d h_t route, and each gate's derivative times its partner
    k_c = np.multiply(tanh_c, tanh_c, out=buffer(work, "bwd_kc", tanh_c.shape, dt))
    np.subtract(1.0, k_c, out=k_c)
    k_c *= o
    k = np.subtract(gates, shift, out=buffer(work, "bwd_k", gates.shape, dt))
    np.square(k, out=k)
    np.subtract(half2, k, out=k)  # sigmoid' or tanh' of each gate, from its output
    k_i, k_f, k_g, k_o = _blocks(k, H)
    k_i *= g  # input gate: dc * g
    k_f *= c_prev  # forget gate: dc * c_prev
    k_g *= i  # candidate: dc * i
    k_o *= tanh_c  # output gate: dh * tanh(c)
    # backprop through h = o * tanh(c), then the cell-state sum
    shape = common_shape(dh.shape, dc.shape, tanh_c.shape)
    dct = np.multiply(dh, k_c, out=buffer(work, "bwd_dct", shape, dt))
    dct += dc
    da = field(out, "d_xw", (*shape[:-1], 4 * H), dt)
    da_i, da_f, da_g, da_o = _blocks(da, H)
    np.multiply(dct, k_i, out=da_i)
    np.multiply(dct, k_f, out=da_f)
    np.multiply(dct, k_g, out=da_g)
    np.multiply(dh, k_o, out=da_o)
    # backprop into the previous state: through W_hh for h, through the forget gate for c
    dh_prev = matmul(da, params["weight_hh"], out=buffer(work, "bwd_dh_prev", shape, dt))
    dc_prev = np.multiply(dct, f, out=buffer(work, "bwd_dc_prev", shape, dt))
    return (dh_prev, dc_prev), da, da


CELL = Cell(
    name="lstm",
    torch_module="LSTM",
    state_parts=("h", "c"),
    tape=TAPE,
    separate_hw_grad=SEPARATE_HW_GRAD,
    activations=("tanh",),
    forward_step=forward_step,
    backward_step=backward_step,
    gate_kinds=("sigmoid", "sigmoid", "tanh", "sigmoid"),
    **dense.layout(GATES, FORGET_GATE, dense.summed_bias),
)
