"""The whole run: it must leave no process behind (a Streamlit server, the measuring child or a pool worker it
started, the deployment's nginx)."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from .processes import SESSION_VARIABLE, long_lived, wait_until_gone

#: Seconds a process that was asked to stop may take to end before it counts as left behind.
GRACE = 15.0


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running():
    """Mark every process this run starts; at the end, fail if a server or measuring child still runs.

    Set up first and torn down last, after every other fixture has stopped what it started. What is left is
    reported, then ended, so a failed run does not leave it behind either.
    """
    session = str(os.getpid())
    previous = os.environ.get(SESSION_VARIABLE)
    os.environ[SESSION_VARIABLE] = session
    yield
    try:
        left = long_lived(session)
        still = wait_until_gone(left, GRACE)
        for pid in still:
            os.kill(pid, signal.SIGKILL)  # ours (it carries this run's marker): end it, then fail
        assert not still, "the test run left processes running:\n" + "\n".join(f"{p}: {left[p]}" for p in still)
    finally:
        if previous is None:
            os.environ.pop(SESSION_VARIABLE, None)
        else:
            os.environ[SESSION_VARIABLE] = previous


@pytest.fixture(scope="session", autouse=True)
def measuring_child_stopped(nothing_left_running):
    """AppTest runs the pages in this process, so the Memory page's measuring child and the pool's workers are
    this process's: stop them when the tests are done, before the check above (their ``atexit`` handlers would
    run only after it)."""
    yield
    measure = sys.modules.get("dashboard.catalog.measure")
    if measure is not None:
        measure.stop_worker()
    pool = sys.modules.get("dashboard.shell.pool")
    if pool is not None:
        pool.shutdown()
