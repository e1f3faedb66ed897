"""Stacked and bidirectional networks in the dashboard: settings, the views over depth, uploads."""

from __future__ import annotations

import io

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.summaries import memory_horizon
from dashboard.catalog import compute, depth, memory, memory_panels
from dashboard.catalog import sections as catalog
from dashboard.config import RunConfig, from_mapping
from dashboard.figures.depth import _events, grid_animation
from dashboard.io import weights
from dashboard.vocabulary.quantities import label
from tests.apptest import PAGES, array_of, assert_clean, chart_specs, open_app

DEEP = RunConfig(cell="gru", T=24, hidden_size=6, num_layers=3, bidirectional=True)


def test_layers_and_direction_round_trip_through_the_url_within_limits():
    config, problems = from_mapping({"num_layers": "3", "bidirectional": "1"})
    assert (config.num_layers, config.bidirectional, problems) == (3, True, [])
    assert config.spec.num_layers == 3 and config.spec.directions == 2
    assert from_mapping(config.to_query())[0] == config
    config, problems = from_mapping({"num_layers": "5"})
    assert config.num_layers == 1 and "num_layers" in problems[0]


def test_truncating_a_bidirectional_network_is_refused_with_what_to_change():
    with pytest.raises(ValueError, match="Truncation k to 0 or turn Bidirectional off"):
        RunConfig(bidirectional=True, truncation=5)
    config, problems = from_mapping({"bidirectional": "1", "truncation": "5"})
    assert not (config.bidirectional and config.truncation) and any("Bidirectional" in p for p in problems)


def test_every_page_builds_the_views_over_depth():
    names = {page: set(catalog.page_panels(page, DEEP)) for page in catalog.SECTIONS}
    assert {"layer_time", "layer_jacobians"} <= names["gradient_flow"]
    assert "truncation_study" not in names["gradient_flow"]  # refused for a bidirectional network
    assert names["unroll"] == {"unroll_grid"} and "unroll_grid_diagram" in names["overview"]
    assert "layer_memory" in names["memory"]
    shallow = {page: set(catalog.page_panels(page, RunConfig(T=12))) for page in catalog.SECTIONS}
    assert not any(n.startswith(("layer_", "unroll_grid")) for page in shallow.values() for n in page)


def test_heat_map_draws_the_engine_layer_gradients():
    res = compute.run(DEEP)
    fig = depth.layer_time(DEEP, res).figure
    assert [trace.type for trace in fig.data] == ["heatmap", "heatmap"]
    expected = np.sqrt(np.sum(res.dh_layers**2, axis=(3, 4)))  # (L, D, T)
    for d, trace in enumerate(fig.data):
        np.testing.assert_allclose(10.0 ** np.asarray(trace.z, float), expected[:, d], rtol=1e-10)
        assert list(trace.y) == ["layer 0", "layer 1", "layer 2"]
    assert fig.layout.coloraxis.cmin < fig.layout.coloraxis.cmax


def test_grid_animation_visits_the_nodes_in_the_engines_order():
    L, D, T = 3, 2, 7
    fpos, bpos, events = _events(L, D, T)
    forward, backward = events[: L * D * T], events[L * D * T :]
    assert list(forward[:T, 3]) == list(range(T)) and list(forward[T : 2 * T, 3]) == list(range(T))[::-1]
    assert all(np.all(np.diff(forward[:, 1]) >= 0) for _ in [0])  # layers bottom-up
    assert np.all(np.diff(backward[:, 1]) <= 0)  # then top-down
    assert list(backward[:T, 3]) == list(range(T))[::-1]  # the forward direction back in time
    assert np.all(bpos > fpos) and np.all(bpos[:-1].min(axis=(1, 2)) > bpos[1:].max(axis=(1, 2)))


