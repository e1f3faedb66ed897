"""Memory and work guards: estimate what a computation will allocate and do, and refuse it above a budget
before it starts (the limits and the checks: :mod:`bptt_core.limits`).

Every estimate is an upper one, computed from the sizes alone (T, B, the spec, the options), so the
check runs before anything of the call's size exists.
"""

from __future__ import annotations

import numpy as np

from .cells import CELLS
from .checkpoint import gradient_chunk, plan_size
from .limits import (  # noqa: F401  (re-exported: the guard's public names)
    DEFAULT_BUDGET,
    MemoryBudgetError,
    WorkBudgetError,
    array_bytes,
    check,
    check_work,
    human,
    memory_limit,
    step_cost,
)
from .scan import scan_steps
from .spec import RNNSpec

#: Bytes of the Python objects of one step's cache dict (the dict and a view per entry), as the analyses keep them.
CACHE_ENTRY_BYTES = 200
#: Bytes of one row of a plan's actions, and (an upper bound) of one row of the ledger's timeline with its changes.
ACTION_BYTES, TICK_BYTES = 32, 120


def bptt_bytes(
    spec: RNNSpec,
    T: int,
    B: int,
    *,
    checkpoint: int | str | None = None,
    truncation: int | None = None,
    dtype: str = "float64",
    slots: int | None = None,
    return_sequences: bool = True,
    input_grad: bool = False,
    scan: bool = False,
    copies: int = 0,
) -> int:
    """Estimate of the bytes one :func:`bptt_core.bptt` call holds at its peak, group by group as its
    ledger counts them (an upper estimate: every group at its own largest at once).

    Per layer and direction: the largest tape run at once and the checkpoints; the layers'
    outputs and their gradients; the returned sequences; the gradient buffers, the chunk
    buffers, the losses, the plan and the timeline; with ``scan``, the scan's runs (their projections,
    complex states and coefficients); and ``copies``, the bytes of the inputs the call casts (see
    :func:`bptt_core.arguments.prepare`).
    """
    item = np.dtype(dtype).itemsize
    cell = CELLS[spec.cell]
    L, D, H, O = spec.num_layers, spec.directions, spec.hidden_size, spec.output_size
    GH, I, passes = cell.width * H, spec.layer_input_size(L - 1), spec.num_layers * spec.directions
    window = min(truncation or T, T)
    size = plan_size(window, checkpoint, slots)
    states = (size.stored + (checkpoint == "binomial")) * cell.state_width * H
    tape = passes * ((size.longest_tape + 1) * cell.tape_width * H + states)
    sequences = (L - 1 + (D == 2)) * D * (2 * window + 1) * H  # layer outputs and their gradients
    returned = (L * D * (2 * T + 2) * H + T * O + (2 * T * H if D == 2 else 0)) if return_sequences else 0
    returned += T * spec.input_size if input_grad else 0
    rows = min(gradient_chunk(B), size.longest_tape)
    scratch = rows * (H + 3 * GH + 3 * (I + 1)) + (2 + 1) * cell.tape_width * H + 12 * GH
    if scan:  # the runs' projections, complex states and coefficients; NumPy's iterator buffers (complex)
        scratch += (
            min(scan_steps(B, GH), size.longest_tape) * (GH + 4 * cell.state_width * H) + 4 * np.getbufsize() // B
        )
    fixed = 3 * spec.n_params() + passes * (I + 1 + H) * GH  # gradients, W^T copies, projection matrices
    ticks = passes * (size.forward_steps + window) * -(-T // window)
    total = (B * (tape + sequences + returned + scratch + 3 * T) + fixed) * item + ticks * TICK_BYTES
    return int(1.1 * (total + size.rows * ACTION_BYTES + copies))  # a margin for the temporaries of single steps


def bptt_work(
    spec: RNNSpec, T: int, B: int, *, checkpoint: int | str | None = None, truncation: int | None = None, slots=None
) -> int:
    """Multiply-adds of one :func:`bptt_core.bptt` call: every forward step evaluation (recomputations
    included) and every backward step (about twice a forward one), over every layer and direction."""
    window = min(truncation or T, T)
    size = plan_size(window, checkpoint, slots)
    steps = (size.forward_steps + 2 * window) * -(-T // window)
    GH, H = CELLS[spec.cell].width * spec.hidden_size, spec.hidden_size
    per_layer = [step_cost(B, GH, spec.layer_input_size(l) + H) for l in range(spec.num_layers)]
    return steps * spec.directions * sum(per_layer)


def check_bptt(
    spec: RNNSpec, T: int, B: int, options: dict, dtype: str, memory_budget: int | None, copies: int = 0
) -> None:
    """Refuse a BPTT call, before it allocates, when :func:`bptt_bytes` of its ``options`` (the driver's:
    checkpoint, truncation, slots, return_sequences, input_grad, scan) exceeds the memory budget
    (:class:`MemoryBudgetError`) or :func:`bptt_work` the work budget (:class:`WorkBudgetError`)."""
    mode = {"checkpoint": options["checkpoint"], "truncation": options["truncation"], "slots": options["slots"]}
    need = bptt_bytes(
        spec,
        T,
        B,
        dtype=dtype,
        return_sequences=options["return_sequences"],
        input_grad=options["input_grad"],
        scan=options["scan"],
        copies=copies,
        **mode,
    )
    what = sized("this BPTT run", T, B)
    check(need, what, "shorten T, lower the batch or hidden size, or use checkpointing", memory_budget)
    check_work(bptt_work(spec, T, B, **mode), what, "shorten T or the batch, or give binomial checkpointing more slots")


def flow_bytes(spec: RNNSpec, T: int, B: int, n_origins: int, dtype: str = "float64") -> int:
    """Upper estimate for :func:`bptt_core.flow_matrix` with ``n_origins`` rows."""
    item = np.dtype(dtype).itemsize
    H, I = spec.hidden_size, spec.layer_input_size(spec.num_layers - 1)
    width, state = CELLS[spec.cell].width, CELLS[spec.cell].state_width
    caches = T * B * (CELLS[spec.cell].tape_width * H + I + width * H)
    adjoints = n_origins * B * H * (3 * width + 3 * state + 5)  # live adjoints, loss seeds, the cell's temporaries
    own = int((caches + adjoints + T * B * H) * item + n_origins * T * 8) + _cache_objects(spec, T)
    if spec.num_layers == 1 and spec.directions == 1:
        return own
    return own + bptt_bytes(spec, T, B, dtype=dtype)  # a stack first runs the engine for the layers below


def flow_work(spec: RNNSpec, T: int, B: int, n_origins: int) -> int:
    """Multiply-adds of :func:`bptt_core.flow_matrix`: a forward pass, then each step's backward for every
    origin still live (about ``n_origins * T / 2`` adjoint steps, batched step by step)."""
    cell = CELLS[spec.cell]
    GH, S = cell.width * spec.hidden_size, cell.state_width * spec.hidden_size
    forward = unroll_work(spec, T, B, spec.num_layers - 1)
    adjoint_steps = n_origins * (T + 1) // 2
    below = bptt_work(spec, T, B) if spec.num_layers > 1 or spec.directions > 1 else 0
    return forward + below + 2 * adjoint_steps * B * GH * S + T * step_cost(1, 1, 1)


def _cache_objects(spec: RNNSpec, T: int) -> int:
    """Bytes of the Python objects of ``T`` kept step caches (:func:`bptt_core.unroll.unroll`)."""
    cell = CELLS[spec.cell]
    return T * CACHE_ENTRY_BYTES * (len(cell.tape) + 2 * len(cell.state_parts) + 2)


def unroll_bytes(spec: RNNSpec, T: int, B: int, layer: int, dtype: str = "float64") -> int:
    """Upper estimate for running the layers below ``layer`` and keeping every cache of ``layer``
    (:func:`bptt_core.unroll.layer_inputs` then :func:`bptt_core.unroll.unroll`)."""
    item = np.dtype(dtype).itemsize
    cell, D, H = CELLS[spec.cell], spec.directions, spec.hidden_size
    tape = array_bytes(T + 1, B, cell.tape_width * H, itemsize=item) + _cache_objects(spec, T)
    below = (D * tape + 2 * array_bytes(T, B, D * H, itemsize=item)) if layer > 0 else 0
    scratch = array_bytes(min(T, 1024), B, spec.layer_input_size(layer) + 1 + cell.width * H, itemsize=item)
    return int(1.1 * (tape + below + scratch))


def unroll_work(spec: RNNSpec, T: int, B: int, layer: int) -> int:
    """Multiply-adds of running the layers up to ``layer`` forward (one direction of ``layer``)."""
    GH, H, D = CELLS[spec.cell].width * spec.hidden_size, spec.hidden_size, spec.directions
    below = sum(D * T * step_cost(B, GH, spec.layer_input_size(l) + H) for l in range(layer))
    return below + T * step_cost(B, GH, spec.layer_input_size(layer) + H)


def sized(what: str, T: int, B: int) -> str:
    """``what`` with the sizes of its inputs, for a budget's message."""
    return f"{what} (x: T = {T}, B = {B})"


def check_analysis(needed: int, work: int, what: str, memory_budget: int | None, per_call: bool = True) -> None:
    """Refuse an analysis over the memory or the work budget (one advice for both: the sizes drive them)."""
    advice = "shorten T (x's first axis) or lower the batch or hidden size"
    check(needed, what, advice, memory_budget, per_call)
    check_work(work, what, advice)
