"""Gradient-flow figures: how ||dL/dh_t|| vanishes or explodes, and why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.config.cell_views import VIEWS, param_label
from dashboard.figures.style import (
    DIVERGING,
    NARROWEST,
    base_layout,
    finite_positive,
    label_stride,
    log_axis,
    log_heatmap,
    mark_overflow,
    text_px,
)
from dashboard.vocabulary.quantities import label

#: More truncation cuts than this are summarised in a note instead of drawn one by one.
MAX_CUT_LINES = 100


#: The curves :func:`gradient_norms` draws: data column, vocabulary key, direction note, line style.
GRADIENT_CURVES = (
    ("total_gradient", "total_gradient", "", {"color": "#d62728"}),
    ("total_gradient_reverse", "total_gradient", " ←", {"color": "#d62728", "dash": "dash"}),
    ("last_loss_gradient", "last_loss_gradient", "", {"color": "#1f77b4", "width": 3}),
)


def gradient_norms(df: pd.DataFrame, *, overflow_step: int | None = None, title: str = "") -> go.Figure:
    """The total gradient ``||dL/dh_t||`` (per direction) and the last loss's ``||d l_T/d h_t||`` against t, log axis.

    Parameters
    ----------
    df : DataFrame with columns ``t``, ``total_gradient``, optionally ``total_gradient_reverse`` (a
        bidirectional network's reverse direction), ``last_loss_gradient`` and ``truncated`` (bool)
    overflow_step : int, optional
        Marked with a red line.
    """
    fig = go.Figure()
    for column, key, note, line in GRADIENT_CURVES:
        if column not in df:
            continue
        name = label(key) + (note or (" →" if "total_gradient_reverse" in df and key == "total_gradient" else ""))
        fig.add_scatter(
            x=df["t"],
            y=finite_positive(df[column]),
            mode="lines" if key == "last_loss_gradient" else "lines+markers",
            name=name,
            line=line,
            marker={"size": 5},
            hovertemplate="t=%{x}<br>%{y:.3e}<extra>" + name + "</extra>",
        )
    if "truncated" in df and df["truncated"].any():
        cuts = df.loc[df["truncated"], "t"].to_numpy()
        if len(cuts) <= MAX_CUT_LINES:  # one layout update: add_vline per cut costs ~40 ms each
            fig.update_layout(
                shapes=[
                    {
                        "type": "line",
                        "xref": "x",
                        "yref": "paper",
                        "x0": t - 0.5,
                        "x1": t - 0.5,
                        "y0": 0,
                        "y1": 1,
                        "line": {"color": "grey", "dash": "dot", "width": 1},
                    }
                    for t in cuts
                ]
            )
        fig.add_annotation(
            text=f"dotted: truncation cuts ({len(cuts)})",
            xref="paper",
            yref="paper",
            x=0,
            y=1.02,
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            font={"size": 11, "color": "grey"},
        )
    values = [df[c] for c, *_ in GRADIENT_CURVES if c in df]
    fig.update_yaxes(title="gradient norm (log)", **log_axis(*values))
    fig.update_xaxes(title="time step t")
    mark_overflow(fig, overflow_step)
    return base_layout(fig, title or "Gradient reaching each hidden state")


def flow_heatmap(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Heatmap of ``log10 ||d l_t / d h_k||`` (rows: loss step t, columns: state k <= t).

    Parameters
    ----------
    df : DataFrame with columns ``t``, ``k``, ``norm`` (long format; k > t rows absent or 0)
    """
    fig = log_heatmap(
        df,
        "t",
        "k",
        "norm",
        colorbar="log10 ||∂l_t/∂h_k||",
        hover="loss step t=%{y}<br>state k=%{x}<br>log10 norm=%{z:.2f}<extra></extra>",
    )
    fig.update_xaxes(title="hidden state h_k (k)")
    fig.update_yaxes(title="loss l_t (t)", autorange="reversed")
    return base_layout(fig, title or "Flow matrix: how much each loss reaches each earlier state", height=480)


def jacobian_vs_lag(df: pd.DataFrame, *, title: str = "", law: str = "law") -> go.Figure:
    """``log10 ||d h_t / d h_k||`` against lag ``t - k``, with the Pascanu bound or the cell's law if present.

    Parameters
    ----------
    df : DataFrame with columns ``lag``, ``log10_spectral``, ``log10_frobenius`` and optionally
        ``log10_bound`` ((gamma sigma_max)^lag, vanilla RNN only) or ``log10_law`` (a diagonal recurrence's
        closed form, :func:`bptt_core.analysis.laws.decay_law`)
    law : str
        The law's name in the legend, e.g. ``max_n |λ_n|^k``.
    """
    fig = go.Figure()
    fig.add_scatter(
        x=df["lag"], y=df["log10_spectral"], name="spectral norm", mode="lines", line={"color": "#1f77b4", "width": 3}
    )
    fig.add_scatter(
        x=df["lag"],
        y=df["log10_frobenius"],
        name="Frobenius norm",
        mode="lines",
        line={"color": "#9467bd", "dash": "dot"},
    )
    if "log10_bound" in df:
        fig.add_scatter(
            x=df["lag"],
            y=df["log10_bound"],
            name="bound (γ σ_max)^lag",
            mode="lines",
            line={"color": "black", "dash": "dash"},
        )
    if "log10_law" in df:
        fig.add_scatter(
            x=df["lag"], y=df["log10_law"], name=f"law {law}", mode="lines", line={"color": "black", "dash": "dash"}
        )
    fig.add_hline(y=0, line={"color": "grey", "width": 1})
    fig.update_xaxes(title="lag t − k (steps)")
    fig.update_yaxes(title="log10 ||∂h_t/∂h_k||")
    return base_layout(fig, title or "Jacobian product norm against lag")


def eigenvalue_plane(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Eigenvalues of each ``W_hh`` gate block in the complex plane, with the unit circle.

    Parameters
    ----------
    df : DataFrame with columns ``block``, ``real``, ``imag``
    """
    theta = np.linspace(0, 2 * np.pi, 361)
    fig = go.Figure(
        go.Scatter(
            x=np.cos(theta),
            y=np.sin(theta),
            mode="lines",
            name="|λ| = 1",
            line={"color": "grey", "dash": "dash"},
            hoverinfo="skip",
        )
    )
    for block, part in df.groupby("block", sort=False):
        fig.add_scatter(
            x=part["real"],
            y=part["imag"],
            mode="markers",
            name=f"W_hh[{block}]",
            marker={"size": 9, "opacity": 0.8},
            hovertemplate="λ=%{x:.3f}%{y:+.3f}i<extra>" + str(block) + "</extra>",
        )
    r = max(1.05, float(np.max(np.hypot(df["real"].to_numpy(), df["imag"].to_numpy()), initial=0)) * 1.05)
    fig.update_xaxes(title="Re λ", range=[-r, r], zeroline=True)
    fig.update_yaxes(title="Im λ", range=[-r, r], scaleanchor="x", scaleratio=1, zeroline=True)
    return base_layout(fig, title or "Eigenvalues of W_hh", height=460)


def step_contributions(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Norm of the term each step adds to the gradient of each shared parameter (log axis): ``dW_hh`` as bars,
    the others (``dW_ih``, ...) as lines.

    Parameters
    ----------
    df : DataFrame with a column ``t`` and one per parameter (the cell's ``term_params``, the recurrent one first)
    """
    fig = go.Figure()
    names = [c for c in df.columns if c != "t"]
    for k, name in enumerate(names):
        shown = f"term of d{param_label(name)}"
        if k == 0:
            fig.add_bar(x=df["t"], y=finite_positive(df[name]), name=shown, marker_color="#d62728")
        else:
            line = {"color": "#7f7f7f", "dash": ("solid", "dot", "dash")[(k - 1) % 3]}
            fig.add_scatter(
                x=df["t"], y=finite_positive(df[name]), name=shown, mode="lines+markers", line=line, marker={"size": 4}
            )
    fig.update_yaxes(title="||term_t||_F (log)", **log_axis(*(df[n] for n in names)))
    fig.update_xaxes(title="time step t")
    return base_layout(fig, title or "What each step adds to the shared weight gradient")


def cell_comparison(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """The last loss's gradient ``||d l_T/d h_t||`` of every cell on the same inputs.

    Parameters
    ----------
    df : DataFrame with columns ``t``, ``cell``, ``last_loss_gradient``
    """
    fig = go.Figure()
    for cell, part in df.groupby("cell", sort=False):
        view = VIEWS.get(str(cell))
        fig.add_scatter(
            x=part["t"],
            y=finite_positive(part["last_loss_gradient"]),
            name=view.label if view else str(cell),
            mode="lines",
            line={"color": view.color if view else None, "width": 2.5},
        )
    fig.update_yaxes(title=f"{label('last_loss_gradient')} (log)", **log_axis(df["last_loss_gradient"]))
    fig.update_xaxes(title="time step t")
    return base_layout(fig, title or "The cells on the same inputs: the last loss's gradient")


def phase_diagram(df: pd.DataFrame, *, title: str = "", limit: float = 12.0) -> go.Figure:
    """One heatmap per cell of ``log10 ||dL/dh_0|| / ||dL/dh_{T-1}||`` over radius x length.

    Parameters
    ----------
    df : DataFrame with columns ``cell``, ``radius``, ``T``, ``log10_ratio``; rows without a radius (a cell
        without ``W_hh``) are not drawn
    limit : float
        The colour scale spans ``[-limit, limit]`` decades (blue vanishing, red exploding).
    """
    df = df[df["radius"].notna()]
    cells = list(dict.fromkeys(df["cell"]))
    fig = make_subplots(
        rows=1,
        cols=len(cells),
        subplot_titles=[VIEWS[c].label if c in VIEWS else c for c in cells],
        shared_yaxes=True,
        horizontal_spacing=0.09,
    )
    for i, cell in enumerate(cells, start=1):
        wide = df[df["cell"] == cell].pivot(index="radius", columns="T", values="log10_ratio")
        fig.add_trace(
            go.Heatmap(
                z=np.clip(wide.to_numpy(), -limit, limit),
                x=wide.columns.to_numpy(),
                y=wide.index.to_numpy(),
                zmin=-limit,
                zmax=limit,
                zmid=0,
                colorscale=DIVERGING,
                showscale=i == len(cells),
                colorbar={"title": {"text": "log10 ratio", "side": "right"}},
                customdata=wide.to_numpy(),
                hovertemplate="ρ=%{y:.2f}<br>T=%{x}<br>log10 ratio=%{customdata:.2f}<extra>" + cell + "</extra>",
            ),
            row=1,
            col=i,
        )
        fig.add_hline(y=1.0, line={"color": "black", "dash": "dot", "width": 1}, row=1, col=i)
    # one axis title under the middle panel (one under each collides with its neighbours in a narrow column),
    # and as many ticks as keep their labels apart in a panel of the narrowest figure
    lengths = np.unique(df["T"].to_numpy())
    panel_px = (NARROWEST - 180) / len(cells)
    stride = label_stride(len(lengths), text_px(str(int(lengths.max(initial=0)))), panel_px)
    fig.update_xaxes(nticks=int(np.ceil(len(lengths) / stride)) + 1)
    fig.update_xaxes(title="sequence length T", row=1, col=(len(cells) + 1) // 2)
    fig.update_yaxes(title="spectral radius ρ of W_hh", row=1, col=1)
    return base_layout(fig, title or "Phase diagram: ||dL/dh_0|| / ||dL/dh_T||", height=440)


def truncation_curves(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Relative error (log) and cosine similarity of truncated BPTT against full BPTT.

    Parameters
    ----------
    df : DataFrame with columns ``k``, ``relative_error``, ``cosine``
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(
        x=df["k"],
        y=finite_positive(df["relative_error"]),
        name="relative error",
        mode="lines+markers",
        line={"color": "#d62728"},
        secondary_y=False,
    )
    fig.add_scatter(
        x=df["k"],
        y=df["cosine"],
        name="cosine similarity",
        mode="lines+markers",
        line={"color": "#1f77b4", "dash": "dash"},
        secondary_y=True,
    )
    fig.update_xaxes(title="truncation length k (steps)", **log_axis(df["k"], across=True))
    fig.update_yaxes(title="||g_k − g|| / ||g|| (log)", secondary_y=False, **log_axis(df["relative_error"]))
    fig.update_yaxes(
        title="cos(g_k, g)", range=[-1.05, 1.05], tickvals=[-1, -0.5, 0, 0.5, 1], secondary_y=True, showgrid=False
    )
    return base_layout(fig, title or "Truncated BPTT against the full gradient")


#: Distance buckets of the itemised gradient: how far back a term travelled from its loss.
DISTANCES = (
    (0, 0, "0 (its own loss)"),
    (1, 3, "1-3 steps"),
    (4, 15, "4-15 steps"),
    (16, 63, "16-63 steps"),
    (64, None, "64+ steps"),
)
DISTANCE_COLORS = ("#08306b", "#2171b5", "#6baed6", "#fd8d3c", "#d94801")


def itemised_contributions(df: pd.DataFrame, origin: pd.DataFrame | None = None) -> go.Figure:
    """What each step adds to dW_hh, stacked by how far its gradient travelled from the loss that produced it.

    Parameters
    ----------
    df : DataFrame with columns ``t``, ``distance`` (a :data:`DISTANCES` label), ``share``
        Projections on the unit total gradient: they sum to ``||dW_hh||``.
    origin : DataFrame with columns ``t``, ``share``, optional
        One loss's terms (a line).
    """
    fig = go.Figure()
    for (_, _, name), color in zip(DISTANCES, DISTANCE_COLORS):
        part = df[df["distance"] == name]
        if len(part):
            fig.add_bar(
                x=part["t"],
                y=part["share"],
                name=name,
                marker_color=color,
                hovertemplate="step t=%{x}<br>%{y:.3g} of ||dW_hh||<extra>" + name + "</extra>",
            )
    if origin is not None and len(origin):
        s = int(origin["origin"].iloc[0])
        fig.add_scatter(
            x=origin["t"],
            y=origin["share"],
            mode="lines+markers",
            name=f"the loss at step {s} alone",
            line={"color": "black", "width": 2},
            marker={"size": 4},
        )
    fig.update_layout(barmode="relative")
    fig.update_xaxes(title="step t where the term is added")
    fig.update_yaxes(title="share of ||dW_hh|| (projection)", zeroline=True)
    return base_layout(fig, "dW_hh itemised: which loss, how far back")
