"""The closed-form law of a diagonal linear recurrence, from the cell's own quantities.

A cell whose state follows ``s_t = a_t * s_{t-1} + b_t`` unit by unit (the LRU: ``a_t = lambda``,
Orvieto et al. 2023; minGRU: ``a_t = 1 - z_t``, Feng et al. 2024; ``Cell.decay`` gives ``|a_t|``) has
diagonal step Jacobians, so ``d s_t / d s_k`` is diagonal too and its spectral norm is
``max_n prod_{s=k+1}^t |a_{s,n}|``: ``max |lambda|^(t-k)`` for the LRU, the largest product of
``1 - z_s`` for minGRU. :func:`decay_law` computes it from ``lambda`` and the gates, not from the
Jacobian matrices that :func:`bptt_core.analysis.jacobians.jacobian_products` multiplies: the two
agree to rounding, which is the check that the law is the whole story.
"""

from __future__ import annotations

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import prepare
from ..cells import CELLS
from ..limits import array_bytes
from ..spec import RNNSpec, check_spec, layer_params
from ..unroll import layer_inputs, unroll


def decay_law(
    spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, *, layer: int = 0, direction: int = 0
) -> np.ndarray:
    """log10 of ``max_n prod_{s=1}^t |a_{s,n}|``, the law's norm of ``d s_t / d s_0``, for every lag t from step 0.

    Parameters
    ----------
    spec, params : as in :func:`bptt_core.bptt`; the cell must define ``decay`` (a diagonal recurrence)
    x : ndarray of shape (T, B, I)
        The network's inputs (the layers below ``layer`` run first).
    layer, direction : int
        Which layer-direction; its steps in its own order (T - 1 first for the reverse direction).

    Returns
    -------
    ndarray of shape (B, T)
        Lag 0 is 0 (the identity); -inf where a factor is exactly 0. Summed in log space: no underflow.
    """
    check_spec(spec)
    cell = CELLS[spec.cell]
    if cell.decay is None:
        raise ValueError(f"spec.cell={spec.cell!r} has no diagonal recurrence (its Cell defines no decay)")
    layer = v.check_int("layer", layer, 0, spec.num_layers - 1)
    direction = v.check_int("direction", direction, 0, spec.directions - 1)

    def need(T: int, B: int, copies: int) -> None:
        kept = 2 * array_bytes(T, B, cell.state_width * spec.hidden_size)  # the factors' logs and their sums
        needed = copies + budget.unroll_bytes(spec, T, B, layer) + kept
        budget.check_analysis(needed, budget.unroll_work(spec, T, B, layer), budget.sized("this law", T, B), None)

    args = prepare(spec, params, x, None, None, None, None, None, "float64", need)
    P, x, states = args.P, args.x, args.states
    p = layer_params(P, layer, direction)
    with np.errstate(divide="ignore"):
        inputs = layer_inputs(spec, P, x, states, layer)
        state = states[layer * spec.directions + direction]
        caches, _ = unroll(spec, P, inputs[::-1] if direction else inputs, state, layer, direction)
        logs = np.stack([np.log10(cell.decay(p, cache)) for cache in caches[1:]])  # (T - 1, B, N): steps 1 .. T-1
    per_unit = np.concatenate([np.zeros((1, *logs.shape[1:])), np.cumsum(logs, axis=0)])  # (T, B, N)
    return np.max(per_unit, axis=2).T
