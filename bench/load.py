"""A classroom on one server: N students open the same link at once, then each changes settings.

``python -m bench load`` starts the dashboard with ``BPTT_TIMING`` (every script run's server-side time:
from the rerun to its last element) and connects N = 1, 5, 10, 20 students to one page through
Streamlit's own websocket protocol (:mod:`bench.wsclient`: the server does its full work, nothing is
drawn, so the clients do not take the server's cores). The teacher opens the page first (the server
imports the app and starts its workers) and the class waits for the server to go idle; then all open
the page at once, and each makes a few sidebar changes of its own (Hidden H, a cache miss each: the worst
case), in two classrooms:

- *paced*: a student looks at the charts for 2-8 s (uniform) between changes;
- *together*: every student changes at the same instant, back to back (a lecture's "now try H = ...").

Then all of them set the same value at once (identical settings: computed once by the cache's per-key
lock, the others wait for it and read it). Reported against N: the server's time per change (median,
95th percentile, and the ratio of that percentile to N = 1's median), the client's time from its
request to the script's end, the CPU seconds per change of the server and of its workers (what the
machine's other load changes little: on an idle machine the server's part bounds how many changes a
second it serves, the sum over its cores the rest), errors (exceptions in the page) and the server's peak
memory. ``--replicas N`` runs the class through N replicas behind nginx (``deploy``), ``--url`` through a
running deployment, ``--query`` at other settings than the defaults.

``python -m bench load-browser`` runs the same classroom with Chromium tabs that draw every chart (the
browser's change-to-drawn time); there the tabs share the server's 2 cores, so its server times are an
upper bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .browser import CHROMIUM, FLAGS, IDLE, ROOT, WATCH_RERUN, serve
from .wsclient import Student

SESSIONS = (1, 5, 10, 20)
CHANGES = 3
PAGE = "gradient_flow"
PAUSE = (2.0, 8.0)  # seconds a paced student looks at the charts between changes


def _rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _drawn(page, deadline: float = 600) -> None:
    await page.wait_for_function(IDLE, timeout=deadline * 1000, polling=20)


async def _change(page, value: int) -> float:
    """Seconds from pressing Enter on Hidden H = value to every chart drawn again."""
    box = page.get_by_label("Hidden H").first
    await box.fill(str(value))
    await page.evaluate(WATCH_RERUN)
    start = time.perf_counter()
    await box.press("Enter")
    await page.wait_for_function(f"() => window.__rerun && ({IDLE})()", timeout=600_000, polling=10)
    return time.perf_counter() - start


async def _student(browser, url: str, k: int, barrier: asyncio.Barrier, timing: Path) -> dict:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{url}/{PAGE}", timeout=600_000, wait_until="commit")  # 20 tabs parse the app at once
    await _drawn(page)
    if await barrier.wait() == 0:  # everyone has loaded: from here on the server times the changes only
        timing.write_text("")
    await barrier.wait()
    own = [await _change(page, 17 + k * CHANGES + i) for i in range(CHANGES)]  # a value no one else asks for
    await barrier.wait()
    shared_from = time.time()
    shared = await _change(page, 12)  # then every student asks for the same settings at once
    errors = await page.locator('[data-testid="stException"]').count()
    await context.close()
    return {"own": own, "shared": shared, "shared_from": shared_from, "errors": errors}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(pids: list[int]) -> tuple[float, float]:
    """CPU seconds so far of these processes (the servers) and of every process they started (their workers)."""
    from tests.processes import descendants

    own = children = 0.0
    for pid in pids:
        for q in (pid, *descendants(pid)):
            try:
                cpu = _cpu_s(q)
            except (FileNotFoundError, ProcessLookupError):
                continue
            own, children = (own + cpu, children) if q == pid else (own, children + cpu)
    return own, children


def _tree_rss_mib(pids: list[int]) -> float:
    """Resident memory of these processes and every process they started (a server and its workers), MiB."""
    from tests.processes import descendants

    total = 0.0
    for pid in {q for p in pids for q in (p, *descendants(p))}:
        try:
            total += _rss_mib(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


@contextlib.contextmanager
def _target(url: str | None = None, timing: str | None = None, replicas: int = 0, env: dict | None = None):
    """Where the class connects: ``url`` (a running deployment; its replicas' ``BPTT_TIMING`` file, if
    given), ``replicas`` started behind nginx (``deploy``), or one server; yields the address, the timing
    file (None: no server times) and the processes whose memory is measured."""
    if url:
        yield url.rstrip("/"), Path(timing) if timing else None, []
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "timing.jsonl"
        env = {"BPTT_TIMING": str(path), **(env or {})}
        if replicas:
            from deploy.run import Deployment, free_port

            with Deployment(replicas, free_port(), env=env) as d:
                yield d.url, path, [p.pid for p in d.procs[:-1]]  # the replicas (nginx is last)
            return
        proc, address, _ = serve(ROOT / "app.py", env)
        try:
            yield address, path, [proc.pid]
        finally:
            proc.terminate()
            proc.wait()


async def _warm_up(url: str, pids: list[int], query: str = "") -> None:
    """What a class meets after its teacher opened the link: one visitor opens the page and changes a setting
    (the server imports the app, its workers start), then the server and its workers go idle (their CPU use
    over half a second below 10 ms; at most 5 minutes)."""
    async with Student(url, PAGE, query) as teacher:
        await teacher.open()
        await teacher.set_int("Hidden H", 11)  # a value no student asks for
    deadline, last = time.monotonic() + 300, sum(_tree_cpu_s(pids))
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = sum(_tree_cpu_s(pids))
        if now - last < 0.01:
            return
        last = now


async def _on_one_server(n: int, student, env: dict | None = None, query: str = "", **target) -> dict:
    """Run ``student(url, k, barrier, timing)`` for k < n at once against :func:`_target`: their results, the
    server's timed runs, its peak memory (with its workers') and CPU seconds (``(time, server, workers)``
    sampled every 0.1 s)."""
    with _target(env=env, **target) as (url, timing, pids):
        if pids:  # a server this benchmark started (a running deployment is warm already)
            await _warm_up(url, pids, query)
        peak, cpu = 0.0, []
        barrier = asyncio.Barrier(n)
        tasks = [asyncio.create_task(student(url, k, barrier, timing)) for k in range(n)]
        while not all(t.done() for t in tasks):
            peak = max(peak, _tree_rss_mib(pids))
            cpu.append((time.time(), *_tree_cpu_s(pids)))
            await asyncio.sleep(0.1)
        results = [t.result() for t in tasks]  # a session that failed fails the benchmark, loudly
        runs = [json.loads(line) for line in timing.read_text().splitlines()] if timing and timing.exists() else []
    return {"results": results, "runs": runs, "peak_mib": peak if pids else float("nan"), "cpu": cpu}


def _cpu_per_change(out: dict) -> tuple[float, float]:
    """CPU seconds of the servers and of their workers per own change (from the first change to the shared one)."""
    start = min((r["changes_from"] for r in out["results"] if "changes_from" in r), default=None)
    end = min(r["shared_from"] for r in out["results"])
    at = [(t, a, b) for t, a, b in out.get("cpu", []) if start is not None and start <= t <= end]
    if len(at) < 2:
        return float("nan"), float("nan")
    changes = sum(len(r["own"]) for r in out["results"])
    return (at[-1][1] - at[0][1]) / changes, (at[-1][2] - at[0][2]) / changes


async def _classroom(n: int) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            return await _on_one_server(n, lambda url, k, barrier, timing: _student(browser, url, k, barrier, timing))
        finally:
            await browser.close()


async def _ws_student(
    url: str, k: int, barrier: asyncio.Barrier, paced: bool, timing: Path | None, query: str = ""
) -> dict:
    rng = np.random.default_rng(k)
    async with Student(url, PAGE, query) as student:
        opened = await student.open()
        if await barrier.wait() == 0 and timing is not None:  # all loaded: from here on the server times changes
            timing.write_text("")
        await barrier.wait()
        changes_from, own = time.time(), []
        for i in range(CHANGES):
            if paced:
                await asyncio.sleep(rng.uniform(*PAUSE))
            own.append(await student.set_int("Hidden H", 17 + k * CHANGES + i))  # a value no one else asks for
        await barrier.wait()
        shared_from = time.time()
        shared = await student.set_int("Hidden H", 12)  # then every student asks for the same settings at once
    runs = [opened, *own, shared]
    return {
        "open": opened.seconds,
        "own": [r.seconds for r in own],
        "shared": shared.seconds,
        "shared_from": shared_from,
        "changes_from": changes_from,
        "errors": sum(r.exceptions for r in runs) + sum(r.charts == 0 for r in runs),
    }


async def _ws_classroom(n: int, paced: bool, env: dict | None = None, query: str = "", **target) -> dict:
    return await _on_one_server(
        n, lambda url, k, barrier, timing: _ws_student(url, k, barrier, paced, timing, query), env, query, **target
    )


def _pct(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def _split(out: dict) -> tuple[list, list, list, list]:
    """Client times of own and shared changes, and the server's run times of each phase."""
    own = [s for r in out["results"] for s in r["own"]]
    shared = [r["shared"] for r in out["results"]]
    shared_from = min(r["shared_from"] for r in out["results"])
    server = [r["seconds"] for r in out["runs"] if r["start"] < shared_from]
    server_shared = [r["seconds"] for r in out["runs"] if r["start"] >= shared_from]
    return own, shared, server, server_shared


