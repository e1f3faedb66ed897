"""Open every page in a real Chromium, play the animation, and keep screenshots."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from .conftest import SHOTS, assert_no_exception, wait_until_idle

pytestmark = pytest.mark.browser

PAGES = {
    "overview": "",
    "unroll": "unroll",
    "gradient_flow": "gradient_flow",
    "memory": "memory",
    "beyond_bptt": "beyond_bptt",
    "weights": "weights",
    "losses": "losses",
    "chain_rule": "chain_rule",
    "stochastic": "stochastic",
    "training": "training",
    "diagnose": "diagnose",
    "papers": "papers",
}
#: The animation's heading: a text trace redrawn with the nodes (so it never lags them).
HEADING = (
    "() => Array.from(document.querySelectorAll('.js-plotly-plot .textpoint text'))"
    ".map(t => t.textContent).find(t => t.includes(' pass · ')) || ''"
)
WITHOUT_CHARTS = {  # ready when
    "chain_rule": '[data-testid="stDataFrame"]',
    "training": '[data-testid="stForm"]',
    "diagnose": '[data-testid="stFileUploader"]',
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_without_exception(server, browser, name):
    page = browser.new_page(viewport={"width": 1500, "height": 2600})
    page.goto(f"{server}/{PAGES[name]}")
    wait_until_idle(page)
    if name in WITHOUT_CHARTS:
        page.wait_for_selector(WITHOUT_CHARTS[name], timeout=30_000)
    else:
        page.wait_for_selector(".js-plotly-plot", timeout=30_000)
        wait_until_idle(page)
        assert page.locator(".js-plotly-plot").count() >= 1
    assert_no_exception(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.close()


@pytest.mark.parametrize(
    ("path", "sections"),
    [
        ("gradient_flow", ["Where dW_hh comes from", "The cells compared", "Phase diagram", "Truncated BPTT"]),
        ("memory", ["How the memory grows with T", "What fits in a memory budget", "Checkpointing: memory against"]),
    ],
)
def test_opening_a_section_draws_its_figures(server, browser, path, sections):
    """Sections start closed; opening one computes and draws its figures, the page's own stay."""
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(f"{server}/{path}")
    wait_until_idle(page)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    wait_until_idle(page)
    drawn = page.locator(".js-plotly-plot").count()
    for label in sections:
        page.locator('[data-testid="stExpander"] summary', has_text=label).click()
        page.wait_for_function(  # the rerun has drawn more charts: wait for that state
            "(n) => document.querySelectorAll('.js-plotly-plot').length > n", arg=drawn, timeout=60_000
        )
        wait_until_idle(page, timeout=60_000)
        assert_no_exception(page)
        drawn = page.locator(".js-plotly-plot").count()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{path}_sections_open.png"), full_page=True)
    page.close()


def test_play_runs_the_animation(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 2600})
    page.goto(f"{server}/unroll?T=20&cell=lstm")
    wait_until_idle(page)
    page.wait_for_function(HEADING, timeout=30_000)
    before = page.evaluate(HEADING)
    assert before.startswith("forward pass · step t = 0")
    page.locator(".updatemenu-button").filter(has_text="Play").first.click()
    page.wait_for_function(  # frames advanced: wait for that state, not for a fixed time
        f"(before) => ({HEADING})() !== before", arg=before, timeout=30_000
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "unroll_playing.png"), full_page=True)
    assert_no_exception(page)
    page.close()


def test_url_restores_configuration_in_browser(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 2600})
    page.goto(f"{server}/memory?cell=gru&T=64&checkpoint=sqrt")
    wait_until_idle(page)
    assert_no_exception(page)
    assert "cell=gru" in page.url and "T=64" in page.url
    assert page.locator('[data-testid="stSliderThumbValue"]').first.text_content() == "64"
    assert (
        page.locator('[data-testid="stSidebar"]')
        .get_by_role("radio", name="GRU", exact=True)
        .get_attribute("aria-checked")
        == "true"
    )
    page.close()


