"""The flow matrix: how much each step's loss depends on each earlier hidden state."""

from __future__ import annotations

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import check_loss, prepare
from ..bptt import bptt
from ..cells import CELLS
from ..losses import token_loss_and_grad
from ..norms import scaled_norm
from ..spec import RNNSpec, layer_params
from ..unroll import unroll
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

    ``h_k`` is the top layer's state (its forward direction in a bidirectional network): the cell's
    ``hidden_parts``, its output ``h_k`` except in the LRU, whose state is the complex ``x_k``;
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
        Compute only these rows t, steps in [0, T) (the rows come back in ascending order, each once);
        all T when None. The cost is proportional to the number of origins.
    memory_budget : int, optional
        Bytes this call may allocate; above it :class:`MemoryBudgetError` is raised.

    Returns
    -------
    F : ndarray of shape (T, T), or (N, T) with ``origins``
        ``F[i, k]`` for origin ``t = origins[i]``; 0 for k > t; non-finite where it overflowed.
    """
    memory_budget, loss = v.check_budget("memory_budget", memory_budget), check_loss(loss)

    def need(T: int, B: int, copies: int) -> None:
        n = T if origins is None else origin_rows(origins, T).size  # (no arange of T to count them)
        dt = np.dtype(v.check_dtype(dtype)).name
        advice = "shorten T, lower the batch or hidden size, or ask for fewer origins"
        budget.check(
            copies + budget.flow_bytes(spec, T, B, n, dt), budget.sized("this flow matrix", T, B), advice, memory_budget
        )
        budget.check_work(budget.flow_work(spec, T, B, n), budget.sized("this flow matrix", T, B), advice)

    args = prepare(spec, params, x, y, loss, mask, h0, c0, dtype, need)
    P, x, y, mask, states, T = args.P, args.x, args.y, args.mask, args.states, args.x.shape[0]
    rows = origin_rows(origins, T)
    valid = np.maximum(mask[rows].sum(axis=1, keepdims=True), 1.0)
    F = np.zeros((rows.size, T))
    with np.errstate(all="ignore"):
        cell, p = CELLS[spec.cell], layer_params(P, spec.num_layers - 1, 0)
        for k, first, live, _ in batched_adjoints(spec, P, x, y, loss, mask, states, rows, mask[rows] / valid):
            F[first:, k] = scaled_norm(cell.hidden_grad(p, live), axis=(1, 2))  # (N_live, B, w*H) -> (N_live,)
    return F


def origin_rows(origins: object, T: int) -> np.ndarray:
    """The origin steps asked for, ascending and each once (all T when None)."""
    if origins is None:
        return np.arange(T)
    rows = np.unique(v.check_index_array("origins", origins, T))
    if rows.size == 0:
        raise ValueError(f"origins must list at least one step in [0, T) = [0, {T})")
    return rows


def batched_adjoints(
    spec: RNNSpec,
    P: dict,
    x: np.ndarray,
    y: np.ndarray,
    loss: str,
    mask: np.ndarray,
    states: list,
    rows: np.ndarray,
    weights: np.ndarray,
    steps_back: bool = False,
):
    """Carry the gradient of each origin's loss back through the top layer's forward direction, all origins
    at once (batched adjoints): at step k the adjoints of every origin t >= k are stacked on a leading axis
    and pushed through the cell's backward step in one call, so the cost is one backward pass whose batch
    grows by one origin per step.

    Parameters
    ----------
    P, x, y, mask, states
        As :func:`bptt_core.bptt.prepare` returns them.
    rows : ndarray of shape (N,) of int
        The origins, sorted.
    weights : ndarray of shape (N, B)
        Weight of each origin's token losses (1 / valid sequences: the step's mean; or the reduction's).
    steps_back : bool
        Also push step 0 back (its weight-gradient term uses the initial state).

    Yields
    ------
    k, first, live, back
        The step; the first origin still live (``rows[first:] >= k``); the adjoints ``d l_t / d(state_k)``
        of the live origins, one per state part, each (N_live, B, w*H); and the cell's backward outputs at
        step k (``d_xw``, ``d_hw`` of shape (N_live, B, width*H), the step's cache under ``cache`` and its
        input row (B, I) under ``x``), or None where step k is not pushed back.
    """
    top = spec.num_layers - 1
    state = states[top * spec.directions]
    cell, p = CELLS[spec.cell], layer_params(P, top, 0)
    T, B, GH = x.shape[0], x.shape[1], cell.width * spec.hidden_size
    work = Workspace()  # the adjoint batch grows by one origin per step: its buffers grow with it
    if top == 0 and spec.directions == 1:
        inputs = x
        caches, outputs = unroll(spec, P, x, state)
    else:  # the layers below and the reverse direction exactly as the engine runs them (a padded sequence
        # restarts the reverse direction at its last valid step)
        h0 = np.stack([st[0] for st in states])
        c0 = np.stack([st[cell.state_parts.index("c")] for st in states]) if spec.has_cell_state else None
        seq = bptt(spec, P, x, y, loss=loss, mask=mask, h0=h0, c0=c0, dtype=x.dtype.name).h_layers
        inputs = x if top == 0 else np.concatenate(list(seq[top - 1]), axis=-1)
        caches, _ = unroll(spec, P, inputs, state, layer=top)
        outputs = np.concatenate(list(seq[top]), axis=-1)  # what the read-out reads: [h_fwd, h_bwd]
    _, dyhat = token_loss_and_grad(loss, outputs[rows] @ P["weight_out"].T + P["bias_out"], y[rows])
    g = (dyhat * weights[..., None]).astype(x.dtype) @ P["weight_out"][:, : spec.hidden_size]  # d l_t / d h_t
    adj = [np.zeros((*g.shape[:2], part.shape[-1]), g.dtype) for part in state]  # adj[0][i] = d l_{rows[i]} / d h_k
    for k in reversed(range(T)):
        first = int(np.searchsorted(rows, k))  # origins t >= k are rows[first:]
        if first < rows.size and rows[first] == k:
            adj[0][first] = g[first]
        live = tuple(a[first:] for a in adj)  # (N_live, B, H)
        out = None
        if (k > 0 or steps_back) and first < rows.size:
            n = rows.size - first
            out = {name: work.get(name, (n, B, GH), x.dtype) for name in ("d_xw", "d_hw")}
            back, _, _ = cell.backward_step(p, live, caches[k], out=out, work=work)
            out = {**out, "cache": caches[k], "x": inputs[k]}
        yield k, first, live, out
        if out is not None:
            for a, d in zip(adj, back):
                a[first:] = d
