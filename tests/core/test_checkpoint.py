"""Checkpointing: same gradients, memory like sqrt(T), a sawtooth timeline."""

import itertools

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.checkpoint import checkpoint_schedule

from .problems import make_problem


@pytest.mark.parametrize("cell", bc.CELLS)
@pytest.mark.parametrize("checkpoint", ["sqrt", 1, 3, 7, 100])
def test_checkpointed_gradients_equal_full(cell, checkpoint):
    p = make_problem(cell, T=20, B=2, seed=3)
    full = bc.bptt(p.spec, p.params, p.x, p.y)
    ck = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint=checkpoint)
    assert ck.loss == full.loss
    np.testing.assert_allclose(ck.dh, full.dh, rtol=1e-12, atol=0)
    for key in full.grads:
        assert bc.relative_error(ck.grads[key], full.grads[key]) < 1e-12, key


def test_checkpoint_combines_with_truncation_and_clip():
    p = make_problem("lstm", T=17, seed=4)
    kw = {"truncation": 4, "clip": 0.05, "mask": (np.arange(17)[:, None] < [17, 11]).astype(float)}
    full = bc.bptt(p.spec, p.params, p.x, p.y, **kw)
    ck = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint=5, **kw)
    for key in full.grads:
        assert bc.relative_error(ck.grads[key], full.grads[key]) < 1e-12, key


@pytest.mark.parametrize("cell", bc.CELLS)
def test_sqrt_checkpoint_memory_grows_like_sqrt_T(cell):
    ratios, peaks = [], {}
    for T in (16, 256, 1024):
        p = make_problem(cell, T=T, B=2, I=2, H=8, O=1, seed=5)
        full = bc.bptt(p.spec, p.params, p.x, p.y)
        ck = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="sqrt")
        peaks[T] = ck.memory_bytes
        ratios.append(ck.memory_bytes / full.memory_bytes)
        assert full.memory_bytes >= T * 2 * 8 * 8  # at least one (B, H) float64 array per step
    # 16x more steps: the full tape grows 16x, the checkpointed peak about 4x (sqrt)
    assert peaks[1024] / peaks[256] == pytest.approx(2.0, rel=0.1)
    assert peaks[256] / peaks[16] == pytest.approx(4.0, rel=0.25)
    assert ratios[0] > ratios[1] > ratios[2]


def test_memory_timeline_is_a_sawtooth_under_checkpointing():
    p = make_problem("rnn", T=16, B=1, I=1, H=2, O=1, seed=6)
    res = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint=4)
    phases = [ph for ph, _, _ in res.memory_timeline]
    assert phases.count("forward") == 16 and phases.count("backward") == 16 and phases.count("recompute") == 16
    held = [b for _, _, b in res.memory_timeline]
    assert held[15] == 4 * 2 * 8  # forward kept only the four checkpoints
    backward = [b for ph, _, b in res.memory_timeline if ph != "forward"]
    rises = sum(1 for a, b in itertools.pairwise(backward) if b > a)
    falls = sum(1 for a, b in itertools.pairwise(backward) if b < a)
    assert rises >= 12 and falls >= 12  # four teeth: recompute up, backward down
    assert res.memory_timeline[-1][2] == 0
    assert res.recomputed_steps == 16


def test_full_storage_timeline_rises_then_falls():
    p = make_problem("gru", T=10, seed=7)
    res = bc.bptt(p.spec, p.params, p.x, p.y)
    held = [b for _, _, b in res.memory_timeline]
    assert held[:10] == sorted(held[:10]) and held[10:] == sorted(held[10:], reverse=True)
    assert max(held) == res.memory_bytes
    assert res.memory_timeline[-1][2] == 0
    assert set(res.memory_by_tensor) == {"inputs x", "hidden states h", "gate activations", "pre-activations / tanh(c)"}
    assert sum(res.memory_by_tensor.values()) == res.memory_bytes
    assert res.param_bytes == 8 * p.spec.n_params() == res.grad_bytes


def test_schedule_covers_the_sequence():
    for T in (1, 2, 9, 10, 1000):
        for ck in (None, "sqrt", 1, 3, 2000):
            segs = checkpoint_schedule(T, ck)
            assert segs[0][0] == 0 and segs[-1][1] == T
            assert all(a < b for a, b in segs) and all(s[1] == n[0] for s, n in itertools.pairwise(segs))


def test_timeline_by_tensor_adds_up_to_the_total():
    p = make_problem("lstm", T=12, seed=8)
    for ck in (None, 3):
        res = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint=ck)
        assert len(res.memory_timeline_by_tensor) == len(res.memory_timeline)
        for (_, _, total), groups in zip(res.memory_timeline, res.memory_timeline_by_tensor):
            assert sum(groups.values()) == total


@pytest.mark.parametrize("cell", bc.CELLS)
def test_truncation_holds_one_window_of_tape(cell):
    p = make_problem(cell, T=40, B=2, seed=9)
    full = bc.bptt(p.spec, p.params, p.x, p.y)
    cut = bc.bptt(p.spec, p.params, p.x, p.y, truncation=8)
    # one window of 8 steps (plus the state entering it) instead of 40 steps
    assert cut.memory_bytes < full.memory_bytes * 9.5 / 40
    phases = "".join(ph[0] for ph, _, _ in cut.memory_timeline)
    assert phases == ("f" * 8 + "b" * 8) * 5  # forward and backward alternate window by window
    assert cut.memory_timeline[-1][2] == 0