def test_two_concurrent_sessions_see_their_own_results(server, browser):
    """Two visitors with different settings at the same time: each sees only their own run."""
    one = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    two = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    one.goto(f"{server}/unroll?T=17&cell=lstm")
    two.goto(f"{server}/unroll?T=41&cell=gru")
    for page in (one, two):
        wait_until_idle(page)
        page.wait_for_function(HEADING, timeout=30_000)
    assert "of 16" in one.evaluate(HEADING)
    assert "of 40" in two.evaluate(HEADING)
    # a change in one session does not leak into the other
    one.goto(f"{server}/unroll?T=9&cell=rnn")
    wait_until_idle(one)
    one.wait_for_function("() => (" + HEADING + ")().includes('of 8')", timeout=30_000)
    two.reload()
    wait_until_idle(two)
    two.wait_for_function(HEADING, timeout=30_000)
    assert "of 8" in one.evaluate(HEADING)
    assert "of 40" in two.evaluate(HEADING)
    assert "GRU" in two.locator("body").inner_text()
    for page in (one, two):
        assert_no_exception(page)
        page.context.close()


def test_training_lab_trains_in_the_browser(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.goto(f"{server}/training")
    wait_until_idle(page)
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Final loss").first.wait_for(timeout=120_000)  # the final state, not a delay
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=60_000)
    wait_until_idle(page)
    assert_no_exception(page)
    assert page.locator(".js-plotly-plot").count() == 2
    assert "Final loss" in page.locator("body").inner_text()
    assert page.get_by_test_id("stButton").get_by_role("button", name="Stop").count() == 0  # gone after training
    page.screenshot(path=str(SHOTS / "training_after.png"), full_page=True)
    page.close()


def test_stop_interrupts_training_and_keeps_what_ran(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1600})
    page.goto(f"{server}/training?T=300&hidden_size=64")  # the sidebar's network: a run long enough to interrupt
    wait_until_idle(page)
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"iteration \d+ of 500")).first.wait_for(timeout=60_000)  # first progress report
    page.get_by_test_id("stButton").get_by_role("button", name="Stop").click()  # ours, not Streamlit's header one
    page.get_by_text("Stopped after").wait_for(timeout=30_000)
    assert "of 500 iterations" in page.locator("body").inner_text()
    wait_until_idle(page)
    assert page.get_by_test_id("stButton").get_by_role("button", name="Stop").count() == 0  # gone once stopped
    assert_no_exception(page)
    page.close()


def sidebar_values(page) -> tuple[str, str, str]:
    sidebar = page.locator('[data-testid="stSidebar"]')
    T = sidebar.locator('[data-testid="stSliderThumbValue"]').first.text_content()
    return T, sidebar.get_by_label("Hidden H").input_value(), sidebar.get_by_label("Batch B").input_value()


