"""The Papers page in a real Chromium: the table of six rows with their verdicts, every row's figure drawn, no
exception box; a full-page screenshot in artifacts/screenshots."""

from __future__ import annotations

import pytest

from dashboard.learning import paper_rows, papers

from .conftest import SHOTS, assert_no_exception, running_server, wait_until_idle

pytestmark = pytest.mark.browser


def test_the_papers_page_draws_six_rows_with_computed_verdicts(browser):
    """A fresh server's first visitor on the page's link (Streamlit's legacy path, streamlit#9446) gets the whole
    app: the router's navigation, the page's table, every figure."""
    server = running_server()
    try:
        _check(browser, next(server))
    finally:
        server.close()


def _check(browser, url: str) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 8600})  # Streamlit scrolls inside: a tall window
    page.goto(f"{url}/papers")
    page.wait_for_selector('[data-testid="stSidebarNavLink"]:has-text("Guided tour")', timeout=120_000)
    page.wait_for_function(  # six studies, computed the first time: wait for every figure, not a fixed time
        "() => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= 6", timeout=300_000
    )
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    links = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert not any(t.strip() == "app" for t in links), links  # the router's navigation, not the legacy one
    rows = [paper_rows.reproduction(key, papers.study(key, "page"), "page") for key in papers.STUDIES]
    text = page.locator("body").inner_text()
    assert f"{sum(r.verdict == 'agree' for r in rows)} of 6" in text
    for row in rows:
        assert row.title in text
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    assert "Measured growth never exceeds the bound" in titles and "The transition to chaos" in titles
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "papers.png"), full_page=True)
    page.locator(".js-plotly-plot").nth(1).screenshot(path=str(SHOTS / "papers_chaos.png"))
    page.close()
