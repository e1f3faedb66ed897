"""Code beside an animation: the source its frames run, the executing lines highlighted frame by frame.

The code lives in the animation's own figure (text traces on axes of their own, right of the animation),
and every frame that moves the animation also moves the highlight and the numbers of the step: the
browser plays both with one Play button, without a rerun of the page.
"""

from __future__ import annotations

import copy
import re

import pandas as pd
import plotly.graph_objects as go

CODE_FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
#: Highlight of the lines a frame runs, by pass (the animation's blues and reds, pale).
BANDS = {"forward": "rgba(31, 119, 180, 0.20)", "backward": "rgba(214, 39, 40, 0.18)"}
#: Where the code's text starts and the line numbers end, as fractions of the code's axis.
TEXT_X, GUTTER_X = 0.075, 0.06
#: Pixels per code line.
LINE_PX = 18
#: Width between the animation and the code that its upright colour bars take, as a share of the figure.
BAR_COLUMN = 0.1
#: Width between the animation and the code when no colour bar stands between them, as a share of the figure.
GAP = 0.02


def code_beside(
    animation: go.Figure | dict,
    code: list[str],
    first_number: int,
    frames: pd.DataFrame,
    *,
    title: str,
    heading: str,
    split: float = 0.4,
    font_size: int = 10,
) -> go.Figure:
    """The animation on the left, ``code`` on the right, the lines each frame runs highlighted.

    Parameters
    ----------
    animation : go.Figure or dict
        A Plotly animation whose frames list the traces they update (``traces``).
    code : list of str
        The source shown, one entry per line.
    first_number : int
        The line number of ``code[0]`` in its file (the gutter shows the file's numbers).
    frames : DataFrame
        One row per frame of ``animation``, in its order: ``name`` (the frame's name), ``phase`` (a key of
        :data:`BANDS`), ``first`` and ``last`` (indices into ``code`` of the highlighted lines, inclusive)
        and ``note`` (the step's numbers, shown above the code).
    title : str
        The figure's title.
    heading : str
        What the code is, shown above it (e.g. its file and signature).
    split : float
        Share of the width the animation keeps.

    Returns
    -------
    go.Figure
        ``fig.frames[i]`` updates the animation's traces as before, then the two bands (``forward``,
        ``backward``; the other pass's band of no height) and the note.
    """
    spec = copy.deepcopy(animation) if isinstance(animation, dict) else animation.to_dict()
    spec.setdefault("frames", [])
    names = [f.get("name") for f in spec["frames"]]
    if names != frames["name"].tolist():
        raise ValueError(f"frames must name the animation's frames in order ({len(names)}), got {len(frames)} rows")
    layout = spec["layout"]
    left = _squeeze(spec, split)
    axis = 1 + sum(1 for key in layout if re.fullmatch(r"xaxis\d*", key))
    n = len(code)
    layout[f"xaxis{axis}"] = {
        "domain": [left, 1.0],
        "range": [0, 1],
        "visible": False,
        "fixedrange": True,
    }
    layout[f"yaxis{axis}"] = {"domain": [0, 1], "range": [n - 0.5, -3.0], "visible": False, "fixedrange": True}
    on = {"xaxis": f"x{axis}", "yaxis": f"y{axis}", "showlegend": False, "hoverinfo": "skip"}
    first = frames.iloc[0] if len(frames) else None
    moving = [*_bands(first), _note(first)]
    text = {"mode": "text", "textfont": {"family": CODE_FONT, "size": font_size}, "cliponaxis": False}
    static = [
        {**text, "x": [GUTTER_X] * n, "y": list(range(n)), "text": [str(first_number + i) for i in range(n)]},
        {**text, "x": [TEXT_X] * n, "y": list(range(n)), "text": [_visible(line) for line in code]},
        {**text, "x": [0.0], "y": [-2.4], "text": [heading]},
    ]
    for trace, name in zip(static, ("line numbers", "code", "code heading")):
        trace["name"] = name
    static[0]["textposition"], static[0]["textfont"] = "middle left", {**text["textfont"], "color": "#999"}
    static[1]["textposition"] = static[2]["textposition"] = "middle right"
    static[2]["textfont"] = {**text["textfont"], "color": "#555"}
    start = len(spec["data"])
    spec["data"] += [{"type": "scatter", **on, **trace} for trace in (*moving, *static)]
    new = list(range(start, start + len(moving)))
    for frame, (_, row) in zip(spec["frames"], frames.iterrows()):
        listed = frame.get("traces", list(range(len(frame.get("data", [])))))
        frame["data"] = [*frame.get("data", []), *_bands(row), _note(row)]
        frame["traces"] = [*listed, *new]
    # the title at the very top, clear of notes the animation puts just above its plot
    layout["title"] = {"yref": "container", "y": 0.995, "yanchor": "top", **layout.get("title", {}), "text": title}
    layout["margin"] = {**layout.get("margin", {}), "r": 20, "t": max(95, layout.get("margin", {}).get("t", 0))}
    margin = layout["margin"]  # the code's rows fit the plot area, which the margins (title, controls) leave
    plot_px = LINE_PX * (n + 3)
    before = int(layout.get("height") or 450)
    layout["height"] = max(before, margin["t"] + margin.get("b", 80) + plot_px)
    for trace in spec["data"]:  # what sits at a place in px from the top keeps it in the taller figure
        bar = trace.get("marker", {}).get("colorbar", {})
        if bar.get("yref") == "container" and "y" in bar:
            bar["y"] = 1 - (1 - bar["y"]) * before / layout["height"]
    return go.Figure(data=spec["data"], layout=layout, frames=spec["frames"], _validate=False)


