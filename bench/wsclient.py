"""A student without a browser: Streamlit's own websocket protocol, so the server does its full work.

A :class:`Student` loads the page's address as a browser does first (keeping the cookies it sets: behind
the load balancer of ``deploy/``, the one that ties this browser to its replica), connects to
``/_stcore/stream`` with them, asks for a page (a ``rerun_script`` back message, as the browser sends), and
reads every forward message until the script has finished: the elements (with each widget's id),
exceptions, and the bytes sent. A change sends the widget's new value the way the browser does. Nothing is
drawn, so on a shared machine the clients take almost no CPU from the server.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

MAX_MESSAGE = 200 * 2**20
TIMEOUT = 600.0  # seconds without a message before a run counts as lost


@dataclass
class Run:
    """One script run as the client saw it: seconds from the request to "finished", bytes, elements, and the
    address's query string the app set (the sidebar mirrors its settings there)."""

    seconds: float
    bytes: int
    charts: int
    exceptions: int
    query: str


@dataclass
class Student:
    url: str
    page: str
    query: str = ""  # the address's settings (``T=300&cell=gru``): the sidebar reads them on the first run
    widgets: dict[str, WidgetState] = field(default_factory=dict)  # by label: what the browser would send
    ids: dict[str, str] = field(default_factory=dict)  # label -> widget id
    cookies: str = ""  # the browser's cookies: sent with every request, and updated by what the page sets
    replicas: tuple[str, str] = ("", "")  # behind deploy/'s nginx: the replica of the page, of the websocket
    _ws: object = None

    async def __aenter__(self) -> Student:
        request = urllib.request.Request(
            f"{self.url}/{self.page}?{self.query}", headers={"Cookie": self.cookies} if self.cookies else {}
        )
        with await asyncio.to_thread(urllib.request.urlopen, request, timeout=TIMEOUT) as page:
            self.cookies = "; ".join(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") or ()) or self.cookies
            first = page.headers.get("X-Replica", "")
        self._ws = await websockets.connect(
            self.url.replace("http://", "ws://") + "/_stcore/stream",
            subprotocols=["streamlit"],
            max_size=MAX_MESSAGE,
            ping_interval=None,  # a busy server is not a dead one
            additional_headers={"Cookie": self.cookies} if self.cookies else None,
        )
        self.replicas = (first, self._ws.response.headers.get("X-Replica", ""))
        return self

    async def __aexit__(self, *exc) -> None:
        await self._ws.close()

    async def open(self) -> Run:
        """Load the page, as a browser's first request does."""
        return await self._rerun()

    async def set_int(self, label: str, value: int) -> Run:
        """Type ``value`` into the number input called ``label`` and wait for the script to finish."""
        self.widgets[label] = WidgetState(id=self.ids[label], int_value=value)
        return await self._rerun()

    async def _rerun(self) -> Run:
        msg = BackMsg()
        msg.rerun_script.page_name = self.page
        msg.rerun_script.query_string = self.query
        msg.rerun_script.widget_states.widgets.extend(self.widgets.values())
        start = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        received = charts = exceptions = 0
        query = ""
        while True:
            frame = await asyncio.wait_for(self._ws.recv(), TIMEOUT)
            received += len(frame)
            fwd = ForwardMsg()
            fwd.ParseFromString(frame)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                charts += which == "plotly_chart"
                exceptions += which == "exception"
                if which == "number_input":
                    self.ids[element.number_input.label] = element.number_input.id
            elif kind == "page_info_changed":
                query = fwd.page_info_changed.query_string
            elif kind == "script_finished" and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return Run(time.perf_counter() - start, received, charts, exceptions, query)
            elif kind == "page_not_found":
                raise RuntimeError(f"the server has no page {self.page!r}")
