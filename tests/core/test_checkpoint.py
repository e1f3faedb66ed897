"""Checkpointing and truncation: the same gradients in every combination, revolve's counts, honest timelines."""

import itertools
from math import comb

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.checkpoint import binomial_plan, checkpoint_schedule, plan

from .problems import CELL_ACTIVATIONS, directional_error, make_problem

MODES = [{}, {"checkpoint": "sqrt"}, {"checkpoint": 1}, {"checkpoint": 3}] + [
    {"checkpoint": "binomial", "checkpoint_slots": s} for s in (1, 2, 3, 8)
]
STORED_GROUPS = ("checkpoints", "hidden states h", "cell states c", "gate activations", "pre-activations / tanh(c)")


def ragged(T: int, B: int) -> np.ndarray:
    return (np.arange(T)[:, None] < np.linspace(T, T // 2, B).astype(int)[None]).astype(float)


@pytest.mark.parametrize(("cell", "activation"), CELL_ACTIVATIONS)
@pytest.mark.parametrize("truncation", [None, 4, 6])
@pytest.mark.parametrize("masked", [False, True])
def test_every_memory_mode_gives_the_full_gradient(cell, activation, truncation, masked):
    """cell x truncation x checkpoint mode x mask: each mode equals full storage (to rounding), and full
    storage matches central differences (truncated BPTT is a biased gradient by design: its parity with
    ``h.detach()`` is in test_torch_parity). The LSTM + truncation + binomial case once lost its cell state."""
    p = make_problem(cell, activation, T=17, B=3, seed=11)
    kw = {"truncation": truncation, "mask": ragged(17, 3) if masked else None}
    full = bc.bptt(p.spec, p.params, p.x, p.y, **kw)
    if truncation is None:
        assert directional_error(p.spec, p.params, p.x, p.y, seed=3, **kw) < 1e-6
    for mode in MODES:
        res = bc.bptt(p.spec, p.params, p.x, p.y, **kw, **mode)
        assert res.loss == pytest.approx(full.loss, rel=1e-13), mode
        np.testing.assert_allclose(res.dh, full.dh, rtol=1e-11, atol=1e-15, err_msg=str(mode))
        for key in full.grads:
            assert bc.relative_error(res.grads[key], full.grads[key]) < 1e-11, (mode, key)


def revolve_extra_steps(steps: int, snaps: int) -> int:
    """Griewank & Walther's ``numforw`` (revolve) minus the T - 1 advances of the forward sweep: the
    forward steps run again, written out here from the published formula."""
    reps, range_ = 0, 1
    while range_ < steps:
        reps += 1
        range_ = range_ * (reps + snaps) // reps
    return max(reps * steps - range_ * reps // (snaps + 1) - (steps - 1), 0)


@pytest.mark.parametrize("T", [1, 2, 3, 7, 10, 33, 100, 257, 1000])
@pytest.mark.parametrize("slots", [1, 2, 3, 5, 8, 40])
def test_binomial_plan_recomputes_revolves_minimum(T, slots):
    schedule = binomial_plan(T, slots)
    assert schedule.recomputed_steps == revolve_extra_steps(T, slots)
    if slots >= T - 1:
        assert schedule.recomputed_steps == 0
    assert len(schedule.stored) <= slots


@pytest.mark.parametrize(("T", "slots"), [(7, 1), (20, 3), (33, 2), (64, 5), (120, 8), (40, 39)])
def test_engine_runs_the_plan(T, slots):
    """The engine's counts are the plan's; the states held at once never exceed the slots."""
    p = make_problem("lstm", T=T, B=2, I=2, H=3, O=2, seed=T)
    res = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="binomial", checkpoint_slots=slots, return_sequences=False)
    assert res.recomputed_steps == revolve_extra_steps(T, slots)
    assert res.forward_steps == plan(T, "binomial", slots).forward_steps
    state_bytes = 2 * 2 * 3 * 8  # h and c, B = 2, H = 3, float64
    held = [g.get("checkpoints", 0) for g in res.memory_timeline_by_tensor]
    assert max(held) <= slots * state_bytes


def test_more_slots_never_recompute_more():
    p = make_problem("rnn", T=60, seed=4)
    counts = [
        bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="binomial", checkpoint_slots=s).recomputed_steps
        for s in range(1, 9)
    ]
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[0] / 5
    with pytest.raises(ValueError, match="checkpoint_slots"):
        bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="binomial")
    with pytest.raises(ValueError, match="checkpoint_slots"):
        bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="sqrt", checkpoint_slots=3)


def stored(groups: dict) -> int:
    """Bytes kept for backward: tape and checkpoints (the fixed buffers left out)."""
    return sum(groups.get(g, 0) for g in STORED_GROUPS)


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_sqrt_checkpoint_memory_grows_like_sqrt_T(cell):
    peaks = {}
    for T in (64, 256, 1024):
        p = make_problem(cell, T=T, B=2, I=2, H=8, O=1, seed=5)
        ck = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint="sqrt", return_sequences=False)
        peaks[T] = max(stored(g) for g in ck.memory_timeline_by_tensor)
    assert peaks[1024] / peaks[256] == pytest.approx(2.0, rel=0.15)
    assert peaks[256] / peaks[64] == pytest.approx(2.0, rel=0.15)


