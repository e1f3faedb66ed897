"""minGRU (Feng et al. 2024, "Were RNNs all we needed?", arXiv 2410.01201) as a step pair and a scan.

Equations (the paper's sequential minGRU)
-----------------------------------------
.. math::

    z_t &= \\sigma(W_z x_t + b_z), \\qquad \\tilde h_t = W_h x_t + b_h \\\\
    h_t &= (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t

Neither gate reads ``h_{t-1}``: there is no ``W_hh``, the state's Jacobian is
``d h_t / d h_{t-1} = diag(1 - z_t)`` and ``d h_t / d h_k = prod_{s=k+1}^t diag(1 - z_s)``;
the recurrence is linear in ``h``, so the whole sequence runs as an associative scan
(:mod:`bptt_core.scan`).

Parameters (per layer and direction; PyTorch has no module for it)
------------------------------------------------------------------
``weight_ih`` (2H, I) holds ``[W_z; W_h]`` stacked, ``bias_ih`` (2H,) holds ``[b_z; b_h]``: the
paper's ``linear_z`` and ``linear_h`` (``nn.Linear``, with bias) in the order the paper writes them,
z first; no ``weight_hh``, no ``bias_hh``. The paper's listing uses ``nn.Linear``'s default
initialisation, U(-k, k) with k = 1/sqrt(I), which :func:`init_layer` draws. (lucidrains'
minGRU-pytorch stacks ``[hidden; gate]`` without bias and uses the log-space ``g(x)``; the paper's
sequential minGRU, followed here, uses neither.)
"""

from __future__ import annotations

import numpy as np

from ..activations import sigmoid
from ..scan import linear_scan, reverse_linear_scan
from ..workspace import Workspace, buffer, common_shape, field
from . import dense
from .protocol import Buffers, Cell, InitPreset, Params, State, functions_in

Work = Workspace | None

#: What a step stores: the gate values ``[z, h~]`` (over the input projection, in place) and ``h``.
TAPE = {"gates": 2, "h": 1}
#: The blocks of ``weight_ih`` / of the gate entry: the update gate z and the candidate h~.
GATES = ("z", "h~")


def param_shapes(H: int, I: int) -> dict[str, tuple[int, ...]]:
    """``weight_ih`` (2H, I) = [W_z; W_h] and ``bias_ih`` (2H,) = [b_z; b_h]."""
    return {"weight_ih": (2 * H, I), "bias_ih": (2 * H,)}


def sizes(shapes: dict) -> tuple[int, int]:
    """``(H, I)`` read off ``weight_ih``."""
    return shapes["weight_ih"][0] // 2, shapes["weight_ih"][1]


def init_layer(rng: np.random.Generator, H: int, I: int, preset: InitPreset) -> dict[str, np.ndarray]:
    """``nn.Linear``'s default, U(-k, k) with k = 1/sqrt(I), for both arrays (no ``weight_hh``: the preset's
    ``init`` and ``scale`` do not apply)."""
    k = 1.0 / np.sqrt(I)
    return {"weight_ih": rng.uniform(-k, k, (2 * H, I)), "bias_ih": rng.uniform(-k, k, 2 * H)}


