"""Figures of the Papers page, each drawn as its paper drew the result where that helps. Pure builders: tidy data
in, a Figure out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.config.cell_views import VIEWS
from dashboard.figures.style import base_layout, finite_positive, log_axis

#: Colours of the activations, and of the network sizes (smallest first; distinct on a projector).
ACTIVATION_COLORS = {"tanh": "#1f77b4", "sigmoid": "#ff7f0e", "relu": "#2ca02c", "linear": "#7f7f7f"}
SIZE_COLORS = ("#e6a100", "#d6336c", "#5f3dc4", "#1864ab", "#087f5b")


def _cell_color(cell: str) -> str:
    return VIEWS[cell].color if cell in VIEWS else "#7f7f7f"


def pascanu_regions(df: pd.DataFrame, *, x_title: str, y_title: str, title: str = "") -> go.Figure:
    """Each setting's measured Jacobian growth per step against γσ_max (log-log), with the bound y = x and the
    line 1 on both axes: below 1 on the x axis the products must vanish, above 1 on the y axis they may explode.

    Parameters
    ----------
    df : DataFrame with columns ``activation``, ``rate``, ``growth``, ``seed``
    """
    fig = go.Figure()
    for activation, part in df.groupby("activation", sort=False):
        fig.add_scatter(
            x=part["rate"],
            y=finite_positive(part["growth"]),
            mode="markers",
            name=str(activation),
            marker={"color": ACTIVATION_COLORS.get(str(activation)), "size": 9, "opacity": 0.8},
            customdata=part[["seed"]].to_numpy(),
            hovertemplate=f"{activation}, seed %{{customdata[0]}}<br>γσ_max %{{x:.3g}}<br>growth %{{y:.3g}}"
            "<extra></extra>",
        )
    axis = log_axis(df["rate"], df["growth"])
    lo, hi = (10.0**r for r in axis.get("range", [-1, 1]))
    fig.add_scatter(
        x=[lo, hi], y=[lo, hi], mode="lines", name="bound: growth = γσ_max", line={"color": "black", "dash": "dash"}
    )
    fig.add_vline(x=1.0, line={"color": "#888", "dash": "dot"})
    fig.add_hline(y=1.0, line={"color": "#888", "dash": "dot"})
    fig.add_vrect(x0=lo, x1=1.0, fillcolor="#2ca02c", opacity=0.07, line_width=0)
    fig.update_xaxes(title=x_title, **axis)
    fig.update_yaxes(title=y_title, **axis)
    return base_layout(fig, title or "Measured growth never exceeds the bound", height=460)


def _median_band(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Median, lowest and highest of ``value`` over the rows sharing ``by`` (the seeds)."""
    return df.groupby(by, sort=False)[value].agg(median="median", low="min", high="max").reset_index()


