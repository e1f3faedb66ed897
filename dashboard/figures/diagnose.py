"""Figures of a diagnosis: per-sequence Jacobian products and Lyapunov spectra, gate saturation, per-batch
gradient norms, input connectivity, and the fine-tuning runs of "try the fix"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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

#: The two runs of "try the fix", and their colours.
RUNS = {"as is": "#7f7f7f", "with the change": "#d62728"}


def _per_sequence(fig: go.Figure, df: pd.DataFrame, x: str, y: str, hover: str, **add) -> None:
    """One thin line per sequence and a thick median line per layer-direction (``label``), coloured by layer."""
    colors = layer_colors(int(df["layer"].max()) + 1)
    for name, part in df.groupby("label", sort=False):
        layer, d = int(part["layer"].iloc[0]), int(part["direction"].iloc[0])
        line = {"color": colors[layer], "dash": "dot" if d else "solid"}
        for s, seq in part.groupby("sequence", sort=True):
            fig.add_scatter(
                x=seq[x], y=seq[y], mode="lines", name=f"{name}, sequence {s}", legendgroup=name,
                showlegend=False, opacity=0.35, line={**line, "width": 1},
                hovertemplate=f"{name}, sequence {s}<br>{hover}<extra></extra>", **add,
            )  # fmt: skip
        median = part.groupby(x, sort=True)[y].median()
        fig.add_scatter(
            x=median.index, y=median.to_numpy(), mode="lines+markers" if x == "i" else "lines",
            name=f"{name} (median)", legendgroup=name, line={**line, "width": 3},
            hovertemplate=f"{name}, median over sequences<br>{hover}<extra></extra>", **add,
        )  # fmt: skip


def sequence_jacobians(df: pd.DataFrame) -> go.Figure:
    """``||∂h_t/∂h_k||`` (spectral norm, log axis) against the lag: every analysed sequence and the median,
    per layer and direction.

    Parameters
    ----------
    df : DataFrame with columns ``label``, ``layer``, ``direction``, ``sequence``, ``lag``, ``norm``
    """
    fig = go.Figure()
    _per_sequence(fig, df, "lag", "norm", "lag %{x}<br>||∂h_t/∂h_k|| = %{y:.3e}")
    fig.add_hline(y=1.0, line={"color": "#555", "width": 1}, annotation_text="1: neither grows nor shrinks")
    fig.update_yaxes(title="||∂h_t/∂h_k||₂ (log)", **log_axis(df["norm"].to_numpy(float), [1.0]))
    fig.update_xaxes(title="lag t - k (steps)")
    return base_layout(fig, "Jacobian products, sequence by sequence")


def lyapunov_spectrum(df: pd.DataFrame) -> go.Figure:
    """The leading finite-time Lyapunov exponents of each layer and direction, one line per sequence and the
    median, with the zero line.

    Parameters
    ----------
    df : DataFrame with columns ``label``, ``layer``, ``direction``, ``sequence``, ``i`` (1 = leading),
        ``exponent``
    """
    fig = go.Figure()
    _per_sequence(fig, df, "i", "exponent", "λ%{x} = %{y:+.4f} per step", marker={"size": 7})
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


def fix_runs(df: pd.DataFrame, *, title: str) -> go.Figure:
    """Two fine-tuning runs side by side: the training loss (log) and the global gradient norm (log) over the
    optimizer steps, "as is" and "with the change", and the held-out loss at each checkpoint.

    Parameters
    ----------
    df : DataFrame with columns ``run`` (a key of :data:`RUNS`), ``step``, ``loss``, ``grad_norm``,
        ``held_out`` (nan between checkpoints)
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "gradient norm before clipping"))
    for run, color in RUNS.items():
        part = df[df["run"] == run]
        fig.add_scatter(
            x=part["step"], y=finite_positive(part["loss"].to_numpy(float)), mode="lines", name=f"{run}: training loss",
            line={"color": color, "width": 1.5}, row=1, col=1,
            hovertemplate=f"{run}<br>step %{{x}}<br>loss %{{y:.4g}}<extra></extra>",
        )  # fmt: skip
        held = part[np.isfinite(part["held_out"].to_numpy(float))]
        fig.add_scatter(
            x=held["step"], y=finite_positive(held["held_out"].to_numpy(float)), mode="markers+lines",
            name=f"{run}: held-out loss", line={"color": color, "width": 3, "dash": "dot"}, marker={"size": 8},
            row=1, col=1, hovertemplate=f"{run}<br>step %{{x}}<br>held-out loss %{{y:.4g}}<extra></extra>",
        )  # fmt: skip
        fig.add_scatter(
            x=part["step"], y=finite_positive(part["grad_norm"].to_numpy(float)), mode="lines",
            name=f"{run}: gradient norm", line={"color": color, "width": 1.5}, row=1, col=2,
            hovertemplate=f"{run}<br>step %{{x}}<br>||g|| %{{y:.4g}}<extra></extra>",
        )  # fmt: skip
    losses = [df[c].to_numpy(float) for c in ("loss", "held_out")]
    fig.update_yaxes(row=1, col=1, title="loss (log)", **log_axis(*losses))
    fig.update_yaxes(row=1, col=2, title="||g|| (log)", **log_axis(df["grad_norm"].to_numpy(float)))
    fig.update_xaxes(title="fine-tuning step")
    return base_layout(fig, title, height=380)
