"""Lecture mode's figures: every text at least the projector's size, the layout scaled as one piece."""

from __future__ import annotations

import pytest

from dashboard.learning import tour
from dashboard.shell.ui import PROJECTOR_FONT, PROJECTOR_SCALE, for_projector


def font_sizes(spec, key: str = "") -> list[float]:
    """Every font size a figure's JSON sets (numbers or per-point lists)."""
    if isinstance(spec, list):
        return [s for v in spec for s in font_sizes(v, key)]
    if not isinstance(spec, dict):
        return []
    found = []
    for k, v in spec.items():
        if key.endswith("font") and k == "size":
            found += v if isinstance(v, list) else [v]
        else:
            found += font_sizes(v, k)
    return found


@pytest.mark.parametrize("i", range(len(tour.SCENES)), ids=[s.key for s in tour.SCENES])
def test_a_projected_scene_draws_no_text_under_the_projector_size(i):
    scene = tour.SCENES[i]
    panel = tour.figure(scene, scene.config())
    height = panel.figure.layout.height
    projected = for_projector(panel).figure
    spec = projected.to_plotly_json()
    assert min(font_sizes(spec)) >= PROJECTOR_FONT
    assert projected.layout.font.size >= 20 and projected.layout.title.font.size >= 26
    before, after = panel.figure.layout, projected.layout
    assert after.height == pytest.approx(before.height * PROJECTOR_SCALE)  # px lengths grow together
    assert after.margin.t == pytest.approx(before.margin.t * PROJECTOR_SCALE)
    assert [a.y for a in after.annotations] == [a.y for a in before.annotations]  # positions are fractions
    assert panel.figure.layout.height == height  # the cached panel is left as it was


def test_markers_grow_with_the_text_in_every_frame():
    scene = next(s for s in tour.SCENES if s.panel == "unroll_animation")
    panel = tour.figure(scene, scene.config())
    projected = for_projector(panel).figure
    assert len(projected.frames) == len(panel.figure.frames) > 0
    for old, new in zip(panel.figure.frames, projected.frames):
        sizes = zip(old.data[1].marker.size, new.data[1].marker.size)
        assert all(b == pytest.approx(a * PROJECTOR_SCALE) for a, b in sizes)
