"""Figures of the modern recurrences: a diagonal recurrence's eigenvalues in the complex plane, and the cells
compared on a long-lag task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.config.cell_views import VIEWS
from dashboard.figures.style import base_layout

#: The rings of the smallest and the largest |λ|.
_RINGS = (("smallest |λ|", {"color": "grey", "dash": "dash", "width": 1.5}),
          ("largest |λ|", {"color": "#8c564b", "dash": "dot", "width": 2}))  # fmt: skip


def _circle(fig: go.Figure, radius: float, col: int, name: str, line: dict, legend: bool) -> None:
    theta = np.linspace(0, 2 * np.pi, 721)
    fig.add_scatter(
        x=radius * np.cos(theta),
        y=radius * np.sin(theta),
        mode="lines",
        name=name,
        line=line,
        hoverinfo="skip",
        showlegend=legend,
        legendgroup=name,
        row=1,
        col=col,
    )


def eigenvalue_rings(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """The eigenvalues λ of a diagonal recurrence in the complex plane: the whole plane with the unit circle
    (left), and a close-up of where they sit (right), coloured by how many steps each keeps 1 % of a gradient.

    Parameters
    ----------
    df : DataFrame with columns ``unit``, ``real``, ``imag``, ``modulus`` and ``steps_to_1pct``
        (``ln 0.01 / ln |λ|``; inf for |λ| = 1)
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["the complex plane", "close-up: where the λ sit"], horizontal_spacing=0.1
    )
    moduli = df["modulus"].to_numpy()
    for col in (1, 2):
        _circle(fig, 1.0, col, "unit circle |λ| = 1", {"color": "black", "width": 1.5}, col == 1)
        for radius, (name, line) in zip((moduli.min(), moduli.max()), _RINGS):
            _circle(fig, radius, col, name, line, col == 1)
    horizon = np.log10(np.clip(df["steps_to_1pct"].to_numpy(), 1, 1e12))
    for col in (1, 2):
        fig.add_scatter(
            x=df["real"],
            y=df["imag"],
            mode="markers",
            name="λ of each unit",
            showlegend=col == 1,
            customdata=np.stack([df["unit"], df["modulus"], df["steps_to_1pct"]], axis=-1),
            marker={
                "size": 9 if col == 1 else 11,
                "color": horizon,
                "colorscale": "Viridis",
                "cmin": 0,
                "cmax": max(3.0, float(np.max(horizon, initial=0))),
                "showscale": col == 2,
                "colorbar": {"title": {"text": "log10 steps<br>to 1 %", "side": "right"}},
                "line": {"width": 0.5, "color": "white"},
            },
            hovertemplate="unit %{customdata[0]}<br>λ = %{x:.4f}%{y:+.4f}i<br>|λ| = %{customdata[1]:.5f}"
            "<br>keeps 1 % for %{customdata[2]:.3g} steps<extra></extra>",
            row=1,
            col=col,
        )
    fig.update_xaxes(title="Re λ", range=[-1.1, 1.1], zeroline=True, row=1, col=1)
    fig.update_yaxes(title="Im λ", range=[-1.1, 1.1], scaleanchor="x", scaleratio=1, zeroline=True, row=1, col=1)
    x, y = df["real"].to_numpy(), df["imag"].to_numpy()
    spread = max(float(np.ptp(x)), float(np.ptp(y))) if len(x) else 0.0
    half = max(0.02, 0.6 * max(spread, 2 * (1 - float(moduli.max(initial=0)))))
    cx, cy = (x.min() + x.max()) / 2, (y.min() + y.max()) / 2
    fig.update_xaxes(title="Re λ", range=[cx - half, cx + half], row=1, col=2)
    fig.update_yaxes(range=[cy - half, cy + half], scaleanchor="x2", scaleratio=1, row=1, col=2)
    return base_layout(fig, title or "Eigenvalues λ: just inside the unit circle", height=460)


#: The loss-over-baseline axis: its ticks, and the largest ratio drawn (a run above it is still learning blanks).
RATIO_TICKS, RATIO_TOP = (0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.2, 1.5, 2, 3, 4), 4.0


def copy_comparison(df: pd.DataFrame, baseline: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Training loss of each cell on the copy task over the memoryless baseline ``10 ln 8 / (T + 20)`` (dashed, at
    1), one panel per lag T: the median over seeds (line) and the lowest and highest seed (band). Below 1 a cell
    remembers some of the symbols; the axis stops at :data:`RATIO_TOP` times the baseline.

    Parameters
    ----------
    df : DataFrame with columns ``T``, ``cell``, ``seed``, ``iteration``, ``loss`` (smoothed per seed)
    baseline : DataFrame with columns ``T``, ``baseline``
    """
    lags = sorted(df["T"].unique())
    fig = make_subplots(rows=1, cols=len(lags), subplot_titles=[f"copy task, T = {T}" for T in lags])
    lowest = 1.0
    for col, T in enumerate(lags, start=1):
        level = float(baseline.loc[baseline["T"] == T, "baseline"].iloc[0])
        for cell, runs in df[df["T"] == T].groupby("cell", sort=False):
            view = VIEWS[str(cell)]
            wide = runs.pivot(index="iteration", columns="seed", values="loss") / level
            it, low, high = wide.index.to_numpy(), wide.min(axis=1).to_numpy(), wide.max(axis=1).to_numpy()
            lowest = min(lowest, float(np.nanmin(low)))
            fig.add_scatter(
                x=np.concatenate([it, it[::-1]]), y=np.concatenate([low, high[::-1]]), fill="toself",
                fillcolor=view.color, opacity=0.18, line={"width": 0}, hoverinfo="skip", showlegend=False,
                legendgroup=view.label, row=1, col=col,
            )  # fmt: skip
            fig.add_scatter(
                x=it, y=wide.median(axis=1), name=view.label, mode="lines", legendgroup=view.label,
                line={"color": view.color, "width": 2.5}, showlegend=col == 1, row=1, col=col,
                hovertemplate="iteration %{x}<br>loss / baseline %{y:.3f}<extra>" + view.label + "</extra>",
            )  # fmt: skip
        fig.add_hline(y=1, line={"color": "black", "dash": "dash"}, row=1, col=col)
        fig.add_annotation(
            x=1, xref=f"x{col if col > 1 else ''} domain", y=0, yref=f"y{col if col > 1 else ''}", yshift=10,
            text=f"memoryless baseline 10 ln 8 / {T + 20} = {level:.4f}", showarrow=False, xanchor="right",
        )  # fmt: skip
        fig.update_xaxes(title="iteration", row=1, col=col)
    bottom = min(RATIO_TICKS[0], 0.9 * lowest)
    fig.update_yaxes(type="log", range=[np.log10(bottom), np.log10(RATIO_TOP)], tickvals=RATIO_TICKS)
    fig.update_yaxes(title="loss over the baseline (log)", row=1, col=1)
    return base_layout(fig, title or "The cells on the copy task, against the memoryless baseline", height=460)
