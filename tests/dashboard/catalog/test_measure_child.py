"""The measuring child ends with its parent, however the parent ends; a test run notices one left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ...processes import SESSION_VARIABLE, alive, long_lived, wait_until_gone

ROOT = Path(__file__).parents[3]
#: A parent that measures once (which starts the child), prints the child's pid, then waits for its stdin.
PARENT = """
import sys
from dashboard.catalog import measure
from dashboard.config import RunConfig
assert measure.measured_peaks(RunConfig(T=5, hidden_size=2))["this run"]["measured"] > 0
print(measure._worker.pid, flush=True)
sys.stdin.readline()
"""


def start_parent(code: str = PARENT) -> tuple[subprocess.Popen, int]:
    """A parent running ``code``, and the pid of the child it prints once the child runs."""
    parent = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    assert alive(child)
    return parent, child


def kill(parent: subprocess.Popen) -> None:
    """SIGKILL: no atexit handler runs, no file is closed by the parent itself."""
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    parent.stdin.close()
    parent.stdout.close()


def test_the_child_ends_when_its_parent_exits():
    """The parent's interpreter exits normally: its atexit handler stops the child."""
    parent, child = start_parent()
    parent.communicate("\n", timeout=60)
    assert parent.returncode == 0
    assert wait_until_gone([child], 30) == []


def test_the_child_ends_when_its_parent_is_killed():
    """SIGKILL runs no atexit: the child sees its standard input close (or its parent gone) and ends."""
    parent, child = start_parent()
    assert "--serve" in " ".join(Path(f"/proc/{child}/cmdline").read_text().split("\0"))
    kill(parent)
    assert wait_until_gone([child], 30) == []


def test_a_busy_child_ends_when_its_parent_dies():
    """A child not reading its input (busy measuring) when its parent dies: its watch of the parent's process
    id ends it (the measuring child's watch, here on a stand-in that would otherwise sleep ten minutes)."""
    stand_in = (
        "import os, time; from dashboard.catalog.measure import exit_with_parent; "
        "exit_with_parent(os.getppid(), 0.05); print(os.getpid(), flush=True); time.sleep(600)"
    )
    middle = (
        "import subprocess, sys; "
        f"child = subprocess.Popen([sys.executable, '-c', {stand_in!r}], stdout=subprocess.PIPE); "
        "print(child.stdout.readline().decode().strip(), flush=True); sys.stdin.readline()"
    )
    parent, child = start_parent(middle)
    kill(parent)
    assert wait_until_gone([child], 30) == []


def test_a_run_sees_the_long_lived_processes_it_started():
    """The session check's finder: a measuring child started under this run's marker is found, then gone."""
    session = os.environ[SESSION_VARIABLE]
    parent, child = start_parent()
    try:
        assert child in long_lived(session)
        assert child not in long_lived("another run")
    finally:
        parent.communicate("\n", timeout=60)
    assert wait_until_gone([child], 30) == [] and child not in long_lived(session)
