"""The unrolled network, animated: forward left to right, then backward right to left."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures import graph
from dashboard.figures.graph import LOSS_NODE_SCALE, NODE_SCALE, PLAIN_SCALE
from dashboard.figures.style import SMALL_FONT, as_lists, base_layout, byte_axis, thinned, to_unit
from dashboard.vocabulary.numbers import human_bytes

ROWS = {"x": 0.0, "h": 1.0, "y": 2.0, "l": 3.0}
#: Vertical scale of the graph (px per row) and the y range below the inputs' labels; the top of the range
#: and the heading's place depend on its lines (two while animating, at most one in a diagram).
ROW_PX, BOTTOM = 66, -0.55
TOP = {False: 4.25, True: 4.0}
HEADING_Y = {False: 3.88, True: 3.76}
#: The memory bar's row (px): the gap above it for its title, the bar, and its axis below.
MEMORY_GAP, MEMORY_ROW, MEMORY_AXIS = 44, 46, 52
MARGIN_L, MARGIN_R = 80, 30


def _frame_steps(T: int, max_frames: int) -> np.ndarray:
    return np.arange(T) if T <= max_frames else np.unique(np.linspace(0, T - 1, max_frames).round().astype(int))


def unroll_animation(
    steps: pd.DataFrame,
    memory: pd.DataFrame,
    *,
    window: int = 12,
    max_frames: int = 60,
    static: bool = False,
    title: str = "",
) -> go.Figure:
    """Animated unrolled graph with Play/Pause and a step slider.

    Parameters
    ----------
    steps : DataFrame with one row per step and columns ``t``, ``h_rms`` (activation
        magnitude), ``loss`` (step loss), ``grad_norm`` (||dL/dh_t||)
    memory : DataFrame with columns ``phase`` ("forward"/"backward"), ``step``, ``bytes``
        Held bytes after each step of each pass.
    window : int
        Steps drawn at once at most (fewer when they would crowd the narrowest figure,
        :func:`dashboard.figures.graph.slots`); the window follows the current step on long sequences.
    max_frames : int
        Frames per pass at most (long sequences are sampled evenly).
    static : bool
        Draw only the end of the backward pass, without frames or controls (a diagram).

    Returns
    -------
    go.Figure
        ``fig.frames`` holds the forward frames, then the backward frames.
    """
    T = len(steps)
    fit = graph.slots(T, window, MARGIN_L + MARGIN_R)
    W = fit.window
    h_rms = steps["h_rms"].to_numpy(float)
    loss = steps["loss"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_g = np.log10(np.where(steps["grad_norm"].to_numpy(float) > 0, steps["grad_norm"].to_numpy(float), np.nan))
    finite_h, finite_g = h_rms[np.isfinite(h_rms)], log_g[np.isfinite(log_g)]
    h_hi = float(finite_h.max()) if finite_h.size else 1.0
    g_lo, g_hi = (float(finite_g.min()), float(finite_g.max())) if finite_g.size else (0.0, 1.0)
    l_hi = float(np.nanmax(np.where(np.isfinite(loss), loss, np.nan))) if np.isfinite(loss).any() else 1.0
    held = {ph: dict(zip(part["step"], part["bytes"])) for ph, part in memory.groupby("phase")}
    peak = max(float(memory["bytes"].max()), 1.0) if len(memory) else 1.0
    slots = np.arange(W, dtype=float)
    # colour values and sizes of every step, computed once (numbers on the combined scales)
    fwd_val = 0.01 + 0.49 * to_unit(h_rms, 0, h_hi)
    bwd_val = 0.51 + 0.49 * to_unit(log_g, g_lo, g_hi)
    loss_val = 0.01 + 0.99 * to_unit(loss, 0, l_hi)
    g_size = graph.NODE_MIN + (graph.NODE_MAX - graph.NODE_MIN) * to_unit(log_g, g_lo, g_hi)
    steps_ = np.arange(T)
    labels = {row: np.array(thinned([f"{row}{i}" for i in steps_], steps_, fit.stride)) for row in ("x", "h", "ŷ", "l")}

    def frame_traces(phase: str, t: int, with_text: bool = False) -> list[dict]:
        start = int(np.clip(t - W // 2, 0, T - W))
        idx = np.arange(start, start + W)
        done = idx <= t if phase == "forward" else np.ones(W, bool)
        back = idx >= t if phase == "backward" else np.zeros(W, bool)
        h_val = np.where(back, bwd_val[idx], np.where(done, fwd_val[idx], 0.0))
        arrows = back & (idx > 0)
        mem = peak if static else held.get(phase, {}).get(t, 0)

        def row(name: str, key: str, color: np.ndarray, **kw) -> dict:
            trace = {"type": "scatter", "x": slots, "y": np.full(W, ROWS[name]), "marker": {"color": color}, **kw}
            if with_text or T > W:  # labels change only when the window slides
                trace["text"] = labels[key][idx]
            return trace

        traces = [
            row("x", "x", done.astype(float)),
            row("h", "h", h_val, customdata=np.stack([idx, h_rms[idx], 10.0 ** log_g[idx]], axis=1)),
            row("y", "ŷ", done.astype(float)),
            row("l", "l", np.where(done, loss_val[idx], 0.0), customdata=np.stack([idx, loss[idx]], axis=1)),
            {
                "type": "scatter",
                "x": slots[arrows] - 0.5,
                "y": np.full(int(arrows.sum()), ROWS["h"]),
                "marker": {"color": bwd_val[idx][arrows]},
            },
            {"type": "scatter", "x": [] if static else [float(t - start)], "y": [] if static else [ROWS["h"]]},
            {"type": "bar", "x": [mem], "y": ["held"], "text": [human_bytes(mem)]},
        ]
        traces[1]["marker"]["size"] = np.where(back, g_size[idx], graph.NODE_MAX - 4.0)
        shown = f"steps {start}–{start + W - 1} of {T} shown" if T > W else ""
        lines = [shown] if static else [f"{phase} pass · step t = {t} of {T - 1}", shown]
        # the heading is a trace, so it changes in the same redraw as the nodes it describes
        traces.append({"type": "scatter", "x": [-graph.PAD], "y": [HEADING_Y[static]], "text": [graph.heading(lines)]})
        return [as_lists(trace) for trace in traces]

    first = frame_traces("backward" if static else "forward", 0, with_text=True)
    fig, plot_px = _canvas(first, W, static, title, (h_hi, g_lo, g_hi))
    _axes(fig, W, peak, static)
    if static:
        return fig
    animated = list(range(1, 9))  # node traces, arrows, ring, memory bar, heading
    frames, labels_of = [], []
    for phase, order in (("forward", _frame_steps(T, max_frames)), ("backward", _frame_steps(T, max_frames)[::-1])):
        for t in order:
            frames.append({"data": frame_traces(phase, int(t)), "traces": animated, "name": f"{phase[0]}{t}"})
            labels_of.append(f"{'→' if phase == 'forward' else '←'} {t}")
    graph.controls(fig, frames, labels_of, below=MEMORY_AXIS, plot_px=plot_px, ms=220)
    # frames are plain dicts built from validated pieces: skip re-validating 2 x max_frames of them
    return go.Figure(data=fig.data, layout=fig.layout, frames=frames, _validate=False)


#: How each of the first frame's traces is drawn: inputs, hidden states, outputs, losses, arrows, ring.
STYLES = [
    {
        "mode": "markers+text",
        "marker": {"size": 22, "symbol": "square", "colorscale": PLAIN_SCALE, "cmin": 0.0, "cmax": 1.0},
        "textposition": "bottom center",
        "hoverinfo": "text",
        "name": "inputs x_t",
    },
    {
        "mode": "markers+text",
        "marker": {"line": {"width": 1, "color": "#444"}, "colorscale": NODE_SCALE, "cmin": 0.0, "cmax": 1.0},
        "textposition": "middle center",
        "textfont": {"color": "black", "size": 11},
        "name": "hidden h_t",
        "hovertemplate": "h_%{customdata[0]}<br>RMS |h| = %{customdata[1]:.3f}"
        "<br>||dL/dh|| = %{customdata[2]:.3e}<extra></extra>",
    },
    {
        "mode": "markers+text",
        "marker": {"size": 22, "symbol": "diamond", "colorscale": PLAIN_SCALE, "cmin": 0.0, "cmax": 1.0},
        "textposition": "top center",
        "hoverinfo": "text",
        "name": "outputs ŷ_t",
    },
    {
        "mode": "markers+text",
        "marker": {"size": 24, "symbol": "hexagon", "colorscale": LOSS_NODE_SCALE, "cmin": 0.0, "cmax": 1.0},
        "textposition": "top center",
        "hovertemplate": "l_%{customdata[0]} = %{customdata[1]:.4f}<extra></extra>",
        "name": "losses l_t",
    },
    {
        "mode": "markers",
        "marker": {"size": 14, "symbol": "triangle-left", "colorscale": NODE_SCALE, "cmin": 0.0, "cmax": 1.0},
        "name": "gradient ∂L/∂h flowing back",
        "hoverinfo": "skip",
    },
    {
        "mode": "markers",
        "marker": {"size": graph.RING, "color": "rgba(0,0,0,0)", "line": {"width": 3, "color": "black"}},
        "name": "current step",
        "hoverinfo": "skip",
    },
]


def _canvas(first: list[dict], W: int, static: bool, title: str, scales: tuple) -> tuple[go.Figure, float]:
    """The figure at its first frame, sized in px: title and colour bars on top, the graph, the memory bar,
    room for the controls below; returns it and its plot area's height (px)."""
    graph_px = (TOP[static] - BOTTOM) * ROW_PX
    plot_px = graph_px + MEMORY_GAP + MEMORY_ROW
    top = graph.top_margin(static)
    bottom = MEMORY_AXIS + (0 if static else graph.BUTTONS_BAND + graph.SLIDER_BAND + 8)
    height = round(top + plot_px + bottom)
    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=[graph_px, MEMORY_ROW],
        vertical_spacing=MEMORY_GAP / plot_px,
        subplot_titles=["", "peak memory held for backward" if static else "memory held for backward"],
    )
    if not static:  # the bar's title nearer the bar, clear of the input labels above it (squeezed beside the code)
        fig.update_annotations(yshift=-12)
    ex, ey = [], []  # static edges: x→h, h→ŷ, ŷ→l in every slot, h→h between slots
    for i in range(W):
        for a, b in (("x", "h"), ("h", "y"), ("y", "l")):
            ex += [i, i, None]
            ey += [ROWS[a], ROWS[b], None]
        if i < W - 1:
            ex += [i, i + 1, None]
            ey += [ROWS["h"], ROWS["h"], None]
    edges = {"mode": "lines", "line": {"color": "#bdbdbd", "width": 2}, "hoverinfo": "skip", "showlegend": False}
    fig.add_scatter(x=ex, y=ey, **edges, row=1, col=1)
    for trace, style in zip(first[:6], STYLES):
        style = {**style, "marker": {**style.get("marker", {}), **trace.pop("marker", {})}}
        fig.add_trace(_scatter(trace, style), row=1, col=1)
    bar = {k: v for k, v in first[6].items() if k != "type"}
    fig.add_bar(
        **bar,
        orientation="h",
        marker_color="#2ca02c",
        textposition="outside",
        cliponaxis=False,
        showlegend=False,
        hoverinfo="x",
        row=2,
        col=1,
    )
    heading = {"mode": "text", "textposition": "middle right", "textfont": {"size": graph.HEADING_FONT}}
    fig.add_trace(_scatter(first[7], {**heading, "hoverinfo": "skip"}), row=1, col=1)
    graph.pass_colorbars(fig, *scales, static=static, height=height, row=1, col=1)
    name = "The unrolled network after the backward pass" if static else "The unrolled network: forward, then backward"
    base_layout(fig, title or name, height=height)
    fig.layout.margin, fig.layout.height = {"l": MARGIN_L, "r": MARGIN_R, "t": top, "b": bottom}, height
    graph.title_band(fig, "the same W_ih, W_hh, W_out at every step")
    return fig, plot_px


