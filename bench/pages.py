"""Script time of every page: its first view of new settings and a cached view, through AppTest.

``python -m bench pages`` opens the real app (router, sidebar, caches, the worker pool of ``BPTT_WORKERS``)
at the defaults and at the deep settings (GRU, 3 layers, bidirectional, T = 300), and for each page sets
a seed no view has used (nothing of these settings is cached, in the server or in a worker), switches to
the page and times the script run: the *first view*. Running it again is the *cached view* (a revisit, a
page switch back). Reported with the CPU seconds the server process and its workers spent on the first
view (and any process they started: the workers, the memory-measuring child): on a machine others share,
the wall time moves with their load, the CPU time much less.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAGES = (
    "overview",
    "unroll",
    "gradient_flow",
    "memory",
    "beyond_bptt",
    "weights",
    "losses",
    "tour",
    "training",
    "chain_rule",
    "stochastic",
    "quiz",
    "diagnose",
    "papers",
    "glossary",
)
SETTINGS = {
    "defaults": {},
    "deep": {"cell": "gru", "num_layers": "3", "bidirectional": "true", "T": "300"},
}
FIRST_TARGET, CACHED_TARGET = 1.5, 0.5  # seconds of script time (issue 27)


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ = 100)


def _children_cpu() -> dict[int, float]:
    """CPU seconds so far of every process this one started (the workers, a measuring child), by pid."""
    from tests.processes import descendants

    out = {}
    for pid in descendants(os.getpid()):
        try:
            out[pid] = _cpu(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def _timed(at) -> tuple[float, float]:
    """Wall seconds of one script run, and the CPU seconds of this process and its children during it."""
    before, cpu = _children_cpu(), time.process_time()
    start = time.perf_counter()
    at.run()
    wall = time.perf_counter() - start
    after = _children_cpu()
    return wall, time.process_time() - cpu + sum(t - before.get(pid, 0.0) for pid, t in after.items())


def measure(settings: dict[str, str], seed: int) -> list[list]:
    from tests.apptest import open_app

    at = open_app(None, settings, timeout=600)
    rows = []
    for k, page in enumerate(PAGES):
        at.sidebar.number_input(key="cfg.seed").set_value(seed + k)
        at.switch_page(f"pages/{page}.py")
        first, cpu = _timed(at)
        cached, _ = _timed(at)
        errors = [e.value for e in at.exception] + [e.value for e in at.error]
        rows.append([page, f"{first:.2f}", f"{cpu:.2f}", f"{cached:.2f}", len(errors)])
    return rows


def pages_section(repeat: int) -> None:
    from .run import table

    workers = os.environ.get("BPTT_WORKERS", f"{os.cpu_count()} (default)")
    for label, settings in SETTINGS.items():
        rows = measure(settings, seed=1000 + 100 * len(label))
        for row in rows:
            row.insert(0, label)
            row.append("yes" if float(row[2]) <= FIRST_TARGET and float(row[4]) <= CACHED_TARGET else "NO")
        table(
            f"Pages ({label}): script time of a first view of new settings and of a cached view, workers = {workers}",
            ["settings", "page", "first view s", "first view CPU s", "cached view s", "errors", "within 1.5 / 0.5 s"],
            rows,
        )
