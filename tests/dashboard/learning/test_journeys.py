"""The guided tour and the self-checks: every scene draws what it names, every question grades right and wrong."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.lab.chain_rule import scalar_chain
from bptt_core.lab.train import TrainConfig, train
from bptt_core.losses import reduce
from dashboard.catalog import compute
from dashboard.config import RunConfig, from_mapping
from dashboard.learning import lessons, quiz, tour
from tests.apptest import assert_clean, chart_specs, open_app


@pytest.mark.parametrize("i", range(len(tour.SCENES)))
def test_each_scene_opens_from_its_link_and_draws_its_figure(i):
    scene = tour.SCENES[i]
    at = open_app("pages/tour.py", tour.link(i))
    assert_clean(at)
    assert at.title[0].value == scene.title and not at.info  # the link carries the scene's settings
    assert at.session_state["run_config"] == scene.config()
    (spec,) = chart_specs(at)
    assert spec["layout"]["title"]["text"] == tour.figure(scene, scene.config()).figure.layout.title.text
    assert scene.notice(scene.config()) in [m.value for m in at.markdown]


@pytest.mark.parametrize("i", range(len(tour.SCENES)))
def test_each_prediction_is_graded_by_the_engine(i):
    """Pick each option in turn: exactly the one the measurements select is called right."""
    scene = tour.SCENES[i]
    right, before, after = tour.outcome(scene)
    assert before == pytest.approx(scene.measure(scene.config())) and after == pytest.approx(
        scene.measure(scene.changed())
    )
    for option in scene.options:
        at = open_app("pages/tour.py", tour.link(i))
        at.radio(key=f"predict_{scene.key}").set_value(option).run()
        next(b for b in at.button if b.label == "Show me").click().run()
        assert_clean(at)
        assert at.session_state["run_config"] == scene.changed()  # the change is made
        if option == scene.options[right]:
            assert at.success and at.success[0].value.startswith("Right")
        else:
            assert at.warning and at.warning[0].value.startswith("Not this time")


def test_next_and_previous_walk_the_tour_and_the_address_follows():
    at = open_app("pages/tour.py")
    assert at.title[0].value == tour.SCENES[0].title
    at.button(key="tour_settings").click().run()  # arriving from elsewhere: one click sets the scene up
    assert at.session_state["run_config"] == tour.SCENES[0].config() and not at.info
    for i in range(1, len(tour.SCENES)):
        next(b for b in at.button if b.label == "Next →").click().run()
        assert_clean(at)
        assert at.title[0].value == tour.SCENES[i].title
        assert at.session_state["run_config"] == tour.SCENES[i].config()
        assert at.query_params["scene"] in (str(i + 1), [str(i + 1)])
    assert any("Check yourself" in str(link.proto) for link in at.get("page_link"))
    next(b for b in at.button if b.label == "← Previous").click().run()
    assert at.title[0].value == tour.SCENES[-2].title


def test_scene_in_the_address_is_checked_and_not_a_setting():
    assert from_mapping({"scene": "3", "lecture": "1"}) == (RunConfig(), [])
    assert tour.index_of("4") == 3 and tour.index_of("0") == 0 and tour.index_of("99") == 0 and tour.index_of("x") == 0


def test_lecture_mode_hides_the_controls_and_enlarges_the_figure():
    at = open_app("pages/tour.py", {**tour.link(2), "lecture": "1"})
    assert_clean(at)
    assert not at.main.radio  # no prediction controls on a slide
    assert [b.label for b in at.main.get("download_button")] == ["Tour handout (HTML, offline)"]
    (spec,) = chart_specs(at)
    assert spec["layout"]["font"]["size"] >= 20 and spec["layout"]["title"]["font"]["size"] >= 26
    styles = " ".join(str(h.proto) for h in at.get("html"))
    assert "stSidebar" in styles and "display: none" in styles


def test_the_handout_holds_every_scene_and_plotly_once():
    page = tour.handout().decode()
    assert page.count("<section>") == len(tour.SCENES)
    assert all(html.escape(s.title) in page for s in tour.SCENES)
    assert page.count("Plotly.newPlot") == len(tour.SCENES)
    assert page.count("plotly.js v") <= 2  # the library's banner: embedded once, offline


@pytest.mark.parametrize("key", list(quiz.BUILDERS))
@pytest.mark.parametrize("variant", [0, 1, 5])
def test_each_self_check_grades_right_and_wrong(key, variant):
    q = quiz.question(key, variant)
    assert quiz.grade(q, q.answer)
    if q.options is None:
        assert not quiz.grade(q, float(q.answer) * 1.5 + 1)
    else:
        assert q.answer in q.options and len(q.options) >= 2
        assert not any(quiz.grade(q, o) for o in q.options if o != q.answer)
    assert not quiz.grade(q, None)


def test_variants_change_the_numbers():
    for key in (
        "mean_loss",
        "w1_attribution",
        "token_loss",
        "learning_rate",
        "gradient_memory",
        "stored_intermediates",
    ):
        prompts = {quiz.question(key, v).prompt for v in range(6)}
        assert len(prompts) >= 3, key


def test_self_check_explanations_are_the_engines_numbers():
    mean = quiz.question("mean_loss", 0)
    assert mean.answer == pytest.approx(0.3) and "1.2" in mean.explanation  # the card's own numbers
    losses = np.array([0.2, 0.5, 0.1, 0.4])[:, None]
    assert mean.answer == reduce(losses, np.ones_like(losses), "mean")
    act = quiz.question("activation_derivative", 0)
    w1 = float(re.search(r"w1 = ([-\d.e]+)", act.explanation).group(1))
    wrong = scalar_chain(0.7, 0.2, w1, -0.8, "tanh", backward_hidden="relu")
    assert f"{wrong['dE_dw1']:.5g}" in act.explanation and f"{wrong['fd_dw1']:.5g}" in act.explanation
    assert abs(wrong["dE_dw1"] - wrong["fd_dw1"]) > 1e-3  # the wrong derivative really disagrees
    w = quiz.question("w1_attribution", 0)
    v = scalar_chain(0.7, 0.2, 1.3, -0.8)
    assert f"= {v['dE_dw1']:.5g}" in w.explanation and f"{v['fd_dw1']:.5g}" in w.explanation
    for variant in range(4):
        stored = quiz.question("stored_intermediates", variant)
        T, B, H = (int(stored.prompt.split(f"{n} = ")[1].split(",")[0].split(" ")[0]) for n in ("T", "B", "H"))
        assert stored.answer == compute.stored_run(RunConfig(T=T, batch_size=B, hidden_size=H)).stored_bytes
        assert stored.answer == (T + 1) * B * H * 8  # the formula the explanation states
        lr = quiz.question("learning_rate", variant)
        factor = float(re.search(r"a factor ([\d.]+)\. ", lr.explanation).group(1))
        assert factor == pytest.approx(lr.answer, rel=1e-4)


def test_the_quiz_page_grades_and_renews():
    at = open_app("pages/quiz.py")
    assert_clean(at)
    q = quiz.question("mean_loss", 0)
    at.number_input(key="quiz_mean_loss_0").set_value(q.answer).run()
    at.button(key="check-mean_loss").click().run()
    assert at.success and at.success[0].value.startswith("Right")
    at.button(key="renew-mean_loss").click().run()
    fresh = quiz.question("mean_loss", 1)
    at.number_input(key="quiz_mean_loss_1").set_value(fresh.answer + 1).run()
    at.button(key="check-mean_loss").click().run()
    assert at.warning and "Not quite" in at.warning[0].value
    q = quiz.question("tensor_chain", 0)
    at.radio(key="quiz_tensor_chain_0").set_value(q.answer).run()
    at.button(key="check-tensor_chain").click().run()
    assert_clean(at)
    assert "Score: 1 right of 2 answered" in at.get("progress")[0].proto.text


def test_text_memory_rows_are_the_engines_connectivity_for_each_cell():
    runs = {}
    for cell in bc.CELLS:
        config = TrainConfig(task="chars", cell=cell, T=16, hidden_size=8, batch_size=4, iterations=5)
        runs[cell] = (config, train(config))
    rows = lessons.memory_rows(runs, 10)
    assert [r[0] for r in rows] == list(bc.CELLS)  # RNN, LSTM and GRU side by side on the same text
    chars, x = lessons.text_sample(16)
    for (_, text, weights), (config, history) in zip(rows, runs.values()):
        assert text == chars[:11] and len(weights) == 11
        np.testing.assert_allclose(weights, bc.input_connectivity(config.spec, history.params, x, 10)[:11])
        shaded = lessons.shaded_text(text, weights)
        assert shaded.count("<span") == 11 and "border-bottom" in shaded.split("<span")[-1]


def test_training_on_text_shows_the_shaded_characters():
    at = open_app("pages/training.py", {"T": "12", "hidden_size": "8"})
    task = next(w for w in at.main.selectbox if w.label == "Task")
    task.set_value("chars")
    next(w for w in at.main.slider if w.label.startswith("Iterations")).set_value(20)
    next(b for b in at.button if b.label == "Train").click().run()
    assert_clean(at)
    shaded = [h for h in at.get("html") if "<span" in str(h.proto)]
    assert len(shaded) == 1 and str(shaded[0].proto).count("<span") == 12
    at.slider(key="memory_step").set_value(4).run()
    shaded = [h for h in at.get("html") if "<span" in str(h.proto)]
    assert str(shaded[0].proto).count("<span") == 5