def test_memory_timeline_is_a_sawtooth_under_checkpointing():
    p = make_problem("rnn", T=16, B=1, I=1, H=2, O=1, seed=6)
    res = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint=4, return_sequences=False)
    phases = [ph for ph, _, _ in res.memory_timeline]
    # the sweep keeps the last segment's tape, so only the first three are run again
    assert phases.count("forward") == 16 and phases.count("backward") == 16 and phases.count("recompute") == 12
    assert res.recomputed_steps == 12 and res.forward_steps == 28
    held = [stored(g) + g.get("layer outputs", 0) for g in res.memory_timeline_by_tensor]  # a stack keeps its h
    assert held[15] == 3 * 2 * 8 + 5 * 2 * 8  # three checkpoints and the last segment's five h rows
    backward = held[16:]
    rises = sum(1 for a, b in itertools.pairwise(backward) if b > a)
    falls = sum(1 for a, b in itertools.pairwise(backward) if b < a)
    assert rises >= 9 and falls >= 12
    assert held[-1] == 0


def test_full_storage_timeline_rises_then_falls():
    p = make_problem("gru", T=10, seed=7)
    res = bc.bptt(p.spec, p.params, p.x, p.y, return_sequences=False)
    held = [stored(g) + g.get("layer outputs", 0) for g in res.memory_timeline_by_tensor]  # a stack keeps its h
    assert held[:10] == sorted(held[:10]) and held[10:] == sorted(held[10:], reverse=True)
    assert held[-1] == 0
    taped = {group for group, nbytes in res.memory_timeline_by_tensor[9].items() if nbytes}  # the sweep's end
    assert {"hidden states h", "gate activations", "pre-activations / tanh(c)", "gradients", "scratch"} <= taped
    assert sum(res.memory_by_tensor.values()) == res.memory_bytes
    assert res.param_bytes == 8 * p.spec.n_params() == res.grad_bytes


def test_timeline_by_tensor_adds_up_to_the_total():
    p = make_problem("lstm", T=12, seed=8)
    for ck in (None, 3):
        res = bc.bptt(p.spec, p.params, p.x, p.y, checkpoint=ck)
        assert len(res.memory_timeline_by_tensor) == len(res.memory_timeline)
        for (_, _, total), groups in zip(res.memory_timeline, res.memory_timeline_by_tensor):
            assert sum(groups.values()) == total


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_truncation_holds_one_window_of_tape(cell):
    p = make_problem(cell, T=40, B=2, seed=9)
    full = bc.bptt(p.spec, p.params, p.x, p.y, return_sequences=False)
    cut = bc.bptt(p.spec, p.params, p.x, p.y, truncation=8, return_sequences=False)
    peak = lambda r: max(stored(g) for g in r.memory_timeline_by_tensor)  # noqa: E731
    assert peak(cut) <= peak(full) * 9 / 40  # one window of 8 steps (plus the state entering it)
    phases = "".join(ph[0] for ph, _, _ in cut.memory_timeline)
    assert phases == ("f" * 8 + "b" * 8) * 5  # forward and backward alternate window by window


def test_schedule_covers_the_sequence():
    for T in (1, 2, 9, 10, 1000):
        for ck in (None, "sqrt", 1, 3, 2000):
            segs = checkpoint_schedule(T, ck)
            assert segs[0][0] == 0 and segs[-1][1] == T
            assert all(a < b for a, b in segs) and all(s[1] == n[0] for s, n in itertools.pairwise(segs))


def test_revolve_formula_agrees_with_the_closed_form():
    """The count in the tests and Griewank's proposition p(l, s) = r l - C(s + r, s + 1) agree."""
    for l in range(2, 200):
        for s in range(1, 9):
            r = next(r for r in itertools.count() if comb(s + r, s) >= l)
            assert revolve_extra_steps(l, s) == max(r * l - comb(s + r, s + 1) - (l - 1), 0)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("checkpoint", [None, 3, "binomial"])
def test_timeline_by_layer_splits_the_stored_bytes(bidirectional, checkpoint):
    spec = bc.RNNSpec("gru", 2, 3, 2, num_layers=3, bidirectional=bidirectional)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((11, 2, 2)), rng.standard_normal((11, 2, 2))
    params = bc.init_params(spec, seed=4)
    slots = 3 if checkpoint == "binomial" else None
    res = bc.bptt(spec, params, x, y, checkpoint=checkpoint, checkpoint_slots=slots, return_sequences=False)
    by_layer = res.memory_timeline_by_layer
    assert sorted(by_layer) == [(l, d) for l in range(3) for d in range(spec.directions)]
    held = [stored(g) + g.get("layer outputs", 0) for g in res.memory_timeline_by_tensor]  # a stack keeps its h
    assert np.array_equal(np.sum(list(by_layer.values()), axis=0), held)
    phases = np.array([ph for ph, _, _ in res.memory_timeline])
    first_back = np.flatnonzero(phases == "backward")[0]
    assert all(by_layer[0, d][first_back - 1] > 0 for d in range(spec.directions))  # every layer holds before backward
    ends = {o: np.flatnonzero(np.array(v) > 0)[-1] for o, v in by_layer.items()}
    assert ends[2, 0] < ends[1, 0] < ends[0, 0]  # backward frees the top layer first
    assert sum(res.ledger.peak_by_owner.values()) <= res.stored_bytes
