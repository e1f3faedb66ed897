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


def _until(condition) -> None:
    """Wait for a state of the threads under test (polling), at most 30 s."""
    end = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < end, "the threads never reached the state waited for"
        time.sleep(0.005)


def test_a_run_back_from_a_wait_goes_before_runs_that_started_later():
    """First come, first served by the run's start: a run that gave its turn back to wait for a worker is
    not sent to the back of the queue when it may go on."""
    log, events = [], {name: threading.Event() for name in ("a waits", "a go", "b in", "b go")}

    def a():
        with gate.turn():
            log.append("a starts")
            with gate.aside():  # waiting for a worker: b runs meanwhile
                events["a waits"].set()
                events["a go"].wait(30)
            log.append("a goes on")

    def b():
        with gate.turn():
            log.append("b starts")
            events["b in"].set()
            log.append("b ends" if events["b go"].wait(30) else "b timed out")

    def c():
        with gate.turn():
            log.append("c starts")

    threads = [threading.Thread(target=f) for f in (a, b, c)]
    threads[0].start()
    events["a waits"].wait(30)
    threads[1].start()
    events["b in"].wait(30)
    threads[2].start()
    _until(lambda: gate.waiting() == 1)  # c waits for b's turn
    events["a go"].set()
    _until(lambda: gate.waiting() == 2)  # and so does a, back from its wait
    events["b go"].set()
    for t in threads:
        t.join(30)
    assert log == ["a starts", "b starts", "b ends", "a goes on", "c starts"]


def test_inside_a_cached_call_the_turn_comes_back_when_the_call_returns():
    """A wait inside a cached function (which holds the cache's lock) does not wait for a turn again there."""
    seen = []
    with gate.turn():
        with gate.reclaiming():
            with gate.reclaiming():  # a cached call inside another
                with gate.aside():
                    pass
                seen.append(gate.held())
            seen.append(gate.held())
        seen.append(gate.held())
    assert seen == [False, False, True]
    assert not gate.held()
