"""The same quantity at the same settings shows the same number on every page: Overview, Gradient flow,
Memory, Unroll, the tour's scenes and the exports, read from the pages as a user sees them (AppTest)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dashboard.catalog import compute
from dashboard.catalog import sections as catalog
from dashboard.config import RunConfig
from dashboard.io.export import export_panels
from dashboard.learning import tour
from dashboard.vocabulary.numbers import human_bytes
from dashboard.vocabulary.quantities import label
from tests.apptest import assert_clean, open_app
from tests.dashboard.catalog.test_claims import EDGES, random_settings

SETTINGS = random_settings(22, seed=24, max_T=300) + [e for e in EDGES if e.T <= 1000][::2]


def metrics(at) -> dict[str, str]:
    """The metrics on the page, label -> value, as drawn."""
    return {m.label: m.value for m in at.metric}


def verdict_line(at) -> str:
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Verdict:")]
    return line


@pytest.mark.slow
@pytest.mark.parametrize("config", SETTINGS, ids=lambda c: c.key())
def test_every_page_shows_the_same_number_for_the_same_quantity(config):
    assert len(SETTINGS) >= 30
    query = config.to_query()
    overview = open_app("pages/overview.py", query)
    assert_clean(overview)
    flow = open_app("pages/gradient_flow.py", query)
    memory = open_app("pages/memory.py", query)
    o, f, m = metrics(overview), metrics(flow), metrics(memory)
    assert o[label("verdict")] == f[label("verdict")]
    assert verdict_line(overview) == verdict_line(flow)
    assert o[label("peak_held")] == m[label("peak_held")]  # one peak held: the training pass
    stored = compute.stored_run(config)
    assert o[label("peak_held")] == human_bytes(stored.memory_bytes)
    eigen = catalog.page_panels("gradient_flow", config)["eigenvalues"].caption
    if o[label("spectral_radius")] == "none":  # minGRU: no recurrent matrix, and both say so
        assert "no recurrent weight matrix" in eigen
    else:
        assert f"{label('spectral_radius')} = {o[label('spectral_radius')]}" in eigen
    jac = catalog.page_panels("gradient_flow", config)["jacobian_vs_lag"].caption
    growth = f[label("jacobian_growth")]
    assert growth == "–" or f"here {growth}" in jac
    by_tensor = catalog.page_panels("memory", config)["memory_by_tensor"].caption
    assert f"{label('stored_for_backward')}: {human_bytes(stored.stored_bytes)}" in by_tensor
    exported = {p.name: p for p in export_panels(config)}
    for name, panel in catalog.page_panels("gradient_flow", config, section="").items():
        assert exported[name].caption == panel.caption  # the export writes what the page shows


@pytest.mark.parametrize(
    "scene", [s for s in tour.SCENES if s.key in ("vanishing", "exploding", "lstm")], ids=lambda s: s.key
)
def test_the_tours_numbers_are_the_gradient_flow_pages(scene):
    """The factor a scene states first about its own network's last loss is the one the Gradient flow page
    states at the same settings (a scene may go on to compare another network, which that page does not show)."""
    at = open_app("pages/gradient_flow.py", scene.config().to_query())
    line = verdict_line(at)
    numbers = re.findall(r"×[0-9.]+(?:×10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?", scene.notice(scene.config()))
    assert numbers and numbers[0] in line, (numbers, line)


def test_the_unroll_bar_and_the_memory_page_agree():
    config = RunConfig(cell="lstm", T=100)
    stored = compute.stored_run(config)
    bar = catalog.page_panels("unroll", config)["unroll_animation"].figure
    peak = max(d.x[0] for f in bar.frames for d in f.data if d.type == "bar")
    at = open_app("pages/memory.py", config.to_query())
    caption = [c.value for c in at.caption if label("stored_for_backward") in c.value]
    assert peak == stored.stored_bytes and any(human_bytes(peak) in c for c in caption)
    assert np.isfinite(peak)
