"""The Beyond BPTT page in a real Chromium: the defaults, a stack, a bidirectional network, every section opened
and a training race run, with screenshots in artifacts/screenshots."""

from __future__ import annotations

import re

import pytest

from .conftest import SHOTS, assert_no_exception, wait_until_idle

pytestmark = pytest.mark.browser

SECTIONS = ("UORO's noise", "Memory held: the ledger", "Memory, FLOPs and time", "A training race")


def _open(browser, url: str, height: int = 2600):
    page = browser.new_page(viewport={"width": 1500, "height": height})
    page.goto(url)
    wait_until_idle(page, timeout=120_000)
    return page


def _titles(page) -> list[str]:
    return page.locator(".js-plotly-plot .gtitle").all_text_contents()


def test_the_defaults_draw_the_comparison_and_the_crossover(server, browser):
    page = _open(browser, f"{server}/beyond_bptt")
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= 2", timeout=180_000
    )
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    titles = _titles(page)
    assert "Each method's gradient against exact BPTT" in titles
    assert "What each method keeps and holds, against T" in titles
    text = page.locator("body").inner_text()
    assert "Crossover length T*" in text and "336 steps" in text  # H = 16, I = 3: S N / (w H) = 336
    assert page.locator(".js-plotly-plot .shapelayer path").count() >= 1  # T* drawn as a line
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "beyond_bptt.png"), full_page=True)
    page.close()


def test_a_stack_compares_rtrl_and_says_why_uoro_and_snap_are_not_there(server, browser):
    page = _open(browser, f"{server}/beyond_bptt?num_layers=2&cell=lstm&T=40&hidden_size=8")
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= 2", timeout=180_000
    )
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    info = page.locator('[data-testid="stAlert"]').first.inner_text()
    assert "UORO and SnAp-1 (and the exact diagonal method) are defined here for one recurrent layer" in info
    legend = " ".join(page.locator(".js-plotly-plot .legendtext").all_text_contents())
    assert "RTRL" in legend and "UORO" not in legend
    page.screenshot(path=str(SHOTS / "beyond_bptt_stack.png"), full_page=True)
    page.close()


def test_a_bidirectional_network_gets_a_clear_message(server, browser):
    page = _open(browser, f"{server}/beyond_bptt?bidirectional=1", height=1200)
    page.get_by_text("No online method runs a bidirectional network").wait_for(timeout=180_000)
    assert_no_exception(page)
    assert page.locator(".js-plotly-plot").count() == 0
    page.close()


def test_every_section_opens_and_the_race_runs(server, browser):
    page = _open(browser, f"{server}/beyond_bptt?T=20&hidden_size=8", height=6200)
    page.wait_for_selector(".js-plotly-plot", timeout=180_000)
    wait_until_idle(page, timeout=120_000)
    for name in SECTIONS:
        drawn = page.locator(".js-plotly-plot").count()
        page.locator('[data-testid="stExpander"] summary', has_text=name).click()
        if name != "A training race":
            page.wait_for_function(  # the rerun drew the section's figures: wait for that state
                "(n) => document.querySelectorAll('.js-plotly-plot').length > n", arg=drawn, timeout=180_000
            )
        else:
            page.get_by_role("button", name="Start the race").wait_for(timeout=60_000)
        wait_until_idle(page, timeout=180_000)
        assert_no_exception(page)
    page.get_by_role("button", name="Start the race").click()
    page.get_by_text(re.compile(r"iteration \d+ of 100")).first.wait_for(timeout=120_000)  # progress shows
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot .gtitle'))"
        ".some(t => t.textContent.startsWith('The training race'))",
        timeout=300_000,
    )
    wait_until_idle(page, timeout=60_000)
    assert_no_exception(page)
    assert "RTRL's curve is BPTT's" in page.locator("body").inner_text()
    page.screenshot(path=str(SHOTS / "beyond_bptt_sections_open.png"), full_page=True)
    page.close()