def projection(params: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """``[W_ih^T; b_ih]`` (I + 1, 2H): the gates' pre-activations ``[W_z x + b_z, W_h x + b_h]``."""
    return dense.projection(lambda p: p["bias_ih"], params, out)


def forward_step(
    params: Params, xw_t: np.ndarray, state: State, activation: str = "tanh", out: Buffers = None, work: Work = None
) -> tuple[State, dict]:
    """One step forward: ``h_t = (1 - z_t) h_{t-1} + z_t h~_t``, the gates from ``x_t`` alone.

    Parameters
    ----------
    xw_t : ndarray of shape (B, 2H)
        ``[W_z x_t + b_z, W_h x_t + b_h]``.
    state : tuple (h_prev,), of shape (B, H)
    out : dict of ndarray, optional
        Buffers ``"gates"`` (B, 2H; may be ``xw_t`` itself) and ``"h"`` (B, H).

    Returns
    -------
    state_next : tuple (h_t,)
    cache : dict
        ``h_prev``, ``gates`` = [z, h~] and ``h``.
    """
    (h_prev,) = state
    H, dt = h_prev.shape[-1], h_prev.dtype
    gates = field(out, "gates", xw_t.shape, dt)
    z, h_tilde = gates[..., :H], gates[..., H:]
    sigmoid(xw_t[..., :H], out=z)
    np.copyto(h_tilde, xw_t[..., H:])  # a no-op when the tape holds the projection
    # h = h_prev + z (h~ - h_prev): the convex combination (1 - z) h_prev + z h~
    h = np.subtract(h_tilde, h_prev, out=field(out, "h", h_prev.shape, dt))
    h *= z
    h += h_prev
    return (h,), {"h_prev": h_prev, "gates": gates, "h": h}


def backward_step(
    params: Params, d_state: State, cache: dict, out: Buffers = None, work: Work = None
) -> tuple[State, np.ndarray, np.ndarray]:
    """One step backward: the state's gradient goes back scaled by ``1 - z_t``, nothing else reaches it.

    Parameters
    ----------
    d_state : tuple (dh,), of shape (..., B, H)

    Returns
    -------
    d_state_prev : tuple (dh_prev,)
        ``(1 - z) * dh``: the state's only path back.
    d_xw, d_hw : ndarray of shape (..., B, 2H)
        Gradient of the pre-activations ``[W_z x + b_z, W_h x + b_h]`` (the same array twice).
    """
    (dh,) = d_state
    gates, h_prev = cache["gates"], cache["h_prev"]
    H, dt = h_prev.shape[-1], h_prev.dtype
    z, h_tilde = gates[..., :H], gates[..., H:]
    shape = common_shape(dh.shape, h_prev.shape)
    d_xw = field(out, "d_xw", (*shape[:-1], 2 * H), dt)
    # backprop into the update gate through the sigmoid, and into the candidate
    one_minus_z = np.subtract(1.0, z, out=buffer(work, "bwd_1mz", z.shape, dt))
    k = np.subtract(h_tilde, h_prev, out=buffer(work, "bwd_k", h_prev.shape, dt))
    k *= z
    k *= one_minus_z  # (h~ - h_prev) z (1 - z)
    np.multiply(dh, k, out=d_xw[..., :H])
    np.multiply(dh, z, out=d_xw[..., H:])
    # backprop into the previous state: the direct path, scaled by 1 - z
    dh_prev = np.multiply(dh, one_minus_z, out=buffer(work, "bwd_dh_prev", shape, dt))
    return (dh_prev,), d_xw, d_xw


def forward_scan(params: Params, xw: np.ndarray, state: State, rows: dict, work: Work = None) -> None:
    """Steps 0..n-1 of a run at once: ``h = scan(a = 1 - z, b = z h~)`` from ``state``.

    Parameters
    ----------
    xw : ndarray of shape (n, B, 2H)
    rows : dict
        Where the run's outputs go: ``rows["gates"]`` (n, B, 2H; may be ``xw``) and ``rows["h"]`` (n, B, H).
    """
    (h_prev,) = state
    H, dt = h_prev.shape[-1], h_prev.dtype
    gates = rows["gates"]
    z, h_tilde = gates[..., :H], gates[..., H:]
    sigmoid(xw[..., :H], out=z)
    np.copyto(h_tilde, xw[..., H:])
    a = np.subtract(1.0, z, out=buffer(work, "scan_coef", z.shape, dt))
    b = np.multiply(z, h_tilde, out=rows["h"])
    linear_scan(a, b, h_prev, out=rows["h"], work=work)


def backward_scan(
    params: Params, dh: np.ndarray, d_rest: State, rows: dict, d_xw: np.ndarray, work: Work = None
) -> State:
    """Steps n-1..0 of a run at once: the totals ``g_t = dh_t + (1 - z_{t+1}) g_{t+1}`` by the reverse scan.

    Parameters
    ----------
    dh : ndarray of shape (n, B, H)
        The gradient arriving at each ``h_t`` from outside the recurrence, the last row also from the step
        after the run; replaced by the total ``dL/dh_t``.
    d_rest : tuple
        Empty (the state is ``h`` alone).
    rows : dict
        The run's tape rows (:meth:`bptt_core.tape.Tape.rows`).
    d_xw : ndarray of shape (n, B, 2H)

    Returns
    -------
    tuple (dh_prev,)
        The gradient of the state entering the run.
    """
    gates, h_prev = rows["gates"], rows["h_prev"]
    H, dt = dh.shape[-1], dh.dtype
    z, h_tilde = gates[..., :H], gates[..., H:]
    one_minus_z = np.subtract(1.0, z, out=buffer(work, "scan_coef", z.shape, dt))
    reverse_linear_scan(one_minus_z, dh, 0.0, out=dh, work=work)
    k = np.subtract(h_tilde, h_prev, out=d_xw[..., :H])
    k *= z
    k *= one_minus_z
    k *= dh
    np.multiply(dh, z, out=d_xw[..., H:])
    return (one_minus_z[0] * dh[0],)


def accumulate(params, grads, d_xw, d_hw, x, rows, terms=None) -> None:
    """``weight_ih`` and ``bias_ih`` from a chunk of steps (see :attr:`Cell.accumulate`)."""
    m, B, G = d_xw.shape
    grads["weight_ih"] += d_xw.reshape(m * B, G).T @ x.reshape(m * B, -1)
    grads["bias_ih"] += d_xw.sum(axis=(0, 1))
    if terms is not None:
        terms["weight_ih"][:] = dense.step_term_norms(d_xw, x)


def parameter_factors(params: Params, d_xw: np.ndarray, d_hw: np.ndarray, x: np.ndarray, cache: dict) -> dict:
    """``d h_t / d W_ih[r, i] = d_xw[r] x_t[i]`` and ``d h_t / d b_ih[r] = d_xw[r]`` per adjoint (see
    :attr:`Cell.parameter_factors`)."""
    return {"weight_ih": (d_xw, x), "bias_ih": (d_xw, None)}


def project_term(params: dict, name: str, D: np.ndarray, back: dict) -> np.ndarray:
    """``<C_t, D>`` for the term ``C_t = d_xw^T x_t`` of ``weight_ih`` (the only matrix; no recurrent weight)."""
    return np.einsum("nbg,bg->n", back["d_xw"], back["x"] @ D.T, dtype=np.float64)


def decay(params: Params, cache: dict) -> np.ndarray:
    """``1 - z_t`` (B, H): ``d h_t / d h_{t-1} = diag(1 - z_t)``, set by the input alone."""
    z = cache["gates"][..., : cache["h"].shape[-1]]
    return 1.0 - z


def recurrence(params: Params) -> dict[str, np.ndarray]:
    """None: the recurrence ``diag(1 - z_t)`` is set by the inputs, not by a weight."""
    return {}


CELL = Cell(
    name="mingru",
    gate_names=GATES,
    state_parts=("h",),
    tape=TAPE,
    width=2,
    activations=("tanh",),
    term_params=("weight_ih",),
    gate_kinds=("sigmoid", "linear"),
    **functions_in(globals()),
)
