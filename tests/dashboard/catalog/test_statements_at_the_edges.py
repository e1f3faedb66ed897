"""Each statement an expert audit found false (issue 24), at the setting that showed it, checked against the
engine's own numbers: one test per item, each failing on the code before its fix."""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc
from dashboard.catalog import compute, memory, memory_panels, panels, verdict
from dashboard.catalog import sections as catalog
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS
from dashboard.learning import tour
from dashboard.vocabulary.numbers import human_bytes, readable
from dashboard.vocabulary.quantities import QUANTITIES, label


def test_1_a_bidirectional_total_gradient_is_the_total_not_the_readout_gradient():
    config = RunConfig(T=40, bidirectional=True, init="orthogonal", scale=0.9)
    res = compute.run(config)
    panel = panels.gradient_norms(config, res, compute.last_loss_gradient(config))
    total = np.linalg.norm(res.dh_layers[0, :, 0].reshape(2, -1), axis=1)  # both directions at t = 0
    readout = np.linalg.norm(res.dh[0, :, : config.hidden_size])
    assert panel.data["total_gradient"][0] == pytest.approx(total[0], rel=1e-12)
    assert panel.data["total_gradient_reverse"][0] == pytest.approx(total[1], rel=1e-12)
    assert not np.isclose(panel.data["total_gradient"][0], readout)  # what the page drew before


def test_2_truncation_cuts_the_last_loss_and_the_verdict_reads_its_window():
    config = RunConfig(T=40, truncation=8)
    curve = compute.last_loss_gradient(config)
    assert not np.any(curve[:32]) and np.all(curve[32:] > 0)
    v = verdict.verdict(config, curve, compute.spectral(config), compute.run(config))
    assert v.start == 32 and "start of the last truncation window" in v.detail
    # the truncated run's own gradient at h_31 is 0 for the last loss: l_39 alone through bptt
    weights = np.zeros((40, config.batch_size))
    weights[-1] = 1
    p = compute.problem(config)
    one = bc.bptt(p.spec, p.params, p.x, p.y, mask=weights, truncation=8, reduction="sum")
    assert not np.any(one.dh_layers[0, 0, :32])


def test_3_the_cell_comparison_ranks_by_the_last_loss_not_by_the_propped_up_total():
    config = RunConfig(T=100, forget_bias=3.0)
    panel = panels.comparison(config, compute.cell_comparison(config))
    reach = {
        c: part["last_loss_gradient"].iloc[0] / part["last_loss_gradient"].iloc[-1]
        for c, part in panel.data.groupby("cell")
    }
    assert reach["lstm"] > 1e-4 > reach["gru"]  # the total gradient named the GRU; the last loss keeps the LSTM's
    assert f"here the {VIEWS[max(reach, key=reach.get)].label} carries the most" in panel.caption


def test_4_recomputed_steps_in_a_stack_count_only_recomputation():
    config = RunConfig(num_layers=2, T=100)
    scaling = memory.memory_scaling(config)
    i = list(scaling["T"]).index(100)
    runs = memory.strategy_runs(config)
    assert scaling["full storage recomputed"][i] == 0
    sqrt = runs["checkpoint sqrt(T)"]
    assert scaling["checkpoint sqrt(T) recomputed"][i] == sqrt.forward_steps - 100 * 2
    caption = memory_panels.memory_vs_length(config, scaling).caption
    assert f"runs {sqrt.forward_steps - 200} recomputed steps at T = 100" in caption


def test_5_the_truncation_study_says_when_its_error_is_not_monotone():
    config = RunConfig(cell="gru", T=40, batch_size=1, seed=6, signal="tokens", delay=1)
    study = compute.truncation(config, ks=tuple(range(1, 41)))
    caption = panels.truncation_caption(panels.truncation(config, study).data)
    err = study.relative_error
    tail = int(np.flatnonzero(err >= 0.01)[-1]) + 1
    assert f"below 1% for every k ≥ {study.ks[tail]}" in caption and "not monotone" in caption
    assert "first falls" not in caption


def test_6_a_phase_row_that_flips_back_is_not_one_flip():
    config = RunConfig(hidden_size=24, seed=2676)
    panel = panels.phase(config, compute.phase_diagram(config))
    longest = panel.data[(panel.data["T"] == panel.data["T"].max()) & panel.data["radius"].notna()]
    for cell, part in longest.groupby("cell"):
        v = part.sort_values("radius")["log10_ratio"].to_numpy()
        flips = int(np.sum(np.diff((np.isnan(v) | (v >= 0)).astype(int)) != 0))
        if flips > 1:
            assert f"{VIEWS[cell].label} does not vanish for ρ in" in panel.caption
            assert f"flips {flips} times" in panel.caption
    assert "the sign flips between" not in panel.caption


@pytest.mark.parametrize("options", [{"clip": 0.01}, {"truncation": 5}, {"clip": 0.01, "truncation": 7}])
def test_7_itemised_dwhh_adds_up_to_this_runs_clipped_truncated_gradient(options):
    config = RunConfig(T=30, **options)
    run = compute.run(config)
    panel = panels.itemised(config, compute.contributions(config), clip_coef=run.clip_coef)
    norm = np.linalg.norm(run.grads["weight_hh_l0"])
    assert panel.data["share"].sum() == pytest.approx(norm, rel=1e-8)
    assert f"{label('itemised_norm')} = {norm:.4g}" in panel.caption
    assert ("clipping" in panel.caption) == ("clip" in options)
    assert ("truncated every k" in panel.caption) == ("truncation" in options)


