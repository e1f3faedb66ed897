"""Figures of the training lab and the concept pages (losses over time, estimators)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures.style import base_layout, finite_positive, log_axis, log_heatmap

PADDING = "#9e9e9e"
#: Name and colour of each gradient estimator, the same in every subplot and legend.
ESTIMATOR_STYLE = {
    "reinforce": ("REINFORCE", "#d62728"),
    "reinforce_baseline": ("REINFORCE + baseline", "#ff7f0e"),
    "straight_through": ("straight-through", "#1f77b4"),
    "gumbel_softmax": ("Gumbel-softmax", "#2ca02c"),
}


def training_curves(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Loss and gradient norm (before and after clipping) per iteration, for one or more runs (log axes).

    Parameters
    ----------
    df : DataFrame with columns ``run``, ``iteration``, ``loss``, ``grad_norm``, ``clipped_norm``
    """
    fig = make_subplots(  # one above the other: side by side, their axis titles collide in a narrow column
        rows=2, cols=1, subplot_titles=["loss", "global gradient norm"], vertical_spacing=0.2
    )
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for i, (run, part) in enumerate(df.groupby("run", sort=False)):
        color = palette[i % len(palette)]
        fig.add_scatter(
            x=part["iteration"],
            y=finite_positive(part["loss"]),
            name=str(run),
            mode="lines",
            line={"color": color},
            legendgroup=str(run),
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=part["iteration"],
            y=finite_positive(part["grad_norm"]),
            name=f"{run}: before clipping",
            mode="lines",
            line={"color": color, "width": 1},
            legendgroup=str(run),
            showlegend=False,
            row=2,
            col=1,
        )
        if not np.allclose(part["grad_norm"], part["clipped_norm"], equal_nan=True):
            fig.add_scatter(
                x=part["iteration"],
                y=finite_positive(part["clipped_norm"]),
                name=f"{run}: after clipping",
                mode="lines",
                line={"color": color, "dash": "dash", "width": 2},
                legendgroup=str(run),
                row=2,
                col=1,
            )
    for row, axis_title, values in (
        (1, "loss (log)", [df["loss"]]),
        (2, "||∇|| (log)", [df["grad_norm"], df["clipped_norm"]]),
    ):
        fig.update_xaxes(title="iteration", row=row, col=1)
        shown, off = _on_scale(np.concatenate([np.asarray(v, float) for v in values]))
        fig.update_yaxes(title=axis_title, row=row, col=1, **log_axis(shown))
        if off:
            fig.add_annotation(
                text=f"{off} values above the scale (a run diverged)",
                xref=f"x{row if row > 1 else ''} domain",
                yref=f"y{row if row > 1 else ''} domain",
                x=0.02,
                y=0.98,
                showarrow=False,
                xanchor="left",
                font={"size": 11, "color": "#d62728"},
            )
    return base_layout(fig, title or "Loss and global gradient norm per iteration", height=680)


#: A diverging run's values beyond this many times the median are left above the axis instead of
#: stretching it until every other run is a flat line.
SCALE_SPAN = 1e4