def test_grid_animation_frames_light_the_nodes_visited_so_far():
    rng = np.random.default_rng(0)
    h, g = rng.uniform(0.1, 1, (2, 2, 40)), 10.0 ** rng.uniform(-4, 0, (2, 2, 40))
    fig = grid_animation(h, g, window=10, max_frames=30)
    assert len(fig.frames) <= 30 + 2 * 2 * 2  # each sweep's last step kept
    first, last = fig.frames[0].data[0], fig.frames[-1].data[0]
    assert np.count_nonzero(np.asarray(first.marker.color)) == 1  # one node computed
    assert np.all(np.asarray(last.marker.color) > 0.5)  # every node has its gradient
    titles = [f.data[4].text[0] for f in fig.frames]  # the heading, a trace redrawn with the nodes
    W = len(fig.data[1].x) // (2 * 2)  # the columns that fit the narrowest figure, at most the window
    assert 5 <= W <= 10
    assert titles[0].startswith("forward pass · layer 0 →") and f"steps 0–{W - 1} of 40 shown" in titles[0]
    assert titles[-1].startswith("backward pass · layer 0") and len(set(titles)) == len(titles)
    static = grid_animation(h, g, static=True)
    assert not static.frames and np.all(np.asarray(static.data[1].marker.color) > 0.5)


@pytest.mark.parametrize("seed", range(4))
def test_captions_over_depth_are_read_off_their_figures(seed):
    rng = np.random.default_rng(seed)
    config = RunConfig(
        cell=str(rng.choice(list(bc.CELLS))),
        T=int(rng.integers(8, 40)),
        hidden_size=int(rng.integers(2, 9)),
        num_layers=int(rng.integers(2, 5)),
        bidirectional=bool(rng.integers(2)),
        scale=float(rng.uniform(0.3, 2.5)),
        seed=seed,
        checkpoint=str(rng.choice(["none", "sqrt", "4"])),
    )
    built = catalog.page_panels("gradient_flow", config)
    heat = built["layer_time"]
    medians = heat.data.groupby("label")["grad_norm"].median()
    assert f"weakest in {medians.idxmin()} " in heat.caption and f"strongest in {medians.idxmax()} " in heat.caption
    layer_medians = heat.data.groupby("layer")["grad_norm"].median()
    word = "shrinking" if layer_medians.iloc[0] < layer_medians.iloc[-1] else "growing"
    assert f"{word} with depth" in heat.caption
    jac = built["layer_jacobians"]
    horizons = {
        n: memory_horizon(p["log10_spectral"].to_numpy(), lags=p["lag"].to_numpy())
        for n, p in jac.data.groupby("label")
    }
    died = {n: h for n, h in horizons.items() if h is not None}
    if died:
        first = min(died.values())
        assert any(f"dies first in {n}: " in jac.caption for n, h in died.items() if h == first)
        assert f"after {first} steps" in jac.caption
    else:
        assert "No layer's products fall below" in jac.caption
    mem = catalog.page_panels("memory", config)["layer_memory"]
    order = mem.data[mem.data["bytes"] > 0].groupby("label")["moment"].max().sort_values().index
    assert ", then ".join(order) in mem.caption
    assert order[0].startswith(f"layer {config.num_layers - 1}") and order[-1].startswith("layer 0")


def test_layer_table_has_a_row_per_layer_and_direction_from_the_same_analyses():
    res = compute.run(DEEP)
    jps, reports = compute.layer_jacobians(DEEP), compute.layer_spectral(DEEP)
    table = depth.layer_summary(DEEP, res, jps, reports)
    assert list(table["layer"]) == [f"layer {l} {a}" for l in range(3) for a in "→←"]
    for owner, rho in zip(reports, table[label("spectral_radius")]):
        W = compute.preset_params(DEEP)[bc.spec.param_key("weight_hh", *owner)]
        H = DEEP.hidden_size
        assert rho == pytest.approx(max(np.abs(np.linalg.eigvals(W[k * H : (k + 1) * H])).max() for k in range(3)))
    assert set(table[label("jacobian_change")]) <= {"shrink", "grow", "within ±2 decades", "overflow", "one lag only"}
    assert "Verdict" not in table  # the verdict reads the last loss's gradient, not a layer's Jacobian products


