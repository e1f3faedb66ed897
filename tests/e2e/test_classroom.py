"""The load benchmark's student: Streamlit's websocket protocol against the real server."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from bench.wsclient import Student


def test_websocket_students_get_the_page_and_their_own_changes(server):
    """Two students at once: each sees the page's charts, no exception, and its own Hidden H applied."""

    async def student(h: int):
        async with Student(server, "gradient_flow") as s:
            opened = await s.open()
            changed = await s.set_int("Hidden H", h)
        return opened, changed

    async def classroom():
        return await asyncio.gather(student(7), student(9))

    with ThreadPoolExecutor(1) as thread:  # its own event loop: the browser tests' Playwright runs one here
        students = thread.submit(asyncio.run, classroom()).result(timeout=300)
    for (opened, changed), h in zip(students, (7, 9)):
        assert opened.charts == changed.charts == 4 and opened.exceptions == changed.exceptions == 0
        assert "hidden_size" not in opened.query and f"hidden_size={h}" in changed.query
        assert changed.bytes > 10_000  # the figures were sent again