def test_8_per_step_terms_of_a_stack_are_the_top_layers_and_say_so():
    config = RunConfig(num_layers=3, T=20, clip=0.5)
    run = compute.run(config)
    panel = panels.contributions(config, run)
    expected = run.step_contributions["weight_hh_l2"] * run.clip_coef
    np.testing.assert_allclose(panel.data["weight_hh"], expected, rtol=1e-12)
    assert "top layer's (layer 2)" in panel.caption


def test_9_a_gated_cells_eigenvalues_do_not_set_the_long_run():
    config = RunConfig(cell="lstm", forget_bias=5.0, init="spectral", scale=0.3, T=200)
    caption = panels.eigenvalues(config, compute.spectral(config)).caption
    assert "do not set the long run" in caption and "sets the long run" not in caption
    v = verdict.verdict(config, compute.last_loss_gradient(config), compute.spectral(config))
    assert v.per_step > 0.9  # the forget gate holds the gradient although ρ(W_hh) = 0.3


def test_10_one_peak_held_and_a_tape_for_the_vanilla_rnn():
    config = RunConfig()
    stored = compute.stored_run(config)
    panel = catalog.page_panels("memory", config)["memory_by_tensor"]
    assert "hidden states h" in panel.caption  # the stored h are tape, not "returned sequences"
    assert f"peak held by the whole pass: {human_bytes(stored.memory_bytes)}" in panel.caption
    timelines = catalog.page_panels("memory", config)["memory_timelines"]
    assert "stores" in timelines.caption and "of what full storage stores" in timelines.caption
    assert "saves" not in timelines.caption  # the measured peak's share is a different quantity, named apart


def test_11_no_exponent_of_nan_when_a_run_overflows():
    config = RunConfig(activation="linear", init="spectral", scale=3.0, T=1000)
    panels_ = catalog.page_panels("memory", config, section="length")
    assert all("nan" not in p.caption for p in panels_.values())


def test_15_a_constant_loss_has_no_gradient_not_a_short_sequence():
    config = RunConfig(loss="cross_entropy", output_size=1, T=20)
    v = verdict.verdict(config, compute.last_loss_gradient(config), compute.spectral(config), compute.run(config))
    assert v.label == "no gradient" and "one step only" not in v.detail


@pytest.mark.parametrize("T", [3, 4])
def test_16_a_short_decaying_sequence_states_its_rate_and_where_it_would_vanish(T):
    config = RunConfig(activation="sigmoid", T=T)
    v = verdict.verdict(config, compute.last_loss_gradient(config), compute.spectral(config))
    assert v.per_step < 1
    if v.label == "holds":
        assert "at this rate it would fall below 10⁻² after" in v.detail
    assert "sufficient condition for vanishing holds" in v.detail


@pytest.mark.parametrize("T", [600, 1000])
def test_17_long_sequences_read_in_log_space(T):
    config = RunConfig(T=T)
    curve = compute.last_loss_gradient(config)
    v = verdict.verdict(config, curve, compute.spectral(config))
    assert v.label == "vanishing" and 0 < v.per_step < 1 and "×0 " not in v.detail
    jp_rate = np.exp(verdict.jacobian_summary(compute.jacobians(config)).rate)
    assert 0.5 * jp_rate < v.per_step < 1.5 * jp_rate  # two quantities, both near the same decay
    positive = np.flatnonzero(curve > 0)
    assert positive[0] < 450  # the squared norm no longer underflows at t ≈ 420
    if positive[0] > 0:
        caption = panels.gradient_norms(config, compute.run(config), curve).caption
        assert "float64's smallest number" in caption


def test_18_no_label_names_two_quantities():
    labels = [q.label for q in QUANTITIES.values()]
    assert len(labels) == len(set(labels))
    assert label("jacobian_growth") != label("last_loss_decay")


def test_19_tour_scenes_say_what_their_network_does():
    exploding = next(s for s in tour.SCENES if s.key == "exploding")
    after = exploding.notice(exploding.changed())
    assert "tanh" in after and "A linear RNN" not in after
    memory_scene = next(s for s in tour.SCENES if s.key == "memory")
    stored = compute.stored_run(memory_scene.config())
    unroll_bar = catalog.page_panels("unroll", memory_scene.config())["unroll_animation"]
    assert human_bytes(stored.stored_bytes) in memory_scene.notice(memory_scene.config())
    bars = [d.x[0] for f in unroll_bar.figure.frames for d in f.data if d.type == "bar"]
    assert max(bars) == stored.stored_bytes  # the Unroll page's memory bar peaks at the scene's number
    jac = next(s for s in tour.SCENES if s.key == "jacobians")
    _, before, _ = tour.outcome(jac)
    assert jac.shown(before).startswith("×") and "-0." not in jac.shown(before)
    fresh = tour.differences(tour.SCENES[0].config(), RunConfig())
    assert "T 6 here, 30 in the sidebar" in fresh


def test_22_the_overview_says_why_the_last_loss_ends_above_the_total():
    for reduction in ("mean", "sum"):
        config = RunConfig(reduction=reduction, ragged=True)
        res = compute.run(config)
        last = compute.last_loss_gradient(config)
        caption = panels.gradient_norms(config, res, last).caption
        end = int(np.flatnonzero(last)[-1])
        mask = compute.problem(config).mask
        weight = bc.losses.token_weights(mask, reduction)[end].sum()
        ratio = last[end] / np.linalg.norm(res.dh_layers[0, 0, end])
        assert ratio == pytest.approx(1 / weight, rel=1e-9)
        assert f"L counts l_T with weight 1/{readable(ratio)}" in caption
