"""Frozen figures send what the figure would, and export like it; long curves are drawn at their envelope."""

from __future__ import annotations

import json
import pickle

import numpy as np
import plotly.io as pio
import pytest

from dashboard.catalog import page_panels
from dashboard.config import RunConfig
from dashboard.figures.frozen import FrozenFigure, freeze
from dashboard.figures.style import MAX_POINTS, envelope
from dashboard.io import export

DEEP = RunConfig(cell="gru", num_layers=3, bidirectional=True, T=300)


@pytest.fixture(scope="module")
def panels():
    return [
        p
        for c in (RunConfig(), DEEP)
        for page in ("unroll", "memory", "gradient_flow")
        for p in page_panels(page, c).values()
    ]


def test_a_frozen_figure_sends_the_same_json_and_survives_pickling(panels):
    for panel in panels:
        frozen = pickle.loads(pickle.dumps(freeze(panel.figure)))
        assert isinstance(frozen, FrozenFigure) and freeze(frozen) is frozen
        sent = json.loads(pio.to_json(frozen.to_dict(), validate=False))
        assert sent == json.loads(pio.to_json(panel.figure.to_dict(), validate=False)), panel.name
        assert len(frozen.frames) == len(panel.figure.frames)
        assert frozen.layout.height == panel.figure.layout.height


def test_showing_a_frozen_figure_does_not_change_it(panels):
    animated = next(p for p in panels if p.figure.frames)
    frozen = freeze(animated.figure)
    before = pio.to_json(frozen.to_dict(), validate=False)
    frames = list(export.animation_frames(frozen))  # pops the frames of the dict it gets: a copy
    assert len(frames) == len(animated.figure.frames) == len(frozen.frames)
    assert frames == list(export.animation_frames(animated.figure))
    assert pio.to_json(frozen.to_dict(), validate=False) == before
    assert b"plotly" in export.to_html(frozen, False)


@pytest.mark.skipif(export.find_browser() is None, reason="static export needs Chromium (apt-get install chromium)")
def test_a_frozen_figure_renders_as_a_png():
    fig = page_panels("gradient_flow", RunConfig())["gradient_norms"].figure
    png = export.to_static(freeze(fig), "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_envelope_keeps_every_peak_and_trough_and_short_curves_whole():
    rng = np.random.default_rng(0)
    short = rng.standard_normal(MAX_POINTS)
    assert np.array_equal(envelope(short), np.arange(MAX_POINTS))
    saw = np.tile(np.r_[np.arange(50), np.arange(50)[::-1]], 60).astype(float)  # 6000 points, 60 teeth
    saw[1234] = 1e6  # a spike between two kept points
    kept = envelope(saw)
    assert len(kept) <= MAX_POINTS + 2 and np.all(np.diff(kept) > 0)
    assert kept[0] == 0 and kept[-1] == len(saw) - 1
    assert 1234 in kept and saw[kept].max() == saw.max() and saw[kept].min() == saw.min()
    teeth = saw[kept]
    assert np.sum((teeth[1:-1] >= teeth[:-2]) & (teeth[1:-1] >= teeth[2:]) & (teeth[1:-1] >= 49)) >= 59  # every tooth
