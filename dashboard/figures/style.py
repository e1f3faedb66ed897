"""One look for every figure: readable on a projector, log axes where magnitudes span decades."""

from __future__ import annotations

import itertools

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
    """Apply the shared font sizes and margins (the template is plotly's default); returns ``fig``.

    Each property is set by item (merged into what the figure already has): four times cheaper than
    ``update_layout``, whose path machinery is most of a small figure's build time.
    """
    shared = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
        "font": {"size": 13},
        "height": height,
        "margin": {"l": 70, "r": 30, "t": 60, "b": 95},
        # below the plot: a legend on top collides with titles once it wraps
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0.0},
        "hoverlabel": {"font": {"size": 13}},
    }
    layout = fig.layout
    for key, value in shared.items():
        layout[key] = {**layout[key].to_plotly_json(), **value} if isinstance(value, dict) else value
    return fig


def as_lists(props: dict) -> dict:
    """``props`` with its arrays (nested too) as lists: Plotly validates a list by a short walk, an array
    through a dataframe-library probe, ten times slower; an animation's hundreds of small arrays add up."""
    return {
        k: v.tolist() if isinstance(v, np.ndarray) else as_lists(v) if isinstance(v, dict) else v
        for k, v in props.items()
    }


def finite_positive(values: np.ndarray) -> np.ndarray:
    """Values usable on a log axis: non-finite and non-positive entries become NaN (gaps)."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)


def to_unit(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values mapped from [lo, hi] to [0, 1] (non-finite to the nearest end): colour and size scales."""
    span = hi - lo if hi > lo else 1.0
    return np.clip((np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo) - lo) / span, 0, 1)


def tick_label(v: float) -> str:
    """A full value for a tick: ``0.02``, ``500``, or ``2×10⁻⁵`` beyond 1e-3..1e5 (never ``2e-05``)."""
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.6g}"
    mantissa, exponent = f"{v:.0e}".split("e")
    power = f"10<sup>{int(exponent)}</sup>"
    return power if mantissa == "1" else f"{mantissa}×{power}"


def byte_ticks(lo: float, hi: float, max_ticks: int = 8) -> list[float]:
    """Round sizes between ``lo`` and ``hi`` bytes: 1, 2, 5, 10, 20, 50, 100, 200, 500 of B, KiB, MiB, GiB."""
    sizes = {m * 1024.0**k for k in range(4) for m in (1, 2, 5, 10, 20, 50, 100, 200, 500)}
    ticks = sorted(t for t in sizes if lo / 1.02 <= t <= hi * 1.02)
    step = int(np.ceil(len(ticks) / max_ticks)) if ticks else 1
    return ticks[::step]


def log_axis(*values: np.ndarray, fmt=tick_label, max_ticks: int = 8, in_bytes: bool = False) -> dict:
    """Properties of a log axis over ``values`` whose ticks are all labelled with full values.

    Ticks sit at 1-2-5 multiples of the decades the data span (every decade, or every few, over
    wider ranges), so no bare minor labels ("2 5 10 2 5") appear. ``fmt`` turns a tick into its
    label; ``in_bytes`` puts the ticks at round sizes (:func:`byte_ticks`) labelled like ``64 KiB``.
    """
    v = np.concatenate([finite_positive(np.ravel(a)) for a in values]) if values else np.array([])
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"type": "log"}
    lo, hi = float(v.min()), float(v.max())
    decades = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    step = int(np.ceil(len(decades) / max_ticks))
    mantissas = (1, 2, 5) if np.log10(hi / lo) <= 2.5 else (1,)
    ticks = [m * 10.0**e for e in decades[::step] for m in mantissas]
    inside = [t for t in ticks if lo / 1.02 <= t <= hi * 1.02]
    if in_bytes:
        inside, fmt = byte_ticks(lo, hi, max_ticks), lambda b: human_bytes(b).replace(".0 ", " ")
    if len(inside) < 2:  # less than a decade: label the ends of the data
        inside = sorted({float(f"{lo:.2g}"), float(f"{hi:.2g}"), *inside})
    pad = max(0.04 * (np.log10(hi) - np.log10(lo)), 0.05)
    return {
        "type": "log",
        "tickvals": inside,
        "ticktext": [fmt(t) for t in inside],
        "range": [np.log10(min(lo, inside[0])) - pad, np.log10(max(hi, inside[-1])) + pad],
    }


def byte_axis(*values: np.ndarray, max_ticks: int = 6) -> dict:
    """Properties of a linear byte axis from 0 whose ticks read in one unit (``0 KiB, 200 KiB, ...``)."""
    top = max((float(np.nanmax(np.ravel(a), initial=0)) for a in values), default=0.0)
    unit, name = next(((u, n) for u, n in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")) if top >= u), (1, "B"))
    span = max(top / unit, 1e-9)
    raw = span / max_ticks
    step = min(m * 10.0 ** np.floor(np.log10(raw)) for m in (1, 2, 5, 10) if m * 10.0 ** np.floor(np.log10(raw)) >= raw)
    ticks = np.arange(0, span + step, step)
    return {
        "tickvals": ticks * unit,
        "ticktext": [f"{t:g} {name}" for t in ticks],
        "range": [0, max(top, 1) * 1.05],
    }


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


#: Points a curve through the pass keeps at most: a chart is a few hundred pixels wide, and a deep network's
#: pass has thousands of moments (each point also costs the browser and the server to send).
MAX_POINTS = 800


def envelope(values: np.ndarray, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of the points of ``values`` (n,) to draw: all of them up to ``limit``; beyond, the first, the last
    and the largest and smallest value of each of ``limit // 2`` equal bins, in order, so every peak and
    every trough of a sawtooth stays in the picture."""
    n = len(values)
    if n <= limit:
        return np.arange(n)
    edges = np.linspace(0, n, limit // 2 + 1).astype(int)
    keep = {0, n - 1}
    for a, b in itertools.pairwise(edges):
        keep |= {a + int(np.argmax(values[a:b])), a + int(np.argmin(values[a:b]))}
    return np.array(sorted(keep))


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
