"""Thin ``st.cache_data`` wrappers of :mod:`dashboard.catalog.compute`, keyed by the frozen config.

Computed values are pickled, so every session gets its own copy; built panels are shared read-only
(:func:`page_panels`). A slider change that does not touch a function's inputs is a cache hit.
"""

from __future__ import annotations

import sys

import numpy as np
import streamlit as st

from dashboard.catalog import code, compute, measure, memory, online
from dashboard.catalog import sections as catalog
from dashboard.learning import lessons, papers, stochastic

_cache = st.cache_data(max_entries=48, show_spinner="Computing…")

run = _cache(compute.run)
stored_run = _cache(compute.stored_run)
flow = _cache(compute.flow)
contributions = _cache(compute.contributions)
last_loss_gradient = _cache(compute.last_loss_gradient)
jacobians = _cache(compute.jacobians)
spectral = _cache(compute.spectral)
layer_jacobians = _cache(compute.layer_jacobians)
layer_spectral = _cache(compute.layer_spectral)
_cell_comparison = _cache(compute.cell_comparison)
_phase_diagram = _cache(compute.phase_diagram)
truncation = _cache(compute.truncation)
strategy_runs = _cache(memory.strategy_runs)
memory_scaling = _cache(memory.memory_scaling)
memory_budget = _cache(memory.memory_budget)
step_equation = _cache(compute.step_equation)
measured_peaks = st.cache_data(max_entries=48, show_spinner="Measuring memory with tracemalloc…")(
    measure.measured_peaks
)
online_methods = _cache(online.methods)
online_rows = _cache(online.method_rows)
online_lengths = _cache(online.memory_lengths)
online_crossover = _cache(online.crossover)
uoro_study = st.cache_data(max_entries=48, show_spinner=f"Drawing UORO {online.UORO_SEEDS} times…")(online.uoro_study)
cost_sweep = st.cache_data(max_entries=48, show_spinner="Running every method over T and H…")(online.cost_sweep)
loss_panels = _cache(lessons.loss_panels)
_estimator_panels = _cache(stochastic.estimator_panels)
#: One published result's study (``papers.study(key, scale)``): seconds each, then shared by every session.
paper_study = st.cache_data(max_entries=16, show_spinner="Reproducing the paper's result…")(papers.study)


def cell_comparison(config: compute.RunConfig) -> dict:
    """Cached on the fields it depends on only (not on the cell, truncation or clipping)."""
    return _cell_comparison(compute.only(config, compute.COMPARISON_FIELDS))


def phase_diagram(config: compute.RunConfig) -> compute.PhaseDiagram:
    """Cached on the sizes, activation, forget bias and seed only (not on T)."""
    return _phase_diagram(compute.only(config, compute.SWEEP_FIELDS))


def estimator_panels(kind: str, theta: float, target: float, taus: tuple, n: int, tau: float) -> dict:
    """Cached estimator study (taus as a tuple, so it hashes)."""
    return _estimator_panels(kind, theta, target, np.asarray(taus), n, tau)


@st.cache_resource(max_entries=32, show_spinner="Drawing…")
def page_panels(page: str, config: compute.RunConfig, params: dict | None = None, section: str = "") -> dict:
    """A page's built panels (of one section: the first unless named), so a rerun that changes nothing they
    depend on redraws nothing.

    The panels are assembled from this module's cached computations, which other pages share. They are
    shared, not copied (unpickling a figure re-validates every trace, a quarter second for an animation):
    nothing may change a panel in place (:func:`dashboard.shell.ui.for_projector` draws on a copy).
    """
    return catalog.page_panels(page, config, params, source=sys.modules[__name__], section=section)


@st.cache_resource(max_entries=32, show_spinner="Drawing…")
def panel(page: str, name: str, config: compute.RunConfig, params: dict | None = None):
    """One panel of a page (the tour's figure), from the cached computations; shared read-only."""
    return catalog.panel(page, name, config, params, source=sys.modules[__name__])


@st.cache_resource(max_entries=32, show_spinner="Drawing…")
def unroll_code(config: compute.RunConfig, params: dict | None = None):
    """The Unroll page's animation with the reference loop beside it (one layer); shared read-only."""
    return code.unroll_code(config, params, run(config, params), stored_run(config, params))
