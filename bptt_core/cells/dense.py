"""What the PyTorch cells (RNN, LSTM, GRU) share: PyTorch's four arrays per layer and their gradients.

==================  ===========  =========================================================
short name          shape        note
==================  ===========  =========================================================
``weight_ih``       ``(G*H, I)``  gate blocks stacked in PyTorch's order
``weight_hh``       ``(G*H, H)``
``bias_ih``         ``(G*H,)``
``bias_hh``         ``(G*H,)``   folded into the projection except where a cell keeps it apart
==================  ===========  =========================================================

Each cell module binds the gate count with :func:`functools.partial`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from .. import limits
from .. import validate as v
from .protocol import InitPreset

#: Matrices of the size of one H x H block held at once while one is made (the draw, QR's factors, the result).
MATRIX_COPIES = 4


def param_shapes(gates: int, H: int, I: int) -> dict[str, tuple[int, ...]]:
    """PyTorch's layout of one layer-direction."""
    return {"weight_ih": (gates * H, I), "weight_hh": (gates * H, H), "bias_ih": (gates * H,), "bias_hh": (gates * H,)}


def sizes(shapes: dict) -> tuple[int, int]:
    """``(H, I)`` read off ``weight_hh`` and ``weight_ih``."""
    return shapes["weight_hh"][1], shapes["weight_ih"][1]


def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal (n, n) matrix, Haar-distributed (QR with sign fix; Saxe et al. 2013)."""
    n, rng = v.check_positive_int("n", n), v.check_generator("rng", rng)
    what = f"an orthogonal {n} x {n} matrix"
    limits.check(MATRIX_COPIES * limits.array_bytes(n, n), what, "lower n", per_call=False)
    limits.check_work(n**3, what, "lower n")
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spectral_radius(w: np.ndarray) -> float:
    """Largest eigenvalue modulus of a square, finite, real matrix (at least 1 x 1)."""
    w = v.check_finite("w", v.as_array("w", w))
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ValueError(f"w must be a square matrix (n, n) with n >= 1, got shape {w.shape}")
    n = w.shape[0]
    what = f"the eigenvalues of a {n} x {n} matrix"
    limits.check(MATRIX_COPIES * limits.array_bytes(n, n), what, "use a smaller matrix", per_call=False)
    limits.check_work(10 * n**3, what, "use a smaller matrix")
    return float(np.max(np.abs(np.linalg.eigvals(w))))


def recurrent_block(init: str, H: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """One H x H gate block of ``weight_hh`` by the preset ``init`` (see :func:`bptt_core.init_params`)."""
    if init == "uniform":
        return scale * rng.uniform(-1, 1, (H, H)) / np.sqrt(H)
    if init == "normal":
        return scale * rng.standard_normal((H, H)) / np.sqrt(H)
    if init == "orthogonal":
        return scale * orthogonal(H, rng)
    if init == "identity":
        return scale * np.eye(H)
    w = rng.standard_normal((H, H)) / np.sqrt(H)  # "spectral": rescale to radius = scale
    rho = spectral_radius(w)
    return w * (scale / rho) if rho > 0 else w


def init_layer(
    gate_names: tuple[str, ...], forget_gate: str | None, rng: np.random.Generator, H: int, I: int, preset: InitPreset
) -> dict[str, np.ndarray]:
    """PyTorch's U(-k, k), k = 1/sqrt(H), except ``weight_hh`` by the preset; the block of ``forget_gate`` in
    ``bias_ih`` gets ``preset.forget_bias``. Draws in the order w_ih, w_hh blocks, biases."""
    k = 1.0 / np.sqrt(H)
    G = len(gate_names)
    w_ih = rng.normal(0.0, 0.001, (G * H, I)) if preset.init == "identity" else rng.uniform(-k, k, (G * H, I))
    w_hh = np.concatenate([recurrent_block(preset.init, H, preset.scale, rng) for _ in range(G)])
    if preset.init == "identity":
        b_ih, b_hh = np.zeros(G * H), np.zeros(G * H)
    else:
        b_ih, b_hh = rng.uniform(-k, k, G * H), rng.uniform(-k, k, G * H)
    if forget_gate is not None:
        g = gate_names.index(forget_gate)
        b_ih[g * H : (g + 1) * H] += preset.forget_bias
    return {"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih, "bias_hh": b_hh}


def projection(
    input_bias: Callable[[dict], np.ndarray], params: dict[str, np.ndarray], out: np.ndarray | None = None
) -> np.ndarray:
    """``[W_ih^T; input_bias]`` of shape (I + 1, G*H): the projection with the bias as a last input row."""
    w = params["weight_ih"]
    out = np.empty((w.shape[1] + 1, w.shape[0]), w.dtype) if out is None else out
    out[:-1] = w.T
    out[-1] = input_bias(params)
    return out


def summed_bias(params: dict[str, np.ndarray]) -> np.ndarray:
    """The bias added once to the input projection: ``b_ih + b_hh``."""
    return params["bias_ih"] + params["bias_hh"]


def accumulate(
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    d_xw: np.ndarray,
    d_hw: np.ndarray,
    x: np.ndarray,
    rows: dict[str, np.ndarray],
    terms: dict[str, np.ndarray] | None = None,
) -> None:
    """Tied weights: the terms of a chunk of steps summed by one matrix product each.

    Parameters
    ----------
    d_xw, d_hw : ndarray of shape (m, B, G*H)
    x : ndarray of shape (m, B, I)
    rows : dict
        ``rows["h_prev"]`` (m, B, H): the states entering the steps.
    """
    m, B, GH = d_xw.shape
    n = m * B
    h_prev = rows["h_prev"]
    grads["weight_ih"] += d_xw.reshape(n, GH).T @ x.reshape(n, -1)
    grads["weight_hh"] += d_hw.reshape(n, GH).T @ h_prev.reshape(n, -1)
    d_bias = d_xw.sum(axis=(0, 1))
    grads["bias_ih"] += d_bias
    grads["bias_hh"] += d_bias if d_hw is d_xw else d_hw.sum(axis=(0, 1))
    if terms is not None:
        terms["weight_hh"][:] = step_term_norms(d_hw, h_prev)
        terms["weight_ih"][:] = step_term_norms(d_xw, x)


def parameter_factors(
    params: dict[str, np.ndarray], d_xw: np.ndarray, d_hw: np.ndarray, x: np.ndarray, cache: dict
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Each array's immediate Jacobian per adjoint (see :attr:`Cell.parameter_factors`): a pre-activation
    Jacobian times what multiplies the array in the step, ``d s_t / d W_ih[r, i] = d_xw[r] x_t[i]``,
    ``d s_t / d W_hh[r, j] = d_hw[r] h_{t-1}[j]``, ``d s_t / d b_hh[r] = d_hw[r]`` (views, nothing allocated)."""
    return {
        "weight_ih": (d_xw, x),
        "weight_hh": (d_hw, cache["h_prev"]),
        "bias_ih": (d_xw, None),
        "bias_hh": (d_hw, None),
    }


