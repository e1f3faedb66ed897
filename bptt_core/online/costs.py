"""What each method costs, counted from the sizes: floating-point operations and an estimate of bytes.

FLOPs count the matrix products and the influence updates, two per multiply-add (element-wise
non-linearities are not counted), per batch element and step:

=========  ===========================================================================================
forward    ``2 G H (I_l + 1 + H)`` per layer (input projection and recurrent product)
readout    ``6 O D H``: the read-out, its weight gradient and ``dL/dh``
backward   BPTT: ``2 G H H`` (into ``h_{t-1}``) + ``2 G H (I_l + H)`` (weight terms) + ``2 G H I_l`` (into the
           layer below)
jacobians  online methods: the step Jacobian read off the cell, one vector-Jacobian product per state
           unit, ``S 2 G H H`` (plus ``S 2 G H I_l`` for the input Jacobian of RTRL's upper layers). A
           forward-mode step would give UORO's ``J s`` for ``2 G H H`` instead: this phase is the
           price of reading Jacobians off ``backward_step``, apart from each method's own arithmetic
influence the method's own update and gradient: RTRL ``2 S^2 N_l + 2 S P_l (+ 2 S H N_{l-1})`` per layer and
           ``2 H N`` for the gradient; UORO ``2 G H H + 2 S^2 + 13 (S + P) + 2 P``; SnAp-1
           ``2 n^2 P + 4 n P`` (n state parts)
=========  ===========================================================================================

``S = n H`` is the state size, ``P_l = G H (I_l + H + 2)`` the parameters of layer l and ``N_l`` those
of layers 0..l (the read-out's gradient is in ``readout``).
"""

from __future__ import annotations

import numpy as np

from ..cells import CELLS
from ..spec import RNNSpec

#: The methods that read the step Jacobians and carry an influence forward in time.
ONLINE = ("rtrl", "uoro", "snap1", "diagonal")


def layer_sizes(spec: RNNSpec) -> tuple[int, int, int, list[int]]:
    """``(G*H, n, S, P)``: gate rows, state parts, state size and each layer's parameter count."""
    cell, H = CELLS[spec.cell], spec.hidden_size
    GH, n = cell.gates * H, len(cell.state_parts)
    return GH, n, n * H, [GH * (spec.layer_input_size(l) + H + 2) for l in range(spec.num_layers)]


def flop_counts(spec: RNNSpec, T: int, B: int, method: str, forward_steps: int | None = None) -> dict[str, int]:
    """FLOPs of one call by phase (the module's table).

    Parameters
    ----------
    spec : RNNSpec
    T, B : int
        Sequence length and batch size.
    method : {"rtrl", "uoro", "snap1", "diagonal", "tbptt", "bptt"}
    forward_steps : int, optional
        BPTT's forward step evaluations over all layers and directions (recomputation included);
        ``T L D`` when None.

    Returns
    -------
    dict of str to int
        ``forward``, ``readout`` and ``backward`` (BPTT) or ``jacobians`` and ``influence`` (online).
    """
    H, O, L, D = spec.hidden_size, spec.output_size, spec.num_layers, spec.directions
    GH, n, S, P = layer_sizes(spec)
    inputs = [spec.layer_input_size(l) for l in range(L)]
    forward = sum(2 * GH * (i + 1 + H) for i in inputs) * D
    counts = {"readout": 6 * O * D * H * T * B}
    if method not in ONLINE:
        passes = T if forward_steps is None else forward_steps / (L * D)
        counts["forward"] = int(forward * passes * B)
        counts["backward"] = (
            D * T * B * sum(2 * GH * H + 2 * GH * (i + H) + 2 * GH * i * (l > 0) for l, i in enumerate(inputs))
        )
        return counts
    counts["forward"] = forward * T * B
    extra = [S * 2 * GH * i if method == "rtrl" and l > 0 else 0 for l, i in enumerate(inputs)]
    counts["jacobians"] = T * B * sum(S * 2 * GH * H + e for e in extra)
    if method == "rtrl":
        N = np.cumsum(P).tolist()
        per_layer = [2 * S * S * N[l] + 2 * S * P[l] + (2 * S * H * N[l - 1] if l > 0 else 0) for l in range(L)]
        counts["influence"] = T * B * (sum(per_layer) + 2 * H * N[-1])
    elif method == "uoro":
        counts["influence"] = T * B * (2 * GH * H + 2 * S * S + 13 * (S + P[0]) + 2 * P[0])
    else:
        counts["influence"] = T * B * (2 * n * n * P[0] + 4 * n * P[0])
    return counts


def influence_bytes(spec: RNNSpec, B: int, method: str, dtype: str = "float64") -> int:
    """Bytes of what an online method keeps to form its gradient: RTRL's influence ``B S N_l`` per
    layer, UORO's two vectors ``B (S + P)``, SnAp-1's sparse influence ``B n P``."""
    _, n, S, P = layer_sizes(spec)
    item = np.dtype(dtype).itemsize
    if method == "rtrl":
        return int(B * S * sum(np.cumsum(P)) * item)
    if method == "uoro":
        return B * (S + P[0]) * item
    return B * n * P[0] * item


def online_bytes(spec: RNNSpec, B: int, method: str, dtype: str = "float64") -> int:
    """Estimate of the bytes an online call holds at its peak, group by group as its ledger counts them
    (10 % above, for the memory guard): the influence, the method's scratch, the step Jacobians and the
    cell's scratch at S adjoints, one step's cache, the gradient buffers and the weight copies."""
    cell, H, L, item = CELLS[spec.cell], spec.hidden_size, spec.num_layers, np.dtype(dtype).itemsize
    GH, n, S, P = layer_sizes(spec)
    widest = max(GH * max(spec.input_size, H, 1), GH * (spec.input_size + H + 2))  # the largest parameter, or all
    if method == "rtrl":
        scratch = 2 * B * S * (int(np.sum(P)) // 8 + H + spec.input_size + 1) + S * B * H * (L > 1)
    elif method == "uoro":
        scratch = B * (P[0] + 2 * GH)
    else:
        scratch = 2 * B * n * widest
    jacobians = L * B * S * (S + 2 * GH) + S * S
    cell_scratch = S * B * H * (n + 1) + 8 * B * GH
    step = L * B * H * (cell.tape_width + n)
    fixed = spec.n_params() + sum(GH * (spec.layer_input_size(l) + 1 + H) for l in range(L))
    total = influence_bytes(spec, B, method, dtype) // item + scratch + jacobians + cell_scratch + step + fixed
    return int(1.1 * total * item)


def stored_crossover(spec: RNNSpec) -> int:
    """The shortest T at which BPTT's tape outweighs RTRL's influence, in closed form (one layer).

    BPTT keeps the state entering the sequence (``n H`` numbers per sequence) and ``w H`` per step
    (``w`` = the cell's tape width); RTRL keeps ``S N`` (state size times parameters); the batch and
    the item size cancel:

    .. math:: T^* = \\lfloor (S N - n H) / (w H) \\rfloor + 1 .

    The ledgers' ``stored_bytes`` follow it exactly (:func:`bptt_core.online.crossover_length` with
    ``what="stored"`` measures it).
    """
    if spec.num_layers != 1 or spec.bidirectional:
        raise ValueError("stored_crossover is the closed form for one unidirectional layer; use crossover_length")
    cell, H = CELLS[spec.cell], spec.hidden_size
    _, n, S, P = layer_sizes(spec)
    return (S * P[0] - n * H) // (cell.tape_width * H) + 1