def _scatter(trace: dict, style: dict) -> go.Scatter:
    return go.Scatter(**{k: v for k, v in trace.items() if k != "type"}, **style, showlegend=False)


def _axes(fig: go.Figure, W: int, peak: float, static: bool) -> go.Figure:
    """The graph's rows named on the left, the weights named once on their edges, the memory bar's axis."""
    fig.update_xaxes(visible=False, range=[-graph.PAD, W - 1 + graph.PAD], row=1, col=1)
    fig.update_yaxes(
        range=[BOTTOM, TOP[static]],
        tickvals=list(ROWS.values()),
        ticktext=["input x", "hidden h", "output ŷ", "loss l"],
        row=1,
        col=1,
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(title="held", row=2, col=1, **{**byte_axis([peak]), "range": [0, peak * 1.35]})
    fig.update_yaxes(visible=False, row=2, col=1)
    # W_hh under the edge between two steps (clear of the current-step ring at t = 0 when there is room),
    # W_out right of the next step's edge up to ŷ, W_ih right of the step after it, each in its own space
    first = 1 if W > 2 else 0
    below = (graph.NODE_MAX / 2 + 20) / ROW_PX  # under the largest node, clear of its outline and labels
    where = {"W_hh": (first + 0.5, ROWS["h"] - below, "center"), "W_out": (first + 0.4, 1.5, "left")}
    where["W_ih"] = (min(first + 1, W - 1) + 0.1, 0.5, "left")
    for name, (x, y, anchor) in where.items():
        if name != "W_hh" or W > 1:
            font = {"size": SMALL_FONT, "color": "#555"}
            fig.add_annotation(x=x, y=y, text=name, showarrow=False, xanchor=anchor, font=font, row=1, col=1)
    return fig
