"""Figures of learning without storing the past: each gradient method against BPTT, what it keeps and holds,
what it costs, UORO's noise, and a training race. Pure builders: tidy data in, a Figure out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures.style import base_layout, byte_ticks, finite_positive, log_axis, tick_label

#: One colour per method, in every figure that compares them (BPTT red and truncation purple, as on Memory).
METHOD_COLORS = {
    "rtrl": "#1f77b4",
    "uoro": "#ff7f0e",
    "snap1": "#2ca02c",
    "diagonal": "#17becf",
    "tbptt": "#9467bd",
    "bptt": "#d62728",
    "bptt_checkpoint": "#8c564b",
}


def method_accuracy(df: pd.DataFrame, *, cosine_title: str, error_title: str, title: str = "") -> go.Figure:
    """Each method's cosine with the exact gradient (bars) and relative error (markers, log axis; 0 is written).

    Parameters
    ----------
    df : DataFrame with columns ``key``, ``method``, ``cosine``, ``relative_error``
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=[cosine_title, error_title], horizontal_spacing=0.1, column_widths=[0.45, 0.55]
    )
    fig.update_annotations(font_size=12)  # the subplot titles, side by side in half a page
    colors = [METHOD_COLORS.get(k, "#7f7f7f") for k in df["key"]]
    cosine = df["cosine"].to_numpy(float)
    fig.add_bar(
        x=cosine,
        y=df["method"],
        orientation="h",
        marker_color=colors,
        text=[f"{c:.3g}" if np.isfinite(c) else "nan" for c in cosine],
        textposition="auto",
        showlegend=False,
        hovertemplate="%{y}: cosine %{x:.6g}<extra></extra>",
        row=1,
        col=1,
    )
    error = df["relative_error"].to_numpy(float)
    shown = finite_positive(error)
    values = shown[np.isfinite(shown)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (1e-16, 1.0)
    lo, hi = min(lo, hi / 100), max(hi, lo * 100)
    floor = lo / 10 ** (0.15 * np.log10(hi / lo))  # where a 0 (or nan) is written
    middle = np.sqrt(floor * hi)
    fig.add_scatter(
        x=np.where(np.isfinite(shown), shown, floor),
        y=df["method"],
        mode="markers+text",
        marker={"color": colors, "size": 13, "symbol": ["circle" if np.isfinite(v) else "line-ns" for v in shown]},
        text=[f"{e:.2g}" if np.isfinite(v) else ("0" if e == 0 else "nan") for e, v in zip(error, shown)],
        textposition=["middle right" if (v if np.isfinite(v) else floor) < middle else "middle left" for v in shown],
        showlegend=False,
        cliponaxis=False,
        hovertemplate="%{y}: relative error %{text}<extra></extra>",
        row=1,
        col=2,
    )
    low = min(-0.05, float(np.nanmin(cosine, initial=0.0)) - 0.05)
    fig.update_xaxes(range=[low, 1.08], title="cosine (1: the same direction)", row=1, col=1)
    span = [np.log10(floor) - 0.3, np.log10(hi) + 0.5]
    ticks = [10.0**e for e in range(int(np.ceil(span[0])), int(np.floor(span[1])) + 1)]
    ticks = ticks[:: max(1, int(np.ceil(len(ticks) / 5)))]
    fig.update_xaxes(
        type="log",
        range=span,
        tickvals=ticks,
        ticktext=[tick_label(t) for t in ticks],
        tickangle=0,
        title="relative error (log)",
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=2)
    return base_layout(fig, title or "Each method's gradient against exact BPTT", height=max(300, 70 + 48 * len(df)))


def memory_against_length(
    df: pd.DataFrame, t_star: int | None, *, title: str = "", crossover_name: str = "T*"
) -> go.Figure:
    """Kept (left) and held (right) bytes against T, log-log; ``flat`` methods (their bytes do not depend on T)
    as markers where measured and a dotted line across the lengths drawn; T* as a dashed line on the left.

    Parameters
    ----------
    df : DataFrame with columns ``key``, ``method``, ``T``, ``stored_bytes``, ``memory_bytes``, ``flat``
    """
    fig = make_subplots(  # stacked: side by side, the right plot's byte ticks ran into the left one
        rows=2, cols=1, subplot_titles=["kept to form the gradient", "peak held"], vertical_spacing=0.2
    )
    span = [int(df["T"].min()), int(df["T"].max())]
    for col, column in ((1, "stored_bytes"), (2, "memory_bytes")):
        for key, part in df.groupby("key", sort=False):
            name, color = str(part["method"].iloc[0]), METHOD_COLORS.get(str(key), "#7f7f7f")
            part = part.sort_values("T")
            flat = bool(part["flat"].iloc[0])
            fig.add_scatter(
                x=part["T"],
                y=finite_positive(part[column]),
                name=name,
                legendgroup=name,
                showlegend=col == 1,
                mode="markers" if flat else "lines+markers",
                marker={"color": color, "size": 10 if flat else 6, "symbol": "diamond" if flat else "circle"},
                line={"color": color, "width": 2.5},
                hovertemplate="T = %{x}: %{y:,.0f} B<extra>" + name + "</extra>",
                row=col,
                col=1,
            )
            if flat:  # the value measured at the sidebar's T, across every length drawn
                level = float(part[column].iloc[-1])
                fig.add_scatter(
                    x=span,
                    y=[level, level],
                    mode="lines",
                    line={"color": color, "dash": "dot", "width": 2},
                    legendgroup=name,
                    showlegend=False,
                    hoverinfo="skip",
                    row=col,
                    col=1,
                )
        fig.update_yaxes(row=col, col=1, **log_axis(df[column], labelled_floor(df[column]), in_bytes=True))
        fig.update_xaxes(title="sequence length T", row=col, col=1, **log_axis(df["T"]))
    if t_star is not None and span[0] <= t_star <= span[1]:
        fig.add_vline(x=t_star, line={"color": "black", "dash": "dash"}, row=1, col=1)
        fig.add_annotation(
            x=np.log10(t_star),
            y=1.0,
            xref="x",
            yref="y domain",
            text=f"{crossover_name} = {t_star}",
            showarrow=False,
            xanchor="right",
            yanchor="top",
            yshift=-6,  # clear of the subplot's title just above the plot, also when lecture mode scales both
            bgcolor="rgba(255,255,255,0.8)",
        )
    return base_layout(fig, title or "What each method keeps and holds, against T", height=800)


def labelled_floor(values: pd.Series) -> np.ndarray:
    """The round size just below the smallest of ``values`` (bytes): with it on the axis, the lowest line drawn
    has a labelled tick under it."""
    low = float(np.nanmin(finite_positive(values), initial=np.inf))
    below = byte_ticks(low / 10, low, max_ticks=100) if np.isfinite(low) else []
    return np.array(below[-1:], dtype=float)


def z_scores(z: np.ndarray, z_critical: float, *, title: str = "", x_title: str = "z") -> go.Figure:
    """Histogram of per-coordinate z-scores (density) with the standard normal density and the ±bound."""
    finite = z[np.isfinite(z)]
    fig = go.Figure()
    fig.add_histogram(
        x=finite, histnorm="probability density", name="coordinates", marker_color="#ff7f0e", opacity=0.75
    )
    edge = max(4.0, z_critical + 0.5, float(np.max(np.abs(finite), initial=0.0)))
    grid = np.linspace(-edge, edge, 201)
    fig.add_scatter(
        x=grid, y=np.exp(-(grid**2) / 2) / np.sqrt(2 * np.pi), name="standard normal", line={"color": "black"}
    )
    for side in (-1, 1):
        fig.add_vline(x=side * z_critical, line={"color": "#d62728", "dash": "dash"})
    fig.add_annotation(x=z_critical, y=1, yref="paper", text=f"±{z_critical:.2f}", showarrow=False, xanchor="left")
    fig.update_xaxes(title=x_title, range=[-edge, edge])
    fig.update_yaxes(title="density")
    return base_layout(fig, title or "UORO: how far each coordinate's mean lies from the exact value")


def held_and_measured(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Grouped bars (log) per method: one bar per measure of bytes.

    Parameters
    ----------
    df : DataFrame with columns ``method``, ``measure``, ``bytes``
    """
    fig = go.Figure()
    for measure, part in df.groupby("measure", sort=False):
        fig.add_bar(x=part["method"], y=finite_positive(part["bytes"]), name=str(measure))
    fig.update_yaxes(title="bytes (log)", **log_axis(df["bytes"], labelled_floor(df["bytes"]), in_bytes=True))
    base_layout(fig, title or "Memory held by each method: the ledger and tracemalloc")
    fig.update_layout(barmode="group")
    return fig


def cost_curves(df: pd.DataFrame, axis: str, titles: tuple[str, str, str], *, title: str = "") -> go.Figure:
    """Held bytes, counted FLOPs and seconds against ``axis`` ("T" or "H"), log-log, one line per method.

    Parameters
    ----------
    df : DataFrame with columns ``key``, ``method``, ``T``, ``H``, ``memory_bytes``, ``flops``, ``seconds``
    """
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(titles), horizontal_spacing=0.09)
    x_title = "sequence length T" if axis == "T" else "hidden size H"
    for col, column in enumerate(("memory_bytes", "flops", "seconds"), start=1):
        for key, part in df.groupby("key", sort=False):
            name = str(part["method"].iloc[0])
            fig.add_scatter(
                x=part[axis],
                y=finite_positive(part[column]),
                name=name,
                legendgroup=name,
                showlegend=col == 1,
                mode="lines+markers",
                line={"color": METHOD_COLORS.get(str(key), "#7f7f7f"), "width": 2},
                row=1,
                col=col,
            )
        in_bytes = column == "memory_bytes"
        props = log_axis(df[column], *([labelled_floor(df[column])] if in_bytes else []), in_bytes=in_bytes)
        fig.update_yaxes(row=1, col=col, **props)
        fig.update_xaxes(title=x_title, row=1, col=col, **log_axis(df[axis]))
    return base_layout(fig, title or f"Cost against {axis}", height=440)


def race_curves(df: pd.DataFrame, *, title: str = "", y_title: str = "loss") -> go.Figure:
    """Training loss against iteration, one line per method (log y).

    Parameters
    ----------
    df : DataFrame with columns ``key``, ``method``, ``iteration``, ``loss``
    """
    fig = go.Figure()
    for key, part in list(df.groupby("key", sort=False))[::-1]:  # the first method drawn last, on top
        fig.add_scatter(
            x=part["iteration"],
            y=finite_positive(part["loss"]),
            name=str(part["method"].iloc[0]),
            mode="lines",
            line={
                "color": METHOD_COLORS.get(str(key), "#7f7f7f"),
                "width": 4 if key == "bptt" else 2,
                "dash": "dash" if key == "rtrl" else "solid",  # RTRL's curve lies on BPTT's: both stay visible
            },
        )
    loss = finite_positive(df["loss"])
    wide = np.nanmax(loss, initial=1.0) > 10 * np.nanmin(loss, initial=1.0)
    fig.update_xaxes(title="iteration (the same batches for every method)")
    fig.update_yaxes(title=y_title + (" (log)" if wide else ""), **(log_axis(df["loss"]) if wide else {}))
    base_layout(fig, title or "The training race: loss per iteration")
    fig.update_layout(legend={"traceorder": "reversed"})
    return fig
