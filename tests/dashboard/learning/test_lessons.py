"""The training lab and the concept pages, through AppTest."""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.lab.train import TrainConfig, TrainHistory, train
from dashboard.config.cell_views import jacobian_shapes
from dashboard.learning import lessons
from tests.apptest import array_of, assert_clean, chart_specs, open_app


def _train(at, **settings):
    for label, value in settings.items():
        widget = next(
            w
            for kind in ("slider", "number_input", "selectbox", "select_slider")
            for w in getattr(at.main, kind)
            if w.label.startswith(label)
        )
        widget.set_value(value)
    next(b for b in at.button if b.label == "Train").click().run()
    return at


def test_training_lab_trains_shows_curves_and_compares_saved_runs():
    at = open_app("pages/training.py", {"T": "10", "cell": "lstm"})  # the network comes from the sidebar
    assert any("press **Train**" in i.value for i in at.info)
    assert "LSTM, T = 10" in at.caption[0].value
    _train(at, Iterations=40)
    assert_clean(at)
    specs = chart_specs(at)
    assert len(specs) == 2  # curves and the iteration x time heatmap
    assert array_of(specs[1]["data"][0]["z"]).shape == (40, 10)
    next(b for b in at.button if b.label.startswith("Save this run")).click().run()
    _train(at, Iterations=40, **{"Learning rate": 0.1})
    assert_clean(at)
    runs = {t["legendgroup"] for t in chart_specs(at)[0]["data"]}
    assert len(runs) == 2  # the saved run and the new one, side by side
    assert any(m.label == "Training / prediction" for m in at.metric)


def test_training_without_clipping_shows_a_spike_and_clipping_draws_the_capped_norm():
    at = open_app("pages/training.py", {"clip": "0.5", "T": "30"})
    _train(at, Task="sine", Iterations=60, **{"Learning rate": 1.0})
    assert_clean(at)
    names = [t["name"] for t in chart_specs(at)[0]["data"]]
    assert any("after clipping" in n for n in names)


def test_losses_page_shows_the_worked_example_and_sum_grows_with_T():
    at = open_app("pages/losses.py")
    assert_clean(at)
    latex = " ".join(x.value for x in at.latex)
    assert "= 1.2" in latex and "= 0.3" in latex
    assert len(chart_specs(at)) == 2  # the gradient-scale study is computed when its section opens
    at.session_state["losses-scale"] = True
    at.run()
    assert_clean(at)
    scale = chart_specs(at)[2]["data"]
    by_name = {t["name"]: t["y"] for t in scale}
    total, mean = array_of(by_name["reduction = sum"]), array_of(by_name["reduction = mean"])
    assert total[-1] / total[0] > 5 * (mean[-1] / mean[0])  # sum grows with T, mean does not


@pytest.mark.parametrize("hidden", ["tanh", "relu", "sigmoid", "linear"])
def test_chain_rule_numbers_equal_finite_differences(hidden):
    at = open_app("pages/chain_rule.py")
    at.selectbox(key="cr_hidden").set_value(hidden).run()
    at.selectbox(key="cr_backward").set_value(hidden).run()
    at.number_input(key="cr_w1").set_value(0.9).run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert table["agree"].all()
    assert abs(table.loc["∂E/∂w1", "chain rule"] - table.loc["∂E/∂w1", "finite differences"]) < 1e-8
    assert any("agree" in s.value for s in at.success)


def test_chain_rule_with_the_wrong_backward_activation_is_flagged():
    at = open_app("pages/chain_rule.py")
    at.selectbox(key="cr_backward").set_value("sigmoid").run()
    assert not at.exception
    assert "no longer matches" in at.error[0].value
    assert not at.dataframe[0].value.loc["∂E/∂w1", "agree"]


def test_chain_rule_lists_the_jacobian_shapes_of_the_current_rnn():
    at = open_app("pages/chain_rule.py", {"cell": "gru", "hidden_size": "7", "batch_size": "3"})
    shapes = at.dataframe[1].value.set_index("quantity")["shape"]
    assert shapes["∂a_t/∂h_{t-1}"] == "(21, 7)" and shapes["∂L/∂h_t"] == "(3, 7)"


def test_stochastic_page_compares_all_estimators():
    at = open_app("pages/stochastic.py")
    at.selectbox(key="st_kind").set_value("categorical").run()
    assert_clean(at)
    names = {t["name"] for t in chart_specs(at)[0]["data"]}
    assert names == {"REINFORCE", "REINFORCE + baseline", "straight-through", "Gumbel-softmax"}


def test_jacobian_shapes_follow_the_spec():
    rows = dict((q, s) for q, _, s in jacobian_shapes(bc.RNNSpec("lstm", 3, 5, 2), T=7, B=4))
    assert rows["∂a_t/∂h_{t-1}"] == "(20, 5)" and rows["∂L/∂h_t"] == "(4, 5)"
    assert "over [h, c]" in rows["∂h_t/∂h_{t-1}"] and "7 terms" in rows["∂L/∂W_hh"]


