"""Memory figures: what BPTT holds for backward, and what checkpointing or truncation buys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures.style import base_layout, byte_axis, envelope, log_axis

GROUP_COLORS = {
    "inputs x": "#bcbd22",
    "hidden states h": "#1f77b4",
    "cell states c": "#17becf",
    "gate activations": "#ff7f0e",
    "pre-activations / tanh(c)": "#9467bd",
    "checkpoints": "#2ca02c",
}
#: One colour per memory strategy, in every figure that compares them.
STRATEGY_COLORS = {
    "full storage": "#d62728",
    "checkpoint sqrt(T)": "#1f77b4",
    "checkpoint every 4": "#2ca02c",
    "checkpoint every k": "#2ca02c",
    "truncation 8": "#9467bd",
    "binomial (revolve)": "#ff7f0e",
}
STRATEGY_DASH = {
    "full storage": "solid",
    "checkpoint sqrt(T)": "dash",
    "checkpoint every 4": "dot",
    "truncation 8": "dashdot",
}


def memory_stack(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Bytes held for backward by tensor group, stacked, through the forward and backward pass.

    Parameters
    ----------
    df : DataFrame with columns ``moment``, ``phase``, ``step``, ``group``, ``bytes``
        One row per (moment, group); ``moment`` counts the steps run so far. A long pass is drawn at the
        moments of its total's envelope (:func:`~dashboard.figures.style.envelope`).
    """
    total = df.groupby("moment")["bytes"].sum()
    drawn = df[df["moment"].isin(total.index[envelope(total.to_numpy())])]
    fig = go.Figure()
    for group, part in drawn.groupby("group", sort=False):
        fig.add_scatter(
            x=part["moment"],
            y=part["bytes"],
            name=str(group),
            stackgroup="held",
            mode="lines",
            line={"width": 0.5, "color": GROUP_COLORS.get(str(group))},
            customdata=part["step"].to_numpy(),  # numbers and words apart: each array goes to the browser whole
            text=part["phase"].to_numpy(dtype=str),
            hovertemplate="%{text} step %{customdata}<br>%{y:,.0f} B<extra>" + str(group) + "</extra>",
        )
    forward_end = df.loc[df["phase"] == "forward", "moment"].max()
    if pd.notna(forward_end):
        fig.add_vline(
            x=forward_end + 0.5,
            line={"color": "black", "dash": "dash"},
            annotation_text="backward starts",
            annotation_position="top left",
        )
    fig.update_xaxes(title="steps run so far (forward → backward)")
    fig.update_yaxes(title="held by the call", **byte_axis(df.groupby("moment")["bytes"].sum()))
    return base_layout(fig, title or "What the call holds, by tensor")


