"""Run the cell forward over all steps and keep every cache (for analyses that need them all)."""

from __future__ import annotations

import numpy as np

from . import gru, lstm, rnn
from .spec import RNNSpec

CELL_STEPS = {"rnn": rnn, "lstm": lstm, "gru": gru}


def matmul_last(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a @ w`` over the last axis of ``a`` (..., K) as one 2-D product (3-D ``@`` is a loop of small ones)."""
    return (a.reshape(-1, a.shape[-1]) @ w).reshape(*a.shape[:-1], w.shape[-1])


def project_inputs(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Input terms ``x_t W_ih^T + b_ih`` of all steps in one matrix product: (T, B, I) -> (T, B, G*H)."""
    out = matmul_last(x, params["weight_ih"].T)
    out += params["bias_ih"]
    return out


def unroll(
    spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, state: tuple[np.ndarray, ...]
) -> tuple[list[dict], np.ndarray]:
    """Forward over every step.

    Parameters
    ----------
    x : ndarray of shape (T, B, I)
    state : tuple of ndarray of shape (B, H)
        ``(h0,)`` or ``(h0, c0)``.

    Returns
    -------
    caches : list of T dicts
        The per-step caches of the cell's ``forward_step``.
    h : ndarray of shape (T, B, H)
    """
    cell = CELL_STEPS[spec.cell]
    xw = project_inputs(params, x)
    caches, hs = [], np.empty((x.shape[0],) + state[0].shape, dtype=x.dtype)
    for t in range(x.shape[0]):
        state, cache = cell.forward_step(params, xw[t], state, spec.activation)
        caches.append(cache)
        hs[t] = state[0]
    return caches, hs