def test_settings_survive_every_page_of_the_navigation(server, browser):
    """Set values by link, click through every page in the sidebar navigation: the sidebar's inputs and
    the address keep them on every page, and a later change keeps the rest."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/?T=50&hidden_size=24&cell=gru")
    wait_until_idle(page)
    links = page.locator('[data-testid="stSidebarNavLink"]')
    for i in [*range(1, links.count()), 0]:
        target = urlparse(links.nth(i).get_attribute("href")).path.strip("/")
        links.nth(i).click()
        page.wait_for_function(  # the page switched (its path is in the address), then it ran and drew
            "(target) => location.pathname.replace(/^\\/|\\/$/g, '') === target", arg=target, timeout=30_000
        )
        wait_until_idle(page, timeout=120_000)
        assert_no_exception(page)
        assert sidebar_values(page)[:2] == ("50", "24"), page.url
        assert "T=50" in page.url and "hidden_size=24" in page.url and "cell=gru" in page.url
        assert (
            page.locator('[data-testid="stSidebar"]')
            .get_by_role("radio", name="GRU", exact=True)
            .get_attribute("aria-checked")
            == "true"
        )
    batch = page.locator('[data-testid="stSidebar"]').get_by_label("Batch B")
    batch.fill("7")
    batch.press("Enter")
    page.wait_for_function("() => location.search.includes('batch_size=7')", timeout=30_000)
    wait_until_idle(page)
    assert sidebar_values(page) == ("50", "24", "7")
    assert "T=50" in page.url and "hidden_size=24" in page.url
    page.close()


DEEP = "num_layers=3&bidirectional=1&cell=lstm&T=40"


@pytest.mark.parametrize("name", ["overview", "unroll", "gradient_flow", "memory"])
def test_a_three_layer_bidirectional_network_on_every_view(server, browser, name):
    page = browser.new_page(viewport={"width": 1500, "height": 2600})
    page.goto(f"{server}/{PAGES[name]}?{DEEP}")
    wait_until_idle(page, timeout=120_000)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    wait_until_idle(page)
    assert_no_exception(page)
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    expected = {
        "overview": "The unrolled stack after the backward pass",
        "unroll": "The unrolled stack: forward layer by layer",
        "gradient_flow": "Gradient over time and depth",
        "memory": "Stored for backward, by layer",
    }[name]
    assert any(t.startswith(expected) for t in titles), titles
    if name == "unroll":  # play the grid: the title follows the passes through the layers
        page.locator(".updatemenu-button").filter(has_text="Play").first.click()
        assert page.evaluate(HEADING).startswith("forward pass · layer 0 →")
        page.wait_for_function(f"() => /layer [12]/.test(({HEADING})())", timeout=60_000)
        name += "_playing"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"deep_{name}.png"), full_page=True)
    page.close()


def test_a_torch_state_dict_upload_switches_the_dashboard_to_that_network(server, browser, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lstm, fc = torch.nn.LSTM(8, 32, num_layers=3, bidirectional=True), torch.nn.Linear(64, 2)
    torch.save({**lstm.state_dict(), **{f"fc.{k}": v for k, v in fc.state_dict().items()}}, tmp_path / "model.pt")
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(f"{server}/weights?T=30")
    wait_until_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(tmp_path / "model.pt"))
    page.wait_for_selector("text=the sidebar now matches the file", timeout=60_000)
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    assert "num_layers=3" in page.url and "bidirectional=1" in page.url and "hidden_size=32" in page.url
    page.locator('[data-testid="stSidebarNavLink"]', has_text="Gradient flow").click()
    page.wait_for_selector("text=Gradient over time and depth", timeout=120_000)
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    assert page.locator("text=Using your own weights").count() == 1
    page.screenshot(path=str(SHOTS / "deep_uploaded_gradient_flow.png"), full_page=True)
    page.close()


#: Truncated text: a metric or button text wider than its box (CSS ellipsis hides the rest), or a figure
#: title running past its figure's right edge.
TRUNCATED = """() => {
    const clipped = Array.from(document.querySelectorAll(
        '[data-testid="stMetric"] *, [data-testid="stBaseButton-secondary"] *, [data-testid="stDownloadButton"] *'
    )).filter(e => e.offsetParent !== null && e.children.length === 0 && e.scrollWidth > e.clientWidth + 1);
    const titles = Array.from(document.querySelectorAll('.js-plotly-plot .gtitle')).filter(t =>
        t.getBoundingClientRect().right > t.closest('.js-plotly-plot').getBoundingClientRect().right + 1);
    return [...clipped, ...titles].map(e => e.textContent);
}"""
#: The page is wider than the window (something overflows sideways).
OVERFLOW = "() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth > window.innerWidth + 1"


@pytest.mark.parametrize("size", [(1500, 1000), (1024, 768), (800, 900)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_page_fits_the_screen(server, browser, size):
    """Laptop, projector and narrow windows: no truncated metric, title or button text, no sideways overflow."""
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    for name, path in PAGES.items():
        page.goto(f"{server}/{path}")
        wait_until_idle(page, timeout=120_000)
        page.wait_for_selector(WITHOUT_CHARTS.get(name, ".js-plotly-plot"), timeout=60_000)
        wait_until_idle(page, timeout=120_000)
        assert_no_exception(page)
        assert page.evaluate(TRUNCATED) == [], (name, size)
        assert not page.evaluate(OVERFLOW), (name, size)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)
    page.close()


def _scene_url(server: str, i: int, **extra) -> str:
    from urllib.parse import urlencode

    from dashboard.learning import tour

    return f"{server}/tour?{urlencode({**tour.link(i), **extra})}"


def test_the_guided_tour_end_to_end(server, browser):
    """A new user walks every scene with the Next button: each draws its figure under its title."""
    from dashboard.learning import tour

    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(_scene_url(server, 0))
    for i, scene in enumerate(tour.SCENES):
        page.locator("h1", has_text=scene.title).wait_for(timeout=120_000)
        page.wait_for_selector(".js-plotly-plot svg.main-svg", timeout=120_000)
        wait_until_idle(page, timeout=120_000)
        assert_no_exception(page)
        assert f"Scene {i + 1} of {len(tour.SCENES)}" in page.locator("body").inner_text()
        page.screenshot(path=str(SHOTS / f"tour-{i + 1:02d}-{scene.key}.png"), full_page=True)
        if i + 1 < len(tour.SCENES):
            page.get_by_role("button", name="Next →").click()
            page.wait_for_function(f"() => location.search.includes('scene={i + 2}')", timeout=60_000)
    page.close()


def test_lecture_mode_is_readable_from_the_back_and_advances_with_the_keyboard(server, browser):
    from dashboard.learning import tour

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(_scene_url(server, 2, lecture="1"))
    page.locator("h1", has_text=tour.SCENES[2].title).wait_for(timeout=120_000)
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    sizes = page.evaluate(
        '() => Array.from(document.querySelectorAll(\'[data-testid="stMain"] [data-testid="stMarkdownContainer"] p\'))'
        ".map(p => parseFloat(getComputedStyle(p).fontSize))"
    )
    assert sizes and min(sizes) >= 20  # every line of text on the slide
    assert page.locator(".js-plotly-plot").count() == 1  # one figure per slide
    page.screenshot(path=str(SHOTS / "lecture-1024x768.png"))
    page.keyboard.press("ArrowRight")
    page.locator("h1", has_text=tour.SCENES[3].title).wait_for(timeout=120_000)
    wait_until_idle(page, timeout=120_000)
    page.screenshot(path=str(SHOTS / "lecture-next-1024x768.png"))
    page.close()


def test_the_diagnose_page_reads_a_trained_model_and_its_sequences(server, browser, tmp_path):
    """A torch-trained 2-layer bidirectional LSTM (embedding, read-out), its token ids batch-first and its
    targets, uploaded as a user would: advice and all six figures drawn, no exception."""
    pytest.importorskip("torch")
    from tests.dashboard.diagnose.test_diagnose import train_tagger

    train_tagger(tmp_path)
    page = browser.new_page(viewport={"width": 1500, "height": 4200})
    page.goto(f"{server}/diagnose")
    wait_until_idle(page)
    uploads = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    uploads.nth(0).set_input_files(str(tmp_path / "model.pt"))
    page.wait_for_selector("text=2-layer bidirectional LSTM", timeout=60_000)
    uploads.nth(1).set_input_files(str(tmp_path / "tokens.npy"))
    wait_until_idle(page, timeout=120_000)
    uploads.nth(2).set_input_files(str(tmp_path / "targets.npy"))
    page.wait_for_selector("text=say which layout it is", timeout=120_000)  # (24, 16) reads both ways: asked
    page.get_by_text("batch first (B, T, ...)").click()
    page.wait_for_selector("text=Gradient norm of each batch", timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= 6")
    wait_until_idle(page, timeout=120_000)
    assert_no_exception(page)
    assert page.get_by_role("heading", name="What to change").count() == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "diagnose_trained.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("path", ["diagnose", "tour?scene=3", "memory"])
def test_a_fresh_servers_first_visitor_on_a_deep_link_gets_the_whole_app(browser, path):
    """Streamlit runs a fresh server's first sub-page request through its legacy pages/ path, without app.py
    (streamlit#9446): the page must send it through the entrypoint, so the sidebar's navigation is the app's."""
    from .conftest import running_server

    server = running_server()
    url = next(server)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{url}/{path}")
        page.wait_for_selector('[data-testid="stSidebarNavLink"]:has-text("Guided tour")', timeout=60_000)
        wait_until_idle(page)
        page.wait_for_selector(".js-plotly-plot, [data-testid='stFileUploader']", timeout=60_000)
        links = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
        assert any("Guided tour" in text for text in links) and not any(t.strip() == "app" for t in links), links
        assert_no_exception(page)
        page.close()
    finally:
        server.close()
