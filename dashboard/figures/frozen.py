"""A built figure kept as the plain dict Plotly sends to the browser, for showing many times and moving
between processes cheaply.

A ``go.Figure`` validates every property when it is built or unpickled (a quarter second for an
animation), and ``st.plotly_chart`` deep-copies it into a dict on every script run. A
:class:`FrozenFigure` is that dict, made once (:func:`freeze`): it pickles as plain data, shows without a
copy, and exports (HTML, PNG, SVG, GIF) like the figure it was made from. It is read-only: nothing may
change it in place (``go.Figure(frozen.to_dict())`` is an editable copy).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go


class FrozenFigure(go.Figure):
    """The dict of a figure, behind the part of ``go.Figure``'s interface that showing and exporting use:
    ``to_dict()`` (a shallow copy of the dict), ``data``, ``layout.height``/``layout.width`` and
    ``frames``."""

    def __init__(self, spec: dict) -> None:  # no validation: ``spec`` is a figure's own to_dict()
        object.__setattr__(self, "_spec", spec)

    def __reduce__(self):
        return (FrozenFigure, (self._spec,))

    def to_dict(self) -> dict:
        return dict(self._spec)

    def to_plotly_json(self) -> dict:
        return self.to_dict()

    @property
    def data(self) -> list[dict]:
        return self._spec.get("data", [])

    @property
    def layout(self) -> SimpleNamespace:
        layout = self._spec.get("layout", {})
        return SimpleNamespace(height=layout.get("height"), width=layout.get("width"), title=layout.get("title"))

    @property
    def frames(self) -> list[dict]:
        return self._spec.get("frames", [])

    def __repr__(self) -> str:
        return f"FrozenFigure({len(self.data)} traces, {len(self.frames)} frames)"


def freeze(fig: go.Figure) -> FrozenFigure:
    """``fig`` as a :class:`FrozenFigure` (itself when it already is one), its long runs of plain values packed
    (:func:`packed`)."""
    return fig if isinstance(fig, FrozenFigure) else FrozenFigure(packed(fig.to_dict()))


#: Runs of values shorter than this stay lists.
PACK_MIN = 16


def packed(value):
    """``value`` (a figure's dict, or part of it) with the same JSON, cheaper to serialize again and again: lists
    of numbers become number arrays, and object arrays of strings string arrays, which Plotly's encoder
    passes through whole instead of visiting every element."""
    if isinstance(value, dict):
        return {k: packed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if len(value) >= PACK_MIN and all(type(v) in (int, float) for v in value):
            return np.asarray(value)
        return [packed(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype == object and value.size:
        if all(type(v) is str for v in value.flat):
            return value.astype(str)
    return value
