"""The rules that keep figures readable at every width, checked on the figures' data (the drawn geometry is
checked in a browser by tests/e2e/test_layout.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.figures import graph
from dashboard.figures.depth import GRID_MARGIN_L, GRID_MARGIN_R, grid_animation
from dashboard.figures.diagnose import STRIP_PX, input_connectivity
from dashboard.figures.style import (
    LABEL_GAP,
    NARROWEST,
    TITLE_FONT,
    base_layout,
    label_stride,
    legend_rows,
    text_px,
    thinned,
    wrap_title,
)
from dashboard.figures.unroll import MARGIN_L, MARGIN_R, unroll_animation


@pytest.mark.parametrize("n", [1, 2, 9, 60, 300, 1000])
@pytest.mark.parametrize("label_px", [7.0, 26.0])
def test_every_shown_label_keeps_its_distance(n, label_px):
    """Every stride-th label of n spread over the span: neighbours at least a label and a gap apart, and
    no sparser than needed (a stride one less would crowd them)."""
    span = 300.0
    k = label_stride(n, label_px, span)
    pitch = span / n
    assert k * pitch >= label_px + LABEL_GAP or n == 1
    assert k == 1 or (k - 1) * pitch < label_px + LABEL_GAP


def test_thinned_labels_follow_the_step_numbers_as_a_window_slides():
    steps = np.arange(13, 21)
    shown = thinned([f"x{t}" for t in steps], steps, 4)
    assert shown == ["", "", "", "x16", "", "", "", "x20"]


@pytest.mark.parametrize(
    "title",
    ["Flow matrix: how much each loss reaches each earlier state", "Eigenvalues of W_hh", "x" * 10 + " " + "y" * 40],
)
def test_a_long_title_wraps_into_lines_that_fit_the_narrowest_figure(title):
    lines = wrap_title(title).split("<br>")
    assert " ".join(lines) == title
    assert all(text_px(line, TITLE_FONT) <= NARROWEST - 20 for line in lines if " " in line)
    fig = base_layout(go.Figure(), title)
    assert fig.layout.margin.t == 60 + 24 * (len(lines) - 1)  # a line of margin for each line of title


@pytest.mark.parametrize("T", [1, 2, 5, 30, 300, 1000])
def test_steps_side_by_side_keep_apart_and_the_ring_inside_the_plot(T):
    for margins in (MARGIN_L + MARGIN_R, GRID_MARGIN_L + GRID_MARGIN_R):
        fit = graph.slots(T, 12, margins)
        plot = NARROWEST - margins
        pitch = plot / (fit.window - 1 + 2 * graph.PAD)
        assert 1 <= fit.window <= min(T, 12)
        assert fit.window == min(T, 12) or pitch >= graph.MIN_SLOT  # fewer only when they would crowd
        assert pitch >= graph.MIN_SLOT or fit.window == 1
        assert graph.PAD * pitch >= graph.RING / 2 + 1.5  # the ring on the first step (its line included)
        assert graph.NODE_MAX + 4 <= pitch or fit.window == 1  # the largest nodes never touch


def _steps(T):
    return pd.DataFrame(
        {"t": np.arange(T), "h_rms": np.linspace(0.1, 1, T), "loss": np.ones(T), "grad_norm": np.logspace(-5, 0, T)}
    )


def _memory(T):
    return pd.DataFrame({"phase": ["forward"] * T, "step": range(T), "bytes": range(1, T + 1)})


def _bands(fig) -> list[float]:
    """Where the colour bars' bands start (each bar's name above the bar), in px from the figure's top."""
    bars = [t.marker.colorbar for t in fig.data if t.marker and t.marker.showscale]
    return sorted((1 - bar.y) * fig.layout.height - graph.BAR_OFFSET for bar in bars)


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("T", [3, 30, 1000])
def test_the_unrolled_graphs_give_each_colour_bar_and_heading_line_its_own_room(T, static):
    rng = np.random.default_rng(T)
    for fig, margins in (
        (unroll_animation(_steps(T), _memory(T), static=static, max_frames=8), MARGIN_L + MARGIN_R),
        (
            grid_animation(*rng.uniform(0.1, 1, (2, 3, 2, T)), static=static, max_frames=8),
            GRID_MARGIN_L + GRID_MARGIN_R,
        ),
    ):
        tops = _bands(fig)
        assert len(tops) == (1 if static else 2)
        assert np.all(np.diff(tops) >= graph.BAR_BAND - 1e-6)  # one under the other, never on top of each other
        assert tops[0] >= graph.TITLE_BAND - 1e-6 and tops[-1] + graph.BAR_BAND <= fig.layout.margin.t
        traces = [f.data[-1] for f in fig.frames] or [t for t in fig.data if t.type == "scatter" and t.mode == "text"]
        headings = [str(trace.text[0]) for trace in traces]
        for line in (line for h in headings for line in h.split("<br>")):
            assert text_px(line, graph.HEADING_FONT) <= NARROWEST - margins  # the heading fits the plot


def test_the_connectivity_strip_labels_only_the_cells_that_have_room():
    n = 60
    df = pd.DataFrame({"k": np.arange(n), "token": [str(k) for k in range(n)], "norm": np.logspace(-3, 0, n)})
    shown = list(input_connectivity(df, step=n - 1).data[0].text[0])
    k = label_stride(n, text_px("59", 12), STRIP_PX)
    assert k > 1 and [s for s in shown if s] == [str(i) for i in range(0, n, k)]


def test_a_legend_that_wraps_at_the_narrowest_width_gets_its_rows():
    fig = go.Figure([go.Scatter(x=[0], y=[0], name=f"a rather long legend entry {i}") for i in range(6)])
    rows = legend_rows(fig)
    assert rows >= 3
    tall = base_layout(fig, "t").layout
    short = base_layout(go.Figure([go.Scatter(x=[0], y=[0], name=n) for n in "ab"]), "t").layout
    assert tall.margin.b - short.margin.b == (rows - 1) * 22
    assert tall.height - short.height == tall.margin.b - short.margin.b  # the plot keeps its height
