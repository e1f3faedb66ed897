"""The memory guard estimates honestly and refuses before allocating."""

import tracemalloc

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.budget import bptt_bytes, flow_bytes

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
