"""What the two unrolled graphs share (one layer: :mod:`~dashboard.figures.unroll`, a stack:
:mod:`~dashboard.figures.depth`): the node colour scales, how many steps fit side by side, the colour bars of
both passes and the Play controls.

Heights are fixed in px and widths are not, so everything is placed in px from the figure's top or the plot
area's bottom, and the steps are spaced for the narrowest figure (:data:`~dashboard.figures.style.NARROWEST`):
a wider figure only spreads them further apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from dashboard.figures.style import NARROWEST, SMALL_FONT, label_stride, text_px

IDLE = "#d9d9d9"
FORWARD_SCALE, BACKWARD_SCALE, LOSS_SCALE = "Blues", "Reds", "Oranges"


def _ramp(scale: str, lo: float, hi: float, n: int = 6) -> list[list]:
    """``n`` stops of a named colour scale placed on [lo, hi] of a combined scale."""
    stops = np.linspace(0, 1, n)
    return [[lo + (hi - lo) * s, c] for s, c in zip(stops, sample_colorscale(scale, list(0.15 + 0.85 * stops)))]


#: One numeric scale for the hidden nodes: 0 idle (grey), (0, 0.5] forward blues, (0.5, 1] backward reds.
NODE_SCALE = [[0.0, IDLE], *_ramp(FORWARD_SCALE, 0.01, 0.5), *_ramp(BACKWARD_SCALE, 0.5001, 1.0)]
LOSS_NODE_SCALE = [[0.0, IDLE], *_ramp(LOSS_SCALE, 0.01, 1.0)]
PLAIN_SCALE = [[0.0, IDLE], [1.0, "#8c8c8c"]]

#: Least distance (px) between neighbouring steps at the narrowest width: a node, its label and a gap.
MIN_SLOT = 38
#: The x range reaches this far (in steps) beyond the first and last step: room for the current-step ring.
PAD = 0.6
#: Node sizes (px): hidden states scale with their gradient between these; the ring around the current step.
NODE_MIN, NODE_MAX = 18, 30
RING = NODE_MAX + 6
#: Bands (px) from the figure's top: the title (with its subtitle), then each colour bar with its labels;
#: in a bar's band, its name on top and the bar this far down.
TITLE_BAND, BAR_BAND, BAR_OFFSET = 62, 62, 28
#: Bands (px) under the plot area: the Play and Pause buttons, then the slider with its labels.
BUTTONS_BAND, SLIDER_BAND = 36, 52
HEADING_FONT = 14


@dataclass(frozen=True)
class Slots:
    """Steps side by side: how many (``window``), which of them carry a label (multiples of ``stride``)."""

    window: int
    stride: int

    @property
    def x_range(self) -> list[float]:
        return [-PAD, self.window - 1 + PAD]


def slots(T: int, window: int, margins_px: float) -> Slots:
    """At most ``window`` of the ``T`` steps, as many as keep :data:`MIN_SLOT` px apart in the narrowest
    figure (its plot area: :data:`NARROWEST` less ``margins_px``); labels such as ``x999`` thinned to fit."""
    plot = NARROWEST - margins_px
    fit = int(plot / MIN_SLOT - 2 * PAD + 1)
    W = max(1, min(window, T, fit))
    pitch = plot / (W - 1 + 2 * PAD)
    return Slots(W, label_stride(W, text_px(f"x{T - 1}", SMALL_FONT), pitch * W))


def heading(lines: list[str]) -> str:
    """The animation's heading (a text trace redrawn with the nodes): its non-empty lines."""
    return "<br>".join(line for line in lines if line)


def pass_colorbars(
    fig: go.Figure, h_hi: float, g_lo: float, g_hi: float, *, static: bool, height: float, **where
) -> None:
    """Colour bars with units for the two passes, across the plot's width, one under the other below the
    title: forward (RMS |h_t|, only when the figure animates: a finished diagram has no forward colours) and
    backward (log10 ||dL/dh_t||). Invisible traces carry them (``where``: their subplot); each bar's name is
    an annotation above it (a horizontal colour bar's own title sits on the bar in Plotly 3 and 4)."""
    bars = [(BACKWARD_SCALE, g_lo, g_hi, "backward pass: log10 ||∂L/∂h_t||")]
    if not static:
        bars.insert(0, (FORWARD_SCALE, 0, h_hi, "forward pass: RMS |h_t|"))
    top = top_margin(static)
    for i, (scale, lo, hi, name) in enumerate(bars):
        band = TITLE_BAND + i * BAR_BAND  # px from the figure's top
        marker = {"colorscale": scale, "cmin": lo, "cmax": hi, "color": [lo], "showscale": True}
        marker["colorbar"] = {
            "orientation": "h",
            "thickness": 10,
            "len": 1.0,
            "x": 0.0,
            "xanchor": "left",
            "y": 1 - (band + BAR_OFFSET) / height,
            "yref": "container",
            "yanchor": "top",
            "ypad": 0,
            "tickfont": {"size": SMALL_FONT},
        }
        fig.add_scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip", marker=marker, **where)
        fig.add_annotation(  # its place in px above the plot area, whatever the height of that
            text=name,
            x=0.0,
            xref="paper",
            xanchor="left",
            y=1.0,
            yref="paper",
            yanchor="top",
            yshift=top - band - 2,
            showarrow=False,
            font={"size": SMALL_FONT},
        )


def title_band(fig: go.Figure, subtitle: str) -> None:
    """The title at the top of its band, ``subtitle`` under it (grey)."""
    fig.layout.title.update(
        y=1.0, yref="container", yanchor="top", pad={"t": 10}, subtitle={"text": subtitle, "font": {"color": "#555"}}
    )


def top_margin(static: bool) -> int:
    """The figure's top margin: the title band and the colour bars (one for a diagram, two animated)."""
    return TITLE_BAND + BAR_BAND * (1 if static else 2) + 6


def controls(fig: go.Figure, frames: list[dict], labels: list[str], *, below: float, plot_px: float, ms: int) -> None:
    """Play/Pause buttons ``below`` px under the plot area, the slider (one step per frame, labelled by
    ``labels``) under them across the plot's width; ``plot_px`` is the plot area's height."""
    play = {"frame": {"duration": ms, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}}
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -below / plot_px,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 0, "r": 10},
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, play]},
                    {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]},
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.0,
                "len": 1.0,
                "y": -(below + BUTTONS_BAND) / plot_px,
                "yanchor": "top",
                "pad": {"t": 0, "b": 0},
                "currentvalue": {"visible": False},  # the heading above the nodes names the step
                "font": {"size": SMALL_FONT},
                "steps": [
                    {"label": label, "method": "animate", "args": [[f["name"]], pause]}
                    for f, label in zip(frames, labels)
                ],
            }
        ],
    )
