"""Check yourself: every graded answer is decided by what its prompt states, and every explanation names the
network it computed with (issue 24, item 21)."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

from dashboard.catalog import compute
from dashboard.learning import quiz

VARIANTS = range(12)


@pytest.mark.parametrize("key", list(quiz.BUILDERS))
def test_every_answer_is_decided_by_its_prompt(key):
    """Two variants that show the same prompt and options grade the same answer, whatever else they drew
    (the vanishing/exploding question draws the weights' seed and does not state it)."""
    answers = defaultdict(set)
    for variant in VARIANTS:
        q = quiz.question(key, variant)
        answers[(q.prompt, q.options)].add(q.answer)
    assert all(len(a) == 1 for a in answers.values()), {p[0]: a for p, a in answers.items() if len(a) > 1}


@pytest.mark.parametrize(("activation", "gain"), quiz.CURVE_CASES)
def test_each_curve_question_has_one_answer_for_every_weight_seed(activation, gain):
    """A linear RNN with W_hh = gain·Q scales the last loss's gradient by exactly gain^59; a tanh RNN by at
    most that (|tanh'| <= 1), which is below 1/100 for the gains drawn."""
    bound = gain**59
    labels = set()
    for seed in range(5):
        label, ratio, config = quiz.curve_answer(activation, gain, seed)
        labels.add(label)
        if activation == "linear":
            assert ratio == pytest.approx(bound, rel=1e-6)
        else:
            assert ratio <= bound * (1 + 1e-9) and bound < 1 / quiz.CURVE_SPAN
        assert config.seed == seed and config.scale == gain and config.activation == activation
    assert len(labels) == 1


def test_a_saturating_tanh_network_is_left_out_because_its_seed_decides():
    """Why tanh with gain 2 is not asked: its answer changes with the weights' seed (×81 at seed 0)."""
    assert ("tanh", 2.0) not in quiz.CURVE_CASES
    assert len({quiz.curve_answer("tanh", 2.0, seed)[0] for seed in range(6)}) > 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_estimator_question_has_exactly_one_unbiased_option(variant):
    q = quiz.question("stochastic", variant)
    theta = float(re.search(r"θ = (-?[\d.]+);", q.prompt).group(1))
    biases = quiz.estimator_biases(theta)
    assert biases["reinforce"] == 0
    assert min(abs(biases["straight_through"]), abs(biases["gumbel_softmax"])) >= quiz.CLEAR_BIAS
    assert f"{biases['straight_through']:+.3g}" in q.explanation and f"{biases['gumbel_softmax']:+.3g}" in q.explanation


def test_the_estimator_question_leaves_out_the_logits_where_a_second_option_is_unbiased():
    """At θ = 0 (p = 1/2) straight-through's bias p(1 - p)(2p - 1) is 0; Gumbel-softmax's changes sign near 1."""
    assert abs(quiz.estimator_biases(0.0)["straight_through"]) < 1e-12
    gumbel = [quiz.estimator_biases(t)["gumbel_softmax"] for t in (0.5, 1.5)]
    assert gumbel[0] < 0 < gumbel[1]
    drawn = {float(re.search(r"θ = (-?[\d.]+);", quiz.question("stochastic", v).prompt).group(1)) for v in range(40)}
    assert not any(abs(t) < 0.5 or 0.8 <= t <= 1.2 for t in drawn)


@pytest.mark.parametrize("variant", [0, 3])
def test_prompts_state_the_conventions_their_answers_use(variant):
    assert "averaging over the steps" in quiz.question("mean_loss", variant).prompt
    memory = quiz.question("gradient_memory", variant).prompt
    assert "two bias vectors b_ih and b_hh" in memory and "read-out" in memory
    assert "the initial state" in quiz.question("stored_intermediates", variant).prompt


def _recording(function, calls: list):
    """``function`` that also appends the config it is called with to ``calls``."""

    def recorded(config, *args, **kwargs):
        calls.append(config)
        return function(config, *args, **kwargs)

    return recorded


@pytest.mark.parametrize("key", list(quiz.BUILDERS))
def test_each_explanation_names_the_network_it_computed_with(key, monkeypatch):
    """Every network the engine ran for a question is the one its explanation describes (never "the
    current" one: the sidebar's network is not what the question computed with), and the sizes its prompt
    states are that network's."""
    for variant in range(4):
        ran = []
        for name in ("run", "stored_run", "last_loss_gradient"):
            original = getattr(compute, name)
            monkeypatch.setattr(compute, name, _recording(original, ran))
        q = quiz.question(key, variant)
        monkeypatch.undo()
        assert "current" not in q.explanation
        assert (q.network is None) == (not ran)
        for config in ran:
            assert quiz.network_label(config) in q.explanation
        if q.network is not None:
            fields = {"H": "hidden_size", "I": "input_size", "O": "output_size", "T": "T", "B": "batch_size"}
            for symbol, value in re.findall(r"\b([HIOTB]) = (\d+)", q.prompt):
                assert getattr(q.network, fields[symbol]) == int(value), (symbol, q.prompt)
            assert q.network.cell.upper() in quiz.network_label(q.network).upper()


def test_the_network_label_names_what_the_run_depends_on():
    label = quiz.network_label(compute.RunConfig(cell="gru", hidden_size=7, T=12, num_layers=2, bidirectional=True))
    assert label.startswith("GRU (") and "H = 7" in label and "T = 12" in label
    assert "2 layers" in label and "bidirectional" in label and "seed 0" in label
    assert np.isfinite(quiz.curve_answer("linear", 0.97, 0)[1])


def test_the_trade_off_question_compares_the_tape_and_the_influence_by_their_closed_forms():
    """BPTT's tape (T + 1) B H and RTRL's influence B H N (N = H (I + H + 2)) of a vanilla RNN, 8 bytes each: the
    graded answer is the smaller one, and the draws ask both ways round."""
    answers = set()
    for variant in VARIANTS:
        q = quiz.question("online_memory", variant)
        H, I, B, T = (int(re.search(rf"\b{s} = (\d+)", q.prompt).group(1)) for s in ("H", "I", "B", "T"))
        tape, influence = (T + 1) * B * H * 8, B * H * H * (I + H + 2) * 8
        assert q.answer == quiz.KEPT_OPTIONS[0 if tape < influence else 1 if influence < tape else 2]
        assert f"tape {tape} B" in q.explanation and f"{influence} B" in q.explanation
        answers.add(q.answer)
    assert {"BPTT's tape", "RTRL's influence"} <= answers