def memory_timelines(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Held bytes through the pass for several strategies (the checkpointing sawtooth).

    Parameters
    ----------
    df : DataFrame with columns ``strategy``, ``moment``, ``phase``, ``step``, ``bytes``
        A long pass is drawn at its envelope (:func:`~dashboard.figures.style.envelope`).
    """
    fig = go.Figure()
    for strategy, part in df.groupby("strategy", sort=False):
        part = part.iloc[envelope(part["bytes"].to_numpy())]
        fig.add_scatter(
            x=part["moment"],
            y=part["bytes"],
            name=str(strategy),
            mode="lines",
            line={
                "dash": STRATEGY_DASH.get(str(strategy), "solid"),
                "width": 2.5,
                "color": STRATEGY_COLORS.get(str(strategy)),
            },
            customdata=part["step"].to_numpy(),
            text=part["phase"].to_numpy(dtype=str),
            hovertemplate="%{text} step %{customdata}<br>%{y:,.0f} B<extra>" + str(strategy) + "</extra>",
        )
    fig.update_xaxes(title="steps run so far, recomputed steps included")
    fig.update_yaxes(title="held for backward", **byte_axis(df["bytes"]))
    return base_layout(fig, title or "Held memory through the pass, by strategy")


def memory_vs_length(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Peak held bytes (log-log) and recomputed steps against sequence length, per strategy, one above the
    other (side by side, their axis titles collide in a narrow column).

    Parameters
    ----------
    df : DataFrame with columns ``T``, ``strategy``, ``bytes``, ``recomputed``
    """
    fig = make_subplots(
        rows=2,
        cols=1,
        subplot_titles=["peak memory held", "extra forward steps (recompute)"],
        vertical_spacing=0.2,
    )
    for strategy, part in df.groupby("strategy", sort=False):
        style = {
            "dash": STRATEGY_DASH.get(str(strategy), "solid"),
            "width": 2.5,
            "color": STRATEGY_COLORS.get(str(strategy)),
        }
        fig.add_scatter(
            x=part["T"],
            y=part["bytes"],
            name=str(strategy),
            mode="lines+markers",
            line=style,
            legendgroup=str(strategy),
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=part["T"],
            y=part["recomputed"],
            name=str(strategy),
            mode="lines+markers",
            line=style,
            legendgroup=str(strategy),
            showlegend=False,
            row=2,
            col=1,
        )
    fig.update_xaxes(title="sequence length T", row=1, col=1, **log_axis(df["T"], across=True))
    fig.update_xaxes(title="sequence length T", row=2, col=1)
    fig.update_yaxes(title="bytes (log)", row=1, col=1, **log_axis(df["bytes"], in_bytes=True))
    top = max(float(df["recomputed"].max()), 1.0) if len(df) else 1.0
    fig.update_yaxes(title="recomputed steps", range=[-0.06 * top, 1.08 * top], row=2, col=1)  # markers at 0 whole
    return base_layout(fig, title or "Memory and recompute cost against T", height=640)


def memory_budget(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Parameters, gradient buffers and stored activations, for float64 and float32.

    Parameters
    ----------
    df : DataFrame with columns ``item``, ``dtype``, ``bytes``
    """
    fig = go.Figure()
    for dtype, part in df.groupby("dtype", sort=False):  # bars across: item names and sizes never crowd
        fig.add_bar(
            y=part["item"],
            x=part["bytes"],
            orientation="h",
            name=str(dtype),
            text=part["label"] if "label" in part else None,
            textposition="outside",
            cliponaxis=False,
        )
    top = float(df["bytes"].max()) if len(df) else 1.0
    fig.update_xaxes(title="bytes", **{**byte_axis(df["bytes"], max_ticks=4), "range": [0, top * 1.3]})
    fig.update_yaxes(autorange="reversed")
    fig.layout.barmode = "group"
    return base_layout(fig, title or "Training memory: parameters, gradients, stored activations", height=460)


def _shown_label(strategy: str, label: str, labels: list[str]) -> str:
    """The few marker labels that do not pile up: full storage, √T, the ends of every-k, binomial S = 1, 2, 4
    and the most slots."""
    if strategy == "binomial (revolve)":
        return label if label in ("S=1", "S=2", "S=4", labels[-1]) else ""
    if strategy == "checkpoint every k":
        return label if label in (labels[0], labels[-1]) else ""
    return "√T" if strategy == "checkpoint sqrt(T)" else "full"


def pareto_front(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Memory held against forward steps (both log), one marker per schedule.

    Parameters
    ----------
    df : DataFrame with columns ``strategy``, ``label``, ``bytes``, ``recomputed``, ``forward``
    """
    fig = go.Figure()
    symbols = {
        "full storage": "star",
        "checkpoint every k": "circle",
        "checkpoint sqrt(T)": "diamond",
        "binomial (revolve)": "square",
    }
    for strategy, part in df.groupby("strategy", sort=False):
        part = part.sort_values("bytes")
        labels = list(part["label"])
        ordered = sorted(labels, key=_number)
        color = STRATEGY_COLORS.get(str(strategy))
        fig.add_scatter(
            x=part["bytes"],
            y=part["forward"],
            name=str(strategy),
            text=[_shown_label(str(strategy), lab, ordered) for lab in labels],
            customdata=np.stack([part["label"], part["recomputed"]], axis=1),
            mode="lines+markers+text" if strategy == "binomial (revolve)" else "markers+text",
            textposition=[
                _text_position(str(strategy), lab, ordered, y, df["forward"].max())
                for lab, y in zip(labels, part["forward"])
            ],
            marker={"size": 11, "symbol": symbols.get(str(strategy)), "color": color},
            line={"color": color},
            hovertemplate="%{customdata[0]}: %{x:,.0f} B held, %{customdata[1]:,.0f} extra forward steps"
            "<extra>" + str(strategy) + "</extra>",
        )
    fig.update_xaxes(title="bytes held for backward (log)", **log_axis(df["bytes"], in_bytes=True, across=True))
    fig.update_yaxes(title="forward steps run (log)", **log_axis(df["forward"]))
    return base_layout(fig, title or "Memory against recomputation: the Pareto front", height=460)


def _text_position(strategy: str, label: str, labels: list[str], y: float, top: float) -> str:
    """Labels stay inside the plot and apart: full storage (rightmost) to its left, √T under its marker, the
    ends of every-k away from each other (the most slots, leftmost, to its left), the highest marker beside it."""
    if strategy == "full storage":
        return "top left"
    if strategy == "checkpoint sqrt(T)":
        return "bottom center"
    if strategy == "checkpoint every k" and len(labels) > 1 and label == labels[-1]:
        return "top left"
    return "middle right" if y >= top else "top right"


def _number(label: str) -> float:
    """``"k=16"`` -> 16 (labels sort by their number)."""
    return float(label.split("=")[-1]) if "=" in label else 0.0
