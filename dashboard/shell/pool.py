"""Engine work in worker processes, one per core: one server answers as many changes at once as it has cores.

Streamlit runs every session's script in one Python process, which runs one thread's bytecode at a time.
A script run sends its computations (:mod:`dashboard.shell.cache`), the panels it draws, the GIF, the zip
and the Training lab's training to a pool of worker processes and waits, its turn given back
(:func:`dashboard.shell.gate.aside`), so other sessions use this process meanwhile. A worker computes one
task at a time with pure functions; it keeps nothing between tasks but a bounded memo of their results
(:mod:`dashboard.shell.remote`), so nothing mutable is shared.

- ``BPTT_WORKERS``: how many workers (default: one per core); 0 computes in this process (tests, debugging).
- Results and errors come back as they were: a ``ValueError`` in a worker is raised again here, with the
  worker's traceback as a note.
- A worker that dies is replaced; the call that was waiting for it raises :class:`WorkerLost`, which the
  page shows as an error message (``app.py``).
- A callback the caller passes (a progress bar, a live chart) runs here, in the calling thread: when it
  raises (the user pressed Stop, or changed a setting), the worker's task is cancelled.
- The workers end with the server: the pool closes their connections at exit, and a worker whose server
  is gone (killed) stops on its own (:mod:`dashboard.shell.worker`).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from dashboard.shell import gate

ROOT = Path(__file__).resolve().parents[2]
#: Each worker is one core's worth: its BLAS runs one thread.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: What a callback's return value may be to go back to the task (a progress bar's element stays here).
_PLAIN = (bool, int, float, str, type(None))
#: Seconds a caller waits for a worker's answer before it gives its turn away (a memo's answer comes sooner).
QUICK = 0.005
#: Seconds a cancelled task may take to stop before its worker is replaced.
CANCEL_GRACE = 5.0


def configured_workers() -> int:
    """``BPTT_WORKERS`` (default: the number of cores)."""
    value = os.environ.get("BPTT_WORKERS", "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit():
        raise ValueError(f"BPTT_WORKERS must be a whole number of worker processes (0: none), got {value!r}")
    return int(value)


class WorkerLost(RuntimeError):
    """The worker process computing a task ended before answering (killed, out of memory, crashed)."""


class _Broken(Exception):
    """The connection to a worker failed: it has ended."""


@dataclass(eq=False)
class _Worker:
    slot: int
    proc: subprocess.Popen
    conn: Connection
    ready: threading.Event = field(default_factory=threading.Event)


class Pool:
    """``size`` worker processes (``python -m dashboard.shell.worker``) and the callers queued for them,
    first come, first served."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size
        self._cond = threading.Condition()
        self._workers: dict[int, _Worker] = {}
        self._idle: list[_Worker] = []
        self._queues = {slot: collections.deque() for slot in (None, *range(size))}  # callers waiting, by slot
        self._closed = False
        self._failure = ""  # why the last worker could not start
        for slot in range(size):
            self._start(slot)

    def pids(self, ready: bool = False) -> list[int]:
        """Process ids of the workers running now (``ready``: only those that have started and take tasks)."""
        with self._cond:
            return [w.proc.pid for w in self._workers.values() if w.ready.is_set() or not ready]

    def busy(self) -> list[int]:
        """Process ids of the workers computing a task now."""
        with self._cond:
            return [w.proc.pid for w in self._workers.values() if w.ready.is_set() and w not in self._idle]

    def _start(self, slot: int) -> None:
        """Start a worker in ``slot``; it joins the idle ones once it says it is ready."""
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.shell.worker", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            cwd=ROOT,  # the worker imports this code, wherever the server was started
            env={**os.environ, **WORKER_ENV},
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        worker = _Worker(slot, proc, Connection(ours.detach()))
        self._workers[slot] = worker
        threading.Thread(target=self._await_ready, args=(worker,), daemon=True, name=f"pool-start-{slot}").start()

    def _await_ready(self, worker: _Worker) -> None:
        try:
            ready = worker.conn.recv() == "ready"
        except (EOFError, OSError):  # it ended while importing (or the pool closed meanwhile)
            ready = False
        if not ready:
            worker.proc.kill()
            code = worker.proc.wait()
        with self._cond:
            if self._closed:
                return
            if ready:
                worker.ready.set()
                self._idle.append(worker)
            else:
                self._failure = f"a worker process could not start (exit code {code})"
                self._workers.pop(worker.slot, None)
                worker.conn.close()
            self._cond.notify_all()

    def _acquire(self, slot: int | None, block: bool = True) -> _Worker | None:
        """The worker in ``slot`` once it is free (any free one while that slot's worker is starting), or any
        free worker for ``slot = None``; callers for the same slot in order of arrival. Without ``block``:
        a free one now, or None."""
        queue, ticket, tried = self._queues[slot], object(), set()
        with self._cond:
            if not block and (queue or self._free(slot) is None):
                return None
            queue.append(ticket)
            try:
                while True:
                    if self._closed:
                        raise WorkerLost("the server is shutting down")
                    for s in range(self.size):  # start again, once per call, a worker that could not start
                        if s not in self._workers and s not in tried and queue[0] is ticket:
                            tried.add(s)
                            self._start(s)
                    if queue[0] is ticket and (chosen := self._free(slot)) is not None:
                        self._idle.remove(chosen)
                        return chosen
                    if not self._workers:
                        raise WorkerLost(self._failure or "no worker process is running")
                    self._cond.wait()
            finally:
                queue.remove(ticket)
                self._cond.notify_all()

    def _free(self, slot: int | None) -> _Worker | None:
        """The idle worker a caller for ``slot`` may take (under the lock)."""
        mine = self._workers.get(slot) if slot is not None else None
        if mine is not None and mine.ready.is_set():
            return mine if mine in self._idle else None  # its memo holds this key's work: wait for it
        return self._idle[0] if self._idle else None

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._workers.get(worker.slot) is worker and not self._closed:
                self._idle.append(worker)
            self._cond.notify_all()

    def _replace(self, worker: _Worker) -> str:
        """End ``worker`` (however it is) and start another in its slot; how the old one ended."""
        with self._cond:
            if self._workers.get(worker.slot) is worker:
                del self._workers[worker.slot]
            if worker in self._idle:
                self._idle.remove(worker)
        worker.proc.kill()
        code = worker.proc.wait()
        worker.conn.close()
        with self._cond:
            if not self._closed:
                self._start(worker.slot)
            self._cond.notify_all()
        return f"exit code {code}" if code >= 0 else f"signal {-code}"

    def call(
        self,
        fn: Callable,
        *args,
        key: str | None = None,
        callbacks: dict | None = None,
        waiting: Callable = contextlib.nullcontext,
        **kwargs,
    ):
        """``fn(*args, **kwargs)`` in a worker; its result, or its exception raised here.

        ``key`` (e.g. the configuration's) sends the task to the same worker as every task of that key, whose
        memo holds what they computed (the keys spread over the workers). ``callbacks`` maps keyword
        arguments of ``fn`` to functions run here each time the worker calls them (their return value goes
        back when it is a plain value, such as False to stop; None otherwise); one that raises cancels the
        task and the exception propagates. ``fn`` and the arguments must pickle (module-level functions,
        plain data). ``waiting()`` (a context manager) surrounds every wait longer than :data:`QUICK`: for
        a free worker, and for the answer.
        """
        slot = None if key is None else zlib.crc32(key.encode()) % self.size
        worker = self._acquire(slot, block=False)
        if worker is None:
            with waiting():
                worker = self._acquire(slot)
        try:
            self._send(worker, ("task", fn, args, kwargs, tuple(callbacks or ())))
            if (message := self._receive(worker, QUICK)) is None:
                with waiting():
                    message = self._receive(worker)
            while message[0] == "call":  # the task reports progress or asks whether to go on
                name, call_args = message[1:]
                try:
                    value = callbacks[name](*call_args)
                except BaseException:
                    self._cancel(worker)
                    raise
                self._send(worker, ("return", value if isinstance(value, _PLAIN) else None))
                message = self._receive(worker)
        except _Broken as err:
            raise WorkerLost(
                f"the worker process computing this ended unexpectedly ({self._replace(worker)}); a new one "
                "is starting: try again in a moment"
            ) from err.__cause__
        self._release(worker)
        if message[0] == "ok":
            return message[1]
        error, trace = message[1:]
        error.add_note(f"In worker process {worker.proc.pid}:\n{trace}")
        raise error

    @staticmethod
    def _send(worker: _Worker, message: tuple) -> None:
        try:
            worker.conn.send(message)
        except OSError as err:
            raise _Broken from err

    @staticmethod
    def _receive(worker: _Worker, timeout: float | None = None) -> tuple | None:
        """The worker's next message (None after ``timeout`` seconds); :class:`_Broken` when it has ended."""
        try:
            if timeout is not None and not worker.conn.poll(timeout):
                return None
            return worker.conn.recv()
        except (EOFError, OSError) as err:
            raise _Broken from err

    def _cancel(self, worker: _Worker) -> None:
        """Tell the task to stop (its next callback raises there) and wait for its end; a worker that does
        not stop within :data:`CANCEL_GRACE` seconds is replaced."""
        try:
            self._send(worker, ("cancel",))
            while (message := self._receive(worker, CANCEL_GRACE)) is not None:
                if message[0] != "call":
                    self._release(worker)
                    return
                self._send(worker, ("cancel",))  # a callback sent before it saw the cancel
        except _Broken:
            pass
        self._replace(worker)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every worker: close its connection (it exits at once when idle), kill it after ``timeout``."""
        with self._cond:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
            self._idle.clear()
            self._cond.notify_all()
        for w in workers:
            w.conn.close()
        for w in workers:
            try:
                w.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()


_pool: Pool | None = None
_pool_lock = threading.Lock()


def pool() -> Pool | None:
    """The server's pool, started on first use (None with ``BPTT_WORKERS=0``)."""
    global _pool
    with _pool_lock:
        if _pool is None and configured_workers() > 0:
            _pool = Pool(configured_workers())
            atexit.register(shutdown)
        return _pool


def shutdown() -> None:
    """Stop the pool's workers (at exit; a test may call it)."""
    global _pool
    with _pool_lock:
        running, _pool = _pool, None
    if running is not None:
        running.close()


def call(fn: Callable, *args, key: str | None = None, callbacks: dict | None = None, **kwargs):
    """:meth:`Pool.call` on the server's pool, this thread's turn given back while it waits (beyond
    :data:`QUICK`); in this process with ``BPTT_WORKERS=0``, and while no worker has started yet (a server's
    first visitors do not wait for its workers to import the engine), the callbacks passed to ``fn`` as they
    are.

    Called inside a cached function, that function must be wrapped in :func:`gate.reclaiming` (as every
    one of :mod:`dashboard.shell.cache` is): the turn is then taken back after the cache's lock is let go.
    """
    workers = pool()
    if workers is None or not workers.pids(ready=True):  # no pool, or none of its workers has started yet
        return fn(*args, **kwargs, **(callbacks or {}))
    return workers.call(fn, *args, key=key, callbacks=callbacks, waiting=gate.aside, **kwargs)
