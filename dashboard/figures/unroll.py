"""The unrolled network, animated: forward left to right, then backward right to left."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from dashboard.figures.style import as_lists, base_layout, byte_axis, to_unit
from dashboard.vocabulary.numbers import human_bytes

ROWS = {"x": 0.0, "h": 1.0, "y": 2.0, "l": 3.0}
IDLE = "#d9d9d9"
FORWARD_SCALE, BACKWARD_SCALE, LOSS_SCALE = "Blues", "Reds", "Oranges"


def _ramp(scale: str, lo: float, hi: float, n: int = 6) -> list[list]:
    """``n`` stops of a named colour scale placed on [lo, hi] of a combined scale."""
    stops = np.linspace(0, 1, n)
    return [[lo + (hi - lo) * s, c] for s, c in zip(stops, sample_colorscale(scale, list(0.15 + 0.85 * stops)))]


#: One numeric scale for the hidden nodes: 0 idle (grey), (0, 0.5] forward blues, (0.5, 1] backward reds.
NODE_SCALE = [[0.0, IDLE], *_ramp(FORWARD_SCALE, 0.01, 0.5), *_ramp(BACKWARD_SCALE, 0.5001, 1.0)]
LOSS_NODE_SCALE = [[0.0, IDLE], *_ramp(LOSS_SCALE, 0.01, 1.0)]
PLAIN_SCALE = [[0.0, IDLE], [1.0, "#8c8c8c"]]


def add_pass_colorbars(
    fig: go.Figure, h_hi: float, g_lo: float, g_hi: float, *, static: bool, row=None, col=None, **bar
) -> None:
    """Colour bars with units for the two passes, carried by invisible traces: forward (RMS |h_t|, only
    while an animation plays: a finished diagram has no forward colours) and backward (log10 ||dL/dh_t||)."""
    bars = [(BACKWARD_SCALE, g_lo, g_hi, "backward: log10 ||∂L/∂h_t||", 1.02 if static else 1.14)]
    if not static:
        bars.insert(0, (FORWARD_SCALE, 0, h_hi, "forward: RMS |h_t|", 1.02))
    for scale, lo, hi, name, x in bars:
        marker = {"colorscale": scale, "cmin": lo, "cmax": hi, "color": [lo], "showscale": True}
        marker["colorbar"] = {"title": {"text": name, "side": "right"}, "x": x, "thickness": 14, **bar}
        fig.add_scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip", marker=marker, row=row, col=col
        )


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
        Steps drawn at once; the window follows the current step on long sequences.
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
    W = min(window, T)
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
    g_size = 22 + 22 * to_unit(log_g, g_lo, g_hi)
    labels = {row: np.array([f"{row}{i}" for i in range(T)]) for row in ("x", "h", "ŷ", "l")}

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
        traces[1]["marker"]["size"] = np.where(back, g_size[idx], 30.0)
        heading = "" if static else f"{phase} pass · step t = {t} of {T - 1}"
        if T > W:
            heading += f"{' · ' if heading else ''}steps {start}–{start + W - 1} of {T} shown"
        # the heading is a trace, so it changes in the same redraw as the nodes it describes
        traces.append({"type": "scatter", "x": [-0.6], "y": [ROWS["l"] + 0.75], "text": [heading]})
        return [as_lists(trace) for trace in traces]

    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.8, 0.2],
        vertical_spacing=0.12,
        subplot_titles=["", "peak memory held for backward" if static else "memory held for backward"],
    )
    # static edges: x→h, h→h, h→ŷ, ŷ→l in every slot
    ex, ey = [], []
    for i in slots:
        for a, b in (("x", "h"), ("h", "y"), ("y", "l")):
            ex += [i, i, None]
            ey += [ROWS[a], ROWS[b], None]
        if i < W - 1:
            ex += [i, i + 1, None]
            ey += [ROWS["h"], ROWS["h"], None]
    fig.add_scatter(
        x=ex,
        y=ey,
        mode="lines",
        line={"color": "#bdbdbd", "width": 2},
        hoverinfo="skip",
        showlegend=False,
        row=1,
        col=1,
    )
    first = frame_traces("backward" if static else "forward", 0, with_text=True)
    styles = [
        {
            "mode": "markers+text",
            "marker": {"size": 24, "symbol": "square", **_scale(PLAIN_SCALE)},
            "textposition": "bottom center",
            "hoverinfo": "text",
            "name": "inputs x_t",
        },
        {
            "mode": "markers+text",
            "marker": {"line": {"width": 1, "color": "#444"}, **_scale(NODE_SCALE)},
            "textposition": "middle center",
            "textfont": {"color": "black", "size": 11},
            "name": "hidden h_t",
            "hovertemplate": "h_%{customdata[0]}<br>RMS |h| = %{customdata[1]:.3f}"
            "<br>||dL/dh|| = %{customdata[2]:.3e}<extra></extra>",
        },
        {
            "mode": "markers+text",
            "marker": {"size": 24, "symbol": "diamond", **_scale(PLAIN_SCALE)},
            "textposition": "top center",
            "hoverinfo": "text",
            "name": "outputs ŷ_t",
        },
        {
            "mode": "markers+text",
            "marker": {"size": 26, "symbol": "hexagon", **_scale(LOSS_NODE_SCALE)},
            "textposition": "top center",
            "hovertemplate": "l_%{customdata[0]} = %{customdata[1]:.4f}<extra></extra>",
            "name": "losses l_t",
        },
        {
            "mode": "markers",
            "marker": {"size": 16, "symbol": "triangle-left", **_scale(NODE_SCALE)},
            "name": "gradient ∂L/∂h flowing back",
            "hoverinfo": "skip",
        },
        {
            "mode": "markers",
            "marker": {"size": 46, "color": "rgba(0,0,0,0)", "line": {"width": 3, "color": "black"}},
            "name": "current step",
            "hoverinfo": "skip",
        },
    ]
    for trace, style in zip(first[:6], styles):
        style = {**style, "marker": {**style.get("marker", {}), **trace.pop("marker", {})}}
        fig.add_trace(_scatter(trace, style), row=1, col=1)
    bar = {k: v for k, v in first[6].items() if k != "type"}
    fig.add_trace(
        go.Bar(
            **bar,
            orientation="h",
            marker_color="#2ca02c",
            textposition="outside",
            cliponaxis=False,
            showlegend=False,
            hoverinfo="x",
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        _scatter(
            first[7],
            {"mode": "text", "textposition": "middle right", "textfont": {"size": 15}, "hoverinfo": "skip"},
        ),
        row=1,
        col=1,
    )
    add_pass_colorbars(fig, h_hi, g_lo, g_hi, static=static, row=1, col=1, len=0.75, y=0.62)
    if static:
        base_layout(fig, title or "The unrolled network after the backward pass", height=560)
        fig.update_layout(margin={"l": 80, "r": 150, "t": 70, "b": 40})
        return _axes(fig, W, peak)
    animated = list(range(1, 9))  # node traces, arrows, ring, memory bar, heading
    frames, labels_by_name = [], {}
    for phase, order in (("forward", _frame_steps(T, max_frames)), ("backward", _frame_steps(T, max_frames)[::-1])):
        for t in order:
            traces = frame_traces(phase, int(t))
            frames.append({"data": traces, "traces": animated, "name": f"{phase[0]}{t}"})
            labels_by_name[f"{phase[0]}{t}"] = f"{'→' if phase == 'forward' else '←'} {t}"
    play = {"frame": {"duration": 220, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}}
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.08,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 0, "r": 10},
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, play]},
                    {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]},
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.2,
                "len": 0.8,
                "y": -0.04,
                "yanchor": "top",
                "currentvalue": {"prefix": "", "font": {"size": 12}},
                "steps": [
                    {"label": labels_by_name[f["name"]], "method": "animate", "args": [[f["name"]], pause]}
                    for f in frames
                ],
            }
        ],
    )
    base_layout(fig, title or "The unrolled network: forward, then backward", height=620)
    fig.update_layout(margin={"l": 80, "r": 150, "t": 70, "b": 120})
    _axes(fig, W, peak)
    # frames are plain dicts built from validated pieces: skip re-validating 2 x max_frames of them
    return go.Figure(data=fig.data, layout=fig.layout, frames=frames, _validate=False)


def _scale(colorscale: list) -> dict:
    return {"colorscale": colorscale, "cmin": 0.0, "cmax": 1.0}


def _scatter(trace: dict, style: dict) -> go.Scatter:
    return go.Scatter(**{k: v for k, v in trace.items() if k != "type"}, **style, showlegend=False)


def _axes(fig: go.Figure, W: int, peak: float) -> go.Figure:
    fig.update_xaxes(visible=False, range=[-0.7, W - 0.3], row=1, col=1)
    fig.update_yaxes(
        range=[-0.8, 4.0],
        tickvals=list(ROWS.values()),
        ticktext=["input x", "hidden h", "output ŷ", "loss l"],
        row=1,
        col=1,
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(title="held", row=2, col=1, **{**byte_axis([peak]), "range": [0, peak * 1.15]})
    fig.update_yaxes(visible=False, row=2, col=1)
    first_slot = 1 if W > 1 else 0  # label the edges of the second slot, clear of the current-step ring
    for name, (xa, ya) in {
        "W_ih": (first_slot + 0.25, 0.5),
        "W_out": (first_slot + 0.28, 1.62),
        "W_hh": (first_slot + 0.5, 1.2),
    }.items():
        if name == "W_hh" and W == 1:
            continue
        fig.add_annotation(x=xa, y=ya, text=name, showarrow=False, font={"size": 12, "color": "#555"}, row=1, col=1)
    fig.add_annotation(
        x=1.0,
        y=1.06,
        xref="paper",
        yref="paper",
        showarrow=False,
        xanchor="right",
        text="the same W_ih, W_hh, W_out at every step",
        font={"size": 12, "color": "#555"},
    )
    return fig
