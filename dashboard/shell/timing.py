"""Server-side time of every script run, for the load benchmark (``BPTT_TIMING=path``; off otherwise).

Each run appends one JSON line: the session, the page, when the rerun started and how long the script took
from the rerun to its last element (elements are sent as they are produced, so the script's end is when
the last one leaves).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def timed_run() -> Iterator[None]:
    """Time the body (the whole script run) when ``BPTT_TIMING`` names a file."""
    path = os.environ.get("BPTT_TIMING")
    if not path:
        yield
        return
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    start, wall = time.perf_counter(), time.time()
    try:
        yield
    finally:
        record = {
            "session": ctx.session_id if ctx else str(threading.get_ident()),
            "page": (st.context.url or "").split("?")[0].rsplit("/", 1)[-1],
            "start": wall,
            "seconds": time.perf_counter() - start,
            "threads": threading.active_count(),
        }
        with _LOCK, open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
