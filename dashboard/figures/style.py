"""One look for every figure: readable on a projector, log axes where magnitudes span decades."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from dashboard.vocabulary.numbers import human_bytes

SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"

# The dashboard's template as plotly's default: applied when a figure is serialised, instead of
# validating a copy of the template into every figure (9 ms each, most of a page's build time).
pio.templates.default = "plotly_white"
#: The y axis's tick labels stand off the axis (px): clear of the x axis's first label in the corner; and its
#: title stands off them (px; Plotly measures a y title's from where the labels would be without their standoff,
#: so that one counts it too).
TICK_STANDOFF, TITLE_STANDOFF = 8, 12

#: The narrowest a figure is drawn (px): a figure column's least width (``LAYOUT_CSS``, dashboard/shell/ui.py),
#: and about the main column of an 800 px window beside the sidebar. A figure that places its own labels (the
#: unrolled graph's steps, text in heat-map cells, a title) makes them fit at this width; Plotly spaces the
#: ticks of numeric axes itself at any width.
NARROWEST = 460
#: Font sizes (px): figure text, titles, and the least any label of a figure uses.
FONT, TITLE_FONT, SMALL_FONT = 13, 17, 12
#: A character's width as a share of its font size: generous for the sans-serif fonts Plotly draws with
#: (measured 0.42-0.52 in Chromium).
CHAR_EM = 0.55
#: Space kept between neighbouring labels (px): more than a word space.
LABEL_GAP = 8.0


def text_px(text: str, size: float = FONT) -> float:
    """The width (px) ``text`` takes at font ``size`` px, generously; markup (``<sup>``, ``<br>``) not counted,
    the longest line of several."""
    lines = re.split(r"<br\s*/?>", text)
    return CHAR_EM * size * max(len(re.sub(r"<[^>]+>", "", line)) for line in lines)


def label_stride(n: int, label_px: float, span_px: float) -> int:
    """Show every k-th of ``n`` labels spread evenly over ``span_px``, each ``label_px`` wide: the least k
    that keeps :data:`LABEL_GAP` between neighbours (1 when all fit).

    The one rule for every figure that labels steps itself (the unrolled graph's nodes, heat-map cells);
    callers pass the span at :data:`NARROWEST`, so the labels fit at every width the dashboard draws.
    """
    if n <= 1:
        return 1
    return max(1, math.ceil((label_px + LABEL_GAP) / (span_px / n)))


def thinned(labels: Sequence[str], steps: Sequence[int], stride: int) -> list[str]:
    """``labels`` of the steps that are multiples of ``stride``, blank elsewhere: anchored on the step number,
    so a window sliding over the steps keeps labelling the same steps."""
    return [label if int(t) % stride == 0 else "" for label, t in zip(labels, steps)]


def wrap_title(title: str, width: float = NARROWEST - 20, size: float = TITLE_FONT) -> str:
    """``title`` broken into lines (``<br>``) at spaces so that each fits ``width`` px at ``size`` px."""
    lines = [""]
    for word in title.split(" "):
        trial = f"{lines[-1]} {word}".strip()
        if lines[-1] and text_px(trial, size) > width:
            lines.append(word)
        else:
            lines[-1] = trial
    return "<br>".join(lines)


#: A legend below the plot (px): its top this far under the plot area (past the tick labels and the axis
#: title), each row of entries this tall, each entry as wide as its name and this much more (its symbol).
LEGEND_BELOW, LEGEND_ROW, LEGEND_SYMBOL = 72, 22, 48


def legend_rows(fig: go.Figure, width: float = NARROWEST - 40) -> int:
    """How many rows the figure's legend takes across ``width`` px (0 when Plotly shows none)."""
    names = [
        str(t.name) for t in fig.data if t.showlegend is not False and t.name is not None and t.visible is not False
    ]
    if len(names) < 2 and fig.layout.showlegend is not True:
        return 0
    rows, used = 1, 0.0
    for name in names:
        entry = text_px(name) + LEGEND_SYMBOL
        if used and used + entry > width:
            rows, used = rows + 1, 0.0
        used += entry
    return rows


def _titled_subplots(fig: go.Figure) -> bool:
    """Whether text sits right above the plot area (subplot titles, a note at its top edge)."""
    return any(a.yref == "paper" and (a.y or 0) >= 0.99 and a.yanchor != "top" for a in fig.layout.annotations)


def _roomy_axes(fig: go.Figure) -> dict:
    """Layout items that make every axis room for its own tick labels and title (automargin), whatever their
    length and font size, and keep them apart (:data:`TICK_STANDOFF`, :data:`TITLE_STANDOFF`). Set on the
    figure, not in a template: Streamlit replaces Plotly's default template when imported after this module."""
    ids = {"x", "y"} | {a for t in fig.data for a in (getattr(t, "xaxis", None), getattr(t, "yaxis", None)) if a}
    items = {}
    for axis_id in ids:
        name = f"{axis_id[0]}axis{axis_id[1:]}"
        current = fig.layout[name].to_plotly_json()
        items[name] = {**current, "automargin": True}
        if axis_id.startswith("y"):  # an x title keeps Plotly's own standoff (set, Plotly 3 measures it wrongly)
            standoff = {"standoff": TITLE_STANDOFF + TICK_STANDOFF}
            items[name].update(ticklabelstandoff=TICK_STANDOFF, title={**current.get("title", {}), **standoff})
    return items


def base_layout(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    """Apply the shared font sizes and margins (the template is plotly's default); returns ``fig``.

    ``height`` is the figure's at the standard margins (a title of one line, 60 px above the plot and 95 below
    it); the plot area keeps the height it has there. The figure grows by a line of margin for each line a
    title too wide for :data:`NARROWEST` wraps onto, by one more when subplot titles or notes sit right
    above the plot, and by :data:`LEGEND_ROW` for each row the legend takes at :data:`NARROWEST` (it shrinks
    without a legend); the legend sits :data:`LEGEND_BELOW` px under the plot, clear of the axis title.
    Each property is set
    by item (merged into what the figure already has): four times cheaper than ``update_layout``, whose
    path machinery is most of a small figure's build time.
    """
    text = wrap_title(title)
    top = 60 + 24 * text.count("<br>") + (16 if _titled_subplots(fig) else 0)
    rows = legend_rows(fig)
    bottom = (LEGEND_BELOW + rows * LEGEND_ROW + 10) if rows else 70
    height += top - 60 + bottom - 95
    shared = {  # the title's lines centred in the top margin (Plotly's "auto"; its top anchor misplaces a 2nd line)
        "title": {"text": text, "x": 0.01, "xanchor": "left", "font": {"size": TITLE_FONT}},
        "font": {"size": FONT},
        "height": height,
        "margin": {"l": 70, "r": 30, "t": top, "b": bottom},
        # below the plot, clear of the axis title: a legend on top collides with titles once it wraps
        "legend": {
            "orientation": "h",
            "yanchor": "top",
            "y": -LEGEND_BELOW / (height - top - bottom),
            "xanchor": "left",
            "x": 0.0,
        },
        "hoverlabel": {"font": {"size": FONT}},
    }
    layout = fig.layout
    for name, axis in _roomy_axes(fig).items():
        layout[name] = axis
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


def log_axis(
    *values: np.ndarray, fmt=tick_label, max_ticks: int = 8, in_bytes: bool = False, across: bool = False
) -> dict:
    """Properties of a log axis over ``values`` whose ticks are all labelled with full values.

    Ticks sit at 1-2-5 multiples of the decades the data span (every decade, or every few, over
    wider ranges), so no bare minor labels ("2 5 10 2 5") appear. ``fmt`` turns a tick into its
    label; ``in_bytes`` puts the ticks at round sizes (:func:`byte_ticks`) labelled like ``64 KiB``.
    ``across`` marks a horizontal axis: its labels are thinned (:func:`label_stride`) to keep apart in the
    narrowest figure's plot area.
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
    if across:
        stride = label_stride(len(inside), max(text_px(fmt(t)) for t in inside), NARROWEST - 110)
        inside = inside[::stride]
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
            colorbar={"title": {"text": colorbar, "side": "right"}, "xpad": 24},
            hovertemplate=hover,
        )
    )