def chaos_transition(df: pd.DataFrame, *, titles: tuple[str, str, str], title: str = "") -> go.Figure:
    """λ₁ against g per size (median over seeds, bars from the lowest to the highest), the spectra against i/N, and
    the gradient's growth rate against λ₁ (the dashed diagonal: equal).

    Parameters
    ----------
    df : DataFrame with columns ``part`` (``"leading"``: x = g, y = λ₁; ``"spectrum"``: x = i/N, y = λ_i;
        ``"growth"``: x = λ₁, y = r), ``N``, ``seed``, ``x``, ``y``
    """
    fig = make_subplots(rows=3, cols=1, subplot_titles=titles, vertical_spacing=0.12)  # stacked: readable at any width
    fig.update_annotations(font_size=12)
    sizes = sorted(df["N"].unique())
    for i, N in enumerate(sizes):
        color = SIZE_COLORS[i % len(SIZE_COLORS)]
        mine = df[df["N"] == N]
        band = _median_band(mine[mine["part"] == "leading"], ["x"], "y")
        fig.add_scatter(
            x=band["x"],
            y=band["median"],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": band["high"] - band["median"],
                "arrayminus": band["median"] - band["low"],
            },
            mode="lines+markers",
            name=f"N = {N}",
            legendgroup=str(N),
            line={"color": color},
            row=1,
            col=1,
        )
        spectrum = _median_band(mine[mine["part"] == "spectrum"], ["x"], "y")
        fig.add_scatter(
            x=spectrum["x"],
            y=spectrum["median"],
            mode="lines",
            name=f"N = {N}",
            legendgroup=str(N),
            showlegend=False,
            line={"color": color},
            row=2,
            col=1,
        )
        growth = mine[mine["part"] == "growth"]
        fig.add_scatter(
            x=growth["x"],
            y=growth["y"],
            mode="markers",
            name=f"N = {N}",
            legendgroup=str(N),
            showlegend=False,
            marker={"color": color, "size": 9},
            row=3,
            col=1,
        )
    fig.add_vline(x=1.0, line={"color": "#888", "dash": "dot"}, row=1, col=1)
    for col in (1, 2):
        fig.add_hline(y=0.0, line={"color": "#888", "dash": "dot"}, row=col, col=1)
    growth = df[df["part"] == "growth"]
    both = np.concatenate([growth["x"], growth["y"]]) if len(growth) else np.array([0.0, 0.1])
    lo, hi = float(np.nanmin(both)), float(np.nanmax(both))
    fig.add_scatter(
        x=[lo, hi], y=[lo, hi], mode="lines", name="r = λ₁", line={"color": "black", "dash": "dash"}, row=3, col=1
    )
    fig.update_xaxes(title="gain g", row=1, col=1)
    fig.update_xaxes(title="i / N", row=2, col=1)
    fig.update_xaxes(title="λ₁ (per step)", row=3, col=1)
    fig.update_yaxes(title="λ₁ per step (natural log)", row=1, col=1)
    fig.update_yaxes(title="λ_i per step", row=2, col=1)
    fig.update_yaxes(title="growth rate r per step", row=3, col=1)
    return base_layout(fig, title or "The transition to chaos", height=1000)


def checkpoint_curve(
    df: pd.DataFrame, published: tuple[float, float], *, x_title: str, y_title: str, title: str = ""
) -> go.Figure:
    """Modelled time against the memory kept (share of full storage, log axis) of the binomial schedule, per cell,
    each cell's schedule that saves the published share (diamonds), and the published point (a star).

    Parameters
    ----------
    df : DataFrame with columns ``cell``, ``slots``, ``kept``, ``time``, ``chosen`` (bool: the row is the
        schedule that saves the published share, measured by the ledger)
    published : (memory kept, time) of the paper's statement
    """
    fig = go.Figure()
    curve, chosen = df[~df["chosen"]], df[df["chosen"]]
    for cell, part in curve.groupby("cell", sort=False):
        fig.add_scatter(
            x=part["kept"],
            y=part["time"],
            mode="lines+markers",
            name=str(cell),
            line={"color": _cell_color(cell)},
            customdata=part[["slots"]].to_numpy(),
            hovertemplate=f"{cell}: S = %{{customdata[0]}}<br>kept %{{x:.3g}}<br>time ×%{{y:.3g}}<extra></extra>",
        )
    fig.add_scatter(
        x=chosen["kept"],
        y=chosen["time"],
        mode="markers",
        name="saves the published share (ledger)",
        marker={
            "color": [_cell_color(c) for c in chosen["cell"]],
            "size": 14,
            "symbol": "diamond",
            "line": {"color": "black", "width": 1},
        },
        customdata=chosen[["cell", "slots"]].to_numpy(),
        hovertemplate="%{customdata[0]}: S = %{customdata[1]}<br>kept %{x:.3g}<br>time ×%{y:.3g}<extra></extra>",
    )
    fig.add_scatter(
        x=[published[0]],
        y=[published[1]],
        mode="markers",
        name="published (Gruslys et al. 2016)",
        marker={"color": "black", "size": 16, "symbol": "star"},
    )
    fig.update_xaxes(title=x_title, **log_axis(df["kept"], [published[0]]))
    fig.update_yaxes(title=y_title, **log_axis(df["time"], [published[1]]))  # one slot costs ~T/2 times more
    return base_layout(fig, title or "Memory against time, binomial checkpointing at T = 1000", height=460)


