"""The limits every call is held to: bytes it may allocate and work it may do, checked before it starts.

The memory budget defaults to 2 GiB (well under this project's 24 GiB machines, so several sessions fit),
set with the ``BPTT_MEMORY_BUDGET`` environment variable (bytes) or per call (``memory_budget=``). The work
budget bounds how long a call may run: its multiply-adds, counting every step of a Python loop as at least
:data:`STEP_FLOOR` of them (what a step's own overhead costs, tens of microseconds). It defaults to 10^13,
about ten minutes on one core, and is set with ``BPTT_WORK_BUDGET``. Both variables are read at each call.
"""

from __future__ import annotations

import math
import os

DEFAULT_BUDGET = 2 * 2**30
DEFAULT_WORK = 10**13
#: A step of a Python loop counts as at least this many multiply-adds (its overhead, whatever its size).
STEP_FLOOR = 10**6


class MemoryBudgetError(ValueError):
    """A computation would need more memory than the budget allows."""


class WorkBudgetError(ValueError):
    """A computation would take more work (time) than the work budget allows."""


def human(n: float) -> str:
    """``3.2 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} TiB"


def _from_environment(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(float(text))
    except ValueError:
        raise ValueError(f"the environment variable {name} must be a number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"the environment variable {name} must be >= 0, got {text!r}")
    return value


def memory_limit(budget: int | None = None) -> int:
    """Bytes a call may allocate: ``budget``, else ``BPTT_MEMORY_BUDGET``, else :data:`DEFAULT_BUDGET`."""
    return _from_environment("BPTT_MEMORY_BUDGET", DEFAULT_BUDGET) if budget is None else budget


def work_limit() -> int:
    """Multiply-adds a call may do: ``BPTT_WORK_BUDGET``, else :data:`DEFAULT_WORK`."""
    return _from_environment("BPTT_WORK_BUDGET", DEFAULT_WORK)


def check(needed: int, what: str, advice: str, budget: int | None = None, per_call: bool = True) -> None:
    """Raise :class:`MemoryBudgetError` if ``needed`` bytes exceed the budget (``per_call``: the function takes
    a ``memory_budget`` argument, and the message says so)."""
    limit = memory_limit(budget)
    if needed > limit:
        knob = "memory_budget=<bytes>, or " if per_call else ""
        raise MemoryBudgetError(
            f"{what} would need about {human(needed)}, more than the memory budget of {human(limit)}; {advice} "
            f"(or allow more: {knob}the BPTT_MEMORY_BUDGET environment variable, in bytes)"
        )


def check_work(needed: float, what: str, advice: str) -> None:
    """Raise :class:`WorkBudgetError` if ``needed`` multiply-adds exceed the work budget."""
    limit = work_limit()
    if needed > limit:
        raise WorkBudgetError(
            f"{what} would take about {needed:.1e} multiply-adds, more than the work budget of {limit:.1e}; "
            f"{advice} (or allow more: the BPTT_WORK_BUDGET environment variable, in multiply-adds)"
        )


def step_cost(B: int, width: int, fan_in: int) -> int:
    """Multiply-adds of one step whose products are (B, fan_in) x (fan_in, width), at least :data:`STEP_FLOOR`."""
    return max(B * width * fan_in, STEP_FLOOR)


def array_bytes(*shape: int, itemsize: int = 8) -> int:
    """Bytes of an array of ``shape`` (Python integers: no overflow at any size)."""
    return math.prod(shape) * itemsize
