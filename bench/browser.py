"""What a person waits for: from a sidebar change to every chart drawn, in a real Chromium.

``python -m bench browser`` starts the dashboard and a floor app (one input, one Plotly chart) on
loopback ports, drives Debian's Chromium with Playwright and reports, per page: first load (the
page's charts drawn after the server answers its health check), the time from a change of Hidden H
(a cache miss) to every chart drawn again, and the bytes the websocket carried for that change, at
the defaults, at T = 1000 and for a deep network (:data:`SETTINGS`). The floor app is measured in the
same run: the ratio is what the dashboard adds to the framework's own cost.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
PAGES = ("", "unroll", "gradient_flow", "memory", "beyond_bptt", "weights", "losses", "tour")
#: The settings measured: the defaults, a long sequence, and issue 27's deep network.
SETTINGS = (("", "defaults"), ("?T=1000", "T=1000"), ("?cell=gru&num_layers=3&bidirectional=1&T=300", "deep"))
#: Pages that draw no chart at a setting (nothing to time): Beyond BPTT says no online method runs a
#: bidirectional network.
CHARTLESS = {("deep", "beyond_bptt")}
FLOOR_APP = """
import numpy as np, plotly.graph_objects as go, streamlit as st
n = st.number_input("Hidden H", 1, 256, 16)
st.plotly_chart(go.Figure(go.Scatter(y=np.random.default_rng(int(n)).standard_normal(30))))
"""
#: True when the script has finished and every Plotly chart has drawn its SVG (as in the browser tests).
IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stSkeleton"]')) return false;
    const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return plots.length > 0 && plots.every(p => p.querySelector('svg.main-svg'));
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(script: Path, env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """``streamlit run script`` on a free port (with ``env`` added to the environment); the process, its URL
    and the moment it answered."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true"]
        + ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url, time.perf_counter()
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{script} did not start")


#: Installs an observer that notes a rerun: the app's script state turning to running, or, for a run so short
#: that the page never shows that state (the floor app's), its chart being redrawn. Once seen, it stops.
WATCH_RERUN = """() => {
    window.__rerun = false;
    const app = document.querySelector('[data-testid="stApp"]');
    const state = 'data-test-script-state';
    const seen = (c) => (c.target === app && c.attributeName === state && (app.getAttribute(state) === 'running'
        || c.oldValue === 'running')) || (c.target.closest && c.target.closest('.js-plotly-plot'));
    const watch = new MutationObserver((changes) => {
        if (changes.some(seen)) { window.__rerun = true; watch.disconnect(); }
    });
    watch.observe(app, {subtree: true, childList: true, attributes: true, attributeOldValue: true});
}"""


def change_to_drawn(page, value: int, received: list) -> tuple[float, int]:
    """Seconds and websocket bytes from typing Hidden H = value to every chart drawn again (once
    :data:`WATCH_RERUN` has seen the rerun)."""
    box = page.get_by_label("Hidden H").first
    box.fill(str(value))
    page.evaluate(WATCH_RERUN)
    before = sum(received)
    start = time.perf_counter()
    box.press("Enter")
    deadline = start + 300
    while not (page.evaluate("() => window.__rerun") and page.evaluate(IDLE)):  # the rerun ran, then all drawn
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no redraw within 300 s of Hidden H = {value}")
        page.wait_for_timeout(5)  # a polling interval, not a wait for the result
    return time.perf_counter() - start, sum(received) - before


def measure(browser, url: str, path: str, query: str, started: float | None = None) -> dict:
    """First load (from ``started`` when given) and the median of three changes, on one page."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    bytes_in = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: bytes_in.append(len(frame))))
    t0 = time.perf_counter()
    page.goto(f"{url}/{path}{query}")
    page.wait_for_function(IDLE, timeout=300_000, polling=10)
    first = time.perf_counter() - (started or t0)
    load_bytes = sum(bytes_in)
    changes = [change_to_drawn(page, 16 + k + 1, bytes_in) for k in range(3)]
    page.close()
    times = sorted(t for t, _ in changes)
    return {"first": first, "change": times[1], "bytes": load_bytes, "change_bytes": sorted(b for _, b in changes)[1]}


def browser_section(repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"\n## Browser\n\nskipped: {CHROMIUM} not found (apt-get install chromium)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        floor_script = Path(tmp) / "floor.py"
        floor_script.write_text(FLOOR_APP)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            floor_proc, floor_url, floor_started = serve(floor_script)
            try:
                floor = measure(browser, floor_url, "", "", floor_started)
            finally:
                floor_proc.terminate()
            proc, url, started = serve(ROOT / "app.py")
            rows = []
            try:
                for query, label in SETTINGS:
                    for n, path in enumerate(PAGES):
                        if (label, path) in CHARTLESS:
                            continue
                        r = measure(browser, url, path, query, started if (n == 0 and label == "defaults") else None)
                        rows.append(
                            [
                                label,
                                path or "overview",
                                f"{r['first']:.2f}",
                                f"{r['change']:.2f}",
                                f"{r['change'] / floor['change']:.1f}",
                                f"{r['bytes'] / 1e6:.2f}",
                                f"{r['change_bytes'] / 1e6:.2f}",
                            ]
                        )
            finally:
                proc.terminate()
            browser.close()
    from .run import table

    print(
        f"\nFloor app (one input, one chart): first load {floor['first']:.2f} s, change to drawn "
        f"{floor['change']:.2f} s."
    )
    table(
        "Browser: Chromium, change of Hidden H (a cache miss) to every chart drawn, median of 3",
        ["settings", "page", "first load s", "change to drawn s", "x floor", "load MB", "change MB"],
        rows,
    )