def load_section(
    repeat: int,
    sessions: tuple[int, ...] = SESSIONS,
    classrooms: tuple[str, ...] = ("paced", "together"),
    query: str = "",
    **target,
) -> None:
    """The classroom table at the settings of ``query`` (the defaults when empty); ``target``: ``url`` (and
    ``timing``) of a running deployment, or ``replicas`` to start behind nginx, else one server (:func:`_target`)."""
    from .run import table

    rows, base = [], None
    for classroom in classrooms:
        for n in sessions:
            out = asyncio.run(_ws_classroom(n, classroom == "paced", query=query, **target))
            own, shared, server, server_shared = _split(out)
            cpu_server, cpu_workers = _cpu_per_change(out)
            base = base or _pct(server, 50)  # the first classroom's median (N = 1, paced: one student alone)
            rows.append(
                row := [
                    classroom,
                    n,
                    f"{_pct([r['open'] for r in out['results']], 50):.2f}",
                    f"{_pct(server, 50):.2f}",
                    f"{_pct(server, 95):.2f}",
                    f"{_pct(server, 95) / base:.1f}",
                    f"{_pct(own, 50):.2f} / {_pct(own, 95):.2f}",
                    f"{max(server_shared, default=float('nan')):.2f} / {_pct(server_shared, 50):.2f} / "
                    f"{_pct(shared, 50):.2f}",
                    f"{cpu_server:.3f} / {cpu_workers:.3f}",
                    sum(r["errors"] for r in out["results"]),
                    f"{out['peak_mib']:.0f}",
                ]
            )
            print(f"{row[0]} N = {n}: " + " | ".join(map(str, row[1:])), flush=True)  # each classroom as it ends
    where = target.get("url") or (f"{target['replicas']} replicas behind nginx" if target.get("replicas") else "")
    table(
        f"Classroom load{f' through {where}' if where else ''}{f' at {query}' if query else ''}: N websocket "
        f"students on {PAGE}, {CHANGES} own changes each (cache misses), then one shared",
        [
            "classroom",
            "N",
            "first load s (median, after the teacher)",
            "server s/change median",
            "server p95",
            "p95 / N=1 median",
            "client median / p95",
            "shared settings: server max / median, client median",
            "CPU s per change: server / workers",
            "errors",
            "server peak MiB (with its workers)",
        ],
        rows,
    )


