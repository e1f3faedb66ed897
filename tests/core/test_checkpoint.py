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


def griewank_forward_steps(l: int, s: int) -> int:
    """Griewank & Walther (2000), Proposition: p(l, s) = r l - beta(s + 1, r - 1) for s checkpoints,
    with beta(s, r) = C(s + r, s) and beta(s, r - 1) < l <= beta(s, r); written out here independently."""
    from math import comb

    r = 0
    while comb(s + r, s) < l:
        r += 1
    return r * l - comb(s + r, s + 1)


@pytest.mark.parametrize(("T", "slots"), [(1, 1), (2, 1), (7, 1), (10, 2), (20, 3), (33, 2), (50, 4), (64, 5),
                                          (100, 3), (120, 8), (200, 6)])
def test_binomial_schedule_recomputes_the_binomial_optimum_and_keeps_gradients(T, slots):
    p = make_problem("lstm", T=T, B=2, I=2, H=3, O=2, seed=T)
    full = bc.bptt(p.spec, p.params, p.x, p.y)
    res = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="binomial", checkpoint_slots=slots)
    # the reverse sweep computes each step's cache once (T) plus Griewank's repetitions with `slots` states
    expected = T * (T + 1) // 2 if slots == 1 else T + griewank_forward_steps(T, slots)
    assert res.recomputed_steps == expected
    for key in full.grads:
        assert bc.relative_error(res.grads[key], full.grads[key]) < 1e-12, key
    np.testing.assert_allclose(res.dh, full.dh, rtol=1e-12, atol=0)
    state = p.spec.hidden_size * 2 * 8 * 2  # h and c of B = 2 sequences, float64
    assert res.memory_bytes <= slots * state + max(full.memory_bytes // T * 2, 1)  # states + about one cache
    assert res.memory_timeline[-1][2] == 0


def test_binomial_schedule_with_truncation_clip_and_mask():
    p = make_problem("gru", T=30, seed=3)
    kw = {"truncation": 7, "clip": 0.1, "mask": (np.arange(30)[:, None] < [30, 19]).astype(float)}
    full = bc.bptt(p.spec, p.params, p.x, p.y, **kw)
    res = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="binomial", checkpoint_slots=2, **kw)
    for key in full.grads:
        assert bc.relative_error(res.grads[key], full.grads[key]) < 1e-12, key


def test_more_slots_never_recompute_more():
    p = make_problem("rnn", T=60, seed=4)
    counts = [bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="binomial", checkpoint_slots=s).recomputed_steps
              for s in range(1, 9)]
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[0] / 5  # 1830 -> 185 steps
    with pytest.raises(ValueError, match="checkpoint_slots"):
        bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="binomial")
    with pytest.raises(ValueError, match="checkpoint_slots"):
        bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="sqrt", checkpoint_slots=3)
