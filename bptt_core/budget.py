"""Memory guard: estimate what a computation will allocate and refuse it above a budget.

The budget defaults to 2 GiB (well under this project's 24 GiB machines, so several
sessions fit) and can be set with the ``BPTT_MEMORY_BUDGET`` environment variable
(bytes) or per call.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .checkpoint import gradient_chunk, segment_length
from .spec import RNNSpec
from .unroll import CELL_STEPS

DEFAULT_BUDGET = int(os.environ.get("BPTT_MEMORY_BUDGET", 2 * 2**30))

#: Numbers stored per step and batch element by each cell's cache, in units of H (besides the input x_t).
CACHE_WIDTH = {name: sum(cell.TAPE.values()) for name, cell in CELL_STEPS.items()}


class MemoryBudgetError(ValueError):
    """A computation would need more memory than the budget allows."""


def human(n: float) -> str:
    """``3.2 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} TiB"


def bptt_bytes(spec: RNNSpec, T: int, B: int, *, checkpoint: int | str | None = None,
               truncation: int | None = None, dtype: str = "float64", slots: int | None = None) -> int:
    """Upper estimate of the bytes one :func:`bptt_core.bptt` call allocates.

    Tape (the caches of the longest stretch held at once, plus checkpoints), the
    returned arrays (h, dh, yhat, token losses) and the per-window temporaries.
    """
    item = np.dtype(dtype).itemsize
    H, I, O, GH = spec.hidden_size, spec.input_size, spec.output_size, spec.gates * spec.hidden_size
    window = min(truncation or T, T)
    if checkpoint == "binomial":
        held_steps = (slots or 1) + 1  # the stored states and one step's cache
    elif checkpoint is None:
        held_steps = window
    else:
        held_steps = segment_length(window, checkpoint) + math.ceil(window / segment_length(window, checkpoint))
    tape = held_steps * B * (CACHE_WIDTH[spec.cell] * H + I)
    outputs = T * B * (3 * H + O + 1) + H  # h (with h0), dh, yhat, token losses
    chunk = 1 if checkpoint == "binomial" else min(gradient_chunk(B), segment_length(window, checkpoint))
    temps = window * B * (GH + H + O) + 2 * chunk * B * GH  # xw, token temporaries, dyhat, gradient buffers
    return int((tape + outputs + temps) * item)


def flow_bytes(spec: RNNSpec, T: int, B: int, n_origins: int, dtype: str = "float64") -> int:
    """Upper estimate for :func:`bptt_core.flow_matrix` with ``n_origins`` rows."""
    item = np.dtype(dtype).itemsize
    H, I = spec.hidden_size, spec.input_size
    caches = T * B * (CACHE_WIDTH[spec.cell] * H + I + spec.gates * H)
    adjoints = n_origins * B * H * (3 * spec.gates + 8)  # live adjoints, loss seeds and the cell's temporaries
    return int((caches + adjoints + T * B * H) * item + n_origins * T * 8)


def check(needed: int, what: str, advice: str, budget: int | None = None) -> None:
    """Raise :class:`MemoryBudgetError` if ``needed`` exceeds the budget."""
    limit = DEFAULT_BUDGET if budget is None else budget
    if needed > limit:
        raise MemoryBudgetError(f"{what} would need about {human(needed)}, more than the memory budget of "
                                f"{human(limit)}; {advice}")
