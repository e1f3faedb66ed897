"""What the pool's workers run (:mod:`dashboard.shell.pool`): the computations behind the pages, the panels
built from them (their figures frozen for the browser), the GIF and the zip. No Streamlit; with
``BPTT_WORKERS=0`` the server runs the same functions itself.

One view asks a worker for several things (the run for its metrics, then its panels, which need the same
run): :data:`SOURCE` memoises the computations, so a worker computes each once for the view it serves
(the pool sends a configuration's tasks to the same worker when it is free). The memo keeps the last
:data:`MEMO_ENTRIES` results: pure functions of their arguments, so nothing a session does changes
another's answers.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from dashboard.catalog import PLAIN, code, compute, measure, sections
from dashboard.catalog.panels import Panel
from dashboard.config import RunConfig
from dashboard.figures.frozen import freeze
from dashboard.io import export
from dashboard.io.weights import fingerprint
from dashboard.learning import lessons, stochastic

MEMO_ENTRIES = 12
#: Set by :mod:`dashboard.shell.worker`: in a worker, tracemalloc sees one task at a time, so the memory
#: measurement runs here rather than in a child of its own.
IN_WORKER = False

_memo: OrderedDict = OrderedDict()
_memo_lock = threading.Lock()


def memo_key(value) -> object:
    """An argument as part of a memo's key: a dict of weights by its fingerprint, an array by its bytes."""
    if isinstance(value, dict):
        return ("params", fingerprint(value))
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str, value.tobytes())
    return value


def memoised(name: str, fn: Callable) -> Callable:
    """``fn`` remembering its last results (shared by every memoised function, :data:`MEMO_ENTRIES` in all)."""

    def call(*args, **options):
        key = (name, *map(memo_key, args), *sorted(options.items()))
        with _memo_lock:
            if key in _memo:
                _memo.move_to_end(key)
                return _memo[key]
        value = fn(*args, **options)
        with _memo_lock:
            _memo[key] = value
            while len(_memo) > MEMO_ENTRIES:
                _memo.popitem(last=False)
        return value

    return call


def _measured_peaks(config: RunConfig, what: str = "bptt") -> dict:
    """:func:`measure.measured_peaks`; in a worker, in the worker itself (its tracemalloc sees one task)."""
    if not IN_WORKER:
        return measure.measured_peaks(config, what=what)
    return measure.measure_here(config) if what == "bptt" else measure.measure_online_here(config)


_plain = {name: getattr(PLAIN, name) for name in vars(PLAIN)}
_plain |= {"measured_peaks": _measured_peaks}
_memos = {name: memoised(name, fn) for name, fn in _plain.items() if name != "last_loss_gradient"}


def _last_loss_gradient(config: RunConfig, params: dict | None = None) -> np.ndarray:
    return compute.last_loss_row(config, *_memos["flow"](config, params))  # a row of the flow matrix


#: The computations, memoised: the ``source`` of the pages' sections. The cell comparison and the phase
#: diagram are keyed on the settings they read (the same answer for every cell, T, truncation, ...).
SOURCE = SimpleNamespace(
    **{
        **_memos,
        "last_loss_gradient": _last_loss_gradient,
        "cell_comparison": lambda config: _memos["cell_comparison"](compute.only(config, compute.COMPARISON_FIELDS)),
        "phase_diagram": lambda config: _memos["phase_diagram"](compute.only(config, compute.SWEEP_FIELDS)),
    }
)


def compute_one(name: str, *args):
    """``SOURCE.<name>(*args)``: one computation a page shows (a pool task)."""
    return getattr(SOURCE, name)(*args)


def step_equation(config: RunConfig, t: int, unit: int, params: dict | None, layer: int | None) -> dict:
    """:func:`dashboard.catalog.compute.step_equation` from the memoised run."""
    return compute.step_equation(config, t, unit, params, layer, res=SOURCE.run(config, params))


def frozen(panel: Panel) -> Panel:
    """The panel with its figure frozen (:mod:`dashboard.figures.frozen`): shown without a copy, sent cheaply."""
    return dataclasses.replace(panel, figure=freeze(panel.figure))


def section_panels(
    page: str, config: RunConfig, params: dict | None, section: str, send: tuple[str, ...] = ()
) -> tuple[dict[str, Panel], dict]:
    """One section of a page, its figures frozen; and those of the computations named in ``send`` that it
    made (or found in the memo) for ``(config, params)``, by name."""
    built = sections.page_panels(page, config, params, source=SOURCE, section=section)
    with _memo_lock:
        found = {name: _memo.get((name, config, memo_key(params))) for name in send}
    return {name: frozen(p) for name, p in built.items()}, {k: v for k, v in found.items() if v is not None}


def one_panel(page: str, name: str, config: RunConfig, params: dict | None) -> Panel:
    """One panel of a page (the tour's figure), frozen."""
    return frozen(sections.panel(page, name, config, params, source=SOURCE))


def unroll_code(config: RunConfig, params: dict | None) -> Panel:
    """The Unroll page's animation with the textbook loop beside it (one layer), frozen."""
    return frozen(code.unroll_code(config, params, SOURCE.run(config, params), SOURCE.stored_run(config, params)))


def loss_panels(config: RunConfig, params: dict | None, section: str) -> dict[str, Panel]:
    """One section of the Loss over time page, frozen."""
    return {name: frozen(p) for name, p in lessons.loss_panels(config, params, section, source=SOURCE).items()}


def estimator_panels(kind: str, theta: float, target: float, taus: tuple, n: int, tau: float) -> dict[str, Panel]:
    """The Stochastic nodes page's panels, frozen."""
    built = stochastic.estimator_panels(kind, theta, target, np.asarray(taus), n, tau)
    return {name: frozen(p) for name, p in built.items()}


def export_zip(config: RunConfig, params: dict | None, url: str, static: bool, progress: Callable | None = None):
    """The sidebar's zip: every figure of this configuration, its data, config, weights and link."""
    figures = export.export_panels(config, params, source=SOURCE)
    weights = params if params is not None else compute.preset_params(config)
    return export.bundle(config, figures, url=url, static=static, params=weights, progress=progress)
