"""The memory a BPTT run (or each gradient method of the Beyond BPTT page) really takes, measured by
``tracemalloc`` in a separate process.

tracemalloc counts every allocation of the whole process while it runs, so measuring
inside a server that other sessions share would count their work too; a child process
runs only the measured calls, one at a time. The child stays up between measurements (starting
Python and importing NumPy took 0.3 s of every measurement): ``python -m dashboard.catalog.measure --serve``
reads one configuration per line and answers one JSON line each. ``python -m dashboard.catalog.measure
'{"T": "200"}'`` (the URL's query parameters as JSON) measures once and prints JSON. A request with
``"measure": "online"`` among its parameters measures each gradient method instead (:func:`measure_online_here`).

The child ends with its parent: the parent stops it when its interpreter exits (``atexit``), the child
ends when its standard input closes (the parent's end of the pipe closes when the parent dies, however
it dies), and it also watches its parent's process id (a parent that dies while another process holds
the pipe open still ends it).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import bptt_core as bc
from dashboard.catalog import online
from dashboard.catalog.compute import bptt_options, problem
from dashboard.config import RunConfig, from_mapping

ROOT = Path(__file__).resolve().parents[2]
#: The memory modes measured, with the options each adds to the configuration's.
MODES = {
    "this run": {},
    "full storage": {"checkpoint": None, "truncation": None},
    "checkpoint sqrt(T)": {"checkpoint": "sqrt", "truncation": None},
}


#: What a request can ask the child to measure: the memory modes of BPTT, or each gradient method.
MEASURES = ("bptt", "online")


def traced(call, *args, **kwargs) -> tuple[object, int]:
    """``call(*args, **kwargs)`` and the peak bytes ``tracemalloc`` saw it allocate beyond what was held before."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = call(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def measure_here(config: RunConfig) -> dict[str, dict[str, int]]:
    """Ledger and tracemalloc peak of each mode of :data:`MODES`, in this process (without returned sequences).

    Returns
    -------
    dict mode -> {"ledger": bytes, "measured": bytes}
    """
    p = problem(config)
    out, done = {}, {}
    for mode, extra in MODES.items():
        options = bptt_options(config) | extra
        key = repr(sorted(options.items()))
        if key in done:  # the same call as a mode already measured (this run is full storage): measured once
            out[mode] = done[key]
            continue
        res, peak = traced(bc.bptt, p.spec, p.params, p.x, p.y, mask=p.mask, return_sequences=False, **options)
        out[mode] = done[key] = {"ledger": int(res.memory_bytes), "measured": int(peak)}
    return out


def measure_online_here(config: RunConfig) -> dict[str, dict[str, int]]:
    """Ledger and tracemalloc peak of one gradient by each method the Beyond BPTT page runs on this network
    (:func:`dashboard.catalog.online.running`, the preset's weights), in this process.

    Returns
    -------
    dict method label -> {"ledger": bytes, "measured": bytes}
    """
    p = problem(config)
    options = {"loss": config.loss, "reduction": config.reduction, "mask": p.mask, "dtype": config.dtype}
    out = {}
    for m in online.running(config):
        res, peak = traced(bc.online_gradient, p.spec, p.params, p.x, p.y, m.method, seed=0, **m.kwargs, **options)
        out[m.label] = {"ledger": int(res.memory_bytes), "measured": int(peak)}
    return out


_worker: subprocess.Popen | None = None
_worker_stderr = None  # the child's stderr, a file: read when it fails
_worker_lock = threading.Lock()  # one measurement at a time: the child's tracemalloc sees only it


#: Seconds between the child's checks that its parent is alive (only a lost parent is waited for this long).
PARENT_CHECK_SECONDS = 1.0


def _running_worker() -> subprocess.Popen:
    """The measuring child, started (again) when there is none, it has ended, or the interpreter changed."""
    global _worker, _worker_stderr
    command = [sys.executable, "-m", "dashboard.catalog.measure", "--serve"]
    if _worker is None or _worker.poll() is not None or _worker.args != command:
        _stop_worker()
        _worker_stderr = tempfile.TemporaryFile()
        # run from the project root: the child imports the same code, wherever the server was started
        _worker = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=_worker_stderr, cwd=ROOT
        )
    return _worker