def test_chain_rule_at_the_relu_kink_says_why_it_differs_and_shows_the_difference():
    at = open_app("pages/chain_rule.py")
    at.selectbox(key="cr_hidden").set_value("relu").run()
    at.selectbox(key="cr_backward").set_value("relu").run()
    at.number_input(key="cr_w1").set_value(0.0).run()
    assert not at.exception and not at.success
    assert "kink" in at.warning[0].value
    table = at.dataframe[0].value
    assert not table["agree"].all() and table["difference"].abs().max() > 0.01


@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (1, True), (3, False), (2, True)])
def test_jacobian_shapes_of_a_stack_match_the_engines_parameters(layers, bidirectional):
    spec = bc.RNNSpec("gru", 3, 5, 2, num_layers=layers, bidirectional=bidirectional)
    params = bc.init_params(spec, seed=0)
    rows = {q: s for q, _, s in jacobian_shapes(spec, T=7, B=4)}
    assert rows["∂L/∂W_out"] == str(params["weight_out"].shape)
    assert rows["∂L/∂W_ih"] == str(params["weight_ih_l0"].shape)
    if layers > 1:
        assert rows["∂L/∂W_ih⁽ˡ⁾, l ≥ 1"] == str(params["weight_ih_l1"].shape)
    assert rows["∂L/∂W_hh"].startswith(str(params["weight_hh_l0"].shape))


@pytest.mark.parametrize(("optimizer", "lr", "clip"), [("sgd", 1.0, 0.5), ("adam", 0.01, None), ("sgd", 0.3, 2.0)])
def test_training_captions_read_their_runs(optimizer, lr, clip):
    """The loss change and the clipping count in the caption come from the runs drawn; the applied norm
    never exceeds the clip threshold (global-norm clipping)."""
    config = TrainConfig(task="sine", cell="rnn", T=12, iterations=40, lr=lr, optimizer=optimizer, clip=clip)
    history = train(config)
    panel = lessons.training_panels({"run": history}, "run", clip)["training_curves"]
    loss = panel.data["loss"].to_numpy()
    if np.isfinite(loss).all():
        n = max(1, min(20, len(loss) // 5))
        assert f"from {loss[:n].mean():.3g} to {loss[-n:].mean():.3g}" in panel.caption
    if clip:
        assert np.all(panel.data["clipped_norm"] <= clip * (1 + 1e-9))
        capped = int((panel.data["grad_norm"] > clip).sum())
        assert f"scaled {capped} of {len(loss)} updates" in panel.caption
    else:
        assert "Clipping" not in panel.caption


def test_a_diverged_run_does_not_flatten_the_comparison():
    calm = np.linspace(1.0, 0.5, 50)
    wild = np.r_[np.linspace(1.0, 2.0, 40), 10.0 ** np.arange(10, 100, 10), np.inf]
    histories = {
        name: TrainHistory(loss=v, grad_norm=v, clipped_norm=v, dh_norms=np.ones((len(v), 3)), params={})
        for name, v in (("calm", calm), ("wild", wild))
    }
    panel = lessons.training_panels(histories, "calm")["training_curves"]
    top = 10 ** panel.figure.layout.yaxis.range[1]
    assert top < 1e5  # the axis spans the calm run, not 1e90
    assert "diverged at iteration 50" in panel.caption
    notes = [a.text for a in panel.figure.layout.annotations if "above the scale" in a.text]
    assert len(notes) == 2  # loss and gradient norm


def _history(grad_norm: np.ndarray, clip: float | None) -> TrainHistory:
    applied = np.minimum(grad_norm, clip) if clip else grad_norm
    loss = np.linspace(1.0, 0.2, len(grad_norm))
    return TrainHistory(
        loss=loss, grad_norm=grad_norm, clipped_norm=applied, dh_norms=np.ones((len(loss), 3)), params={}
    )


@pytest.mark.parametrize(
    ("clips", "dashed"),
    [((None,), []), ((2.0,), ["a"]), ((100.0,), []), ((2.0, None), ["a"]), ((None, 2.0), ["b"])],
)
def test_training_figure_title_and_caption_say_what_is_drawn(clips, dashed):
    """The figure is titled for both panels (not by the right axis' "||∇|| (log)"); the caption names the
    dashed after-clipping line exactly when and for the runs where it is drawn (issue 24, item 22)."""
    norms = np.r_[np.linspace(1.0, 0.5, 20), [5.0, 8.0], np.linspace(0.5, 0.3, 18)]
    histories = {name: _history(norms, clip) for name, clip in zip("ab", clips)}
    panel = lessons.training_panels(histories, list(histories)[-1], clips[-1])["training_curves"]
    title = panel.figure.layout.title.text
    assert "loss" in title.lower() and "gradient norm" in title.lower() and "(log)" not in title
    drawn = [t.legendgroup for t in panel.figure.data if t.line.dash == "dash"]
    assert drawn == dashed
    assert ("after clipping (dashed" in panel.caption) == bool(dashed)
    if dashed and len(histories) > 1:
        assert f"(dashed for {dashed[0]})" in panel.caption
    if clips[-1] == 100.0:
        assert "no norm reached it, so no dashed line" in panel.caption
