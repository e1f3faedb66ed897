"""What the online methods hold: RTRL's memory grows like H^3 and not with T, BPTT's with T; the crossover T*."""

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.online import (
    cost_table,
    crossover_length,
    influence_bytes,
    online_bytes,
    online_gradient,
    stored_crossover,
)

from .test_memory import traced_peak

CELLS = list(bc.CELLS)


def zeros(spec, T, B=1):
    """Memory does not depend on the values: zero inputs and targets of the right shapes."""
    return np.zeros((T, B, spec.input_size)), np.zeros((T, B, spec.output_size))


def run(spec, T, method, B=1, **kw):
    return online_gradient(spec, bc.init_params(spec, seed=0), *zeros(spec, T, B), method, seed=0, **kw)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("method", ["rtrl", "uoro", "snap1"])
def test_online_methods_hold_the_same_bytes_at_every_length(cell, method):
    spec = bc.RNNSpec(cell, 3, 6, 2)
    short, long = run(spec, 5, method, B=2), run(spec, 400, method, B=2)
    assert short.memory_bytes == long.memory_bytes and short.memory_by_tensor == long.memory_by_tensor
    assert short.stored_bytes == influence_bytes(spec, 2, method) > 0


@pytest.mark.parametrize("cell", CELLS)
def test_rtrl_influence_is_S_times_N_and_its_held_memory_grows_like_it(cell):
    """The influence holds B S N numbers (S the state's Jacobian parts, N the layer's parameters as the cell
    declares them): cubic in H for a cell with a matrix on the state (W_hh, the LRU's C), quadratic for minGRU, whose
    parameters all read the input. The whole call's held bytes, lower-order terms included, grow with a
    log-log slope that rises towards S N's. BPTT's grow about linearly."""
    held, bptt, influence = [], [], []
    c = bc.CELLS[cell]
    for H in (12, 24, 48):
        spec = bc.RNNSpec(cell, 4, H, 2)
        res = run(spec, 2, "rtrl")
        N = sum(int(np.prod(shape)) for shape in c.param_shapes(H, 4).values())
        influence.append(8 * c.part_width(c.jacobian_parts) * H * N)
        assert res.stored_bytes == influence[-1]
        held.append(res.memory_bytes)
        bptt.append(run(spec, 200, "bptt").memory_bytes)
    slopes, target = np.diff(np.log2(held)), np.diff(np.log2(influence))
    assert slopes[0] < slopes[1] <= target[1] + 0.05, (slopes, target)
    assert target[1] - slopes[1] < 0.3, (slopes, target)
    reads_state = [shape for shape in c.param_shapes(H, 4).values() if len(shape) == 2 and shape[1] == H]
    assert (target[1] > 2.6) == bool(reads_state)  # a matrix on the H-wide state: W_hh, the LRU's C
    assert np.all(np.diff(np.log2(bptt)) < 1.2)


@pytest.mark.parametrize("cell", CELLS)
def test_bptt_stores_w_H_numbers_per_step_and_sequence(cell):
    """BPTT's tape grows by exactly the cell's tape width times H per step and batch element."""
    spec = bc.RNNSpec(cell, 4, 8, 2)
    stored = [run(spec, T, "bptt", B=3).stored_bytes for T in (100, 200, 300)]
    assert np.diff(stored).tolist() == [100 * 3 * bc.CELLS[cell].tape_width * 8 * 8] * 2


def influence_dominated_size(cell: str, B: int = 2, at_least: int = 400_000) -> int:
    """The smallest hidden size at which RTRL's influence reaches ``at_least`` bytes: where it, and not the
    step's small arrays and NumPy's iteration buffers (which no ledger sees), makes most of what is held."""
    return next(
        H for H in (16, 24, 32, 48, 64, 96) if influence_bytes(bc.RNNSpec(cell, 4, H, 2), B, "rtrl") >= at_least
    )


