"""The pages' computations and panels: cached here, computed by the pool's workers (:mod:`.pool`, :mod:`.remote`).

Computed values are ``st.cache_data`` (pickled, so every session gets its own copy); built panels are
``st.cache_resource``, shared read-only, their figures frozen (:mod:`dashboard.figures.frozen`). Both are
keyed by the frozen configuration (its :meth:`~dashboard.config.RunConfig.key`): a slider change that does
not touch a function's inputs is a cache hit. A miss is computed in a worker (the same worker for every
call of a configuration, whose memo serves the view's later calls); meanwhile this session's turn goes to
another (:mod:`.gate`), and comes back when the call returns.

One view, one trip: pages ask for their panels first, and the worker that builds them sends back, with
them, the run and analyses it computed on the way that this server has not cached yet (:data:`SEEDED`); the
page's own calls for them (its metrics, its tables) then find them here.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable

import streamlit as st

from dashboard.catalog import PLAIN, compute, online
from dashboard.catalog.panels import Panel
from dashboard.config import RunConfig
from dashboard.diagnose.advice import diagnose
from dashboard.diagnose.measurements import Report
from dashboard.diagnose.model_files import Model
from dashboard.diagnose.sequence_files import Sequences
from dashboard.learning import papers
from dashboard.shell import gate, pool, remote

_HASH = {RunConfig: RunConfig.key}  # a short digest of the frozen fields; Streamlit's own walk costs ms a call
_data = st.cache_data(max_entries=48, show_spinner="Computing…", hash_funcs=_HASH)
_panels = st.cache_resource(max_entries=32, show_spinner="Drawing…", hash_funcs=_HASH)


def _key(args: tuple) -> str | None:
    """The configuration among ``args``: the pool sends its tasks to one worker."""
    return next((a.key() for a in args if isinstance(a, RunConfig)), None)


#: Computations a view's panels compute on the way that pages also ask for themselves.
SEEDED = ("run", "stored_run", "spectral", "flow", "jacobians", "layer_jacobians")
_handed = threading.local()  # values: what the worker that built this script run's panels sent along
_known: OrderedDict = OrderedDict()  # the computations this server has cached (most recent last, bounded)
_known_lock = threading.Lock()
_KNOWN_MAX = 4096


def _seed_key(name: str, args: tuple) -> tuple:
    return (name, *map(remote.memo_key, args))


def _handed_over(name: str, args: tuple):
    """The value a worker sent along for ``name(*args)`` in this script run (taken), or None."""
    return getattr(_handed, "values", {}).pop(_seed_key(name, args), None)


def _remember(key: tuple) -> None:
    with _known_lock:
        _known[key] = True
        _known.move_to_end(key)
        while len(_known) > _KNOWN_MAX:
            _known.popitem(last=False)


def _unknown(names: tuple[str, ...], args: tuple) -> tuple[str, ...]:
    """Those of ``names`` whose ``name(*args)`` this server has not cached (as far as it remembers)."""
    with _known_lock:
        return tuple(name for name in names if _seed_key(name, args) not in _known)


def _turns(cached: Callable) -> Callable:
    """``cached`` taking this session's turn back, when a worker computed for it, once the call returns."""

    @functools.wraps(cached)
    def call(*args):
        with gate.reclaiming():
            return cached(*args)

    return call


def _computed(name: str) -> Callable:
    """The computation ``name`` of :data:`remote.SOURCE` (:data:`dashboard.catalog.PLAIN`'s), cached here,
    computed in a worker."""

    @functools.wraps(getattr(PLAIN, name))  # its own name and code: Streamlit's cache keys on them
    def in_worker(*args):
        _remember(_seed_key(name, args))
        if (value := _handed_over(name, args)) is not None:
            return value
        return pool.call(remote.compute_one, name, *args, key=_key(args))

    return _turns(_data(in_worker))


