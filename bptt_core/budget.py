"""Memory guard: estimate what a computation will allocate and refuse it above a budget.

The budget defaults to 2 GiB (well under this project's 24 GiB machines, so several
sessions fit) and can be set with the ``BPTT_MEMORY_BUDGET`` environment variable
(bytes) or per call.
"""

from __future__ import annotations

import os

import numpy as np

from .cells import CELLS
from .checkpoint import gradient_chunk, plan
from .scan import scan_steps
from .spec import RNNSpec

DEFAULT_BUDGET = int(os.environ.get("BPTT_MEMORY_BUDGET", 2 * 2**30))

#: Numbers stored per step and batch element by each cell's cache, in units of H (besides the input x_t).
CACHE_WIDTH = {name: cell.tape_width for name, cell in CELLS.items()}


class MemoryBudgetError(ValueError):
    """A computation would need more memory than the budget allows."""


def human(n: float) -> str:
    """``3.2 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} TiB"


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
) -> int:
    """Estimate of the bytes one :func:`bptt_core.bptt` call holds at its peak, group by group as its
    ledger counts them (an upper estimate: every group at its own largest at once).

    Per layer and direction: the largest tape run at once and the checkpoints; the layers'
    outputs and their gradients; the returned sequences; the gradient buffers, the chunk
    buffers, the losses and the timeline; with ``scan``, the scan's runs (their projections, complex states
    and coefficients).
    """
    item = np.dtype(dtype).itemsize
    cell = CELLS[spec.cell]
    L, D, H, O = spec.num_layers, spec.directions, spec.hidden_size, spec.output_size
    GH, I, passes = cell.width * H, spec.layer_input_size(L - 1), spec.num_layers * spec.directions
    window = min(truncation or T, T)
    schedule = plan(window, checkpoint, slots)
    taped = schedule.longest_tape
    states = (len(schedule.stored) + (checkpoint == "binomial")) * cell.state_width * H
    tape = passes * ((taped + 1) * cell.tape_width * H + states)
    sequences = (L - 1 + (D == 2)) * D * (2 * window + 1) * H  # layer outputs and their gradients
    returned = (L * D * (2 * T + 2) * H + T * O + (2 * T * H if D == 2 else 0)) if return_sequences else 0
    returned += T * spec.input_size if input_grad else 0
    rows = min(gradient_chunk(B), taped)
    scratch = rows * (H + 3 * GH + 3 * (I + 1)) + (2 + 1) * cell.tape_width * H + 12 * GH
    if scan:  # the runs' projections, complex states and coefficients; NumPy's iterator buffers (complex)
        scratch += min(scan_steps(B, GH), taped) * (GH + 4 * cell.state_width * H) + 4 * np.getbufsize() // B
    fixed = 3 * spec.n_params() + passes * (I + 1 + H) * GH  # gradients, W^T copies, projection matrices
    ticks = passes * (schedule.forward_steps + window) * -(-T // window)
    total = (B * (tape + sequences + returned + scratch + 3 * T) + fixed) * item + ticks * 120 + schedule.actions.nbytes
    return int(1.1 * total)  # a margin for the temporaries of single steps


def flow_bytes(spec: RNNSpec, T: int, B: int, n_origins: int, dtype: str = "float64") -> int:
    """Upper estimate for :func:`bptt_core.flow_matrix` with ``n_origins`` rows."""
    item = np.dtype(dtype).itemsize
    H, I = spec.hidden_size, spec.layer_input_size(spec.num_layers - 1)
    width, state = CELLS[spec.cell].width, CELLS[spec.cell].state_width
    caches = T * B * (CACHE_WIDTH[spec.cell] * H + I + width * H)
    adjoints = n_origins * B * H * (3 * width + 3 * state + 5)  # live adjoints, loss seeds, the cell's temporaries
    own = int((caches + adjoints + T * B * H) * item + n_origins * T * 8)
    if spec.num_layers == 1 and spec.directions == 1:
        return own
    return own + bptt_bytes(spec, T, B, dtype=dtype)  # a stack first runs the engine for the layers below


def check(needed: int, what: str, advice: str, budget: int | None = None) -> None:
    """Raise :class:`MemoryBudgetError` if ``needed`` exceeds the budget."""
    limit = DEFAULT_BUDGET if budget is None else budget
    if needed > limit:
        raise MemoryBudgetError(
            f"{what} would need about {human(needed)}, more than the memory budget of {human(limit)}; {advice}"
        )


def check_bptt(spec: RNNSpec, T: int, B: int, options: dict, dtype: str, memory_budget: int | None) -> None:
    """Refuse a BPTT call (:class:`MemoryBudgetError`) before it allocates, when :func:`bptt_bytes` of its
    ``options`` (the driver's: checkpoint, truncation, slots, return_sequences, input_grad, scan) exceeds the
    budget."""
    need = bptt_bytes(
        spec,
        T,
        B,
        checkpoint=options["checkpoint"],
        dtype=dtype,
        truncation=options["truncation"],
        slots=options["slots"],
        return_sequences=options["return_sequences"],
        input_grad=options["input_grad"],
        scan=options["scan"],
    )
    check(need, "this BPTT run", "shorten T, lower the batch or hidden size, or use checkpointing", memory_budget)