@pytest.mark.parametrize("cell", CELLS)
def test_ledgers_agree_with_tracemalloc_and_only_bptt_grows_with_T(cell):
    """RTRL: the ledger within 15 % of what tracemalloc sees, the same at T = 30 and 300; BPTT's traced
    peak grows by about what its ledger says the tape grew."""
    H = influence_dominated_size(cell)
    spec = bc.RNNSpec(cell, 4, H, 2)
    run(spec, 2, "rtrl", B=2)  # the first call in a process also loads what NumPy loads once
    rtrl, bptt = {}, {}
    for T in (30, 300):
        res, peak = traced_peak(lambda T=T: run(spec, T, "rtrl", B=2))
        assert res.memory_bytes == pytest.approx(peak, rel=0.15)
        rtrl[T] = peak
        bptt[T] = traced_peak(lambda T=T: run(spec, T, "bptt", B=2))
    assert rtrl[300] == pytest.approx(rtrl[30], rel=0.1)
    ledger_growth = bptt[300][0].memory_bytes - bptt[30][0].memory_bytes
    assert ledger_growth > 0
    assert bptt[300][1] - bptt[30][1] == pytest.approx(ledger_growth, rel=0.2)


@pytest.mark.parametrize("cell", CELLS)
def test_crossover_length_agrees_with_measured_ledgers_within_one_grid_step(cell):
    """T* from crossover_length (and, for what is stored, its closed form) lies between the last grid
    length where BPTT holds no more than RTRL and the first where it holds more, both measured at each length."""
    spec = bc.RNNSpec(cell, 3, 8, 2)
    assert crossover_length(spec, what="stored") == stored_crossover(spec)
    grid = np.unique(np.geomspace(2, 1000, 16).astype(int)).tolist()
    measured = [(run(spec, T, "bptt"), run(spec, T, "rtrl")) for T in grid]
    for what, key in (("stored", "stored_bytes"), ("held", "memory_bytes")):
        star = crossover_length(spec, what=what)
        above = [getattr(b, key) > getattr(r, key) for b, r in measured]
        first = above.index(True)
        assert all(above[first:]), above  # once above, BPTT stays above
        assert (grid[first - 1] if first else 0) < star <= grid[first], (what, star, grid[first])


def test_crossover_length_is_none_when_bptt_never_holds_more():
    spec = bc.RNNSpec("lstm", 3, 8, 2)
    assert crossover_length(spec, what="stored", max_length=64) is None
    with pytest.raises(ValueError, match="what"):
        crossover_length(spec, what="peak")
    with pytest.raises(ValueError, match="B"):
        crossover_length(spec, B=0)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("method", "layers"), [("rtrl", 1), ("rtrl", 2), ("uoro", 1), ("snap1", 1)])
@pytest.mark.parametrize(("H", "B"), [(4, 1), (16, 3)])
def test_memory_estimate_is_an_upper_estimate_of_the_ledger(cell, method, layers, H, B):
    """The memory guard's estimate: at least what the call holds, at most twice."""
    spec = bc.RNNSpec(cell, 5, H, 2, num_layers=layers)
    held = run(spec, 3, method, B=B).memory_bytes
    assert held <= online_bytes(spec, B, method) <= 2 * held


def test_cost_table_measures_every_method_on_the_grid():
    rows = cost_table("gru", (4, 8), (10, 40), ("rtrl", "snap1", "tbptt", "bptt"), truncation=5, checkpoint="sqrt")
    assert len(rows) == 2 * 2 * 4
    at = {(r.method, r.hidden_size, r.T): r for r in rows}
    for H in (4, 8):
        assert at["rtrl", H, 10].memory_bytes == at["rtrl", H, 40].memory_bytes
        assert at["rtrl", H, 40].flops == 4 * at["rtrl", H, 10].flops
        assert at["bptt", H, 40].stored_bytes > at["bptt", H, 10].stored_bytes
    assert at["rtrl", 8, 10].stored_bytes > 4 * at["rtrl", 4, 10].stored_bytes
    assert all(r.seconds > 0 for r in rows)