def test_step_equation_of_a_lower_layer_reads_that_layer():
    res = compute.run(DEEP)
    for layer in range(3):
        numbers = compute.step_equation(DEEP, 5, 1, layer=layer)
        assert numbers["h"] == pytest.approx(res.h_layers[layer, 0, 5, 0, 1], rel=1e-9)
        assert numbers["dh"] == pytest.approx(res.dh_layers[layer, 0, 5, 0, 1], rel=1e-9)
        assert ("dh_direct" in numbers) == (layer == 2)
    top = compute.step_equation(DEEP, 5, 1)
    assert top["dh_direct"] + top["dh_carried"] == pytest.approx(top["dh"])


def _torch_state(torch, bidirectional=True, layers=3, readout=True) -> bytes:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(8, 32, num_layers=layers, bidirectional=bidirectional)
    state = dict(lstm.state_dict())
    if readout:
        fc = torch.nn.Linear(64 if bidirectional else 32, 2)
        state |= {f"fc.{k}": v for k, v in fc.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue(), lstm, state


def test_a_torch_state_dict_of_another_network_sets_the_sidebar_and_matches_torch():
    torch = pytest.importorskip("torch")
    data, lstm, state = _torch_state(torch)
    params, notes, changes = weights.load_for(data, RunConfig(truncation=4), compute.preset_params(RunConfig()))
    assert changes == {
        "cell": "lstm",
        "hidden_size": 32,
        "input_size": 8,
        "num_layers": 3,
        "bidirectional": True,
        "truncation": 0,
    }
    assert "the sidebar now matches the file" in notes[-1]
    config = RunConfig().replace(**changes, T=20)
    p = compute.problem(config, params)
    res = bc.bptt(p.spec, params, p.x, p.y)
    with torch.no_grad():
        out, _ = lstm.double()(torch.from_numpy(p.x))
        yhat = torch.nn.functional.linear(out, state["fc.weight"].double(), state["fc.bias"].double())
    np.testing.assert_allclose(res.yhat, yhat.numpy(), rtol=1e-6, atol=1e-6)  # the file was float32


def test_a_network_beyond_the_dashboards_limits_is_refused_with_the_limit():
    big = compute.preset_params(RunConfig(hidden_size=8, num_layers=1)) | {
        "weight_ih_l5": np.zeros((8, 8)),
        "weight_hh_l5": np.zeros((8, 8)),
        "bias_ih_l5": np.zeros(8),
        "bias_hh_l5": np.zeros(8),
    }
    with pytest.raises(weights.WeightsError, match="num_layers must be between 1 and 4"):
        weights.load_for(weights.to_npz(big), RunConfig(), compute.preset_params(RunConfig()))


def test_uploading_a_torch_stack_on_the_weights_page_drives_every_page():
    torch = pytest.importorskip("torch")
    data, _, _ = _torch_state(torch)
    at = open_app("pages/weights.py", {"T": "20"})
    at.file_uploader(key="weights_upload").upload("lstm3.pt", data).run()
    assert_clean(at)
    config = at.session_state["run_config"]
    assert (config.cell, config.num_layers, config.bidirectional, config.hidden_size) == ("lstm", 3, True, 32)
    assert config.weights != "preset" and "sidebar now matches" in at.success[0].value
    for page in ("overview", "unroll", "gradient_flow", "memory"):
        at.switch_page(f"pages/{page}.py").run()
        assert_clean(at)
        assert not at.warning, [w.value for w in at.warning]  # the uploaded weights are still in use
        assert at.session_state["run_config"].weights == config.weights


def test_deep_pages_in_the_app_show_the_depth_views():
    at = open_app("pages/gradient_flow.py", {"num_layers": "2", "bidirectional": "1", "T": "16"})
    assert_clean(at)
    titles = [spec["layout"]["title"]["text"] for spec in chart_specs(at)]
    assert "Gradient over time and depth" in titles and "Jacobian products in each layer" in titles
    assert len(at.dataframe) >= 1
    heat = next(s for s in chart_specs(at) if s["layout"]["title"]["text"] == "Gradient over time and depth")
    assert array_of(heat["data"][0]["z"]).shape == (2, 16)
    at.switch_page("pages/unroll.py").run()
    assert_clean(at)
    at.selectbox(key="eq_layer").set_value(0).run()
    assert_clean(at)
    assert any("layer above" in latex.value for latex in at.get("latex"))


def test_the_w_hh_editor_edits_the_chosen_layer_and_direction():
    at = open_app("pages/weights.py", {"num_layers": "2", "bidirectional": "1", "hidden_size": "3"})
    assert_clean(at)
    pick = at.selectbox(key="weights_matrix")
    assert pick.options == ["weight_hh_l0", "weight_hh_l0_reverse", "weight_hh_l1", "weight_hh_l1_reverse"]
    pick.set_value("weight_hh_l1_reverse").run()
    assert_clean(at)
    before = compute.preset_params(at.session_state["run_config"])
    params = weights.apply_edits(before, 0, {1: {"2": 4.5}}, key="weight_hh_l1_reverse")
    changed = [k for k in before if not np.array_equal(before[k], params[k])]
    assert changed == ["weight_hh_l1_reverse"] and params["weight_hh_l1_reverse"][1, 2] == 4.5


@pytest.mark.parametrize(
    "query",
    [
        {"num_layers": "4", "bidirectional": "1", "cell": "lstm", "T": "120", "hidden_size": "32"},
        {"num_layers": "3", "T": "1", "hidden_size": "1", "batch_size": "1"},
        {"num_layers": "2", "bidirectional": "1", "checkpoint": "sqrt", "ragged": "1", "loss": "cross_entropy"},
        {"num_layers": "3", "truncation": "4", "activation": "relu", "init": "identity", "scale": "1.3"},
    ],
)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_a_stack(page, query):
    at = open_app(page, query)
    assert_clean(at)
    assert at.session_state["run_config"] == from_mapping(query)[0]


@pytest.mark.parametrize("checkpoint", ["none", "sqrt", "4"])
def test_pareto_caption_for_a_stack_bounds_the_engine(checkpoint):
    """ "The stack runs n times these extra steps and holds up to n times these bytes, plus the output sequences
    its layers hand up": checked on the engine."""
    config = DEEP.replace(checkpoint=checkpoint, T=30)
    panel = memory_panels.pareto(config, memory.pareto_front(config))
    n = len(config.owners)
    assert f"runs {n} times these extra steps and holds up to {n} times these bytes" in panel.caption
    label = {"none": "full", "sqrt": f"k={int(np.ceil(np.sqrt(30)))}", "4": "k=4"}[checkpoint]
    row = panel.data[panel.data["label"] == label].iloc[0]
    res = compute.stored_run(config)
    outputs = res.ledger.peak_of({"layer outputs"})
    assert outputs <= (config.num_layers - 1 + config.bidirectional) * 2 * (config.T + 1) * 4 * 6 * 8
    assert res.stored_bytes <= n * row["bytes"] + outputs
    assert res.recomputed_steps == n * row["recomputed"]


def test_following_one_loss_draws_its_terms_of_dw_hh():
    at = open_app("pages/gradient_flow.py", {"T": "20"})
    at.session_state["flow-sources"] = True
    at.run()
    at.slider(key="itemised_origin").set_value(7).run()
    assert_clean(at)
    spec = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("dW_hh itemised"))
    (line,) = [t for t in spec["data"] if t["type"] == "scatter"]
    assert line["name"] == "the loss at step 7 alone"
    P = compute.contributions(RunConfig(T=20))
    np.testing.assert_allclose(array_of(line["y"]), P[7, :8], rtol=1e-9)