def _on_scale(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The values the axis spans (at most :data:`SCALE_SPAN` times their median) and how many are above."""
    v = finite_positive(values)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return v, 0
    cap = np.median(v) * SCALE_SPAN
    return v[v <= cap], int(np.sum(v > cap) + np.sum(~np.isfinite(values)))


def grad_heatmap(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """``log10 ||dL/dh_t||`` over iteration (rows) and time step (columns).

    Parameters
    ----------
    df : DataFrame with columns ``iteration``, ``t``, ``norm`` (long format)
    """
    fig = log_heatmap(
        df,
        "iteration",
        "t",
        "norm",
        colorbar="log10 ||∂L/∂h_t||",
        hover="iteration %{y}<br>t=%{x}<br>log10 norm=%{z:.2f}<extra></extra>",
    )
    fig.update_xaxes(title="time step t")
    fig.update_yaxes(title="iteration")
    return base_layout(fig, title or "Gradient reaching each step, through training", height=440)


def step_losses(df: pd.DataFrame, *, mean: float, total: float, title: str = "") -> go.Figure:
    """Per-step losses as bars, with the mean and sum reductions annotated.

    Parameters
    ----------
    df : DataFrame with columns ``t``, ``loss``
    """
    fig = go.Figure(go.Bar(x=df["t"], y=df["loss"], name="step loss l_t", marker_color="#ff7f0e"))
    fig.add_hline(y=mean, line={"color": "black", "dash": "dash"}, annotation_text=f"L_mean = {mean:.4g}")
    fig.add_annotation(
        text=f"L_sum = {total:.4g}", xref="paper", yref="paper", x=1, y=1.06, showarrow=False, xanchor="right"
    )
    fig.update_xaxes(title="time step t")
    fig.update_yaxes(title="l_t", rangemode="tozero")
    return base_layout(fig, title or "Loss at each time step")


def scale_vs_length(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Gradient norm against T for reduction "sum" and "mean" (log-log).

    Parameters
    ----------
    df : DataFrame with columns ``T``, ``reduction``, ``grad_norm``
    """
    fig = go.Figure()
    for red, part in df.groupby("reduction", sort=False):
        fig.add_scatter(
            x=part["T"], y=finite_positive(part["grad_norm"]), name=f"reduction = {red}", mode="lines+markers"
        )
    fig.update_xaxes(title="sequence length T", **log_axis(df["T"], across=True))
    fig.update_yaxes(title="||∇L|| (log)", **log_axis(df["grad_norm"]))
    return base_layout(fig, title or "Gradient scale against sequence length")


def token_losses(df: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Token losses over time (rows) and sequence (columns); padding shown blank.

    Parameters
    ----------
    df : DataFrame with columns ``t``, ``sequence``, ``loss`` (NaN for padding)
    """
    wide = df.pivot(index="t", columns="sequence", values="loss")
    z = wide.to_numpy()
    columns = [f"seq {c}" for c in wide.columns]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=wide.index.to_numpy(),
            colorscale="Oranges",
            colorbar={"title": {"text": "token loss", "side": "right"}},
            hovertemplate="%{x}, t=%{y}: %{z:.4f}<extra></extra>",
        )
    )
    padding = np.where(np.isnan(z), 1.0, np.nan)
    if np.isfinite(padding).any():  # padding in its own colour, never a shade of the loss scale
        fig.add_heatmap(
            z=padding,
            x=columns,
            y=wide.index.to_numpy(),
            colorscale=[[0, PADDING], [1, PADDING]],
            showscale=False,
            hovertemplate="%{x}, t=%{y}: padding (masked out)<extra></extra>",
        )
    fig.update_yaxes(title="time step t", autorange="reversed")
    return base_layout(fig, title or "Token losses (grey = padding, masked out)")


def estimator_bias_variance(df: pd.DataFrame, *, errors: float = 1.0, title: str = "") -> go.Figure:
    """Bias and variance of each gradient estimator against temperature tau (log-log).

    Each bias carries error bars of ± ``errors`` standard errors; a bar whose lower end would reach 0 or
    below runs to the bottom of the log axis (the bias is then consistent with 0 at that width), and the
    hover says what the bias allows one to say (the ``verdict`` column).

    Parameters
    ----------
    df : DataFrame with columns ``estimator``, ``tau``, ``bias``, ``variance``, ``standard_error`` and
        ``verdict`` (a sentence per row)
    """
    fig = make_subplots(  # one above the other: side by side, their axis titles collide in a narrow column
        rows=2, cols=1, subplot_titles=["bias ||E[ĝ] − ∇||", "variance E||ĝ − E[ĝ]||²"], vertical_spacing=0.2
    )
    bias, se = df["bias"].to_numpy(float), errors * df["standard_error"].to_numpy(float)
    bias_axis = log_axis(bias, bias + se)
    floor = 10.0 ** bias_axis["range"][0] if "range" in bias_axis else 0.0
    for name, part in df.groupby("estimator", sort=False):
        label, color = ESTIMATOR_STYLE.get(str(name), (str(name), None))
        b, e = part["bias"].to_numpy(float), errors * part["standard_error"].to_numpy(float)
        fig.add_scatter(
            x=part["tau"],
            y=finite_positive(b),
            error_y={"type": "data", "symmetric": False, "array": e, "arrayminus": np.minimum(e, b - floor)},
            customdata=part[["verdict"]].to_numpy(),
            hovertemplate=f"{label}<br>τ = %{{x:.3g}}<br>%{{customdata[0]}}<extra></extra>",
            name=label,
            mode="lines+markers",
            line={"color": color},
            legendgroup=str(name),
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=part["tau"],
            y=finite_positive(part["variance"]),
            hovertemplate=f"{label}<br>τ = %{{x:.3g}}<br>variance %{{y:.3g}}<extra></extra>",
            name=label,
            mode="lines+markers",
            line={"color": color},
            legendgroup=str(name),
            showlegend=False,
            row=2,
            col=1,
        )
    for row in (1, 2):
        fig.update_xaxes(title="Gumbel-softmax temperature τ", row=row, col=1, **log_axis(df["tau"], across=True))
    fig.update_yaxes(row=1, col=1, **bias_axis)
    fig.update_yaxes(row=2, col=1, **log_axis(df["variance"]))
    return base_layout(fig, title or "Gradient estimators: bias and variance", height=640)


def estimator_spread(df: pd.DataFrame, exact: float, *, title: str = "") -> go.Figure:
    """Box plots of single-sample estimates of the first gradient component, with the exact value.

    Parameters
    ----------
    df : DataFrame with columns ``estimator``, ``estimate``
    """
    fig = go.Figure()
    for name, part in df.groupby("estimator", sort=False):
        label, color = ESTIMATOR_STYLE.get(str(name), (str(name), None))
        fig.add_box(y=part["estimate"], name=label, boxmean=True, marker_color=color, showlegend=False)
    fig.add_hline(y=exact, line={"color": "black", "dash": "dash"}, annotation_text=f"exact = {exact:.4g}")
    fig.update_yaxes(title="estimate of ∂E[f]/∂θ₀")
    return base_layout(fig, title or "Single-sample estimates against the exact gradient")
