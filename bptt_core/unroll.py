"""Run the cell forward over all steps: input projections, the tape, the loop."""

from __future__ import annotations

import math

import numpy as np

from . import gru, lstm, rnn
from .spec import RNNSpec
from .workspace import Workspace, matmul

CELL_STEPS = {"rnn": rnn, "lstm": lstm, "gru": gru}


def project_inputs(cell: str, params: dict[str, np.ndarray], x: np.ndarray, out: np.ndarray | None = None,
                   work: Workspace | None = None) -> np.ndarray:
    """Input terms ``x_t W_ih^T`` plus the cell's ``input_bias`` for all steps in one matrix product.

    The bias rides along as an extra input column of ones, so the product writes
    the result in one pass (adding it afterwards would read and write the whole
    (T, B, G*H) array again).

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    x : ndarray of shape (..., I)
    out : ndarray of shape (..., G*H), optional
    work : Workspace, optional
        Scratch for the augmented inputs.

    Returns
    -------
    ndarray of shape (..., G*H)
    """
    *lead, I = x.shape
    n = math.prod(lead)
    w = params["weight_ih"]
    x1 = work.get("x_ones", (n, I + 1), x.dtype) if work is not None else np.empty((n, I + 1), x.dtype)
    x1[:, :I] = x.reshape(n, I)
    x1[:, I] = 1.0
    w1 = np.concatenate([w.T, CELL_STEPS[cell].input_bias(params)[None].astype(w.dtype)])  # (I + 1, G*H)
    gh = w1.shape[1]
    return matmul(x1, w1, out=None if out is None else out.reshape(n, gh)).reshape(*lead, gh)


def tape(cell: str, n: int, B: int, H: int, dtype: np.dtype, h: np.ndarray | None = None,
         work: Workspace | None = None, prefix: str = "tape") -> dict[str, np.ndarray]:
    """Buffers for what ``n`` steps store, one (n, B, width * H) array per entry of the cell's ``TAPE``.

    Parameters
    ----------
    h : ndarray of shape (n, B, H), optional
        Where the hidden states go (the driver's output array); allocated when None.
    work : Workspace, optional
        Take the arrays from it (named ``prefix`` + entry) instead of allocating.
    """
    def new(name: str, width: int) -> np.ndarray:
        shape = (B, width * H)
        return np.empty((n, *shape), dtype) if work is None else work.get(prefix + name, (n, *shape), dtype)

    return {name: h if name == "h" and h is not None else new(name, width)
            for name, width in CELL_STEPS[cell].TAPE.items()}


def unroll(
    spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, state: tuple[np.ndarray, ...]
) -> tuple[list[dict], np.ndarray]:
    """Forward over every step, keeping every cache.

    Parameters
    ----------
    x : ndarray of shape (T, B, I)
    state : tuple of ndarray of shape (B, H)
        ``(h0,)`` or ``(h0, c0)``.

    Returns
    -------
    caches : list of T dicts
        The per-step caches of the cell's ``forward_step`` (views of one tape).
    h : ndarray of shape (T, B, H)
    """
    cell = CELL_STEPS[spec.cell]
    T, B = x.shape[:2]
    stored = tape(spec.cell, T, B, spec.hidden_size, x.dtype)
    xw = project_inputs(spec.cell, params, x, out=next(iter(stored.values())))
    work, caches = Workspace(), []
    for t in range(T):
        state, cache = cell.forward_step(params, xw[t], state, spec.activation,
                                         out={k: a[t] for k, a in stored.items()}, work=work)
        caches.append(cache)
    return caches, stored["h"]
