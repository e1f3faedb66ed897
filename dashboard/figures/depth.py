"""Figures over time and depth: a layer x time heat map, per-layer Jacobian curves, memory by layer,
and the unrolled grid (layers as rows, time as columns) animated through both passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from dashboard.figures import graph
from dashboard.figures.graph import NODE_SCALE, PLAIN_SCALE
from dashboard.figures.style import (
    SEQUENTIAL,
    base_layout,
    byte_axis,
    envelope,
    finite_positive,
    log_axis,
    thinned,
    to_unit,
)

DIRECTIONS = ("forward →", "reverse ←")
#: The grid's rows (px apart), the y range below the inputs' labels and above the losses' (in rows, by the
#: heading's lines: two while animating, at most one in a diagram), the margins beside it.
GRID_ROW_PX, GRID_BOTTOM, GRID_TOP = 62, -0.6, {False: 1.45, True: 1.05}
GRID_MARGIN_L, GRID_MARGIN_R = 90, 30


def layer_colors(n: int) -> list[str]:
    """One colour per layer, dark (bottom) to light (top), readable on white."""
    return sample_colorscale("Plasma", list(np.linspace(0.0, 0.75, n))) if n > 1 else ["#0d0887"]


def layer_time_heatmap(df: pd.DataFrame, *, quantity: str = "∂L/∂h_t") -> go.Figure:
    """``log10 ||dL/dh_t||`` for every layer (rows, top layer on top) against t, one panel per direction.

    Parameters
    ----------
    df : DataFrame with columns ``layer``, ``direction`` (0 forward, 1 reverse), ``t``, ``grad_norm``
    quantity : str
        What ``grad_norm`` is the norm of (the read-out's sensitivity ``∂ŷ_T/∂h_t``, say).
    """
    layers = sorted(df["layer"].unique())
    D = int(df["direction"].max()) + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        z_all = np.log10(finite_positive(df["grad_norm"].to_numpy()))
    finite = z_all[np.isfinite(z_all)]
    zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig = make_subplots(rows=1, cols=D, shared_yaxes=True, horizontal_spacing=0.09, subplot_titles=DIRECTIONS[:D])
    for d in range(D):
        part = df[df["direction"] == d].pivot(index="layer", columns="t", values="grad_norm")
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log10(finite_positive(part.to_numpy()))
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=part.columns.to_numpy(),
                y=[f"layer {layer}" for layer in part.index],
                coloraxis="coloraxis",
                hovertemplate=f"%{{y}} {DIRECTIONS[d][-1]}, t=%{{x}}<br>log10 ||{quantity}|| = %{{z:.2f}}"
                "<extra></extra>",
            ),
            row=1,
            col=d + 1,
        )
        fig.update_xaxes(title="time step t", row=1, col=d + 1)
    fig.update_layout(
        coloraxis={
            "colorscale": SEQUENTIAL,
            "cmin": zmin,
            "cmax": zmax,
            "colorbar": {"title": {"text": f"log10 ||{quantity}||", "side": "right"}, "thickness": 14},
        }
    )
    fig.update_yaxes(title="layer (input at the bottom)", row=1, col=1)  # its title needs 180 px at one layer
    base_layout(fig, "Gradient over time and depth", height=265 + 70 * len(layers))
    fig.layout.margin.l = 90
    return fig


def layer_jacobians(df: pd.DataFrame) -> go.Figure:
    """``||∂h_t/∂h_k||`` (spectral norm, log axis) against the lag, one line per layer and direction.

    Parameters
    ----------
    df : DataFrame with columns ``label``, ``layer``, ``direction``, ``lag``, ``log10_spectral``
    """
    colors = layer_colors(int(df["layer"].max()) + 1)
    fig = go.Figure()
    for name, part in df.groupby("label", sort=False):
        layer, d = int(part["layer"].iloc[0]), int(part["direction"].iloc[0])
        fig.add_scatter(
            x=part["lag"],
            y=finite_positive(10.0 ** part["log10_spectral"].to_numpy(float)),
            mode="lines",
            name=name,
            line={"color": colors[layer], "dash": "dot" if d else "solid", "width": 2.5},
            hovertemplate=f"{name}<br>lag %{{x}}<br>||∂h_t/∂h_k|| = %{{y:.3e}}<extra></extra>",
        )
    fig.update_yaxes(title="||∂h_t/∂h_k||₂ (log)", **log_axis(10.0 ** df["log10_spectral"].to_numpy(float)))
    fig.update_xaxes(title="lag t - k (steps)")
    return base_layout(fig, "Jacobian products in each layer")


def layer_memory(df: pd.DataFrame) -> go.Figure:
    """Bytes each layer and direction holds for backward (tape, checkpoints, outputs) over the pass, stacked.

    Parameters
    ----------
    df : DataFrame with columns ``moment``, ``phase``, ``label``, ``layer``, ``direction``, ``bytes``
        A long pass is drawn at the moments of its total's envelope (:func:`~dashboard.figures.style.envelope`).
    """
    colors = layer_colors(int(df["layer"].max()) + 1)
    total = df.groupby("moment")["bytes"].sum()
    drawn = df[df["moment"].isin(total.index[envelope(total.to_numpy())])]
    fig = go.Figure()
    for name, part in drawn.groupby("label", sort=False):
        layer, d = int(part["layer"].iloc[0]), int(part["direction"].iloc[0])
        fig.add_scatter(
            x=part["moment"],
            y=part["bytes"],
            mode="lines",
            stackgroup="layers",
            name=name,
            line={"color": colors[layer], "width": 0.5},
            fillpattern={"shape": "/" if d else ""},
            customdata=part["step"].to_numpy(),  # numbers and words apart: each array goes to the browser whole
            text=part["phase"].to_numpy(dtype=str),
            hovertemplate=f"{name}<br>%{{text}} of step %{{customdata}}<br>%{{y:,.0f}} B<extra></extra>",
        )
    first_back = df.loc[df["phase"] == "backward", "moment"]
    if len(first_back):
        fig.add_vline(x=float(first_back.min()) - 0.5, line={"color": "grey", "dash": "dot"})
        fig.add_annotation(
            x=float(first_back.min()), y=1.0, yref="paper", text="backward starts", showarrow=False, xanchor="left"
        )
    fig.update_yaxes(title="held for backward", **byte_axis(df.groupby("moment")["bytes"].sum()))
    fig.update_xaxes(title="moment of the pass (one per step of each layer)")
    return base_layout(fig, "Stored for backward, by layer")


def _events(L: int, D: int, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order both passes visit the nodes: forward layer by layer (reverse direction right to left),
    then backward from the top layer down (each direction against its own reading order).

    Returns
    -------
    fpos, bpos : ndarray of shape (L, D, T)
        Position of each node's forward and backward visit in the event list.
    events : ndarray of shape (2 L D T, 4)
        ``(phase, layer, direction, t)`` of each event, phase 0 forward, 1 backward.
    """
    rows = []
    for layer in range(L):
        for d in range(D):
            rows += [(0, layer, d, t) for t in (range(T) if d == 0 else reversed(range(T)))]
    for layer in reversed(range(L)):
        for d in range(D):
            rows += [(1, layer, d, t) for t in (reversed(range(T)) if d == 0 else range(T))]
    events = np.array(rows, dtype=int)
    fpos, bpos = np.zeros((L, D, T), int), np.zeros((L, D, T), int)
    for i, (phase, layer, d, t) in enumerate(events):
        (bpos if phase else fpos)[layer, d, t] = i
    return fpos, bpos, events


def grid_animation(
    h_norm: np.ndarray,
    dh_norm: np.ndarray,
    *,
    window: int = 16,
    max_frames: int = 90,
    static: bool = False,
    title: str = "",
) -> go.Figure:
    """The unrolled stack as a grid, animated: layers as rows, time as columns.

    Parameters
    ----------
    h_norm, dh_norm : ndarray of shape (L, D, T)
        RMS of each layer-direction's output ``h_t`` and ``||dL/dh_t||``.
    window : int
        Columns drawn at once at most (fewer when they would crowd the narrowest figure,
        :func:`dashboard.figures.graph.slots`); on longer sequences the window follows the current step.
    max_frames : int
        Frames at most (the events of both passes are sampled evenly, each layer's last step kept).
    static : bool
        Only the end of the backward pass, without frames.

    Returns
    -------
    go.Figure
        Traces: edges, nodes, inputs, losses, current-step ring; ``fig.frames`` in event order.
    """
    L, D, T = h_norm.shape
    fit = graph.slots(T, window, GRID_MARGIN_L + GRID_MARGIN_R)
    W = fit.window
    fpos, bpos, events = _events(L, D, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_g = np.log10(np.where(dh_norm > 0, dh_norm, np.nan))
    finite_h, finite_g = h_norm[np.isfinite(h_norm)], log_g[np.isfinite(log_g)]
    h_hi = float(finite_h.max()) if finite_h.size else 1.0
    g_lo, g_hi = (float(finite_g.min()), float(finite_g.max())) if finite_g.size else (0.0, 1.0)
    fwd_val, bwd_val = 0.01 + 0.49 * to_unit(h_norm, 0, h_hi), 0.51 + 0.49 * to_unit(log_g, g_lo, g_hi)
    size = graph.NODE_MIN + (graph.NODE_MAX - graph.NODE_MIN) * to_unit(log_g, g_lo, g_hi)
    row_y = 1.0 + np.arange(L * D).reshape(L, D)  # row 0: inputs; top: losses
    top = float(L * D + 1)
    slots = np.arange(W, dtype=float)
    steps = np.arange(T)
    x_text, l_text = (np.array(thinned([f"{r}{t}" for t in steps], steps, fit.stride)) for r in ("x", "l"))

    def frame(e: int) -> list[dict]:
        phase, layer, d, t = events[e]
        start = int(np.clip(t - W // 2, 0, T - W))
        idx = np.arange(start, start + W)
        val = np.where(bpos[..., idx] <= e, bwd_val[..., idx], np.where(fpos[..., idx] <= e, fwd_val[..., idx], 0.0))
        sz = np.where(bpos[..., idx] <= e, size[..., idx], graph.NODE_MAX - 4.0)
        ll, dd, tt = np.meshgrid(np.arange(L), np.arange(D), idx, indexing="ij")
        nodes = {
            "x": np.broadcast_to(slots, (L, D, W)).ravel(),
            "y": np.broadcast_to(row_y[..., None], (L, D, W)).ravel(),
            "marker": {"color": val.ravel(), "size": sz.ravel()},
            "customdata": np.stack(
                [ll.ravel(), dd.ravel(), tt.ravel(), h_norm[..., idx].ravel(), dh_norm[..., idx].ravel()], axis=1
            ),
        }
        x_done = (fpos[0].min(axis=0)[idx] <= e).astype(float)
        l_done = (fpos[L - 1].max(axis=0)[idx] <= e).astype(float)
        inputs = {"x": slots, "y": np.zeros(W), "marker": {"color": x_done}, "text": x_text[idx]}
        losses = {"x": slots, "y": np.full(W, top), "marker": {"color": l_done}, "text": l_text[idx]}
        ring = {"x": [] if static else [float(t - start)], "y": [] if static else [float(row_y[layer, d])]}
        arrow = "→" if (phase == 0) == (d == 0) else "←"
        shown = f"steps {start}–{start + W - 1} of {T} shown" if T > W else ""
        passing = f"{'forward' if phase == 0 else 'backward'} pass · layer {layer} {arrow} · t = {t}"
        heading = graph.heading([shown] if static else [passing, shown])
        text = {"x": [-graph.PAD], "y": [top + (0.7 if static else 0.95)], "text": [heading]}  # redrawn with nodes
        return [nodes, inputs, losses, ring, text]

    last = len(events) - 1
    fig, plot_px = _grid_canvas(frame(last if static else 0), L * D, W, static, title, (h_hi, g_lo, g_hi))
    ticks = ["input x"] + [f"layer {layer} {'←' if d else '→'}" for layer in range(L) for d in range(D)] + ["loss l"]
    fig.update_yaxes(
        range=[GRID_BOTTOM, top + GRID_TOP[static]],
        tickvals=list(range(L * D + 2)),
        ticktext=ticks,
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(visible=False, range=[-graph.PAD, W - 1 + graph.PAD])
    if static:
        return fig
    keep = np.unique(np.r_[np.linspace(0, last, max_frames).round().astype(int), np.arange(T - 1, last + 1, T)])
    frames = [{"data": frame(int(e)), "traces": [1, 2, 3, 4, 5], "name": str(e)} for e in keep]
    graph.controls(fig, frames, [_tag(events[int(f["name"])]) for f in frames], below=8, plot_px=plot_px, ms=160)
    return go.Figure(data=fig.data, layout=fig.layout, frames=frames, _validate=False)


def _grid_canvas(
    first: list[dict], rows: int, W: int, static: bool, title: str, scales: tuple
) -> tuple[go.Figure, float]:
    """The grid at its first frame, sized in px: title and colour bars on top, the rows, room for the
    controls below; returns it and its plot area's height (px)."""
    plot_px = (rows + 1 + GRID_TOP[static] - GRID_BOTTOM) * GRID_ROW_PX
    top = graph.top_margin(static)
    bottom = 20 if static else 8 + graph.BUTTONS_BAND + graph.SLIDER_BAND + 8
    height = round(top + plot_px + bottom)
    fig = go.Figure()
    ex, ey = [], []
    for i in range(W):  # each column: input, every layer row, loss, one vertical line
        ex += [i, i, None]
        ey += [0.0, rows + 1.0, None]
    for y in range(1, rows + 1):
        ex += [0.0, W - 1.0, None]
        ey += [float(y), float(y), None]
    fig.add_scatter(x=ex, y=ey, mode="lines", line={"color": "#d0d0d0", "width": 2}, hoverinfo="skip")
    fig.add_scatter(
        **first[0],
        mode="markers",
        name="h_t of each layer",
        hovertemplate="layer %{customdata[0]} (direction %{customdata[1]}), t = %{customdata[2]}"
        "<br>RMS |h| = %{customdata[3]:.3f}<br>||∂L/∂h|| = %{customdata[4]:.3e}<extra></extra>",
    )
    fig.data[-1].marker.update(colorscale=NODE_SCALE, cmin=0.0, cmax=1.0, line={"width": 1, "color": "#444"})
    for trace, symbol, where in ((first[1], "square", "bottom center"), (first[2], "hexagon", "top center")):
        fig.add_scatter(**trace, mode="markers+text", textposition=where, hoverinfo="skip")
        fig.data[-1].marker.update(size=18, symbol=symbol, colorscale=PLAIN_SCALE, cmin=0.0, cmax=1.0)
    ring = {"size": graph.RING, "color": "rgba(0,0,0,0)", "line": {"width": 3, "color": "black"}}
    fig.add_scatter(**first[3], mode="markers", marker=ring, hoverinfo="skip")
    heading = {"mode": "text", "textposition": "middle right", "textfont": {"size": graph.HEADING_FONT}}
    fig.add_scatter(**first[4], **heading, hoverinfo="skip")
    graph.pass_colorbars(fig, *scales, static=static, height=height)
    fig.update_traces(showlegend=False)
    name = "The unrolled stack after the backward pass" if static else "The unrolled stack: forward layer by layer"
    base_layout(fig, title or name, height=height)
    fig.layout.margin, fig.layout.height = {"l": GRID_MARGIN_L, "r": GRID_MARGIN_R, "t": top, "b": bottom}, height
    subtitle = "each layer reuses its weights at every step" if static else "then backward, from the top layer down"
    graph.title_band(fig, subtitle)
    return fig, plot_px


def _tag(event: np.ndarray) -> str:
    """A slider label: the pass, the layer and the step of an event."""
    phase, layer, _, t = event
    return f"{'fwd' if phase == 0 else 'bwd'} l{layer} t{t}"
