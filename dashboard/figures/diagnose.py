"""Figures of a diagnosis: Lyapunov spectra, gate saturation, per-batch gradient norms, input connectivity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.depth import layer_colors
from dashboard.figures.style import (
    NARROWEST,
    SEQUENTIAL,
    SMALL_FONT,
    base_layout,
    finite_positive,
    label_stride,
    log_axis,
    text_px,
    thinned,
)

#: The input-connectivity strip's plot width at the narrowest figure (px): margins and colour bar taken off.
STRIP_PX = NARROWEST - 70 - 30 - 90


def lyapunov_spectrum(df: pd.DataFrame) -> go.Figure:
    """The leading finite-time Lyapunov exponents of each layer and direction, with the zero line.

    Parameters
    ----------
    df : DataFrame with columns ``label``, ``layer``, ``direction``, ``i`` (1 = leading), ``exponent``
    """
    colors = layer_colors(int(df["layer"].max()) + 1)
    fig = go.Figure()
    for name, part in df.groupby("label", sort=False):
        layer, d = int(part["layer"].iloc[0]), int(part["direction"].iloc[0])
        fig.add_scatter(
            x=part["i"],
            y=part["exponent"],
            mode="lines+markers",
            name=name,
            line={"color": colors[layer], "dash": "dot" if d else "solid", "width": 2.5},
            marker={"size": 8},
            hovertemplate=f"{name}<br>λ%{{x}} = %{{y:+.4f}} per step<extra></extra>",
        )
    fig.add_hline(y=0.0, line={"color": "#555", "width": 1.5}, annotation_text="0: neither grows nor shrinks")
    fig.update_xaxes(title="exponent index i (1 = leading)", dtick=1)
    fig.update_yaxes(title="λ_i (ln growth per step)")
    return base_layout(fig, "Lyapunov spectrum of the input-driven Jacobians")


def gate_saturation(df: pd.DataFrame) -> go.Figure:
    """Share of each gate's units within 0.01 of a limit, per layer and direction (stacked: low, high).

    Parameters
    ----------
    df : DataFrame with columns ``label`` (layer and direction), ``gate``, ``side`` ("near the lower limit",
        "near the upper limit"), ``share``
    """
    fig = go.Figure()
    for side, color in zip(("near the lower limit", "near the upper limit"), ("#4c78a8", "#f58518")):
        part = df[df["side"] == side]
        fig.add_bar(
            x=[part["label"], part["gate"]],
            y=part["share"],
            name=side,
            marker_color=color,
            hovertemplate="%{x}<br>%{y:.1%} of units " + side + "<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="share of units (steps × sequences)", range=[0, 1], tickformat=".0%")
    return base_layout(fig, "Gate saturation (within 0.01 of a limit)")


def batch_norms(df: pd.DataFrame, *, clip: float | None = None) -> go.Figure:
    """The global gradient norm of each batch (log axis), with the median and a clip threshold if one is advised.

    Parameters
    ----------
    df : DataFrame with columns ``batch``, ``grad_norm``
    """
    values = finite_positive(df["grad_norm"].to_numpy(float))
    fig = go.Figure(
        go.Bar(
            x=df["batch"],
            y=values,
            marker_color="#4c78a8",
            hovertemplate="batch %{x}<br>||g|| = %{y:.4g}<extra></extra>",
        )
    )
    ok = values[np.isfinite(values)]
    if ok.size:
        fig.add_hline(y=float(np.median(ok)), line={"color": "#333", "dash": "dash"}, annotation_text="median")
    if clip is not None:
        fig.add_hline(y=clip, line={"color": "#d62728", "width": 2}, annotation_text=f"clip at {clip:.3g}")
    fig.update_xaxes(title="batch of your sequences", dtick=1 if len(df) <= 20 else None)
    fig.update_yaxes(title="global gradient norm (log)", **log_axis(values, *(() if clip is None else ([clip],))))
    return base_layout(fig, "Gradient norm of each batch")


def input_connectivity(df: pd.DataFrame, *, step: int) -> go.Figure:
    """``||∂ŷ_t/∂x_k||`` over the input steps k as one shaded strip, each cell labelled with its token.

    Parameters
    ----------
    df : DataFrame with columns ``k``, ``token`` (a character or the step number), ``norm``
    """
    with np.errstate(divide="ignore"):
        z = np.log10(finite_positive(df["norm"].to_numpy(float)))
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    tokens = df["token"].astype(str).tolist()
    stride = label_stride(len(tokens), max((text_px(t, SMALL_FONT) for t in tokens), default=0.0), STRIP_PX)
    fig = go.Figure(
        go.Heatmap(
            z=[z],
            x=df["k"],
            y=[""],
            text=[thinned(tokens, df["k"], stride)],  # what the cells show: every stride-th token
            customdata=[tokens],
            texttemplate="%{text}",
            textfont={"size": SMALL_FONT},
            colorscale=SEQUENTIAL,
            zmin=max(lo, hi - 8.0),
            zmax=hi,
            colorbar={"title": {"text": "log10 ||∂ŷ_t/∂x_k||", "side": "right"}, "thickness": 14},
            hovertemplate="step k=%{x} (%{customdata})<br>log10 ||∂ŷ/∂x_k|| = %{z:.2f}<extra></extra>",
        )
    )
    fig.add_vline(x=step, line={"color": "#d62728", "width": 2})
    fig.update_xaxes(title=f"input step k · red line: the read-out's step t = {step}", range=[-0.5, len(df) - 0.5])
    return base_layout(fig, f"How the read-out at t = {step} depends on each input", height=320)