def truncation_noise(df: pd.DataFrame, *, bias_title: str, variance_title: str, title: str = "") -> go.Figure:
    """Relative bias (with 3 standard errors as the bar: the noise band) and relative variance against the cut
    probability p, per cell (log axes).

    Parameters
    ----------
    df : DataFrame with columns ``cell``, ``p``, ``bias``, ``standard_error``, ``variance``
    """
    fig = make_subplots(rows=2, cols=1, subplot_titles=[bias_title, variance_title], vertical_spacing=0.2)  # stacked
    fig.update_annotations(font_size=12)
    for cell, part in df.groupby("cell", sort=False):
        color = _cell_color(str(cell))
        fig.add_scatter(
            x=part["p"],
            y=finite_positive(part["bias"]),
            mode="lines+markers",
            name=str(cell),
            legendgroup=str(cell),
            line={"color": color},
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=part["p"],
            y=finite_positive(3 * part["standard_error"]),
            mode="lines",
            name=f"{cell}: 3 standard errors",
            legendgroup=str(cell),
            line={"color": color, "dash": "dot"},
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=part["p"],
            y=finite_positive(part["variance"]),
            mode="lines+markers",
            name=str(cell),
            legendgroup=str(cell),
            showlegend=False,
            line={"color": color},
            row=2,
            col=1,
        )
    p = np.unique(df["p"])
    for col in (1, 2):
        fig.update_xaxes(
            title="cut probability p",
            row=col,
            col=1,
            **{**log_axis(p), "tickvals": p, "ticktext": [f"{v:g}" for v in p]},
        )
    fig.update_yaxes(row=1, col=1, **log_axis(df["bias"], 3 * df["standard_error"]))
    fig.update_yaxes(row=2, col=1, **log_axis(df["variance"]))
    return base_layout(fig, title or "Randomized truncation", height=780)


def copy_curves(df: pd.DataFrame, baseline: float, *, y_title: str, title: str = "") -> go.Figure:
    """Training loss against iterations per cell (median over seeds, a band from the lowest to the highest), with
    the memoryless baseline as a dashed line.

    Parameters
    ----------
    df : DataFrame with columns ``cell``, ``seed``, ``iteration``, ``loss``
    """
    fig = go.Figure()
    for cell, part in df.groupby("cell", sort=False):
        color = _cell_color(str(cell))
        band = _median_band(part, ["iteration"], "loss")
        fig.add_scatter(
            x=np.concatenate([band["iteration"], band["iteration"][::-1]]),
            y=np.concatenate([band["high"], band["low"][::-1]]),
            fill="toself",
            fillcolor=color,
            opacity=0.15,
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            legendgroup=str(cell),
        )
        fig.add_scatter(
            x=band["iteration"],
            y=band["median"],
            mode="lines",
            name=str(cell),
            line={"color": color},
            legendgroup=str(cell),
        )
    fig.add_hline(
        y=baseline,
        line={"color": "black", "dash": "dash"},
        annotation_text=f"memoryless baseline {baseline:.4g}",
        annotation_position="bottom left",
    )
    fig.update_xaxes(title="training iteration")
    fig.update_yaxes(title=y_title, **log_axis(df["loss"], [baseline]))
    return base_layout(fig, title or "The copying problem against its memoryless baseline", height=440)


def error_decay(df: pd.DataFrame, *, y_title: str, title: str = "") -> go.Figure:
    """‖∂l_T/∂h_t‖ against the lag per case (median over seeds, log axis), with each case's predicted decay dashed.

    Parameters
    ----------
    df : DataFrame with columns ``case``, ``cell``, ``kind`` (``"measured"`` or ``"predicted"``), ``seed``, ``lag``,
        ``norm``
    """
    fig = go.Figure()
    for case, part in df.groupby("case", sort=False):
        color = _cell_color(str(part["cell"].iloc[0]))
        for kind, dash in (("measured", "solid"), ("predicted", "dash")):
            band = _median_band(part[part["kind"] == kind], ["lag"], "norm")
            fig.add_scatter(
                x=band["lag"],
                y=finite_positive(band["median"]),
                mode="lines",
                name=str(case) if kind == "measured" else f"{case}: predicted",
                line={"color": color, "dash": dash, "width": 2 if kind == "measured" else 1},
            )
    fig.update_xaxes(title="lag T − t (steps back from the loss)")
    fig.update_yaxes(title=y_title, **log_axis(df["norm"]))
    return base_layout(fig, title or "The error signal flowing back", height=440)
