"""The memory guard estimates honestly and refuses before allocating."""

import tracemalloc

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.jacobians import local_jacobians
from bptt_core.budget import bptt_bytes, bptt_work, flow_bytes, unroll_bytes
from bptt_core.checkpoint import plan, plan_size

from .problems import make_problem


def peak_allocation(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("cell", bc.CELLS)
@pytest.mark.parametrize(
    ("checkpoint", "truncation", "input_grad"),
    [(None, None, False), ("sqrt", None, True), (None, 16, False), (4, 32, True)],
)
def test_bptt_estimate_bounds_the_real_peak_allocation(cell, checkpoint, truncation, input_grad):
    p = make_problem(cell, T=256, B=8, I=4, H=32, O=3)
    x, y = p.x.copy(), p.y.copy()
    kw = {"checkpoint": checkpoint, "truncation": truncation}
    real = peak_allocation(lambda: bc.bptt(p.spec, p.params, x, y, input_grad=input_grad, **kw))
    est = bptt_bytes(p.spec, 256, 8, input_grad=input_grad, **kw)
    assert real <= est * 1.1, (real, est)
    assert est <= real * 4, (real, est)  # an upper bound, not a wild one


@pytest.mark.parametrize("cell", [name for name, c in bc.CELLS.items() if c.forward_scan is not None])
@pytest.mark.parametrize(("checkpoint", "truncation"), [(None, None), ("sqrt", None), (None, 16), (4, 32)])
def test_bptt_estimate_bounds_the_scans_peak_allocation(cell, checkpoint, truncation):
    p = make_problem(cell, T=256, B=8, I=4, H=32, O=3)
    kw = {"checkpoint": checkpoint, "truncation": truncation}
    real = peak_allocation(lambda: bc.bptt(p.spec, p.params, p.x, p.y, scan=True, **kw))
    est = bptt_bytes(p.spec, 256, 8, scan=True, **kw)
    assert real <= est * 1.1 and est <= real * 4, (real, est)


@pytest.mark.parametrize("cell", bc.CELLS)
def test_flow_estimate_bounds_the_real_peak_allocation(cell):
    p = make_problem(cell, T=200, B=4, I=3, H=16)
    real = peak_allocation(lambda: bc.flow_matrix(p.spec, p.params, p.x, p.y))
    est = flow_bytes(p.spec, 200, 4, 200)
    assert real <= est * 1.1 and est <= real * 4, (real, est)


def test_over_budget_raises_a_value_error_that_says_what_to_reduce():
    p = make_problem("lstm", T=50, B=4)
    with pytest.raises(bc.MemoryBudgetError, match=r"memory budget.*shorten T") as err:
        bc.bptt(p.spec, p.params, p.x, p.y, memory_budget=10_000)
    assert isinstance(err.value, ValueError)
    with pytest.raises(bc.MemoryBudgetError, match="flow matrix"):
        bc.flow_matrix(p.spec, p.params, p.x, p.y, memory_budget=10_000)
    assert np.isfinite(bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="sqrt", memory_budget=200_000).loss)


def test_default_budget_refuses_an_absurd_configuration_without_allocating_it():
    spec = bc.RNNSpec("lstm", 1, 4096, 1)
    with pytest.raises(bc.MemoryBudgetError):
        # params are checked first; x is a broadcast view, so nothing large exists before the guard
        params = {k: np.broadcast_to(0.0, s) for k, s in spec.param_shapes().items()}
        bc.bptt(spec, params, np.broadcast_to(0.0, (100_000, 64, 1)), np.broadcast_to(0.0, (100_000, 64, 1)))


@pytest.mark.parametrize(
    ("name", "fn", "estimate"),
    [
        ("lyapunov", lambda p: bc.lyapunov_spectrum(p.spec, p.params, p.x, layer=1), None),
        ("saturation", lambda p: bc.gate_saturation(p.spec, p.params, p.x), None),
        ("jacobians", lambda p: local_jacobians(p.spec, p.params, p.x, layer=1), "jacobians"),
    ],
)
@pytest.mark.parametrize("cell", bc.CELLS)
def test_analysis_estimates_bound_the_real_peak_allocation(name, fn, estimate, cell):
    spec = bc.RNNSpec(cell, 3, 8, 2, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(0)
    p = make_problem(cell, T=300, B=4, I=3, H=8)
    p = type(p)(spec, bc.init_params(spec, seed=0), rng.standard_normal((300, 4, 3)), p.y, "mse")
    real = peak_allocation(lambda: fn(p))
    if name == "saturation" and not bc.CELLS[cell].gates:  # no gates: nothing unrolled, the inputs' copy only
        assert real <= 4 * p.x.nbytes, real
        return
    est = unroll_bytes(spec, 300, 4, 1)
    if estimate == "jacobians":
        S = spec.state_parts * 8
        est += 2 * 300 * 4 * S * S * 8
    assert real <= est * 1.1 and est <= real * 4, (real, est)


def test_the_work_budget_refuses_long_runs_before_they_start(monkeypatch):
    """A run over the work budget is refused at once, its message naming the size, the limit and the knob."""
    p = make_problem("lstm", T=200, B=4)
    monkeypatch.setenv("BPTT_WORK_BUDGET", "1e8")
    with pytest.raises(bc.WorkBudgetError, match=r"T = 200, B = 4.*1\.0e\+08.*BPTT_WORK_BUDGET") as err:
        bc.bptt(p.spec, p.params, p.x, p.y)
    assert isinstance(err.value, ValueError)
    monkeypatch.setenv("BPTT_WORK_BUDGET", "a lot")
    with pytest.raises(ValueError, match="BPTT_WORK_BUDGET must be a number"):
        bc.bptt(p.spec, p.params, p.x, p.y)
    monkeypatch.delenv("BPTT_WORK_BUDGET")
    assert np.isfinite(bc.bptt(p.spec, p.params, p.x, p.y).loss)


def test_binomial_checkpointing_of_a_very_long_sequence_is_refused_at_once():
    """T = 10^8 with two slots: refused before any plan exists (the plan's size is known without it)."""
    spec = bc.RNNSpec("rnn", 1, 2, 1)
    x = np.broadcast_to(0.0, (10**8, 1, 1))
    options = {"checkpoint": "binomial", "checkpoint_slots": 2, "return_sequences": False}
    with pytest.raises(ValueError, match="T = 100000000"):
        bc.bptt(spec, bc.init_params(spec), x, x, memory_budget=2**62, **options)  # memory allowed: work refuses
    assert bptt_work(spec, 10**8, 1, checkpoint="binomial", slots=2) > 10**13


@pytest.mark.parametrize("checkpoint", [None, "sqrt", 1, 3, 7, 64])
def test_plan_size_is_the_plans_size_for_segments(checkpoint):
    for n in (1, 2, 3, 10, 37, 100, 401):
        made, size = plan(n, checkpoint), plan_size(n, checkpoint)
        assert (size.stored, size.longest_tape, size.forward_steps, size.rows) == (
            len(made.stored),
            made.longest_tape,
            made.forward_steps,
            len(made.actions),
        )


@pytest.mark.parametrize("slots", [1, 2, 3, 5, 10])
def test_plan_size_bounds_the_binomial_plan(slots):
    for n in (1, 2, 3, 10, 37, 100, 401):
        made, size = plan(n, "binomial", slots), plan_size(n, "binomial", slots)
        assert size.forward_steps == made.forward_steps and size.longest_tape == made.longest_tape
        assert size.stored >= len(made.stored) and size.rows >= len(made.actions)
