"""One worker process of :mod:`dashboard.shell.pool`: ``python -m dashboard.shell.worker FD``.

It answers one task at a time on the connection ``FD`` (pickled messages): ``("task", fn, args, kwargs,
callback names)`` gets ``("ok", result)`` or ``("error", exception, traceback text)``. While a task runs it
may send ``("call", name, args)`` for a callback the caller passed; the caller answers ``("return",
value)``, or ``("cancel",)``, which raises :class:`Cancelled` in the task. The worker ends when the
connection closes (the server stopped or let it go) or when the server that started it is gone.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

#: Seconds between checks that the server which started this worker is still there.
PARENT_CHECK = 1.0


class Cancelled(Exception):
    """The caller stopped waiting for this task (the user pressed Stop or changed a setting)."""


def _callback(conn: Connection, name: str):
    """A stand-in for the caller's callback ``name``: runs it there, returns its answer here."""

    def call(*args):
        conn.send(("call", name, args))
        kind, *value = conn.recv()
        if kind == "cancel":
            raise Cancelled
        return value[0]

    return call


def _error_message(exc: BaseException) -> tuple:
    """``("error", exc, traceback)``, the exception replaced by a RuntimeError with its text when it would not
    pickle (or unpickle) on the other side."""
    trace = traceback.format_exc()
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return ("error", exc, trace)


def run_task(conn: Connection, message: tuple) -> tuple:
    """Run one ``("task", ...)`` message; the reply."""
    _, fn, args, kwargs, names = message
    kwargs = {**kwargs, **{name: _callback(conn, name) for name in names}}
    try:
        return ("ok", fn(*args, **kwargs))
    except Cancelled:
        return ("cancelled",)
    except Exception as exc:  # every error goes back to the caller, who raises it
        return _error_message(exc)


def _watch_parent(parent: int) -> None:
    """End this process (with its clean-up: a Chromium it started closes) when its server is gone."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os.kill(os.getpid(), signal.SIGINT)  # KeyboardInterrupt in the task or the wait: exit through atexit


def serve(conn: Connection) -> int:
    """Answer tasks until the connection closes."""
    from dashboard.shell import remote  # the engine, figures and panels: imported once, before "ready"

    remote.IN_WORKER = True
    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0
        if message[0] != "task":
            continue  # a late "cancel" for a task that already ended
        reply = run_task(conn, message)
        try:
            conn.send(reply)
        except OSError:
            return 0
        except Exception as err:  # the result would not pickle: say so instead
            conn.send(_error_message(err))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m dashboard.shell.worker FD (started by dashboard.shell.pool)", file=sys.stderr)
        return 2
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True, name="watch-parent").start()
    try:
        return serve(Connection(int(args[0])))
    except KeyboardInterrupt:  # the server is gone
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
