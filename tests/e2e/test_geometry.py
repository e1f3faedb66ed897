"""The geometry checks on layouts built by hand (no browser): each defect is found, a clean layout passes."""

from __future__ import annotations

import numpy as np
import pytest

from .geometry import figure_problems, overhang, separation


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def rotated(cx: float, cy: float, w: float, h: float, degrees: float) -> list[list[float]]:
    """A w x h box centred on (cx, cy), turned by ``degrees``: a slanted tick label."""
    a = np.radians(degrees)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = np.array(box(-w / 2, -h / 2, w / 2, h / 2)) @ turn.T
    return (corners + [cx, cy]).tolist()


def item(kind: str, quad, text: str = "", clip: str | None = None) -> dict:
    return {"kind": kind, "text": text, "trace": "", "quad": quad, "clip": clip}


CLEAN = {
    "figure": "clean",
    "box": box(0, 0, 500, 400),
    "plots": {"xy": box(70, 60, 400, 300)},
    "items": [
        item("title", box(5, 10, 300, 30), "A title"),
        item("colorbar", box(420, 60, 480, 300)),
        item("legend", box(70, 350, 300, 380)),
        *(item("tick", box(70 + 40 * i, 305, 90 + 40 * i, 320), f"{i}") for i in range(8)),
        item("axis title", box(200, 325, 280, 342), "time step t"),
        item("marker", box(90, 100, 110, 120), clip="xy"),
        item("marker", box(600, 100, 620, 120), clip="xy"),  # outside the range: not drawn, not cut
    ],
}


def test_a_clean_layout_has_no_problems():
    assert figure_problems(CLEAN) == []


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (item("colorbar", box(450, 60, 499, 300)), "colorbar overlaps colorbar by 30 px"),
        (item("title", box(5, 10, 560, 30), "A title too long"), "title 'A title too long' leaves the figure by 60 px"),
        (item("tick", box(91, 305, 107, 320), "12"), "tick '0' runs into tick '12' (1.0 px apart)"),
        (item("legend", box(300, 250, 380, 280)), "legend covers a plot area by 30 px"),
        (item("marker", box(60, 100, 80, 120), clip="xy"), "marker is cut by its plot area's edge by 10 px"),
        (item("text", box(395, 100, 460, 115), "forward pass · t = 0", clip="xy"), "is cut by its plot area's"),
    ],
)
def test_each_defect_drawn_on_purpose_is_reported(bad, expected):
    found = figure_problems({**CLEAN, "items": [*CLEAN["items"], bad]})
    assert any(expected in line for line in found), found


def test_slanted_labels_are_apart_when_their_upright_boxes_would_touch():
    """Two tick labels turned by 45°, side by side: their axis-aligned boxes overlap, the labels do not."""
    a, b = rotated(100, 100, 60, 12, 45), rotated(125, 100, 60, 12, 45)
    upright = [np.min(a, axis=0), np.max(a, axis=0)], [np.min(b, axis=0), np.max(b, axis=0)]
    assert upright[0][1][0] > upright[1][0][0]  # the upright boxes overlap
    assert separation(a, b) > 3
    assert separation(a, rotated(108, 100, 60, 12, 45)) < 0


def test_overhang_measures_how_far_a_label_reaches_out():
    assert overhang(box(10, 10, 20, 20), box(0, 0, 100, 100)) == 0
    assert overhang(box(-7, 10, 20, 20), box(0, 0, 100, 100)) == 7
    assert overhang(box(10, 10, 20, 112), box(0, 0, 100, 100)) == 12