def recurrence(gate_names: tuple[str, ...], params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The H x H gate blocks of ``weight_hh``, by gate name."""
    w = params["weight_hh"]
    H = w.shape[1]
    return {name: w[g * H : (g + 1) * H] for g, name in enumerate(gate_names)}


def project_term(params: dict, name: str, D: np.ndarray, back: dict) -> np.ndarray:
    """``<C_t, D>`` for each adjoint: ``C_t = d_hw^T h_prev`` (``weight_hh``) or ``d_xw^T x_t`` (``weight_ih``),
    as ``sum(d * (operand @ D^T))`` without forming the (N, G*H, .) terms."""
    if name == "weight_hh":
        return np.einsum("nbg,bg->n", back["d_hw"], back["cache"]["h_prev"] @ D.T, dtype=np.float64)
    return np.einsum("nbg,bg->n", back["d_xw"], back["x"] @ D.T, dtype=np.float64)


#: The per-step terms a PyTorch cell reports: the recurrent weight first.
TERM_PARAMS = ("weight_hh", "weight_ih")


def layout(gate_names: tuple[str, ...], forget_gate: str | None, input_bias: Callable[[dict], np.ndarray]) -> dict:
    """The :class:`~bptt_core.cells.protocol.Cell` fields a PyTorch cell with these gates shares with the others:
    its parameters, their init, projection and gradients, and its recurrent blocks."""
    return {
        "gate_names": gate_names,
        "width": len(gate_names),
        "param_shapes": partial(param_shapes, len(gate_names)),
        "sizes": sizes,
        "init_layer": partial(init_layer, gate_names, forget_gate),
        "projection": partial(projection, input_bias),
        "accumulate": accumulate,
        "parameter_factors": parameter_factors,
        "recurrence": partial(recurrence, gate_names),
        "project_term": project_term,
        "term_params": TERM_PARAMS,
        "init_presets": True,
        "forget_gate": forget_gate,
    }


def step_term_norms(d_pre: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """``||d_pre_t^T inputs_t||_F`` for each t without forming the (G*H, N) terms.

    Uses ``||A^T B||_F^2 = sum(A A^T * B B^T)`` over the batch axis.

    Parameters
    ----------
    d_pre : ndarray of shape (L, B, G*H)
    inputs : ndarray of shape (L, B, N)

    Returns
    -------
    ndarray of shape (L,)
    """
    gram_a = d_pre @ np.swapaxes(d_pre, 1, 2)
    gram_b = inputs @ np.swapaxes(inputs, 1, 2)
    return np.sqrt(np.maximum(np.sum(gram_a * gram_b, axis=(1, 2)), 0.0))