run = _computed("run")
stored_run = _computed("stored_run")
flow = _computed("flow")
contributions = _computed("contributions")
jacobians = _computed("jacobians")
decay_law = _computed("decay_law")
spectral = _computed("spectral")
layer_jacobians = _computed("layer_jacobians")
layer_spectral = _computed("layer_spectral")
online_rows = _computed("online_rows")
online_crossover = _computed("online_crossover")
#: Which gradient methods the Beyond BPTT page runs for a network, and why the others not (cheap: no run).
online_methods = _data(online.methods)


def last_loss_gradient(config: RunConfig, params: dict | None = None):
    """:func:`compute.last_loss_gradient`, read off the cached flow matrix (one computation for both)."""
    return compute.last_loss_row(config, *flow(config, params))


@_turns
@_data
def measured_peaks(config: RunConfig) -> dict:
    """The memory measured by tracemalloc (:func:`dashboard.catalog.measure.measured_peaks`), in a worker."""
    return pool.call(remote.compute_one, "measured_peaks", config, key=config.key())


@_turns
@_data
def step_equation(config: RunConfig, t: int, unit: int, params: dict | None = None, layer: int | None = None) -> dict:
    """The numbers of one step's equations (:func:`compute.step_equation`), from the view's run."""
    return pool.call(remote.step_equation, config, t, unit, params, layer, key=config.key())


@_turns
@_panels
def page_panels(page: str, config: RunConfig, params: dict | None = None, section: str = "") -> dict[str, Panel]:
    """A page's built panels (of one section: the first unless named), so a rerun that changes nothing they
    depend on redraws nothing. Shared, not copied: nothing may change a panel in place. The worker sends along
    the computations of :data:`SEEDED` it made for them that this server has not cached (for the page's next
    calls, in this script run)."""
    want = _unknown(SEEDED, (config, params))
    panels, seeds = pool.call(remote.section_panels, page, config, params, section, want, key=config.key())
    _handed.values = {_seed_key(name, (config, params)): value for name, value in seeds.items()}  # this view's only
    return panels


@_turns
@_panels
def panel(page: str, name: str, config: RunConfig, params: dict | None = None) -> Panel:
    """One panel of a page (the tour's figure); shared read-only."""
    return pool.call(remote.one_panel, page, name, config, params, key=config.key())


@_turns
@_panels
def unroll_code(config: RunConfig, params: dict | None = None) -> Panel:
    """The Unroll page's animation with the textbook loop beside it (one layer); shared read-only."""
    return pool.call(remote.unroll_code, config, params, key=config.key())


@_turns
@_panels
def loss_panels(config: RunConfig, params: dict | None = None, section: str = "") -> dict[str, Panel]:
    """The Loss over time page's panels (of one section, :func:`dashboard.learning.lessons.loss_panels`)."""
    return pool.call(remote.loss_panels, config, params, section, key=config.key())


@_turns
@_panels
def estimator_panels(kind: str, theta: float, target: float, taus: tuple, n: int, tau: float) -> dict[str, Panel]:
    """The Stochastic nodes page's panels for its own settings (``taus`` a tuple, so it hashes)."""
    return pool.call(remote.estimator_panels, kind, theta, target, taus, n, tau)


@_turns
@st.cache_data(max_entries=8, show_spinner="Measuring your model…")
def diagnosis(_model: Model, model_key: str, _seqs: Sequences, seqs_key: str) -> Report:
    """The Diagnose page's measurements of the user's model on its sequences (keyed by their contents' hashes)."""
    return pool.call(diagnose, _model, _seqs, key=model_key)


@_turns
@st.cache_data(max_entries=16, show_spinner="Reproducing the paper's result…")
def paper_study(key: str, scale: str = "page"):
    """One published result's study (:func:`dashboard.learning.papers.study`), in a worker: seconds each, then
    shared by every session."""
    return pool.call(papers.study, key, scale, key=f"paper-{key}")
