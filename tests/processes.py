"""The long-lived processes a test run starts (Streamlit servers, the measuring child), found through /proc.

Every process the run starts inherits :data:`SESSION_VARIABLE` from the pytest process (the session
fixture sets it), so the run's own processes are told apart from other runs' on the same machine, even
once orphaned.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SESSION_VARIABLE = "BPTT_TEST_SESSION"
#: Command lines of the long-lived processes a run may start: ``streamlit run app.py``, the measuring child,
#: the pool's workers and the deployment's nginx.
LONG_LIVED = (
    ("streamlit", "run", "app.py"),
    ("dashboard.catalog.measure", "--serve"),
    ("dashboard.shell.worker",),
    ("nginx",),
)
DEADLINE = 120.0  # seconds a state may take to come about on a loaded machine (a bound, not a wait)


def command_line(pid: int) -> list[str]:
    """The process's arguments ([] when it is gone or unreadable)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def alive(pid: int) -> bool:
    """True while the process runs (a zombie, ended but not reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def started_by(pid: int, session: str) -> bool:
    """True when the process carries this run's session marker in its environment."""
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{SESSION_VARIABLE}={session}".encode() in environment


def long_lived(session: str) -> dict[int, str]:
    """This run's Streamlit servers and measuring children still running: pid -> command line."""
    found = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        words = command_line(int(entry))
        joined = " ".join(words)
        if any(all(part in joined for part in pattern) for pattern in LONG_LIVED) and alive(int(entry)):
            if started_by(int(entry), session):
                found[int(entry)] = joined
    return found


def wait_until_gone(pids, timeout: float) -> list[int]:
    """Wait (polling) until none of ``pids`` runs, at most ``timeout`` seconds; the ones still running."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


def descendants(pid: int) -> set[int]:
    """Every process ``pid`` started, and theirs, running now (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found.update(kids)
        todo += kids
    return found


def until(condition, what: str, deadline: float = DEADLINE):
    """Wait for ``condition()`` to hold (polling), failing after ``deadline`` seconds; its value."""
    end = time.monotonic() + deadline
    while not (value := condition()):
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline:.0f} s: {what}")
        time.sleep(0.05)
    return value