def load_browser_section(repeat: int) -> None:
    if not Path(CHROMIUM).exists():
        print(f"\n## Classroom load\n\nskipped: {CHROMIUM} not found (apt-get install chromium)")
        return
    from .run import table

    rows, base = [], None
    for n in SESSIONS:
        out = asyncio.run(_classroom(n))
        own, shared, server, server_shared = _split(out)
        base = base or np.median(server)
        rows.append(
            row := [
                n,
                f"{np.median(server):.2f}",
                f"{_pct(server, 95):.2f}",
                f"{_pct(server, 95) / base:.1f}",
                f"{np.median(own):.2f}",
                f"{_pct(own, 95):.2f}",
                f"{np.median(shared):.2f}",
                f"{max(server_shared, default=float('nan')):.2f} / {np.median(server_shared):.2f}",
                sum(r["errors"] for r in out["results"]),
                f"{out['peak_mib']:.0f}",
            ]
        )
        print(f"N = {n}: " + " | ".join(map(str, row)), flush=True)  # each classroom as it ends
    table(
        f"Classroom load in Chromium: N tabs on {PAGE}, {CHANGES} own changes each (cache misses), then one "
        "shared (the tabs draw on the server's cores)",
        [
            "N",
            "server s/run median",
            "server p95",
            "p95 / N=1 median",
            "browser change-to-drawn median",
            "browser p95",
            "shared settings, browser median",
            "shared, server max / median",
            "errors",
            "server peak MiB",
        ],
        rows,
    )
