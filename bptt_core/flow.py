"""The flow matrix: how much each step's loss depends on each earlier hidden state."""

from __future__ import annotations

import numpy as np

from .bptt import prepare
from .losses import token_loss_and_grad
from .spec import RNNSpec
from .unroll import CELL_STEPS, unroll


def flow_matrix(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    loss: str = "mse",
    mask: np.ndarray | None = None,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    dtype: str = "float64",
) -> np.ndarray:
    """``F[t, k] = ||d l_t / d h_k||`` for every origin step t and earlier state k.

    ``l_t`` is ``step_losses[t]`` (mean valid token loss at step t); the norm is
    Frobenius over batch and hidden units. All origins travel back together:
    at step k the adjoints of every origin t >= k are stacked on a leading axis
    and pushed through the cell's backward step in one call (batched adjoints),
    so the cost is one backward pass whose batch grows by one origin per step.

    Parameters
    ----------
    spec, params, x, y, loss, mask, h0, c0, dtype
        As in :func:`bptt_core.bptt`.

    Returns
    -------
    F : ndarray of shape (T, T)
        Lower triangular (``F[t, k] = 0`` for k > t); non-finite where it overflowed.
    """
    P, x, y, mask, state = prepare(spec, params, x, y, loss, mask, h0, c0, dtype)
    T = x.shape[0]
    cell = CELL_STEPS[spec.cell]
    F = np.zeros((T, T))
    with np.errstate(all="ignore"):
        caches, h = unroll(spec, P, x, state)
        _, dyhat = token_loss_and_grad(loss, h @ P["weight_out"].T + P["bias_out"], y)
        valid = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        g = (dyhat * (mask / valid)[..., None]).astype(x.dtype) @ P["weight_out"]  # d l_t / d h_t, (T, B, H)
        adj = [np.zeros_like(h) for _ in state]  # adj[0][t] = d l_t / d h_k for the current k
        for k in reversed(range(T)):
            adj[0][k] = g[k]
            for a in adj[1:]:
                a[k] = 0.0
            live = tuple(a[k:] for a in adj)  # origins t = k .. T-1, shape (T-k, B, H)
            F[k:, k] = np.sqrt(np.sum(np.square(live[0], dtype=np.float64), axis=(1, 2)))
            if k > 0:
                back, _, _ = cell.backward_step(P, live, caches[k])
                for a, d in zip(adj, back):
                    a[k:] = d
    return F
