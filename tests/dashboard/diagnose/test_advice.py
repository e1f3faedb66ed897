"""The advice: rules written down once (docs/diagnosis.md generated from them), memory advice only with
evidence that the task needs memory, explosions never told to remember, every rule's numbers reported."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

import bptt_core as bc
from bench import zoo
from dashboard.diagnose import rules_doc
from dashboard.diagnose.advice import OPS, RULES, diagnose
from dashboard.diagnose.demos import builtin_sequences, demo_model
from dashboard.diagnose.measurements import layer_summary, reach
from dashboard.diagnose.model_files import read_model
from dashboard.diagnose.panels import lyapunov_panel, rules_table, to_json
from dashboard.diagnose.sequence_files import read_sequences

from .uploads import npz

DOC = Path(__file__).parents[3] / "docs" / "diagnosis.md"
MEMORY_RULES = {"gated_cell", "forget_bias", "orthogonal"}


def test_the_doc_is_generated_from_the_rules_and_current():
    text = rules_doc.render()
    if os.environ.get("DIAGNOSIS_DOC_WRITE"):
        DOC.write_text(text)
    assert DOC.read_text() == text, "docs/diagnosis.md is out of date: rerun with DIAGNOSIS_DOC_WRITE=1"
    for rule in RULES:  # each rule, its recommendation and every threshold, once
        assert text.count(f"### `{rule.name}` ({rule.kind})") == 1 and rule.recommends in text
        for c in rule.conditions:
            assert f"| `{c.key}` | {c.label} | {rules_doc._threshold(c)} |" in text


def _fired(report) -> set:
    return {c.rule for c in report.checks if c.fired}


def _specimen_report(specimen: zoo.Specimen):
    weights, forward = zoo.train(specimen)
    inputs, targets = zoo.user_files(specimen)
    model = read_model(weights, name="model.pt")
    seqs = read_sequences(inputs, "seqs.npz", model, batch_first=False, targets=targets or None,
                          targets_name="targets.npy")  # fmt: skip
    return diagnose(model, seqs), zoo.explained(forward, zoo.sequences(specimen, 256, seed=7))


def test_a_healthy_gru_with_a_short_horizon_gets_no_memory_advice():
    """Issue 28's case, smaller: a 2-layer GRU trained with torch to give the sum of the last three inputs,
    T = 50. Its gradients fade within about a dozen steps of 50, and it solved its task: nothing to change."""
    pytest.importorskip("torch")
    gru = dataclasses.replace(zoo.ZOO[0], hidden=8, iterations=100, lr=3e-2)
    assert (gru.cell, gru.layers, gru.task, gru.T) == ("gru", 2, "lagsum", 50)
    report, held_out = _specimen_report(gru)
    assert held_out > 0.9  # the truth: it solved the task on sequences it never saw
    assert report.recommendations == [] and not (_fired(report) & MEMORY_RULES)
    medians = np.median(report.horizon, axis=2)
    assert np.all(medians < report.T / 2)  # the short horizon that used to trigger memory advice
    memory = next(c for c in report.checks if c.rule == "gated_cell")
    shares = {row["key"]: row for row in memory.rows}
    assert shares["memory_share"]["value"] < 0.01 and not shares["memory_share"]["met"]


@pytest.mark.parametrize("seed", range(5))
def test_an_exploding_rnn_gets_clipping_and_rescaling_never_memory_advice(seed):
    """Issue 28's exploding RNN: W_hh = 2.5 Q, five sequences of 60 steps with targets at every step that need
    memory (a running sum). Some sequences are chaotic, most are not: the worst sequence decides, and the
    memory rules stay silent whatever the horizons of the others say."""
    spec = bc.RNNSpec("rnn", 2, 16, 1)
    params = bc.init_params(spec, seed=seed)
    params["weight_hh_l0"] = 2.5 * bc.orthogonal(16, np.random.default_rng(seed))
    arrays = {f"rnn.{k}": v for k, v in params.items() if not k.endswith("_out")}
    arrays |= {"fc.weight": params["weight_out"], "fc.bias": params["bias_out"]}
    model = read_model(npz(**arrays))
    rng = np.random.default_rng(seed + 10)
    x = rng.standard_normal((60, 5, 2))
    y = np.cumsum(x[..., :1], axis=0) / 5
    report = diagnose(model, read_sequences(npz(inputs=x, targets=y), "d.npz", model, batch_first=False))
    assert {"clip", "rescale"} <= _fired(report) and not (_fired(report) & MEMORY_RULES)
    clip = next(r for r in report.recommendations if r.rule == "clip")
    lam = report.lyapunov[0, 0, :, 0]
    assert clip.evidence["lyapunov_1_worst"] == pytest.approx(lam.max())
    assert clip.evidence["lyapunov_1_median"] == pytest.approx(np.median(lam))
    assert f"{lam.max():+.3f}" in clip.why and f"median {np.median(lam):+.3f}" in clip.why
    caption = lyapunov_panel(report).caption  # the spread is shown, not one average
    assert f"λ₁ median {np.median(lam):+.3f}, largest {lam.max():+.3f}" in caption
    assert f"({np.sum(lam > 0)} of 5 sequences above 0)" in caption
    dynamics = to_json(report)["dynamics"][0]
    assert dynamics["lyapunov_1"] == [pytest.approx(np.median(lam)), pytest.approx(lam.max())]
    assert np.array(to_json(report)["lyapunov_per_sequence"]).shape == (1, 1, 5, 8)


@pytest.mark.parametrize("seed", range(3))
def test_each_demo_on_the_adding_problem_gets_the_advice_its_construction_needs(seed):
    """The page's demos, scored on the built-in adding problem (which needs memory across the sequence): the
    vanishing RNN is told to use a gated cell, with the window of inputs its errors depend on; the exploding one
    to clip at its batches' median norm; the healthy LSTM (forget-gate bias 3, horizon beyond T) nothing."""
    advice = {}
    for kind in ("vanishing", "exploding", "healthy"):
        model = read_model(demo_model(kind, seed=seed))
        advice[kind] = diagnose(model, builtin_sequences(model, "adding", 60, 64, seed=seed))
    vanish = advice["vanishing"].recommendations
    assert [r.rule for r in vanish] == ["gated_cell"] and vanish[0].what.startswith("Use an LSTM or GRU")
    assert vanish[0].evidence["memory_share"] > 0.5 and vanish[0].evidence["window"][1] > vanish[0].evidence["reach"]
    clip = advice["exploding"].recommendations[0]
    assert clip.rule == "clip" and f"{clip.evidence['median_norm']:.3g}" in clip.what
    assert advice["healthy"].recommendations == []


