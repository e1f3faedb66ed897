"""The Unroll page's code view in a real Chromium: at a forward and at a backward frame, the lit lines are
the loop of that pass in bptt_core/reference.py, and the step's numbers are that frame's."""

from __future__ import annotations

import pytest

from dashboard.catalog.code import reference_body

from .conftest import SHOTS, assert_no_exception, wait_until_idle

pytestmark = pytest.mark.browser

#: The animation's heading (a text trace redrawn with the nodes).
HEADING = (
    "() => Array.from(document.querySelectorAll('.js-plotly-plot .textpoint text'))"
    ".map(t => t.textContent).find(t => t.includes(' pass · ')) || ''"
)
#: What the figure shows now: the code lines inside each band (by the drawn geometry), and the step's numbers.
LIT = """() => {
    const groups = Array.from(document.querySelectorAll('.js-plotly-plot .scatterlayer .trace'));
    const group = name => groups.find(g => g.__data__ && g.__data__[0] && g.__data__[0].trace.name === name);
    const lines = Array.from(group('code').querySelectorAll('.textpoint text'));
    const inside = phase => {  // a pass's band is drawn only while it covers lines
        const fill = group(phase + ' lines') && group(phase + ' lines').querySelector('path.js-fill');
        const box = fill ? fill.getBoundingClientRect() : {top: 0, bottom: 0, height: 0};
        if (!box.height) return [];
        return lines.filter(t => {
            const r = t.getBoundingClientRect();
            return (r.top + r.bottom) / 2 > box.top && (r.top + r.bottom) / 2 < box.bottom;
        }).map(t => t.textContent.replace(/\\u00a0/g, ' '));
    };
    const note = group('step numbers').querySelector('.textpoint text');
    return {forward: inside('forward'), backward: inside('backward'), note: note ? note.textContent : ''};
}"""


def _go_to_frame(page, index: int, heading: str) -> None:
    """Click the slider at its ``index``-th step, as a user would, and wait for the frame's heading."""
    slider = page.locator(".js-plotly-plot .slider-container").first
    slider.scroll_into_view_if_needed()
    tick = page.locator(".js-plotly-plot .slider-tick-rect").nth(index).bounding_box()
    rail = page.locator(".js-plotly-plot .slider-rail-touch-rect").first.bounding_box()
    page.mouse.click(tick["x"] + tick["width"] / 2, rail["y"] + rail["height"] / 2)
    page.wait_for_function(f"(h) => ({HEADING})().startsWith(h)", arg=heading, timeout=30_000)


def test_the_lit_lines_follow_the_frames(server, browser):
    T = 10
    lines, _, loops = reference_body()
    loop = {phase: [line.rstrip() for line in lines[a : b + 1]] for phase, (a, b) in loops.items()}
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(f"{server}/unroll?T={T}&cell=gru")
    wait_until_idle(page)
    page.wait_for_function(HEADING, timeout=30_000)
    assert_no_exception(page)
    SHOTS.mkdir(parents=True, exist_ok=True)

    _go_to_frame(page, 4, "forward pass · step t = 4 ")
    now = page.evaluate(LIT)
    assert [line.rstrip() for line in now["forward"]] == loop["forward"]
    assert now["backward"] == []
    assert now["note"].startswith("forward loop · t = 4 · RMS |h_t| = ")
    page.locator(".js-plotly-plot").first.screenshot(path=str(SHOTS / "unroll_code_forward.png"))

    _go_to_frame(page, T + (T - 1 - 2), "backward pass · step t = 2 ")  # frames: f0..f9, then b9..b0
    now = page.evaluate(LIT)
    assert [line.rstrip() for line in now["backward"]] == loop["backward"]
    assert now["forward"] == []
    assert now["note"].startswith("backward loop · t = 2 · ||∂L/∂h_t|| = ")
    page.locator(".js-plotly-plot").first.screenshot(path=str(SHOTS / "unroll_code_backward.png"))
    page.screenshot(path=str(SHOTS / "unroll_code_page.png"), full_page=True)
    assert_no_exception(page)
    page.close()


def test_play_moves_the_highlight_with_the_animation(server, browser):
    """While ▶ plays, the band and the heading change in the same redraw: wait for a backward frame whose
    lit lines are the backward loop (never a fixed delay)."""
    lines, _, loops = reference_body()
    first, last = loops["backward"]
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(f"{server}/unroll?T=6&cell=rnn")
    wait_until_idle(page)
    page.wait_for_function(HEADING, timeout=30_000)
    page.locator(".updatemenu-button").filter(has_text="Play").first.click()
    page.wait_for_function(
        f"""(n) => {{
            const heading = ({HEADING})(), lit = ({LIT})();
            return heading.startsWith('backward pass') && lit.backward.length === n && lit.forward.length === 0;
        }}""",
        arg=last - first + 1,
        timeout=60_000,
    )
    assert lines[first].strip() in page.evaluate(LIT)["backward"][0]
    assert_no_exception(page)
    page.close()
