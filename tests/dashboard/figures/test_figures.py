"""Figure builders are pure: assert on fig.data and fig.frames, no browser."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bptt_core as bc
from dashboard.catalog import compute, memory, memory_panels, panels
from dashboard.config import RunConfig
from dashboard.figures import flow as ff
from dashboard.figures import graph
from dashboard.figures.unroll import MARGIN_L, MARGIN_R, unroll_animation


def test_gradient_norms_uses_log_axis_and_gaps_for_non_finite_values():
    df = pd.DataFrame({"t": [0, 1, 2, 3], "total_gradient": [1e-3, np.inf, 0.0, 2.0]})
    fig = ff.gradient_norms(df, overflow_step=1)
    y = np.asarray(fig.data[0].y, dtype=float)
    assert fig.layout.yaxis.type == "log"
    assert y[0] == 1e-3 and np.isnan(y[1]) and np.isnan(y[2]) and y[3] == 2.0
    assert any("overflow at step 1" in a.text for a in fig.layout.annotations)


def test_flow_heatmap_is_log10_and_lower_triangular():
    config = RunConfig(T=6)
    origins, F = compute.flow(config)
    fig = panels.flow(config, origins, F).figure
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (6, 6)
    np.testing.assert_allclose(z[np.tril_indices(6)], np.log10(F[np.tril_indices(6)]))
    assert np.all(np.isnan(z[np.triu_indices(6, 1)]))
    assert "log10" in fig.data[0].colorbar.title.text


def test_flow_panel_thins_rows_for_long_sequences():
    config = RunConfig(T=400)
    origins, F = compute.flow(config)
    p = panels.flow(config, origins, F)
    assert len(origins) == compute.FLOW_ROWS and F.shape == (compute.FLOW_ROWS, 400)
    assert "120 of 400 rows and 120 of 400 columns" in p.caption
    z = np.asarray(p.figure.data[0].z, dtype=float)
    columns = np.asarray(p.figure.data[0].x)
    np.testing.assert_array_equal(columns, origins)  # the same steps as the rows: the diagonal is drawn
    np.testing.assert_allclose(np.diag(z), np.log10(F[np.arange(len(origins)), origins]))


@pytest.mark.parametrize(("cell", "has_bound"), [("rnn", True), ("lstm", False)])
def test_jacobian_figure_draws_the_pascanu_bound_for_vanilla_rnn_only(cell, has_bound):
    config = RunConfig(cell=cell, T=20)
    p = panels.jacobian(config, compute.jacobians(config), compute.spectral(config))
    names = [t.name for t in p.figure.data]
    assert ("bound (γ σ_max)^lag" in names) == has_bound
    if has_bound:
        measured, bound = p.figure.data[0].y, p.figure.data[2].y
        assert np.all(np.asarray(measured) <= np.asarray(bound) + 1e-9)


def test_eigenvalue_plane_has_unit_circle_and_one_trace_per_gate_block():
    p = panels.eigenvalues(RunConfig(cell="gru"), compute.spectral(RunConfig(cell="gru")))
    assert p.figure.data[0].name == "|λ| = 1"
    assert [t.name for t in p.figure.data[1:]] == ["W_hh[r]", "W_hh[z]", "W_hh[n]"]
    assert len(p.data) == 3 * 16
    assert p.figure.layout.yaxis.scaleanchor == "x"


def test_phase_diagram_has_one_diverging_heatmap_per_cell():
    config = RunConfig(hidden_size=8)
    p = panels.phase(config, compute.phase_diagram(config, n=5, max_length=40))
    heatmaps = [t for t in p.figure.data if t.type == "heatmap"]
    shaped = [c for c in bc.CELLS if bc.CELLS[c].init_presets]  # the registry: a cell ρ shapes gets its own panel
    assert len(heatmaps) == len(shaped) and all(h.zmid == 0 for h in heatmaps)
    own = len(bc.CELLS) - len(shaped)  # the others: one row over T at their own init, not drawn over ρ
    assert set(p.data["cell"]) == set(bc.CELLS) and len(p.data) == len(shaped) * 25 + own * 5


def test_truncation_curves_put_cosine_on_a_second_axis():
    config = RunConfig(T=16)
    p = panels.truncation(config, compute.truncation(config))
    assert [t.name for t in p.figure.data] == ["relative error", "cosine similarity"]
    assert p.figure.data[1].yaxis == "y2"
    assert p.data["relative_error"].iloc[-1] == 0.0  # k = T is full BPTT


def test_memory_stack_groups_add_up_to_the_ledger_total():
    config = RunConfig(cell="lstm", T=10)
    res = compute.run(config)
    p = memory_panels.memory_stack(config, res)
    totals = p.data.groupby("moment")["bytes"].sum().to_numpy()
    np.testing.assert_array_equal(totals[:-1], [b for _, _, b in res.memory_timeline][: len(totals) - 1])
    assert {t.name for t in p.figure.data} >= {"cell states c", "gate activations", "gradients", "scratch"}
    assert all(t.stackgroup == "held" for t in p.figure.data)


def test_memory_timelines_show_the_checkpoint_sawtooth_and_lower_peak():
    config = RunConfig(T=36)
    p = memory_panels.memory_timelines(config, memory.strategy_runs(config))
    by_name = {t.name: np.asarray(t.y) for t in p.figure.data}
    assert set(by_name) == set(memory.STRATEGIES)
    assert by_name["checkpoint sqrt(T)"].max() < by_name["full storage"].max() / 3
    assert by_name["truncation 8"].max() < by_name["full storage"].max() / 3
    assert len(by_name["checkpoint sqrt(T)"]) > len(by_name["full storage"])  # recomputation


def test_memory_vs_length_full_storage_grows_linearly():
    config = RunConfig(T=256)
    p = memory_panels.memory_vs_length(config, memory.memory_scaling(config))
    full = p.data[p.data["strategy"] == "full storage"]
    ratio = full["bytes"].to_numpy() / full["T"].to_numpy()
    assert ratio[-1] == pytest.approx(ratio[-2], rel=0.05)
    sq = p.data[p.data["strategy"] == "checkpoint sqrt(T)"]
    assert sq["recomputed"].iloc[-1] == 256 - 16  # every segment but the last, which the sweep keeps
    assert len(p.figure.data) == 2 * len(memory.STRATEGIES)


def _steps(T):
    return pd.DataFrame(
        {"t": np.arange(T), "h_rms": np.linspace(0.1, 1, T), "loss": np.ones(T), "grad_norm": np.logspace(-5, 0, T)}
    )


def _memory(T):
    return pd.DataFrame(
        {
            "phase": ["forward"] * T + ["backward"] * T,
            "step": list(range(T)) + list(range(T))[::-1],
            "bytes": list(range(1, T + 1)) + list(range(T - 1, -1, -1)),
        }
    )


def test_animation_frames_run_forward_then_backward():
    fig = unroll_animation(_steps(8), _memory(8))
    names = [f.name for f in fig.frames]
    assert names == [f"f{t}" for t in range(8)] + [f"b{t}" for t in range(7, -1, -1)]
    assert fig.layout.updatemenus[0].buttons[0].label == "▶ Play"
    assert len(fig.layout.sliders[0].steps) == 16
    # forward frame 3: h0..h3 lit (blue half of the scale), the rest idle (0)
    h = np.asarray(fig.frames[3].data[1].marker.color)
    assert np.all((h[:4] > 0) & (h[:4] <= 0.5)) and np.all(h[4:] == 0)
    # backward frame at t = 5: h5..h7 carry gradient (red half), the memory bar shrank
    back = fig.frames[8 + 2]
    h = np.asarray(back.data[1].marker.color)
    assert np.all(h[5:] > 0.5) and np.all(h[:5] <= 0.5)
    assert back.data[6].x[0] == 5  # bytes held after backward step 5
    # the heading is a trace of the same frame: it names the step the ring highlights
    assert fig.frames[3].data[7].text[0] == "forward pass · step t = 3 of 7"
    assert back.data[7].text[0] == "backward pass · step t = 5 of 7" and back.data[5].x[0] == 5


def test_long_sequences_animate_a_sliding_window_and_sample_frames():
    fig = unroll_animation(_steps(500), _memory(500), window=12, max_frames=60)
    W = graph.slots(500, 12, MARGIN_L + MARGIN_R).window  # as many steps as fit the narrowest figure
    assert 5 <= W < 12
    assert len(fig.frames) == 120
    assert len(fig.data[1].x) == W
    mid = fig.frames[30]
    labels = list(mid.data[1].text)
    t = int(mid.name[1:])
    assert f"h{t}" in labels and len(labels) == W
    first, last = labels[0][1:], labels[-1][1:]
    assert mid.data[7].text[0].endswith(f"steps {first}–{last} of 500 shown")


def test_static_diagram_has_no_frames_and_shows_peak_memory():
    fig = unroll_animation(_steps(5), _memory(5), static=True)
    assert len(fig.frames) == 0 and not fig.layout.updatemenus
    assert fig.data[-3].x[0] == 5
    scales = [t.marker.colorscale for t in fig.data if t.marker and t.marker.showscale]
    assert len(scales) == 1  # no colour bar that no node uses
    names = [a.text for a in fig.layout.annotations if "pass:" in a.text]
    assert names == ["backward pass: log10 ||∂L/∂h_t||"]
    long = unroll_animation(_steps(100), _memory(100), static=True, window=12)
    W = graph.slots(100, 12, MARGIN_L + MARGIN_R).window
    assert long.data[-2].text[0] == f"steps 0–{W - 1} of 100 shown"


def test_pareto_front_binomial_dominates_every_k():
    config = RunConfig(T=200, cell="lstm")
    p = memory_panels.pareto(config, memory.pareto_front(config))
    by = {t.name: t for t in p.figure.data}
    assert set(by) == {"full storage", "checkpoint every k", "checkpoint sqrt(T)", "binomial (revolve)"}
    df = p.data
    every_k = df[df["strategy"] == "checkpoint every k"]
    binom = df[df["strategy"] == "binomial (revolve)"]
    assert binom["bytes"].min() < every_k["bytes"].min()  # reaches memory no every-k schedule can
    assert binom["recomputed"].is_monotonic_decreasing


def test_every_registered_cell_has_one_presentation_row():
    """A new cell in bc.CELLS without a row in dashboard.config.cell_views.VIEWS fails here, not silently on a page."""
    import bptt_core as bc
    from dashboard.config.cell_views import VIEWS

    assert set(VIEWS) == set(bc.CELLS)
    for name, view in VIEWS.items():
        assert set(view.gate_labels) == set(bc.CELLS[name].gate_names)
    assert len({v.color for v in VIEWS.values()}) == len(VIEWS)


def test_numbers_in_equations_never_read_as_a_subtraction():
    from dashboard.config.cell_views import number

    assert number(-4.317e-05) == r"-4.317 \times 10^{-5}"
    assert number(0.25) == "0.25"


def test_the_memory_measurement_runs_this_code_from_anywhere_and_fails_with_a_message(tmp_path, monkeypatch):
    from dashboard.catalog import measure
    from dashboard.config import RunConfig

    monkeypatch.chdir(tmp_path)  # the child finds the project wherever the server was started
    peaks = measure.measured_peaks(RunConfig(T=20, hidden_size=4))
    assert peaks["checkpoint sqrt(T)"]["measured"] > 0
    assert peaks["this run"]["ledger"] == pytest.approx(peaks["this run"]["measured"], rel=0.5)
    monkeypatch.setattr(measure.sys, "executable", "/bin/false")
    with pytest.raises(ValueError, match="memory measurement failed"):
        measure.measured_peaks(RunConfig(T=20, hidden_size=4))


def test_a_measurement_past_its_timeout_is_refused_and_the_next_one_runs():
    from dashboard.catalog import measure
    from dashboard.config import RunConfig

    with pytest.raises(ValueError, match="took longer than"):
        measure.measured_peaks(RunConfig(T=400, hidden_size=64), timeout=1e-4)  # the child is stopped
    assert measure.measured_peaks(RunConfig(T=20, hidden_size=4))["this run"]["measured"] > 0  # and restarted


def test_the_measuring_child_answers_every_line_and_survives_a_bad_one():
    import io

    from dashboard.catalog import measure

    out = io.StringIO()
    measure.serve(io.StringIO('{"T": "zero"}\nnot json\n{"T": "5", "hidden_size": "3"}\n'), out)
    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert "T" in first["error"] and "JSONDecodeError" in second["error"]
    assert set(third) == set(measure.MODES) and third["this run"]["measured"] > 0


@pytest.mark.parametrize("T", [5, 60, 61, 500])
def test_unroll_caption_states_the_frame_stride(T):
    panel = panels.unroll(RunConfig(T=T), compute.run(RunConfig(T=T)), compute.stored_run(RunConfig(T=T)))
    frames = len(panel.figure.frames)
    if frames < 2 * T:
        assert f"It plays {frames} frames for the {2 * T} steps" in panel.caption
    else:
        assert "It plays" not in panel.caption
