"""BPTT as a textbook loop: one layer, one direction, any registered cell.

The loop of Karpathy's min-char-rnn ``lossFun``: the forward pass runs left to right
and keeps, keyed by t, what the backward pass needs; the backward pass runs
``for t in reversed(range(T))``, carries the state's gradient ``dL/dh_t`` from right
to left and adds each step's terms to the gradient buffers. A cell is used through its
protocol only (:mod:`bptt_core.cells.protocol`): its step pair, its state parts and
the bias it folds into the input term.

:func:`reference_bptt` equals :func:`bptt_core.bptt` for every registered cell and
activation, both losses, both reductions, with and without a padding mask
(``tests/core/test_reference.py``, to 1e-10). What the engine adds beyond it: stacks of
layers and the reverse direction, truncation (fixed and random), gradient clipping,
checkpointing, initial states ``h0``/``c0``, float32, one workspace of reused buffers
and a memory ledger and budget, the weight gradients as one matrix product per chunk
of steps, per-step contributions, input gradients and overflow reports.

The Unroll page shows :func:`reference_bptt` beside the animation and highlights the
loop the current frame runs; the comments ``# [forward]`` and ``# [backward]`` mark the
two loops for it (read by :mod:`dashboard.catalog.code`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import budget
from .arguments import check_loss, check_reduction, prepare
from .cells import CELLS
from .losses import token_loss_and_grad, token_weights
from .spec import RNNSpec, check_spec, layer_params


class Reference(NamedTuple):
    """What :func:`reference_bptt` returns."""

    loss: float
    grads: dict[str, np.ndarray]  # dL/d(every parameter), the state-dict keys
    h: np.ndarray  # (T, B, H) hidden states h_t
    dh: np.ndarray  # (T, B, H) dL/dh_t: the loss at t plus all later steps


def reference_bptt(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    loss: str = "mse",
    reduction: str = "mean",
    mask: np.ndarray | None = None,
) -> Reference:
    """Loss, gradients, states and ``dL/dh_t`` of one layer by the textbook loop.

    Parameters
    ----------
    spec : RNNSpec
        One layer, one direction (``num_layers=1``, ``bidirectional=False``).
    params : dict of ndarray
        PyTorch's state-dict keys plus the read-out (:mod:`bptt_core.spec`), float64.
    x : ndarray of shape (T, B, I)
    y : ndarray of shape (T, B, O) for mse, integer (T, B) for cross-entropy
    loss : {"mse", "cross_entropy"}
    reduction : {"mean", "sum"}
    mask : ndarray of shape (T, B), optional
        0 for padding tokens (their losses do not count).

    Returns
    -------
    Reference
    """
    params, x, y, mask = checked(spec, params, x, y, loss, reduction, mask)
    cell, p = CELLS[spec.cell], layer_params(params)  # its weights
    w1 = cell.projection(p)  # (I + 1, width*H): [x_t, 1] @ w1
    W_out, b_out = params["weight_out"], params["bias_out"]
    T, B, H = x.shape[0], x.shape[1], spec.hidden_size
    weight = token_weights(mask, reduction)  # L = sum(weight * l)
    widths = [cell.tape[s] * H for s in cell.state_parts]  # h_-1 = 0
    state = tuple(np.zeros((B, w)) for w in widths)
    hs, caches, dys, L = {-1: state[0]}, {}, {}, 0.0
    for t in range(T):  # [forward] left to right, storing for backward
        xw = x[t] @ w1[:-1] + w1[-1]  # input term
        state, caches[t] = cell.forward_step(p, xw, state, spec.activation)
        hs[t] = state[0]  # hidden state h_t (B, H)
        yhat = hs[t] @ W_out.T + b_out  # read-out (B, O)
        l, dl_dyhat = token_loss_and_grad(loss, yhat, y[t])
        L += np.sum(weight[t] * l)  # this step's share of the loss
        dys[t] = weight[t][:, None] * dl_dyhat  # dL/dyhat_t (B, O)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    g = layer_params(grads)  # views: adding to g adds to grads
    d_state = tuple(np.zeros_like(s) for s in state)  # none after T-1
    dh_seq = np.zeros((T, B, H))
    for t in reversed(range(T)):  # [backward] dL/dh_t flows right to left
        # backprop into the read-out
        grads["weight_out"] += dys[t].T @ hs[t]
        grads["bias_out"] += dys[t].sum(axis=0)
        dh_seq[t] = dh = dys[t] @ W_out + d_state[0]  # loss at t, and t+1
        d_state = (dh, *d_state[1:])  # dL/d(state_t), into the step
        d_state, d_xw, d_hw = cell.backward_step(p, d_state, caches[t])
        # add the step's terms to the gradients of the tied weights
        arrays = {k: v for k, v in caches[t].items() if hasattr(v, "ndim")}
        rows = {k: v[None] for k, v in arrays.items()}
        cell.accumulate(p, g, d_xw[None], d_hw[None], x[t][None], rows)
    h = np.stack([hs[t] for t in range(T)])
    return Reference(float(L), grads, h, dh_seq)


def checked(spec: RNNSpec, params: dict, x: object, y: object, loss: str, reduction: str, mask: object) -> tuple:
    """The arguments of :func:`reference_bptt` checked as :func:`bptt_core.bptt` checks them (its budgets
    included: the loop keeps every step), as float64 arrays; the mask all ones when None."""
    if check_spec(spec).num_layers != 1 or spec.bidirectional:
        raise ValueError("spec must have one layer and one direction")
    loss, _ = check_loss(loss), check_reduction(reduction)

    def need(T: int, B: int, copies: int) -> None:
        what = budget.sized("this textbook loop", T, B)
        advice = "shorten T or lower the batch or hidden size"
        budget.check(copies + budget.bptt_bytes(spec, T, B), what, advice, per_call=False)
        budget.check_work(budget.bptt_work(spec, T, B), what, advice)

    args = prepare(spec, params, x, y, loss, mask, None, None, "float64", need)
    return args.P, args.x, args.y, args.mask
