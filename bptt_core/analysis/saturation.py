"""Gate saturation: the share of gate units pinned near a limit of their non-linearity.

A sigmoid within 0.01 of 0 or 1, or a tanh within 0.01 of -1 or 1, passes almost no gradient
(its derivative is below 0.01); a ReLU unit at 0 passes none. A layer whose gates sit there
learns slowly whatever its weights' spectrum says.
"""

from __future__ import annotations

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import prepare
from ..cells import CELLS
from ..limits import array_bytes
from ..spec import RNNSpec
from ..unroll import layer_inputs, unroll

#: The limits of each non-linearity (None: unbounded on that side).
LIMITS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, None), "linear": (None, None)}


def saturated_share(values: np.ndarray, kind: str, tol: float = 0.01) -> tuple[float, float]:
    """Shares of ``values`` within ``tol`` of the lower and the upper limit of ``kind`` (a ReLU's lower
    limit: exactly 0); nan for a side without a limit."""
    lo, hi = LIMITS[kind]
    if values.size == 0:
        return np.nan, np.nan
    low = np.nan if lo is None else float(np.mean(values <= (lo if kind == "relu" else lo + tol)))
    high = np.nan if hi is None else float(np.mean(values >= hi - tol))
    return low, high


def gate_saturation(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    tol: float = 0.01,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """Per layer, direction and gate: the share of units (over steps and sequences) near each limit.

    Parameters
    ----------
    spec, params, h0, c0, memory_budget : as in :func:`bptt_core.bptt`
    x : ndarray of shape (T, B, I)
        Unpadded sequences (run sequences of different lengths separately).
    tol : float
        Distance to the limit that counts as saturated.

    Returns
    -------
    ndarray of shape (L, D, G, 3)
        ``[..., 0]`` the share near the lower limit, ``[..., 1]`` near the upper one (nan where the
        gate's non-linearity has no limit there), ``[..., 2]`` the gate's mean value. Gates in
        ``bc.CELLS[spec.cell].gate_names`` order; G = 0 for a cell without gates (the LRU).
    """
    tol = v.check_number("tol", tol, 0.0, 1.0, lo_open=True, hi_open=True)
    memory_budget = v.check_budget("memory_budget", memory_budget)

    def need(T: int, B: int, copies: int) -> None:
        layer, GH = spec.num_layers - 1, spec.gates * spec.hidden_size
        gates = array_bytes(T, B, GH) + 3 * array_bytes(T, B, spec.hidden_size, itemsize=1)  # the stack, its tests
        work = spec.num_layers * spec.directions * budget.unroll_work(spec, T, B, layer)
        runs = spec.gates > 0  # a cell without gates (the LRU) has nothing to unroll
        budget.check_analysis(
            copies + runs * (budget.unroll_bytes(spec, T, B, layer) + gates),
            runs * work,
            budget.sized("this gate saturation", T, B),
            memory_budget,
        )

    args = prepare(spec, params, x, None, None, None, h0, c0, "float64", need)
    P, x, states = args.P, args.x, args.states
    cell, H, D = CELLS[spec.cell], spec.hidden_size, spec.directions
    kinds = cell.gate_kinds or (spec.activation,) * cell.gates
    out = np.full((spec.num_layers, D, cell.gates, 3), np.nan)
    if cell.gates == 0:
        return out
    with np.errstate(all="ignore"):
        for l, d in spec.layers():
            inputs = layer_inputs(spec, P, x, states, l)
            caches, _ = unroll(spec, P, inputs[::-1] if d else inputs, states[l * D + d], l, d)
            gates = np.stack([c[cell.gate_entry] for c in caches])  # (T, B, G*H)
            for g, kind in enumerate(kinds):
                block = gates[..., g * H : (g + 1) * H]
                out[l, d, g] = (*saturated_share(block, kind, tol), float(np.mean(block)))
    return out
