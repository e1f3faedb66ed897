"""The associative scan against the sequential loop: the recurrence alone, and whole BPTT calls.

    python -m bench scan            # T = 100, 1000, 10^4
    python -m bench scan --quick

The scan (:mod:`bptt_core.scan`) does about twice the loop's arithmetic in ``2 log2 T`` whole-array
sweeps; the loop does ``T`` small steps, each paying NumPy's per-call overhead. Which wins depends on
how much work one step holds (batch x units): the tables say where each wins on this machine.
Times are medians of interleaved repetitions; memory is what ``tracemalloc`` sees at the peak
(the recurrence) and the engine's own ``memory_bytes`` (BPTT calls).
"""

from __future__ import annotations

import tracemalloc

import numpy as np

import bptt_core as bc
from bptt_core.scan import linear_recurrence_loop, linear_scan, reverse_linear_scan
from bptt_core.workspace import Workspace

LENGTHS = (100, 1000, 10_000)
#: (batch, units) of the recurrence alone: one step's work from tiny to large.
WIDTHS = ((1, 16), (8, 64), (32, 256))
#: The BPTT calls: (batch, input, hidden).
ENGINE = (8, 4, 32)


def traced_peak(fn) -> int:
    """Peak bytes Python's allocator sees during ``fn()`` beyond what existed before."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def loop_both_ways(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> None:
    """The reference: the recurrence forward, then its adjoint backward, one step at a time."""
    linear_recurrence_loop(a, b, h0)
    g, carry, back = np.empty_like(b), np.zeros_like(h0), np.conj(a)
    for t in reversed(range(b.shape[0])):
        carry = g[t] = b[t] + back[t + 1] * carry if t + 1 < b.shape[0] else b[t]


def scan_both_ways(a: np.ndarray, b: np.ndarray, h0: np.ndarray, work: Workspace) -> None:
    """The same by the associative scan, forward and reverse."""
    linear_scan(a, b, h0, work=work)
    reverse_linear_scan(np.conj(a), b, np.zeros_like(h0), work=work)


def recurrence_rows(repeat: int, interleaved) -> list[list]:
    rows = []
    rng = np.random.default_rng(0)
    for T in LENGTHS:
        for B, H in WIDTHS:
            if T * B * H > 2e7:  # keep the largest arrays within a few hundred MB
                continue
            a, b, h0 = rng.uniform(0, 1, (T, B, H)), rng.standard_normal((T, B, H)), np.zeros((B, H))
            work = Workspace()
            runs = {"loop": lambda: loop_both_ways(a, b, h0), "scan": lambda: scan_both_ways(a, b, h0, work)}
            times = interleaved(runs, max(1, repeat // 2) if T >= 10_000 else repeat)
            memory = {k: traced_peak(fn) for k, fn in runs.items()}
            rows.append([T, f"{B} x {H}", *compared(times["loop"], times["scan"], memory["loop"], memory["scan"])])
    return rows


def compared(loop_s: float, scan_s: float, loop_bytes: int, scan_bytes: int) -> list[str]:
    """Times (ms), their ratio, memory (MiB) and which is faster (beyond 10 %: the machine's noise)."""
    ratio = loop_s / scan_s
    faster = "scan" if ratio > 1.1 else ("loop" if ratio < 1 / 1.1 else "tie")
    return [f"{1e3 * loop_s:.2f}", f"{1e3 * scan_s:.2f}", f"{ratio:.2f}", f"{loop_bytes / 2**20:.2f}",
            f"{scan_bytes / 2**20:.2f}", faster]  # fmt: skip


def engine_rows(repeat: int, interleaved) -> list[list]:
    rows = []
    B, I, H = ENGINE
    for cell in (name for name, c in bc.CELLS.items() if c.forward_scan is not None):
        spec = bc.RNNSpec(cell, I, H, 2)
        params = bc.init_params(spec, seed=0)
        for T in LENGTHS:
            rng = np.random.default_rng(T)
            x, y = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, 2))
            work = Workspace()
            runs = {s: (lambda s=s: bc.bptt(spec, params, x, y, scan=s, workspace=work)) for s in (False, True)}
            times = interleaved(runs, max(1, repeat // 2) if T >= 10_000 else repeat)
            memory = {s: runs[s]().memory_bytes for s in runs}
            rows.append([cell, T, *compared(times[False], times[True], memory[False], memory[True])])
    return rows


def scan_section(repeat: int) -> None:
    from .run import interleaved, table

    print("\nMeasured on a shared machine (2 cores, other jobs running): ratios within ~10% are noise.")
    table(
        "Linear recurrence h_t = a_t h_{t-1} + b_t, forward then its adjoint: loop against scan",
        ["T", "B x H", "loop ms", "scan ms", "loop / scan", "loop MiB", "scan MiB", "faster"],
        recurrence_rows(repeat, interleaved),
    )
    B, I, H = ENGINE
    table(
        f"BPTT, scan=False against scan=True (B = {B}, I = {I}, H = {H}, float64, memory_bytes)",
        ["cell", "T", "loop ms", "scan ms", "loop / scan", "loop MiB", "scan MiB", "faster"],
        engine_rows(repeat, interleaved),
    )
