"""Buffers written in place: the same numbers as allocating code, and no state leaking between calls."""

from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.result import flatten_grads
from bptt_core.tape import Tape, project, projection_matrix
from bptt_core.workspace import OutputPool, Workspace, matmul

from .problems import CELL_ACTIVATIONS, make_problem

CELLS = CELL_ACTIVATIONS


def result_arrays(res: bc.BPTTResult) -> dict[str, np.ndarray]:
    return {"h": res.h, "dh": res.dh, "dh0": res.dh0, "yhat": res.yhat} | {f"grad {k}": g for k, g in res.grads.items()}


@pytest.mark.parametrize(("cell", "activation"), CELLS)
def test_steps_into_buffers_equal_allocating_steps(cell, activation):
    """forward_step/backward_step with ``out`` and ``work`` (the projection aliasing the tape) give the
    allocating results bit for bit, over several steps with the scratch reused."""
    p = make_problem(cell, activation, T=4, B=3, H=5)
    steps, params = bc.CELLS[cell], bc.layer_params(p.params)
    state = tuple(np.full((3, 5 * steps.tape[part]), 0.3) for part in steps.state_parts)
    work = Workspace()
    stored = Tape.new(steps, 0, 4, 3, 5, np.dtype(np.float64), work, activation=activation)
    w1 = projection_matrix(steps, params)
    target = stored.projection_target() if stored.holds_projection else np.empty((4, 3, w1.shape[1]))
    project([p.x], w1, 0, 4, target, Workspace())
    xw = np.concatenate([p.x, np.ones((4, 3, 1))], axis=-1) @ w1
    s_new, s_buf = state, state
    W = w1.shape[1]
    for t in range(4):
        s_new, c_new = steps.forward_step(params, xw[t], s_new, activation)
        s_buf, c_buf = steps.forward_step(params, target[t], s_buf, activation, out=stored.outputs(t), work=work)
        for k in c_new:
            if isinstance(c_new[k], np.ndarray):
                np.testing.assert_array_equal(c_buf[k], c_new[k], err_msg=k)
        d = tuple(np.full(part.shape, 0.1 * (t + 1)) for part in state)
        back_new = steps.backward_step(params, d, c_new)
        d_xw, d_hw = np.empty((3, W)), np.empty((3, W))
        back_buf = steps.backward_step(params, d, c_buf, out={"d_xw": d_xw, "d_hw": d_hw}, work=work)
        for a, b in zip(back_new[0], back_buf[0]):
            np.testing.assert_allclose(b, a, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(back_buf[1], back_new[1], rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(back_buf[2], back_new[2], rtol=1e-15, atol=1e-15)


def test_a_reused_workspace_leaks_nothing_into_the_next_call():
    """A result stays intact after later calls reuse the workspace, and a call after another
    with different shapes and data gives what a fresh workspace gives."""
    work = bc.Workspace()
    a = make_problem("lstm", T=30, B=4, H=6, seed=1)
    b = make_problem("lstm", T=12, B=4, H=6, seed=2)
    first = bc.bptt(a.spec, a.params, a.x, a.y, workspace=work)
    kept = {k: v.copy() for k, v in result_arrays(first).items()}
    second = bc.bptt(b.spec, b.params, b.x, b.y, workspace=work)  # reuses the tape, shorter
    bc.bptt(a.spec, a.params, a.x, a.y, checkpoint="sqrt", workspace=work)
    for k, v in result_arrays(first).items():
        np.testing.assert_array_equal(v, kept[k], err_msg=k)
    fresh = bc.bptt(b.spec, b.params, b.x, b.y)
    for k, v in result_arrays(fresh).items():
        np.testing.assert_array_equal(result_arrays(second)[k], v, err_msg=k)


def test_weights_changed_in_place_between_calls_are_used():
    """The workspace copies W_hh^T once per call: an optimizer updating the weights in place
    must not see last call's copy."""
    work = bc.Workspace()
    p = make_problem("gru", T=8, B=2, H=4, seed=3)
    params = {k: v.copy() for k, v in p.params.items()}
    bc.bptt(p.spec, params, p.x, p.y, workspace=work)
    params["weight_hh_l0"] *= 1.7  # in place, same array object
    again = bc.bptt(p.spec, params, p.x, p.y, workspace=work)
    expected = bc.bptt(p.spec, {k: v.copy() for k, v in params.items()}, p.x, p.y)
    assert again.loss == expected.loss
    np.testing.assert_array_equal(again.grads["weight_hh_l0"], expected.grads["weight_hh_l0"])


def test_concurrent_calls_match_serial_ones():
    """Sessions run BPTT in threads at once, each with its own workspace or none."""
    problems = [make_problem(c, T=40, B=3, H=8, seed=s) for s in range(3) for c in bc.CELLS]
    serial = [flatten_grads(bc.bptt(p.spec, p.params, p.x, p.y).grads) for p in problems]
    local = threading.local()

    def run(p):
        if not hasattr(local, "work"):
            local.work = bc.Workspace()
        return flatten_grads(bc.bptt(p.spec, p.params, p.x, p.y, workspace=local.work).grads)

    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(run, problems * 3))
        plain = list(pool.map(lambda p: flatten_grads(bc.bptt(p.spec, p.params, p.x, p.y).grads), problems))
    for i, g in enumerate(threaded + plain):
        np.testing.assert_array_equal(g, serial[i % len(problems)])


def test_a_workspace_in_use_is_refused_not_shared():
    work = bc.Workspace()
    p = make_problem("rnn", T=5, B=2, H=3)
    with work.use(), pytest.raises(ValueError, match="workspace is in use"):
        bc.bptt(p.spec, p.params, p.x, p.y, workspace=work)
    bc.bptt(p.spec, p.params, p.x, p.y, workspace=work)  # free again


def test_workspace_keeps_the_tape_between_calls():
    work = bc.Workspace()
    p = make_problem("lstm", T=50, B=4, H=8)
    bc.bptt(p.spec, p.params, p.x, p.y, workspace=work)
    assert work.nbytes >= 50 * 4 * 6 * 8 * 8  # gates, c and tanh(c) of every step
    assert len(work.outputs._blocks) == 3  # h, yhat, dh


def test_buffers_grow_and_shrink_by_view():
    w = Workspace()
    a = w.get("t", (5, 2, 3), np.dtype(np.float32))
    b = w.get("t", (3, 2, 3), np.dtype(np.float32))
    assert b.shape == (3, 2, 3) and np.shares_memory(a, b)
    c = w.get("t", (9, 2, 3), np.dtype(np.float32))
    assert c.shape == (9, 2, 3) and not np.shares_memory(a, c)


def test_stacked_matmul_is_one_product_with_the_same_result():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 5, 4)), rng.standard_normal((4, 3))
    out = np.empty((7, 5, 3))
    np.testing.assert_allclose(matmul(a, b), a @ b, rtol=1e-14)
    assert matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-14)
    np.testing.assert_allclose(matmul(a[:, ::2], b), a[:, ::2] @ b, rtol=1e-14)  # not contiguous