def test_without_targets_memory_is_not_measured_and_never_advised():
    model = read_model(demo_model("vanishing"))
    report = diagnose(model, builtin_sequences(model, "random", 60, 16))
    assert report.memory is None and not (_fired(report) & MEMORY_RULES)
    table = rules_table(report)
    rows = table[(table["rule"] == "gated_cell") & (table["condition"].str.startswith("share of the task"))]
    assert rows["value"].tolist() == ["not measured"] and rows["met"].tolist() == ["no"]


def test_every_rule_reports_its_numbers_fired_or_not_and_each_verdict_follows_its_threshold():
    model = read_model(demo_model("vanishing"))
    report = diagnose(model, builtin_sequences(model, "adding", 60, 64))
    assert [c.rule for c in report.checks] == [r.name for r in RULES]
    for check, rule in zip(report.checks, RULES):
        assert [row["key"] for row in check.rows] == [c.key for c in rule.conditions]
        for row in check.rows:
            value = row["value"]
            assert row["met"] == (value is not None and bool(OPS[row["op"]](value, row["threshold"])))
        met = [row["met"] for row in check.rows]
        assert check.fired == (all(met) if rule.logic == "all" else any(met))
    table = rules_table(report)
    assert set(table["rule"]) == {r.name for r in RULES} and {"yes", "no"} == set(table["fired"])
    assert len(to_json(report)["rules"]) == len(RULES)


def test_a_layer_that_passes_little_gradient_down_is_named_the_bottleneck():
    """Shrinking the weights from layer 1 into layer 2 starves layers 0 and 1 of gradient: layer 1, the highest
    starved one, is named (its supply is layer 2's W_ih), with the ratio of the medians the heat map shows; with
    ordinary weights no layer is. The targets depend on the last two inputs, which the model fails to give."""
    spec = bc.RNNSpec("gru", 3, 8, 2, num_layers=3)
    params = bc.init_params(spec, seed=0)
    x = np.random.default_rng(0).standard_normal((30, 8, 3))
    y = x[..., :2].copy()
    y[1:] += x[:-1, :, :2]

    def advice(p):
        arrays = {f"rnn.{k}": v for k, v in p.items() if not k.endswith("_out")}
        arrays |= {"fc.weight": p["weight_out"], "fc.bias": p["bias_out"]}
        model = read_model(npz(**arrays))
        report = diagnose(model, read_sequences(npz(inputs=x, targets=y), "d.npz", model, batch_first=False))
        return report, [r for r in report.recommendations if r.rule == "bottleneck"]

    report, found = advice(params)
    assert found == []
    report, found = advice({**params, "weight_ih_l2": 1e-3 * params["weight_ih_l2"]})
    assert len(found) == 1 and found[0].evidence["layer"] == 1 and found[0].evidence["starved"] == [0, 1]
    assert "layer 2's W_ih" in found[0].what
    medians = [np.median(report.dh_norms[l, 0]) for l in range(3)]
    assert found[0].evidence["ratio"] == pytest.approx(medians[2] / medians[1], rel=1e-9)


def test_the_reach_adds_each_layers_longest_median_horizon_and_a_curve_that_does_not_decay_reaches_all():
    model = read_model(demo_model("vanishing"))
    report = diagnose(model, builtin_sequences(model, "adding", 30, 8))
    horizons = np.array([[[3.0, 5.0, 4.0, np.inf], [9.0, 8.0, 7.0, 6.0]], [[2.0, 2.0, 3.0, 3.0], [1.0, 1.0, 1.0, 1.0]]])
    stacked = dataclasses.replace(report, horizon=horizons, spec=bc.RNNSpec("rnn", 2, 16, 1, num_layers=2,
                                                                            bidirectional=True))  # fmt: skip
    assert reach(stacked) == 7.5 + 2.5  # layer 0: max(4.5, 7.5); layer 1: max(2.5, 1)
    assert reach(dataclasses.replace(stacked, horizon=np.where(horizons == 9.0, np.inf, horizons))) == 7.5 + 2.5
    assert reach(dataclasses.replace(stacked, horizon=np.full_like(horizons, np.inf))) == np.inf
    summary = layer_summary(report, 0, 0)
    assert summary["horizon"] == (np.median(report.horizon[0, 0]), np.min(report.horizon[0, 0]))
    assert sum(summary["regimes"].values()) == summary["sequences"] == report.analysed
