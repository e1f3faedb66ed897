"""The weight gradient itemised: which step's loss produced each term of ``dW_hh``, and how far back it travelled.

``dW_hh = sum_s sum_{t <= s} C[s, t]`` where ``C[s, t] = delta_t^(s)T h_{t-1}`` is the term step t adds
when only the loss at step s is backpropagated (Cashman et al.'s RNNbow sampled these; here every one
is exact). All origins travel back together (:func:`bptt_core.analysis.flow.batched_adjoints`).
The parameter itemised is the cell's first ``term_params``: ``weight_hh`` for RNN, LSTM and GRU, the
LRU's ``nu_log`` (the eigenvalues' decay rates), minGRU's ``weight_ih`` (it has no recurrent weight).
"""

from __future__ import annotations

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import check_loss, check_reduction, prepare
from ..bptt import bptt
from ..cells import CELLS
from ..losses import token_weights
from ..norms import scaled_norm
from ..spec import RNNSpec, check_spec, layer_params, param_key
from .flow import batched_adjoints


def gradient_contributions(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    loss: str = "mse",
    reduction: str = "mean",
    mask: np.ndarray | None = None,
    *,
    direction: np.ndarray | None = None,
    param: str | None = None,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    dtype: str = "float64",
    memory_budget: int | None = None,
) -> np.ndarray:
    """``P[s, t] = <C[s, t], D>``: each term of the top layer's ``dW_hh`` (forward direction), projected.

    Parameters
    ----------
    spec, params, x, y, loss, reduction, mask, h0, c0, dtype
        As in :func:`bptt_core.bptt`; the losses are weighted as the reduction weights them.
    direction : ndarray of the itemised parameter's shape, e.g. (G*H, H), optional
        ``D``. Default: the unit total gradient ``dW_hh / ||dW_hh||``, so that every entry is the
        term's share of the gradient's length and the entries sum to ``||dW_hh||``.
    param : str, optional
        The parameter itemised, a short name in ``bc.CELLS[spec.cell].term_params``; default the first:
        ``weight_hh`` (RNN, LSTM, GRU), ``nu_log`` (LRU), ``weight_ih`` (minGRU, no recurrent weight).

    Returns
    -------
    P : ndarray of shape (T, T)
        ``P[s, t]`` for the loss at step s and the term added at step t; 0 for t > s. Projections
        are linear: ``P.sum() == <dW_hh, D>`` exactly (up to rounding).
    """
    reduction = check_reduction(reduction)
    memory_budget, loss = v.check_budget("memory_budget", memory_budget), check_loss(loss)
    cell = CELLS[check_spec(spec).cell]
    if param is not None and (not isinstance(param, str) or param not in cell.term_params):
        raise ValueError(f"param must be one of {cell.term_params} for cell={spec.cell!r}, got {v.show(param)}")
    name = cell.term_params[0] if param is None else param

    def need(T: int, B: int, copies: int) -> None:
        dt = np.dtype(v.check_dtype(dtype)).name
        needed = copies + budget.flow_bytes(spec, T, B, T, dt) + budget.array_bytes(T, T)
        work = budget.flow_work(spec, T, B, T) + (budget.bptt_work(spec, T, B) if direction is None else 0)
        budget.check_analysis(needed, work, budget.sized("these gradient contributions", T, B), memory_budget)

    args = prepare(spec, params, x, y, loss, mask, h0, c0, dtype, need)
    P_, x_, y_, mask_, states = args.P, args.x, args.y, args.mask, args.states
    T = x_.shape[0]
    key = param_key(name, spec.num_layers - 1, 0)
    if direction is not None:
        D = v.check_array("direction", direction, P_[key].shape, x_.dtype)
    else:
        total = bptt(spec, params, x, y, loss=loss, reduction=reduction, mask=mask, h0=h0, c0=c0, dtype=dtype)
        norm = scaled_norm(total.grads[key])
        D = total.grads[key] / norm if norm > 0 else total.grads[key]
    p = layer_params(P_, spec.num_layers - 1, 0)
    rows = np.arange(T)
    out = np.zeros((T, T))
    with np.errstate(all="ignore"):
        weights = token_weights(mask_, reduction).astype(x_.dtype)
        for k, first, _, back in batched_adjoints(
            spec, P_, x_, y_, loss, mask_, states, rows, weights, steps_back=True
        ):
            if back is None:
                continue
            if not cell.separate_hw_grad:
                back["d_hw"] = back["d_xw"]
            out[first:, k] = cell.project_term(p, name, D, back)
    return out