def test_output_memory_is_reused_only_after_every_view_is_gone():
    pool = OutputPool(max_bytes=10_000)
    a = pool.empty((10, 10), np.float64)
    a[:] = 1.0
    view = a[3:5, 2]  # a view outlives the array it came from
    del a
    b = pool.empty((10, 10), np.float64)  # the first block is in use: a second one
    b[:] = 2.0
    assert not np.shares_memory(view, b) and np.all(view == 1.0)
    del view
    c = pool.empty((5, 4), np.float32)  # now the first block is free again
    assert c.ctypes.data % OutputPool.ALIGN == 0
    assert len(pool._blocks) == 2
    assert not np.shares_memory(c, b)
    big = pool.empty((2000,), np.float64)  # over the pool's limit: a plain array
    assert big.base is None or not isinstance(big.base, bytearray)


def test_results_survive_later_calls_that_reuse_output_memory():
    """BPTTResult.h and .dh live in recycled blocks: holding only a slice keeps it intact."""
    work = bc.Workspace()
    p = make_problem("rnn", T=20, B=3, H=5, seed=4)
    q = make_problem("rnn", T=20, B=3, H=5, seed=5)
    res = bc.bptt(p.spec, p.params, p.x, p.y, workspace=work)
    dh_slice, h_expected, dh_expected = res.dh[4:9], res.h.copy(), res.dh[4:9].copy()
    h = res.h
    del res
    for _ in range(3):
        other = bc.bptt(q.spec, q.params, q.x, q.y, workspace=work)
        assert not np.shares_memory(other.h, h) and not np.shares_memory(other.dh, dh_slice)
    np.testing.assert_array_equal(h, h_expected)
    np.testing.assert_array_equal(dh_slice, dh_expected)


@pytest.mark.parametrize("checkpoint", [None, "sqrt", "binomial"])
def test_a_dropped_result_frees_its_output_memory_at_once(checkpoint):
    """No reference cycle holds the returned arrays: the next call reuses them without waiting for the GC."""
    p = make_problem("lstm", T=30, B=2, H=4)
    work = bc.Workspace()
    gc.disable()
    try:
        slots = 3 if checkpoint == "binomial" else None
        bc.bptt(p.spec, p.params, p.x, p.y, checkpoint=checkpoint, checkpoint_slots=slots, workspace=work)
        assert work.outputs._blocks
        assert all(OutputPool._free(b) for b in work.outputs._blocks)
    finally:
        gc.enable()


def test_output_pool_takes_the_smallest_free_block_and_makes_room():
    pool = OutputPool(max_bytes=3000)
    big, small = pool.empty((200,), np.float64), pool.empty((20,), np.float64)  # 1664 and 224 bytes
    del big, small
    a = pool.empty((10,), np.float64)  # fits both: takes the small block
    owner = [len(b) for b in pool._blocks if np.shares_memory(a, np.frombuffer(b, np.uint8))]
    assert owner == [224]
    c = pool.empty((300,), np.float64)  # 2464 bytes: too big to add, so the free 1664-byte block goes
    assert [len(b) for b in pool._blocks] == [224, 2464]
    del a, c
