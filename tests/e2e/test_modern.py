"""The modern recurrences in a real Chromium: the LRU's λ in the complex plane, and every cell on the copy task."""

from __future__ import annotations

import pytest

from .conftest import SHOTS, assert_no_exception, wait_until_idle

pytestmark = pytest.mark.browser


def _chart(page, title: str):
    """The Plotly chart whose title starts with ``title``."""
    return page.locator(".js-plotly-plot").filter(has=page.locator(f"text={title}")).first


@pytest.mark.parametrize("path", ["gradient_flow", "weights"])
def test_the_lrus_eigenvalues_are_drawn_inside_the_unit_circle(server, browser, path):
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.goto(f"{server}/{path}?cell=lru&T=200&hidden_size=24")
    wait_until_idle(page, timeout=120_000)
    page.wait_for_selector("text=Eigenvalues λ: just inside the unit circle", timeout=60_000)
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    chart = _chart(page, "Eigenvalues λ: just inside the unit circle")
    chart.scroll_into_view_if_needed()
    assert chart.locator("g.trace.scatter").count() >= 8  # the circles of both panels and the λ
    SHOTS.mkdir(parents=True, exist_ok=True)
    chart.screenshot(path=str(SHOTS / f"lru-eigenvalues-{path}.png"))
    if path == "gradient_flow":
        law = _chart(page, "Jacobian product norm against lag")
        assert "law max_n |λ_n|^k" in law.inner_text()
        law.screenshot(path=str(SHOTS / "lru-law.png"))
    page.close()


def test_the_training_lab_compares_every_cell_on_the_copy_task(server, browser):
    """One seed, 200 iterations at T = 100 (set with the keyboard, as a user can): the runs go behind the button
    with their progress, then the figure with the baseline and the sentence of what was measured."""
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(f"{server}/training")
    wait_until_idle(page)
    page.get_by_role("tab", name="Every cell on the copy task").click()
    form = page.locator('[data-testid="stForm"]').filter(has=page.get_by_text("Lags T"))
    form.wait_for(timeout=30_000)
    for name, presses in (("Seeds", 2), ("Iterations", 2)):  # 3 → 1 seed, 800 → 200 iterations
        thumb = form.locator('[data-testid="stSlider"]').filter(has_text=name).get_by_role("slider")
        thumb.focus()
        for _ in range(presses):
            thumb.press("ArrowLeft")
    form.get_by_role("button", name="Run the comparison").click()
    page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)  # the runs, with their progress
    # the caption under the figure (the figure's title wraps into lines of its own, which text= does not join)
    page.get_by_text("Final loss over the baseline").wait_for(timeout=600_000)
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    body = page.locator("body").inner_text()
    assert "after 200 iterations" in body and "memoryless baseline" in body
    chart = _chart(page, "The cells on the copy task")
    chart.scroll_into_view_if_needed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    chart.screenshot(path=str(SHOTS / "copy-comparison.png"))
    page.screenshot(path=str(SHOTS / "training-copy.png"), full_page=True)
    page.close()
