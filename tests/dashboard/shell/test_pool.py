"""The pool of worker processes: results and errors come back, callbacks run here, a dead worker is replaced
with an error (never a hang), and no worker outlives its server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dashboard.shell import pool as pool_mod
from dashboard.shell.pool import Pool, WorkerLost
from tests.apptest import assert_clean, chart_specs, open_app
from tests.processes import DEADLINE, alive, until

ROOT = Path(__file__).parents[3]


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickle calls Unpicklable(message) on the other side, which fails
        super().__init__(f"{a} and {b}")


def add(a, b):
    return a + b


def fail(kind: str):
    if kind == "value":
        raise ValueError("T must be at least 1, got 0")
    raise Unpicklable("left", "right")


def pid() -> int:
    return os.getpid()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def count(n: int, progress) -> int:
    """Report 1..n; stop early when the caller says so."""
    for i in range(1, n + 1):
        if progress(i) is False:
            return i
    return n


@pytest.fixture(scope="module")
def workers():
    p = Pool(2)
    until(lambda: len(p.pids(ready=True)) == 2, "both workers started")
    yield p
    p.close()
    assert not [w for w in p.pids() if alive(w)]


def test_results_and_errors_come_back_as_they_were(workers):
    assert workers.call(add, 2, b=3) == 5
    with pytest.raises(ValueError, match="T must be at least 1") as err:
        workers.call(fail, "value")
    assert any("In worker process" in note for note in err.value.__notes__)  # where it happened, for the logs
    with pytest.raises(RuntimeError, match="Unpicklable: left and right"):  # an exception that cannot travel
        workers.call(fail, "other")


def test_the_same_key_prefers_the_same_worker(workers):
    assert len({workers.call(pid, key="config-a") for _ in range(4)}) == 1
    assert {workers.call(pid, key=k) for k in "abcdefgh"} == set(workers.pids())  # keys spread over workers


def test_callbacks_run_here_and_one_that_raises_cancels_the_task(workers):
    seen = []
    assert workers.call(count, 5, callbacks={"progress": seen.append}) == 5
    assert seen == [1, 2, 3, 4, 5]

    def stop_at_3(i):
        if i == 3:
            raise KeyboardInterrupt  # what a script sees when the user presses Stop
        return True

    before = workers.pids()
    with pytest.raises(KeyboardInterrupt):
        workers.call(count, 10**9, key="k", callbacks={"progress": stop_at_3})
    assert workers.pids() == before  # the task stopped; its worker goes on
    assert workers.call(add, 1, 1, key="k") == 2


def test_a_killed_worker_is_replaced_and_the_caller_gets_an_error(workers):
    before = set(workers.pids())
    victim = workers.call(pid, key="victim")
    with pytest.raises(WorkerLost, match="signal 9"):
        workers.call(die, key="victim")
    assert not alive(victim)
    until(lambda: len(workers.pids(ready=True)) == 2 and victim not in workers.pids(), "a new worker in its place")
    assert set(workers.pids()) - before
    assert workers.call(add, 20, 22) == 42


def test_a_worker_that_cannot_start_gives_an_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(pool_mod.sys, "executable", "/bin/false")
    broken = Pool(1)
    try:
        with pytest.raises(WorkerLost, match="could not start"):
            broken.call(add, 1, 2)
    finally:
        broken.close()


def test_in_process_without_workers(monkeypatch):
    monkeypatch.setenv("BPTT_WORKERS", "0")
    monkeypatch.setattr(pool_mod, "_pool", None)
    seen = []
    assert pool_mod.call(count, 3, callbacks={"progress": seen.append}) == 3 and seen == [1, 2, 3]
    assert pool_mod.call(pid) == os.getpid()
    monkeypatch.setenv("BPTT_WORKERS", "two")
    with pytest.raises(ValueError, match="BPTT_WORKERS must be a whole number"):
        pool_mod.configured_workers()


OWNER = """
import sys, time
from dashboard.shell.pool import Pool
p = Pool(2)
print(*p.pids(), flush=True)
while len(p.pids(ready=True)) < 2:
    time.sleep(0.05)
print("ready", flush=True)
time.sleep(600)
"""


def test_workers_end_when_their_server_is_killed():
    """Even a server killed with SIGKILL (no clean-up of its own) leaves no worker behind."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert owner.stdout.readline().strip() == "ready" and len(pids) == 2
        owner.kill()
        owner.wait()
        until(lambda: not any(alive(p) for p in pids), "every worker of the killed server ended")
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()


def test_a_page_whose_worker_is_killed_says_so_and_the_next_run_draws_it():
    """The user sees an error message, not a hang, and the page works again once the worker is replaced."""
    at = open_app("pages/gradient_flow.py", {"cell": "lstm", "T": "1000", "hidden_size": "128"})  # seconds of work
    workers = pool_mod.pool()
    if workers is None:
        pytest.skip("BPTT_WORKERS=0: the pages compute in the test process, there is no worker to kill")
    until(lambda: len(workers.pids(ready=True)) == workers.size, "the workers started (before, pages compute here)")
    killed, done = [], threading.Event()

    def kill_the_busy_worker():
        while not (done.is_set() or (busy := workers.busy())):
            time.sleep(0.002)
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])

    killer = threading.Thread(target=kill_the_busy_worker)
    killer.start()
    try:
        at.sidebar.number_input(key="cfg.seed").set_value(7).run()  # new settings: computed afresh
    finally:
        done.set()
        killer.join(DEADLINE)
    errors = [e.value for e in at.error]
    assert killed and not at.exception
    assert any("ended unexpectedly" in e and "try again" in e for e in errors), errors
    until(lambda: len(workers.pids(ready=True)) == workers.size, "the killed worker replaced")
    at.run()
    assert_clean(at)
    assert len(chart_specs(at)) == 4


def test_until_a_worker_has_started_the_server_computes_itself(monkeypatch):
    """A server's first visitors do not wait for its workers to import the engine."""
    starting = Pool(1)
    try:
        monkeypatch.setattr(pool_mod, "_pool", starting)
        assert not starting.pids(ready=True) and pool_mod.call(pid) == os.getpid()  # still importing: here
        until(lambda: starting.pids(ready=True), "the worker started")
        assert pool_mod.call(pid) == starting.pids()[0]
    finally:
        starting.close()


def test_a_view_of_new_settings_takes_one_trip_to_a_worker(monkeypatch):
    """The worker that builds the panels sends along the run and analyses the page's metrics ask for next."""
    at = open_app("pages/gradient_flow.py")
    workers = pool_mod.pool()
    if workers is None:
        pytest.skip("BPTT_WORKERS=0: the pages compute in the test process")
    until(lambda: len(workers.pids(ready=True)) == workers.size, "the workers started")
    trips, real = [], workers.call
    monkeypatch.setattr(workers, "call", lambda fn, *a, **k: trips.append(fn.__name__) or real(fn, *a, **k))
    at.sidebar.number_input(key="cfg.seed").set_value(424242).run()  # settings no test has computed
    assert_clean(at)
    assert trips == ["section_panels"]
    at.run()
    assert trips == ["section_panels"]  # and a rerun is the server's caches alone
