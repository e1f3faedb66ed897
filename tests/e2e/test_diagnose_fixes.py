"""Try the fix in a real Chromium: four zoo models with known defects, uploaded as files, diagnosed, and each
recommendation fine-tuned as is and with its change, both runs' curves drawn, with a verdict."""

from __future__ import annotations

import dataclasses

import pytest

from bench import zoo

from .conftest import SHOTS, assert_no_exception, wait_until_idle

pytestmark = pytest.mark.browser

#: Four zoo models, trained briefly (their defects are built in), by the engine and by torch.
MODELS = {
    "exploding RNN": 150,
    "vanishing RNN, long lag": 200,
    "forget bias too low": 150,
    "starved layer": 150,
}
#: The names of the traces every "Try it" figure must draw.
RUNS = (
    "as is: training loss",
    "with the change: training loss",
    "as is: gradient norm",
    "with the change: gradient norm",
)
FIGURES = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .map(p => ({title: (p.layout?.title?.text || '').replace(/<[^>]+>/g, ''), names: (p.data || []).map(t => t.name),
                points: (p._fullData || []).map(t => Array.from(t.y || []).filter(Number.isFinite).length)}))
    .filter(p => p.title.startsWith('Try it:'))"""


def _files(name: str, iterations: int, folder) -> tuple:
    specimen = dataclasses.replace(next(s for s in zoo.ZOO if s.name == name), iterations=iterations)
    if specimen.trainer == "torch":
        pytest.importorskip("torch")
    weights, _ = zoo.train(specimen)
    inputs, targets = zoo.user_files(specimen)
    paths = [folder / f"model{'.pt' if specimen.trainer == 'torch' else '.npz'}", folder / "sequences.npz"]
    paths[0].write_bytes(weights)
    paths[1].write_bytes(inputs)
    if targets:
        paths.append(folder / "targets.npy")
        paths[2].write_bytes(targets)
    return tuple(str(p) for p in paths)


@pytest.mark.parametrize("name", list(MODELS))
def test_try_the_fixes_draws_both_runs_for_every_recommendation(server, browser, tmp_path, name):
    paths = _files(name, MODELS[name], tmp_path)
    page = browser.new_page(viewport={"width": 1500, "height": 4000})
    page.goto(f"{server}/diagnose")
    wait_until_idle(page)
    uploads = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    for i, path in enumerate(paths):
        uploads.nth(i).set_input_files(path)
        wait_until_idle(page, timeout=120_000)
    page.get_by_text("time first (T, B, ...)").click()  # (50, 64, I) reads both ways: the page asked
    page.wait_for_selector("text=Try the fixes", timeout=180_000)
    wait_until_idle(page, timeout=180_000)
    advice = page.locator('[class*="st-key-advice-"]').count()
    assert advice >= 1, f"{name}: no recommendation"
    page.locator('[data-testid="stForm"] input[type="range"]').first.focus()
    page.keyboard.press("Home")  # the fewest fine-tuning steps
    page.get_by_role("button", name="Try the fixes").click()
    page.wait_for_function(f"() => ({FIGURES})().length >= {advice}", timeout=600_000)
    wait_until_idle(page, timeout=600_000)
    assert_no_exception(page)
    figures = page.evaluate(FIGURES)
    assert len(figures) == advice
    for fig in figures:
        shown = dict(zip(fig["names"], fig["points"]))
        assert all(shown.get(run, 0) >= 10 for run in RUNS), fig  # both runs, over the steps
    verdicts = page.locator('[data-testid="stCaptionContainer"]', has_text="held-out").count()
    diverged = page.locator('[data-testid="stCaptionContainer"]', has_text="diverged").count()
    assert verdicts + diverged >= advice
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"diagnose_try_{name.split(',')[0].replace(' ', '_')}.png"), full_page=True)
    page.close()


def test_stop_ends_the_fine_tuning_and_keeps_the_page(server, browser):
    """A long "Try the fixes" (1000 steps) on the exploding demo: its progress shows, Stop ends it, and the page
    comes back whole, with the fixes tried so far and no exception."""
    page = browser.new_page(viewport={"width": 1500, "height": 2600})
    page.goto(f"{server}/diagnose")
    wait_until_idle(page)
    page.get_by_role("button", name="an exploding RNN").click()
    page.wait_for_selector("text=Try the fixes", timeout=180_000)
    wait_until_idle(page, timeout=180_000)
    advice = page.locator('[class*="st-key-advice-"]').count()
    page.locator('[data-testid="stForm"] input[type="range"]').first.focus()
    page.keyboard.press("End")  # the most fine-tuning steps
    page.get_by_role("button", name="Try the fixes").click()
    page.wait_for_selector('[data-testid="stProgress"]', timeout=120_000)
    page.get_by_test_id("stButton").get_by_role("button", name="Stop").click()  # ours, not the header's
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stProgress\"]')", timeout=120_000)
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    assert page.get_by_test_id("stButton").get_by_role("button", name="Stop").count() == 0
    assert page.get_by_role("button", name="Try the fixes").count() == 1
    assert len(page.evaluate(FIGURES)) < advice  # stopped before the last fix was tried
    page.close()