def stop_worker() -> None:
    """End the measuring child, if one runs (at exit, and for whoever started measurements and is done). A
    measurement still under way is waited for a few seconds, then the child is ended anyway."""
    locked = _worker_lock.acquire(timeout=5.0)
    try:
        _stop_worker()
    finally:
        if locked:
            _worker_lock.release()


atexit.register(stop_worker)


def _stop_worker() -> str:
    """End the child; the last line it wrote to stderr (why it failed), if any."""
    global _worker
    if _worker is None:
        return ""
    _worker.kill()
    _worker.wait()
    with contextlib.suppress(OSError):  # a line it never read cannot be flushed to a closed pipe
        _worker.stdin.close()
    _worker.stdout.close()
    _worker_stderr.seek(0)
    lines = _worker_stderr.read().decode(errors="replace").strip().splitlines()
    _worker_stderr.close()
    _worker = None
    return lines[-1] if lines else ""


def _read_line(stream, timeout: float) -> bytes | None:
    """The next line of ``stream`` (``b""`` at its end), or None after ``timeout`` seconds (on any OS)."""
    got = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return got[0] if got else None


def measured_peaks(config: RunConfig, timeout: float = 120.0, what: str = "bptt") -> dict[str, dict[str, int]]:
    """:func:`measure_here` (``what="bptt"``) or :func:`measure_online_here` (``"online"``) in the measuring child
    process. The weights are the preset's: memory does not depend on their values."""
    if what not in MEASURES:
        raise ValueError(f"what must be one of {MEASURES}, got {what!r}")
    query = json.dumps({**config.to_query(), **({"measure": what} if what != "bptt" else {})}) + "\n"
    with _worker_lock:
        try:
            worker = _running_worker()
            worker.stdin.write(query.encode())
            worker.stdin.flush()
        except OSError as err:  # could not start, or it ended before reading
            raise ValueError(f"the memory measurement failed ({_stop_worker() or err})") from None
        line = _read_line(worker.stdout, timeout)
        if line is None:
            _stop_worker()
            raise ValueError(f"measuring took longer than {timeout:.0f} s; lower T or the sizes")
        if not line:
            raise ValueError(f"the memory measurement failed ({_stop_worker() or 'no message'})")
    answer = json.loads(line)
    if "error" in answer:
        raise ValueError(f"the memory measurement failed ({answer['error']})")
    return answer


def exit_with_parent(parent: int, interval: float = PARENT_CHECK_SECONDS) -> threading.Thread:
    """A daemon thread that ends this process once its parent ``parent`` is gone (it was re-parented)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)  # the parent is gone: nobody reads the answers

    watcher = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    watcher.start()
    return watcher


def serve(lines=None, out=None) -> int:
    """Answer each line of ``lines`` (standard input; the URL's query parameters as JSON) with
    :func:`measure_here`'s JSON on ``out`` (standard output), or ``{"error": ...}``: one bad request does
    not end the child. Standard input's end (the parent closed it, or died) ends it."""
    out = out or sys.stdout
    for line in lines or sys.stdin:
        try:
            values = json.loads(line)
            what = values.pop("measure", "bptt")
            config, problems = from_mapping(values)
            problems += [] if what in MEASURES else [f"measure must be one of {MEASURES}, got {what!r}"]
            measure = measure_online_here if what == "online" else measure_here
            answer = {"error": problems[0]} if problems else measure(config)
        except Exception as err:  # reported to the server, which shows it
            answer = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(answer), file=out, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--serve"]:
        exit_with_parent(os.getppid())
        return serve()
    if len(args) != 1:
        print("usage: python -m dashboard.catalog.measure QUERY_JSON | --serve", file=sys.stderr)
        return 2
    try:
        values = json.loads(args[0])
    except json.JSONDecodeError as err:
        print(f"measure: QUERY_JSON is not JSON: {err}", file=sys.stderr)
        return 2
    config, problems = from_mapping(values)
    if problems:
        print(f"measure: {problems[0]}", file=sys.stderr)
        return 2
    print(json.dumps(measure_here(config)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
