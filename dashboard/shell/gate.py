"""Script runs take turns on the server's Python: one at a time, in the order they started; a run that waits
for something outside this process gives its turn back meanwhile.

Streamlit runs each session's script in a thread of one process, and Python runs one thread's bytecode
at a time (the GIL). Twenty runs started together time-slice every 5 ms, hand the lock back and forth
and all finish late; measured with twenty students on one server (``python -m bench load``), a run
that waits here for its turn and then runs alone brings the slowest answers in three times sooner.

A turn is the right to run Python in this process, nothing more. A run that waits for a worker process
(:mod:`dashboard.shell.pool`), for Chromium, or for a training run it started gives its turn back while it
waits (:func:`aside`), so the workers compute for several sessions while one session draws; when it may go
on, it goes before every run that started after it (first come, first served by the run's start, not by
its last wait). Inside a cached function, which holds the cache's lock for its key, the turn is not awaited
again (a run holding the turn may be waiting for that very lock): it is taken again when the outermost
cached call returns (:func:`reclaiming`), where this thread holds no cache lock.
``BPTT_RUNS`` sets how many runs go at once (0: no turns).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RUNS = int(os.environ.get("BPTT_RUNS", "1"))
_cond = threading.Condition()
_free = max(RUNS, 1)  # turns not held
_waiting: list[int] = []  # tickets of the threads waiting for a turn (a heap: the earliest run first)
_tickets = itertools.count()
_thread = threading.local()  # held, ticket, depth (cached calls open), owed (take a turn at depth 0)


def _get(name: str, default=None):
    return getattr(_thread, name, default)


def held() -> bool:
    """Whether this thread holds a turn."""
    return _get("held", False)


def waiting() -> int:
    """How many threads wait for a turn now."""
    with _cond:
        return len(_waiting)


def _take() -> None:
    """Wait until this thread's run is the earliest waiting and a turn is free; hold it."""
    global _free
    ticket = _thread.ticket
    with _cond:
        heapq.heappush(_waiting, ticket)
        while not (_free > 0 and _waiting[0] == ticket):
            _cond.wait()
        heapq.heappop(_waiting)
        _free -= 1
        _cond.notify_all()  # the next earliest may take another free turn (BPTT_RUNS > 1)
    _thread.held, _thread.owed = True, False


def _give() -> None:
    global _free
    _thread.held = False
    with _cond:
        _free += 1
        _cond.notify_all()


@contextmanager
def turn() -> Iterator[None]:
    """Wait for a turn, run the body (a script run), give the turn back."""
    if RUNS <= 0 or held() or _get("owed", False):
        yield
        return
    _thread.ticket = next(_tickets)
    _take()
    try:
        yield
    finally:
        if held():
            _give()
        _thread.owed = False


@contextmanager
def aside() -> Iterator[None]:
    """Give this thread's turn back while the body waits (for a worker, Chromium, a long job); wait for a turn
    again after it, or, inside a cached call, when the outermost one returns (:func:`reclaiming`)."""
    if not held():
        yield
        return
    _give()
    try:
        yield
    finally:
        if _get("depth", 0) == 0:
            _take()
        else:
            _thread.owed = True


@contextmanager
def reclaiming() -> Iterator[None]:
    """Around a cached call: when the outermost one returns (no cache lock held by this thread any more),
    take back the turn a wait inside it gave away."""
    _thread.depth = _get("depth", 0) + 1
    try:
        yield
    finally:
        _thread.depth -= 1
        if _thread.depth == 0 and _get("owed", False):
            _take()
