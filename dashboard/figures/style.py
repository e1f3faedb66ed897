"""One look for every figure: readable on a projector, log axes where magnitudes span decades."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"

# The dashboard's template as plotly's default: applied when a figure is serialised, instead of
# validating a copy of the template into every figure (9 ms each, most of a page's build time).
pio.templates.default = "plotly_white"


def base_layout(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    """Apply the shared font sizes and margins (the template is plotly's default); returns ``fig``."""
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
        font={"size": 13},
        height=height,
        margin={"l": 70, "r": 30, "t": 60, "b": 95},
        # below the plot: a legend on top collides with titles once it wraps
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0.0},
        hoverlabel={"font_size": 13},
    )
    return fig


def finite_positive(values: np.ndarray) -> np.ndarray:
    """Values usable on a log axis: non-finite and non-positive entries become NaN (gaps)."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)


def to_unit(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values mapped from [lo, hi] to [0, 1] (non-finite to the nearest end): colour and size scales."""
    span = hi - lo if hi > lo else 1.0
    return np.clip((np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo) - lo) / span, 0, 1)


def mark_overflow(fig: go.Figure, step: int | None, **where) -> go.Figure:
    """A red dashed line and label at the first overflowing step, if any."""
    if step is not None:
        fig.add_vline(
            x=step,
            line={"color": "red", "dash": "dash"},
            annotation_text=f"overflow at step {step}",
            annotation_font_color="red",
            **where,
        )
    return fig


def human_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def log_heatmap(df: pd.DataFrame, rows: str, columns: str, values: str, *, colorbar: str, hover: str) -> go.Figure:
    """A heatmap of ``log10 values`` from long-format data (zeros and non-finite values left blank).

    Parameters
    ----------
    df : DataFrame with columns ``rows``, ``columns`` and ``values``
    colorbar, hover : str
        The colour bar's title and the hover template (``%{x}``, ``%{y}``, ``%{z}``).
    """
    wide = df.pivot(index=rows, columns=columns, values=values)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(finite_positive(wide.to_numpy()))
    return go.Figure(
        go.Heatmap(
            z=z,
            x=wide.columns.to_numpy(),
            y=wide.index.to_numpy(),
            colorscale=SEQUENTIAL,
            colorbar={"title": {"text": colorbar, "side": "right"}},
            hovertemplate=hover,
        )
    )
