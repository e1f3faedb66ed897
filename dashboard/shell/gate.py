"""Script runs take turns: one at a time, first come, first served; long jobs step aside.

Streamlit runs each session's script in a thread of one process, and Python runs one thread's bytecode
at a time (the GIL). Twenty runs started together time-slice every 5 ms, hand the lock back and forth
and all finish late; measured with twenty students on one server (``python -m bench load``), a run
that waits here for its turn and then runs alone brings the slowest answers in three times sooner.
A job that mostly waits on something else (a GIF or a zip rendered by Chromium, a training run the
user started) gives its turn back while it works (:func:`aside`), so it never holds up the class.
``BPTT_RUNS`` sets how many runs go at once (0: no turns).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RUNS = int(os.environ.get("BPTT_RUNS", "1"))
_slots = threading.Semaphore(max(RUNS, 1))
_holder = threading.local()  # whether this thread holds a turn


@contextmanager
def turn() -> Iterator[None]:
    """Wait for a turn, run the body, give the turn back."""
    if RUNS <= 0 or getattr(_holder, "held", False):
        yield
        return
    with _slots:
        _holder.held = True
        try:
            yield
        finally:
            _holder.held = False


@contextmanager
def aside() -> Iterator[None]:
    """Give this thread's turn back for a long job, and wait for a turn again after it (never call it inside
    a cached function: the turn must not be awaited while holding the cache's lock)."""
    if not getattr(_holder, "held", False):
        yield
        return
    _holder.held = False
    _slots.release()
    try:
        yield
    finally:
        _slots.acquire()
        _holder.held = True
