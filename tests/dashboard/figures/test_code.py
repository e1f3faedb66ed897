"""The code beside an animation: every frame moves the highlight to its lines, the animation keeps its place."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.figures.code import BANDS, BAR_COLUMN, code_beside
from dashboard.figures.unroll import unroll_animation

CODE = ["x = 0", "for t in range(3):  # [forward]", "    x += t", "for t in reversed(range(3)):", "    x -= t < 2"]
SPANS = {"forward": (1, 2), "backward": (3, 4)}


def _animation(T: int = 6):
    steps = pd.DataFrame({"t": np.arange(T), "h_rms": np.linspace(0.1, 1, T), "loss": 1.0, "grad_norm": 0.5})
    memory = pd.DataFrame(
        {
            "phase": ["forward"] * T + ["backward"] * T,
            "step": [*range(T), *range(T)[::-1]],
            "bytes": 8 * np.r_[1 : T + 1, T:0:-1],
        }
    )
    return unroll_animation(steps, memory, window=4)


def _frames(fig) -> pd.DataFrame:
    rows = []
    for frame in fig.frames:
        phase = "forward" if frame.name[0] == "f" else "backward"
        first, last = SPANS[phase]
        rows.append({"name": frame.name, "phase": phase, "first": first, "last": last, "note": f"{phase} {frame.name}"})
    return pd.DataFrame(rows)


def _band_rows(fig, frame_data: list, traces: list, phase: str) -> tuple[float, float] | None:
    band = frame_data[traces.index(_index(fig, f"{phase} lines"))]
    top, bottom = min(band["y"]), max(band["y"])
    return None if top == bottom else (top, bottom)


def _index(fig, name: str) -> int:
    return next(i for i, t in enumerate(fig.data) if t.name == name)


def test_every_frame_moves_the_band_of_its_pass_to_its_lines():
    animation = _animation()
    fig = code_beside(animation, CODE, 10, _frames(animation), title="t", heading="h")
    assert len(fig.frames) == len(animation.frames) == 12
    for frame, old in zip(fig.frames, animation.frames):
        phase = "forward" if frame.name[0] == "f" else "backward"
        other = "backward" if phase == "forward" else "forward"
        data, traces = [d.to_plotly_json() for d in frame.data], list(frame.traces)
        assert traces[: len(old.traces)] == list(old.traces)  # the animation's own updates first, unchanged
        first, last = SPANS[phase]
        assert _band_rows(fig, data, traces, phase) == (first - 0.5, last + 0.5)
        assert _band_rows(fig, data, traces, other) is None
        note = data[traces.index(_index(fig, "step numbers"))]
        assert note["text"] == [f"{phase} {frame.name}"]
    assert fig.data[_index(fig, "forward lines")].fillcolor == BANDS["forward"]


def test_the_code_is_shown_as_written_with_its_file_line_numbers():
    animation = _animation()
    fig = code_beside(animation, CODE, 10, _frames(animation), title="t", heading="file.py")
    numbers, lines = (list(fig.data[_index(fig, name)].text) for name in ("line numbers", "code"))
    assert numbers == ["10", "11", "12", "13", "14"]
    assert lines[2] == "\u00a0\u00a0\u00a0\u00a0x\u00a0+=\u00a0t"  # indentation kept (SVG collapses spaces)
    assert lines[4].endswith("t\u00a0&lt;\u00a02")  # "<" is not read as a tag


def test_the_animation_keeps_the_left_and_the_code_takes_the_right():
    animation = _animation()
    fig = code_beside(animation, CODE, 1, _frames(animation), title="t", heading="h", split=0.4)
    layout = fig.layout.to_plotly_json()
    code_axis = max(k for k in layout if k.startswith("xaxis"))
    assert 0.4 < layout[code_axis]["domain"][0] < 0.4 + BAR_COLUMN and layout[code_axis]["domain"][1] == 1.0
    for key in (k for k in layout if k.startswith("xaxis") and k != code_axis):
        assert 0 <= layout[key]["domain"][0] <= layout[key]["domain"][1] <= 0.4
    # the passes' colour bars run across the animation's top: they narrow with it and keep their px from the top
    before = [t.marker.colorbar for t in animation.data if t.marker is not None and t.marker.colorbar.len is not None]
    bars = [t.marker.colorbar for t in fig.data if t.marker is not None and t.marker.colorbar.len is not None]
    assert len(bars) == len(before) == 2 and all(bar.orientation == "h" for bar in bars)
    for old, bar in zip(before, bars):
        assert 0 <= bar.x and bar.x + bar.len <= 0.4 + 1e-9 and bar.len == pytest.approx(0.4 * old.len)
        assert (1 - bar.y) * fig.layout.height == pytest.approx((1 - old.y) * animation.layout.height)
    assert layout["sliders"][0]["x"] + layout["sliders"][0]["len"] <= 0.4 + 1e-9
    assert fig.layout.height >= 14 * len(CODE)
    # the animation given is not changed
    assert animation.layout.xaxis.domain == (0.0, 1.0) and len(animation.data) < len(fig.data)


def test_upright_colour_bars_stack_in_their_column_between_the_animation_and_the_code():
    bars = [{"x": [0], "y": [0], "marker": {"color": [0], "colorbar": {"title": {"text": n}}}} for n in "ab"]
    animation = go.Figure(data=bars, frames=[go.Frame(name="f0", data=bars, traces=[0, 1])])
    frames = pd.DataFrame([{"name": "f0", "phase": "forward", "first": 1, "last": 2, "note": ""}])
    fig = code_beside(animation, CODE, 1, frames, title="t", heading="h", split=0.4)
    code_axis = max(k for k in fig.layout.to_plotly_json() if k.startswith("xaxis"))
    assert fig.layout[code_axis].domain == (0.4 + BAR_COLUMN, 1.0)
    drawn = [t.marker.colorbar for t in fig.data[:2]]
    assert all(0.4 < bar.x < 0.4 + BAR_COLUMN for bar in drawn)
    assert drawn[0].y - drawn[0].len >= drawn[1].y - 1e-9  # stacked, the first above the second


def test_a_frozen_animation_is_copied_not_changed():
    spec = _animation().to_dict()
    before = repr(spec)
    code_beside(spec, CODE, 1, _frames(_animation()), title="t", heading="h")
    assert repr(spec) == before


def test_frames_that_do_not_match_the_animation_are_refused():
    animation = _animation()
    with pytest.raises(ValueError, match="frames must name the animation's frames"):
        code_beside(animation, CODE, 1, _frames(animation).iloc[::-1], title="t", heading="h")
