"""AppTest helpers: run the real app.py router with its shared sidebar on every page (used by the page tests
and by the rooms' tests that open a page)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).parents[1] / "app.py")
PAGES = [
    "pages/overview.py",
    "pages/unroll.py",
    "pages/gradient_flow.py",
    "pages/memory.py",
    "pages/beyond_bptt.py",
    "pages/weights.py",
    "pages/training.py",
    "pages/losses.py",
    "pages/chain_rule.py",
    "pages/stochastic.py",
    "pages/papers.py",
    "pages/tour.py",
    "pages/quiz.py",
    "pages/diagnose.py",
    "pages/glossary.py",
]


class _NavigationPagesManager(PagesManager):
    """AppTest resets ``uses_pages_directory`` before every run and, because a ``pages/``
    folder exists, would take Streamlit's legacy multipage path from the second run on,
    where app.py (and so the shared sidebar) silently stops running (streamlit#9446).
    This keeps every run on the ``st.navigation`` path, as in the real server."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


def open_app(page: str | None = None, query: dict | None = None, timeout: float = 120) -> AppTest:
    """Run the app (optionally with URL query parameters), then switch to ``page``."""
    app_test_module.PagesManager = _NavigationPagesManager  # every AppTest of this suite, as in the real server
    at = AppTest.from_file(APP, default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def chart_specs(at: AppTest) -> list[dict]:
    """The Plotly figures on the current page, as JSON dicts."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def array_of(value) -> np.ndarray:
    """A Plotly JSON array (a list, or typed base64 ``{"bdata", "dtype", "shape"}``) as numpy."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(s) for s in str(value.get("shape", flat.size)).split(",")]
        return flat.reshape(shape)
    return np.asarray(value)