def _visible(line: str) -> str:
    """A line as SVG text keeps it: spaces that do not collapse, and ``<`` not read as a tag."""
    return line.rstrip().replace("&", "&amp;").replace("<", "&lt;").replace(" ", "\u00a0") or "\u00a0"


def _bands(row) -> list[dict]:
    """One highlight per pass: the one of ``row``'s pass covers its lines, the other is folded to no height
    (still drawn: a trace that empties is left on screen by an animation that does not redraw)."""
    out = []
    for phase, color in BANDS.items():
        lit = row is not None and row["phase"] == phase
        top, bottom = (row["first"] - 0.5, row["last"] + 0.5) if lit else (-0.5, -0.5)
        out.append(
            {
                "mode": "lines",
                "fill": "toself",
                "fillcolor": color,
                "line": {"width": 0, "color": color},
                "x": [0.0, 1.0, 1.0, 0.0, 0.0],
                "y": [top, top, bottom, bottom, top],
                "name": f"{phase} lines",
            }
        )
    return out


def _note(row) -> dict:
    """The step's numbers above the code (a trace, so it changes in the same redraw as the highlight)."""
    return {
        "mode": "text",
        "x": [0.0],
        "y": [-1.2],
        "text": ["" if row is None else row["note"]],
        "textposition": "middle right",
        "textfont": {"size": 13},
        "cliponaxis": False,
        "name": "step numbers",
    }


def _squeeze(spec: dict, share: float) -> float:
    """Move everything placed on the figure's width into its left ``share`` (in place): axes domains,
    annotations on the paper, the play buttons and the slider; horizontal colour bars (above the plot) narrow
    with it, upright ones stack, one above the other, in a column of :data:`BAR_COLUMN` right of it.
    Returns where the width left free for the code starts."""
    layout = spec["layout"]
    for key in [k for k in layout if re.fullmatch(r"xaxis\d*", k)] or ["xaxis"]:
        lo, hi = layout.setdefault(key, {}).get("domain", [0.0, 1.0])
        layout[key]["domain"] = [lo * share, hi * share]
    for note in layout.get("annotations", []):
        if note.get("xref") == "paper":
            note["x"] = note.get("x", 0.5) * share
    for menu in layout.get("updatemenus", []):
        menu["x"] = menu.get("x", -0.05) * share
    for slider in layout.get("sliders", []):
        slider["x"], slider["len"] = slider.get("x", 0.0) * share, slider.get("len", 1.0) * share
    bars = [t["marker"]["colorbar"] for t in spec["data"] if "colorbar" in t.get("marker", {})]
    across = [bar for bar in bars if bar.get("orientation") == "h"]  # above the plot: they narrow with it
    for bar in across:
        bar["x"], bar["len"] = bar.get("x", 0.0) * share, bar.get("len", 1.0) * share
    upright = [bar for bar in bars if bar.get("orientation") != "h"]
    lo, hi = layout.get("yaxis", {}).get("domain", [0.0, 1.0])
    hi -= 0.08 * (hi - lo)  # below the animation's heading, which may run past its plot
    for k, bar in enumerate(upright):
        height = (hi - lo) / len(upright)
        bar.update(x=share + 0.01, xanchor="left", y=hi - k * height, yanchor="top", len=0.9 * height)
        bar.update(thickness=12, lenmode="fraction")
    return share + (BAR_COLUMN if upright else GAP)
