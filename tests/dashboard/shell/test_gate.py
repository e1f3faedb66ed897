"""Script runs take turns; a long job steps aside."""

from __future__ import annotations

import threading
import time

from dashboard.shell import gate


def _timeline(jobs) -> list[tuple[str, str]]:
    """Run each job in its own thread, the next once the previous has started; the (event, name) log."""
    log, lock, started = [], threading.Lock(), threading.Event()

    def note(event: str, name: str) -> None:
        with lock:
            log.append((event, name))
        if event == "start":
            started.set()

    threads = [threading.Thread(target=job, args=(note,)) for job in jobs]
    for t in threads:
        started.clear()
        t.start()
        started.wait(timeout=30)
    for t in threads:
        t.join(timeout=30)
    return log


def test_runs_take_turns_one_at_a_time():
    def run(name):
        def job(note):
            with gate.turn():
                note("start", name)
                time.sleep(0.2)
                note("end", name)

        return job

    log = _timeline([run("a"), run("b")])
    assert log == [("start", "a"), ("end", "a"), ("start", "b"), ("end", "b")]


def test_a_long_job_steps_aside_and_others_run_meanwhile():
    short_done = threading.Event()

    def long(note):
        with gate.turn():
            note("start", "long")
            with gate.aside():  # without its turn given back, the short run could not end before this one
                short_done.wait(timeout=30)
            note("end", "long")

    def short(note):
        with gate.turn():
            note("start", "short")
            note("end", "short")
        short_done.set()

    log = _timeline([long, short])
    assert log == [("start", "long"), ("start", "short"), ("end", "short"), ("end", "long")]


def test_aside_without_a_turn_and_nested_turns_do_nothing():
    with gate.aside():  # e.g. a function called outside a script run
        pass
    with gate.turn(), gate.turn():  # a second turn in the same thread does not wait for itself
        pass
