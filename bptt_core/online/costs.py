"""What each method costs, counted from the sizes: floating-point operations and an estimate of bytes.

FLOPs count the matrix products and the influence updates, two per multiply-add (element-wise
non-linearities are not counted), per batch element and step:

=========  ===========================================================================================
forward    ``2 (I_l + 1) W + 2 R_l`` per layer: the input projection and the step's products outside it
readout    ``6 O D H``: the read-out, its weight gradient and ``dL/dh``
backward   BPTT: ``2 R_l`` (into the state entering the step) + ``2 P_l`` (the parameters' terms) +
           ``2 W I_l`` (into the layer below)
jacobians  online methods: the step Jacobians read off the cell, one vector-Jacobian product per influence row,
           ``K_l 2 R_l`` (plus ``K_l 2 W I_l`` for the input Jacobian of RTRL's upper layers). A forward-mode
           step would give UORO's ``J s`` for ``2 R`` instead: this phase is the price of reading Jacobians off
           ``backward_step``, apart from each method's own arithmetic
adjoint    online methods: the top layer's step back from ``dl_t/dh_t``, ``2 R + 2 P`` (+ ``2 W I`` in a stack): the
           step's immediate share of the gradient and ``dl_t/ds_{t-1}``
influence  the method's own update and gradient: RTRL ``2 K_l S N_l + 2 K_l P_l (+ 2 K_l H N_{l-1})`` per layer and
           ``2 S N (+ 2 H N_{L-2})`` for the gradient; UORO ``2 R + 2 S^2 + 13 (S + P) + 2 P``; SnAp-1
           ``2 n^2 P + 4 n P``
=========  ===========================================================================================

``W`` is the input projection's width (``G H`` for the PyTorch cells, ``3H`` for the LRU), ``S`` the width of
the state's Jacobian parts (``n H``: n slots per unit), ``P_l`` the parameters of layer l, ``N_l`` those of
layers 0..l, ``R_l = P_l - (I_l + 1) W`` the multiply-adds of the step outside its projection (``W_hh``'s
and its bias, the LRU's ``C``; none for minGRU) and ``K_l`` layer l's influence rows (``S``, plus ``H`` below
the top where the output is not a state part). The read-out's gradient is in ``readout``.
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

import numpy as np

from .. import validate as v
from ..cells import CELLS
from ..ledger import array_header
from ..limits import STEP_FLOOR
from ..spec import RNNSpec, check_spec

#: The methods that read the step Jacobians and carry an influence forward in time.
ONLINE = ("rtrl", "uoro", "snap1", "diagonal")
#: Every method whose costs are counted here (:data:`bptt_core.online.METHODS`).
COUNTED = (*ONLINE, "tbptt", "bptt")


class Sizes(NamedTuple):
    """The sizes the costs are counted in (module docstring); the lists hold one entry per layer."""

    W: int
    n: int
    S: int
    inputs: list[int]
    P: list[int]
    R: list[int]
    K: list[int]


def layer_sizes(spec: RNNSpec) -> Sizes:
    """The projection width, slots per unit, state width, and per layer the inputs, parameters, multiply-adds
    outside the projection and influence rows, all read off the registry's cell."""
    cell, H, L = CELLS[spec.cell], spec.hidden_size, spec.num_layers
    W, S = cell.width * H, spec.jacobian_width
    inputs = [spec.layer_input_size(l) for l in range(L)]
    P = [sum(prod(shape) for shape in cell.param_shapes(H, i).values()) for i in inputs]
    R = [max(p - (i + 1) * W, 0) for p, i in zip(P, inputs)]
    output_rows = 0 if "h" in cell.jacobian_parts else H
    return Sizes(W, S // H, S, inputs, P, R, [S + output_rows * (l < L - 1) for l in range(L)])


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
        ``forward``, ``readout`` and ``backward`` (BPTT) or ``jacobians``, ``adjoint`` and ``influence`` (online).
    """
    check_spec(spec)
    T, B, method = v.check_positive_int("T", T), v.check_positive_int("B", B), v.check_choice("method", method, COUNTED)
    forward_steps = v.check_int("forward_steps", forward_steps, 0, allow_none=True)
    H, O, L, D = spec.hidden_size, spec.output_size, spec.num_layers, spec.directions
    W, n, S, inputs, P, R, K = layer_sizes(spec)
    forward = sum(2 * (i + 1) * W + 2 * r for i, r in zip(inputs, R)) * D
    counts = {"readout": 6 * O * D * H * T * B}
    if method not in ONLINE:
        passes = T if forward_steps is None else forward_steps / (L * D)
        counts["forward"] = int(forward * passes * B)
        counts["backward"] = D * T * B * sum(2 * R[l] + 2 * P[l] + 2 * W * inputs[l] * (l > 0) for l in range(L))
        return counts
    counts["forward"] = forward * T * B
    input_rows = [K[l] * 2 * W * inputs[l] if method == "rtrl" and l > 0 else 0 for l in range(L)]
    counts["jacobians"] = T * B * sum(K[l] * 2 * R[l] + input_rows[l] for l in range(L))
    counts["adjoint"] = T * B * (2 * R[-1] + 2 * P[-1] + 2 * W * inputs[-1] * (L > 1))
    if method == "rtrl":
        N = np.cumsum(P).tolist()
        per_layer = [2 * K[l] * (S * N[l] + P[l] + (H * N[l - 1] if l > 0 else 0)) for l in range(L)]
        counts["influence"] = T * B * (sum(per_layer) + 2 * S * N[-1] + (2 * H * N[-2] if L > 1 else 0))
    elif method == "uoro":
        counts["influence"] = T * B * (2 * R[0] + 2 * S * S + 13 * (S + P[0]) + 2 * P[0])
    else:
        counts["influence"] = T * B * (2 * n * n * P[0] + 4 * n * P[0])
    return counts


def influence_bytes(spec: RNNSpec, B: int, method: str, dtype: str = "float64") -> int:
    """Bytes of what an online method keeps to form its gradient: RTRL's influence ``B K_l N_l`` per
    layer, UORO's two vectors ``B (S + P)``, SnAp-1's sparse influence ``B n P``."""
    B, method = _checked(spec, B, method, dtype)
    sizes = layer_sizes(spec)
    item = np.dtype(dtype).itemsize
    if method == "rtrl":
        return int(B * np.dot(sizes.K, np.cumsum(sizes.P)) * item)
    if method == "uoro":
        return B * (sizes.S + sizes.P[0]) * item
    return B * sizes.n * sizes.P[0] * item


def online_bytes(spec: RNNSpec, B: int, method: str, dtype: str = "float64") -> int:
    """Estimate of the bytes an online call holds at its peak, group by group as its ledger counts them
    (10 % above, for the memory guard): the influence, the method's scratch, the step Jacobians and the
    cell's scratch at K adjoints, one step's cache, the adjoint step, the gradient buffers and the weight copies."""
    B, method = _checked(spec, B, method, dtype)
    cell, H, L, item = CELLS[spec.cell], spec.hidden_size, spec.num_layers, np.dtype(dtype).itemsize
    W, n, S, inputs, P, _, K = layer_sizes(spec)
    shapes = [cell.param_shapes(H, i).values() for i in inputs]
    largest = max(prod(shape) for layer in shapes for shape in layer)  # the largest parameter
    columns = max(shape[-1] if len(shape) > 1 else 1 for layer in shapes for shape in layer)
    pre = 1 + cell.separate_hw_grad  # d_xw, and d_hw where the cell keeps it apart
    if method == "rtrl":
        scratch = 2 * B * max(K) * (int(np.max(np.cumsum(P))) // 8 + columns) + B * H * max(P) * (L > 1)
    elif method == "uoro":
        scratch = B * (P[0] + pre * W)
    else:
        scratch = 2 * B * n * largest
    iterator = [3 * min(np.getbufsize(), k * B * W) for k in K]  # NumPy's buffers over the K adjoints
    jacobians = sum(
        B * k * (S + pre * W + (method == "rtrl") * i) + k * k + it for k, i, it in zip(K, inputs, iterator)
    )
    cell_scratch = max(K) * B * H * (cell.state_width + 1) + 8 * B * W
    step = L * B * (H * (cell.tape_width + cell.state_width) + W)
    adjoint = B * (pre * W + S + inputs[-1]) + largest
    fixed = spec.n_params() + sum((i + 1) * W for i in inputs)
    total = influence_bytes(spec, B, method, dtype) // item + scratch + jacobians + cell_scratch + step + adjoint
    return int(1.1 * ((total + fixed) * item + _headers(spec)))


def _headers(spec: RNNSpec) -> int:
    """Bytes of the array objects the ledger counts besides their data (a header each): every parameter's
    weights, gradient and influence block, the step's cache entries and the scratch buffers, per layer."""
    cell = CELLS[spec.cell]
    arrays = 4 * len(cell.param_shapes(spec.hidden_size, spec.input_size)) + 2 * len(cell.tape) + 16
    return spec.num_layers * arrays * array_header(3)


def stored_crossover(spec: RNNSpec) -> int:
    """The shortest T at which BPTT's tape outweighs RTRL's influence, in closed form (one layer).

    BPTT keeps the state entering the sequence (``v H`` numbers per sequence, ``v`` = the cell's state width)
    and ``w H`` per step (``w`` = the cell's tape width); RTRL keeps ``S N`` (the state's Jacobian parts times
    the parameters); the batch and the item size cancel:

    .. math:: T^* = \\lfloor (S N - v H) / (w H) \\rfloor + 1 .

    The ledgers' ``stored_bytes`` follow it exactly (:func:`bptt_core.online.crossover_length` with
    ``what="stored"`` measures it).
    """
    if check_spec(spec).num_layers != 1 or spec.bidirectional:
        raise ValueError("stored_crossover is the closed form for one unidirectional layer; use crossover_length")
    cell, H = CELLS[spec.cell], spec.hidden_size
    sizes = layer_sizes(spec)
    return (sizes.S * sizes.P[0] - cell.state_width * H) // (cell.tape_width * H) + 1


def online_work(spec: RNNSpec, T: int, B: int, method: str) -> int:
    """Multiply-adds of an online call (half its :func:`flop_counts`), each step of its Python loop counted
    as at least :data:`bptt_core.limits.STEP_FLOOR` per layer: what the work budget is held to."""
    flops = sum(flop_counts(spec, T, B, method).values())
    return flops // 2 + T * spec.num_layers * STEP_FLOOR


def _checked(spec: RNNSpec, B: int, method: str, dtype: str) -> tuple[int, str]:
    """The spec, the batch, an online method and the dtype, checked (a ValueError names the first bad one)."""
    check_spec(spec)
    v.check_dtype(dtype)
    return v.check_positive_int("B", B), v.check_choice("method", method, ONLINE)
