"""Every figure readable at every width: colour bars, legends, titles and labels apart and inside the figure.

The geometry comes from the drawn SVG (:mod:`tests.e2e.geometry`): at 1500, 1024 and 800 px wide, on every
page at the default settings and at the settings that crowd the figures most (T = 30, a 3-layer stack at
T = 300, a bidirectional network, the Diagnose demos), and on every scene of lecture mode at 1024 x 768,
where figure text must also be large enough for a projector.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import plotly
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from dashboard.learning import tour

from .conftest import SHOTS, assert_no_exception, wait_until_idle
from .geometry import COLLECT, problems
from .test_browser import OVERFLOW, PAGES, TRUNCATED, WITHOUT_CHARTS, _scene_url

pytestmark = pytest.mark.browser

WIDTHS = (1500, 1024, 800)
#: Tall enough that a full-page screenshot shows most of a page (Streamlit scrolls inside the window).
HEIGHT = 2400
#: Figure text on a projected slide (px): readable from the back of a lecture room.
PROJECTOR_FONT = 18
DEEP = "num_layers=3&T=300"
VIEWS = {
    "defaults": [(name, path) for name, path in PAGES.items() if name not in ("chain_rule", "diagnose")]
    + [("tour", "tour")],
    "T30": [("overview", "?T=30")],
    "deep": [(name, f"{PAGES[name]}?{DEEP}") for name in ("overview", "unroll", "gradient_flow", "memory")],
    "bidirectional": [
        (name, f"{PAGES[name]}?bidirectional=1") for name in ("overview", "unroll", "gradient_flow", "memory")
    ],
    "diagnose": [(f"diagnose-{kind}", "diagnose") for kind in ("vanishing", "exploding", "healthy")],
}
#: What a user does on a page before its figures are all there: open its sections, train, pick a demo.
SECTIONS = {
    "gradient_flow": ["Where dW_hh comes from", "The cells compared on this task", "Phase diagram", "Truncated BPTT"],
    "memory": ["How the memory grows with T", "What fits in a memory budget", "Checkpointing: memory against"],
}
DEMOS = {
    "diagnose-vanishing": "a vanishing RNN",
    "diagnose-exploding": "an exploding RNN",
    "diagnose-healthy": "a healthy LSTM",
}
#: A metric's label or a page link that CSS cuts short with an ellipsis (the label is a paragraph inside a box
#: that clips it, which the check on leaf elements of ``TRUNCATED`` does not see).
ELLIPSIS = """() => Array.from(document.querySelectorAll(
        '[data-testid="stMain"] [data-testid="stMetric"] *, [data-testid="stMain"] [data-testid="stPageLink"] *'))
    .filter(e => e.offsetParent !== null && getComputedStyle(e).textOverflow === 'ellipsis'
                 && e.scrollWidth > e.clientWidth + 1 && e.textContent.trim())
    .map(e => e.textContent.trim())"""
#: The font size of every text a figure draws, with the text (superscripts are tspans inside a text: not counted).
FONT_SIZES = """() => Array.from(document.querySelectorAll('.js-plotly-plot svg text'))
    .filter(t => t.textContent.trim() && t.getBBox().width > 0 && !t.closest('.hoverlayer, .modebar'))
    .map(t => [t.textContent.trim().slice(0, 40), parseFloat(getComputedStyle(t).fontSize)])"""


def _charts(page) -> int:
    return page.locator(".js-plotly-plot").count()


def _wait_for_more_charts(page, than: int) -> None:
    page.wait_for_function("(n) => document.querySelectorAll('.js-plotly-plot').length > n", arg=than, timeout=120_000)
    wait_until_idle(page, timeout=120_000)


def _open(page, server: str, name: str, path: str) -> None:
    """Open the page and bring up every figure a user would see on it."""
    page.goto(f"{server}/{path}")
    wait_until_idle(page, timeout=120_000)
    if name in DEMOS:
        page.get_by_role("button", name=DEMOS[name]).click()
        page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    elif name == "training":
        page.get_by_role("button", name="Train").click()
        page.get_by_text("Final loss").first.wait_for(timeout=180_000)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
    elif name in WITHOUT_CHARTS:
        page.wait_for_selector(WITHOUT_CHARTS[name], timeout=60_000)
    else:
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    wait_until_idle(page, timeout=120_000)
    if "?" not in path:  # the default settings: open every section too
        for label in SECTIONS.get(name, []):
            drawn = _charts(page)
            page.locator('[data-testid="stExpander"] summary', has_text=label).click()
            _wait_for_more_charts(page, drawn)
    assert_no_exception(page)


def _shoot(page, *parts: str) -> None:
    folder = SHOTS / "layout"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / ("-".join(parts) + ".png")), full_page=True)


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("width", WIDTHS)
def test_figures_keep_their_labels_apart_and_inside(server, browser, width, view):
    """No colour bar, legend, title, annotation or tick label overlaps another or leaves its figure, no label
    sits on a plot area, no marker or text is cut by its plot area, and no metric label is cut short."""
    page = browser.new_page(viewport={"width": width, "height": HEIGHT})
    found = {}
    for name, path in VIEWS[view]:
        _open(page, server, name, path)
        _shoot(page, str(width), view, name)
        for figure, issues in problems(page.evaluate(COLLECT)).items():
            if issues:
                found[f"{name} · {figure}"] = issues
        if cut := page.evaluate(TRUNCATED) + page.evaluate(ELLIPSIS):
            found[f"{name} · text cut short"] = cut
        if page.evaluate(OVERFLOW):
            found[f"{name} · page"] = ["wider than the window"]
    page.close()
    assert not found, "\n".join(f"{where}:\n  " + "\n  ".join(issues[:12]) for where, issues in found.items())


@pytest.mark.parametrize("scene", range(len(tour.SCENES)), ids=[s.key for s in tour.SCENES])
def test_lecture_mode_figures_read_from_the_back_of_the_room(server, browser, scene):
    """Lecture mode on a 1024 x 768 projector: the scene's figure keeps its labels apart and inside, and
    every text it draws is at least :data:`PROJECTOR_FONT` px."""
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(_scene_url(server, scene, lecture="1"))
    page.locator("h1", has_text=tour.SCENES[scene].title).wait_for(timeout=120_000)
    page.wait_for_selector(".js-plotly-plot svg.main-svg", timeout=120_000)
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    _shoot(page, "lecture", f"{scene + 1:02d}", tour.SCENES[scene].key)
    found = problems(page.evaluate(COLLECT))
    small = sorted({f"{text!r} {size:g} px" for text, size in page.evaluate(FONT_SIZES) if size < PROJECTOR_FONT})
    page.close()
    assert not found, found
    assert not small, f"figure text under {PROJECTOR_FONT} px on a projector: {small[:20]}"


def test_the_checker_sees_a_figure_drawn_wrong_on_purpose(browser):
    """Two colour bars on top of each other, a title wider than its figure, step labels in one run, a marker
    on the plot's edge: drawn by Plotly in a bare page, every one is reported (the checks can fail)."""
    fig = go.Figure()
    for scale, name in (("Blues", "forward"), ("Reds", "backward")):
        marker = {"color": [0, 1], "colorscale": scale, "showscale": True, "colorbar": {"title": {"text": name}}}
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="markers", marker=marker)
    fig.add_scatter(x=list(range(60)), y=[2] * 60, mode="text", text=[f"x{i}" for i in range(60)])
    fig.add_scatter(x=[-0.5], y=[0], mode="markers", marker={"size": 60})
    fig.update_xaxes(range=[-0.5, 60])
    fig.update_layout(title="A title far too long for a figure this narrow, cut at its edge", width=420, height=300)
    page = browser.new_page(viewport={"width": 600, "height": 400})
    page.set_content("<div id='figure'></div>")
    page.add_script_tag(path=os.fspath(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
    draw = "(s) => { const f = JSON.parse(s); return Plotly.newPlot('figure', f.data, f.layout) }"
    page.evaluate(draw, pio.to_json(fig))
    page.wait_for_function("() => document.querySelectorAll('#figure g.colorbar').length === 2")
    (issues,) = problems(page.evaluate(COLLECT)).values()
    page.close()
    text = "\n".join(issues)
    assert re.search(r"colorbar '[^']*forward' overlaps colorbar '[^']*backward'", text), text
    assert re.search(r"title 'A title far too long.*' leaves the figure", text), text
    assert re.search(r"text 'x\d+' of 'trace 2' (overlaps|runs into) text 'x\d+'", text), text
    assert re.search(r"marker of 'trace 3' is cut by its plot area's edge", text), text
