"""``memory_bytes`` is what the process really holds: compared with tracemalloc, and what sqrt saves."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import bptt_core as bc

MODES = {
    "full": {},
    "sqrt": {"checkpoint": "sqrt"},
    "every-8": {"checkpoint": 8},
    "binomial": {"checkpoint": "binomial", "checkpoint_slots": 6},
    "truncation": {"truncation": 50},
}


def traced_peak(fn) -> tuple[object, int]:
    """``fn()`` and the peak bytes Python's allocator saw during it (beyond what existed before)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def problem(cell: str, T: int, B: int, H: int, layers: int = 1, bidirectional: bool = False):
    spec = bc.RNNSpec(cell, 4, H, 2, num_layers=layers, bidirectional=bidirectional)
    rng = np.random.default_rng(0)
    return spec, bc.init_params(spec, seed=0), rng.standard_normal((T, B, 4)), rng.standard_normal((T, B, 2))


#: Every cell by its loop, and the cells with a linear recurrence by their associative scan too.
RUNS = [(name, False) for name in bc.CELLS] + [(name, True) for name, c in bc.CELLS.items() if c.forward_scan]


@pytest.mark.parametrize(("cell", "scan"), RUNS)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_memory_bytes_is_within_15_percent_of_tracemalloc(cell, scan, mode, sequences, layers, bidirectional):
    if bidirectional and "truncation" in MODES[mode]:
        pytest.skip("truncation is refused for bidirectional networks")
    spec, params, x, y = problem(cell, T=400, B=8, H=32, layers=layers, bidirectional=bidirectional)
    run = {"return_sequences": sequences, "scan": scan, **MODES[mode]}
    res, peak = traced_peak(lambda: bc.bptt(spec, params, x, y, **run))
    assert res.memory_bytes == pytest.approx(peak, rel=0.15)
    assert sum(res.memory_by_tensor.values()) == res.memory_bytes
    assert (res.h is None) == (not sequences) and (res.dh is None) == (not sequences)


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_sqrt_checkpointing_holds_a_quarter_of_full_storage_at_T_1024(cell):
    """Measured by tracemalloc, without the returned sequences: the saving is real, the RNN's included."""
    spec, params, x, y = problem(cell, T=1024, B=16, H=64)
    _, full = traced_peak(lambda: bc.bptt(spec, params, x, y, return_sequences=False))
    _, sqrt = traced_peak(lambda: bc.bptt(spec, params, x, y, checkpoint="sqrt", return_sequences=False))
    assert sqrt <= full / 4, (sqrt, full)


def test_without_sequences_nothing_of_size_T_B_H_is_allocated_in_checkpointed_modes():
    """The largest single allocation of a sqrt run is far below one (T, B, H) array."""
    spec, params, x, y = problem("lstm", T=1024, B=8, H=32)
    tracemalloc.start()
    try:
        bc.bptt(spec, params, x, y, checkpoint="sqrt", return_sequences=False)
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    one_sequence = 1024 * 8 * 32 * 8
    largest = max((s.size for s in snapshot.statistics("traceback")), default=0)
    assert largest < one_sequence / 4


#: The families issue 25 found outside 15 % (a fixed few hundred KiB uncounted, or the cast copies).
FAMILIES = [
    ("lstm", 400, 2, 8, 1, False, {"checkpoint": "binomial", "checkpoint_slots": 2}, "float64"),
    ("gru", 600, 1, 4, 1, False, {"checkpoint": "binomial", "checkpoint_slots": 3}, "float64"),
    ("rnn", 300, 2, 4, 4, False, {}, "float64"),
    ("lstm", 250, 1, 4, 4, True, {}, "float64"),
    ("gru", 500, 4, 8, 1, False, {"truncation": 50, "checkpoint": "sqrt"}, "float64"),
    ("rnn", 500, 4, 8, 2, False, {"truncation": 20, "checkpoint": 5}, "float64"),
    ("gru", 1000, 4, 16, 1, True, {}, "float64"),
    ("lstm", 400, 8, 32, 1, False, {}, "float32"),
    ("gru", 300, 8, 16, 2, True, {}, "float32"),
    ("rnn", 1000, 1, 2, 1, False, {}, "float64"),
]


def random_settings(n: int, seed: int = 25) -> list[tuple]:
    """Cells, depths, directions, memory modes, dtypes (float64 inputs cast to float32 too) at T >= 200."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        layers, bidirectional = int(rng.integers(1, 5)), bool(rng.random() < 0.4)
        T = 200 + int(rng.integers(0, 601)) // (layers * (2 if bidirectional else 1))
        modes = [{}, {"checkpoint": "sqrt"}, {"checkpoint": int(rng.integers(2, 40))}]
        modes.append({"checkpoint": "binomial", "checkpoint_slots": int(rng.integers(4, 9))})
        if not bidirectional:
            modes += [{"truncation": int(rng.integers(10, 200))}, {"truncation": 100, "checkpoint": "sqrt"}]
        mode = modes[int(rng.integers(len(modes)))]
        cell, H, B = str(rng.choice(list(bc.CELLS))), int(rng.choice([2, 4, 8, 16, 32])), int(rng.integers(1, 9))
        out.append((cell, T, B, H, layers, bidirectional, mode, str(rng.choice(["float64", "float32"]))))
    return out


SETTINGS = [(*f, s) for f in FAMILIES for s in (True, False)] + [
    (*r, bool(i % 2)) for i, r in enumerate(random_settings(32))
]


@pytest.mark.slow
def test_memory_bytes_is_within_15_percent_of_tracemalloc_over_random_settings():
    """52 settings, the issue's failing families first; float64 arrays with dtype='float32' are cast copies."""
    ratios = []
    for cell, T, B, H, layers, bidirectional, mode, dtype, sequences in SETTINGS:
        spec, params, x, y = problem(cell, T=T, B=B, H=H, layers=layers, bidirectional=bidirectional)
        run = {"dtype": dtype, "return_sequences": sequences, **mode}
        res, peak = traced_peak(lambda: bc.bptt(spec, params, x, y, **run))  # noqa: B023
        ratios.append(res.memory_bytes / peak)
    ratios = np.array(ratios)
    worst = SETTINGS[int(np.argmax(np.abs(ratios - 1)))]
    assert len(ratios) >= 50 and np.all(np.abs(ratios - 1) <= 0.15), (ratios.min(), ratios.max(), worst)
