"""The flow matrix: how much each step's loss depends on each earlier hidden state."""

from __future__ import annotations

import numpy as np

from .. import budget
from ..bptt import prepare
from ..cells import CELLS
from ..losses import token_loss_and_grad
from ..spec import RNNSpec, layer_params
from ..unroll import layer_inputs, unroll
from ..workspace import Workspace


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
    origins: np.ndarray | None = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """``F[t, k] = ||d l_t / d h_k||`` for every origin step t and earlier state k.

    ``h_k`` is the top layer's output (its forward direction in a bidirectional network),
    ``l_t`` is ``step_losses[t]`` (mean valid token loss at step t); the norm is
    Frobenius over batch and hidden units. All origins travel back together:
    at step k the adjoints of every origin t >= k are stacked on a leading axis
    and pushed through the cell's backward step in one call (batched adjoints),
    so the cost is one backward pass whose batch grows by one origin per step.

    Parameters
    ----------
    spec, params, x, y, loss, mask, h0, c0, dtype
        As in :func:`bptt_core.bptt`.
    origins : ndarray of shape (N,) of int, optional
        Compute only these rows t (sorted, unique); all T when None. The cost is
        proportional to the number of origins.
    memory_budget : int, optional
        Bytes this call may allocate; above it :class:`MemoryBudgetError` is raised.

    Returns
    -------
    F : ndarray of shape (T, T), or (N, T) with ``origins``
        ``F[i, k]`` for origin ``t = origins[i]``; 0 for k > t; non-finite where it overflowed.
    """
    P, x, y, mask, states = prepare(spec, params, x, y, loss, mask, h0, c0, dtype)
    top = spec.num_layers - 1
    state = states[top * spec.directions]
    T = x.shape[0]
    rows = np.arange(T) if origins is None else np.unique(np.asarray(origins, dtype=int))
    if rows.size == 0 or rows[0] < 0 or rows[-1] >= T:
        raise ValueError(f"origins must be non-empty steps in [0, T) = [0, {T})")
    budget.check(
        budget.flow_bytes(spec, T, x.shape[1], rows.size, dtype),
        "this flow matrix",
        "shorten T, lower the batch or hidden size, or ask for fewer origins",
        memory_budget,
    )
    cell, p = CELLS[spec.cell], layer_params(P, top, 0)
    F = np.zeros((rows.size, T))
    B, GH = x.shape[1], spec.gates * spec.hidden_size
    work = Workspace()  # the adjoint batch grows by one origin per step: its buffers grow with it
    with np.errstate(all="ignore"):
        inputs = layer_inputs(spec, P, x, states, top)
        caches, h = unroll(spec, P, inputs, state, layer=top)
        outputs = h
        if spec.directions == 2:  # the read-out also sees the reverse direction's outputs
            _, h_rev = unroll(spec, P, inputs[::-1], states[top * 2 + 1], layer=top, direction=1)
            outputs = np.concatenate([h, h_rev[::-1]], axis=-1)
        _, dyhat = token_loss_and_grad(loss, outputs[rows] @ P["weight_out"].T + P["bias_out"], y[rows])
        valid = np.maximum(mask[rows].sum(axis=1, keepdims=True), 1.0)
        w_fwd = P["weight_out"][:, : spec.hidden_size]
        g = (dyhat * (mask[rows] / valid)[..., None]).astype(x.dtype) @ w_fwd  # d l_t / d h_t
        adj = [np.zeros_like(g) for _ in state]  # adj[0][i] = d l_{rows[i]} / d h_k for the current k
        for k in reversed(range(T)):
            first = np.searchsorted(rows, k)  # origins t >= k are rows[first:]
            if first < rows.size and rows[first] == k:
                adj[0][first] = g[first]
            live = tuple(a[first:] for a in adj)  # (N_live, B, H)
            F[first:, k] = np.sqrt(np.einsum("nbh,nbh->n", live[0], live[0], dtype=np.float64))
            if k > 0 and first < rows.size:
                n = rows.size - first
                out = {name: work.get(name, (n, B, GH), x.dtype) for name in ("d_xw", "d_hw")}
                back, _, _ = cell.backward_step(p, live, caches[k], out=out, work=work)
                for a, d in zip(adj, back):
                    a[first:] = d
    return F
