"""What each page shows: its panels, in order. Pages, exports and tests all read it from here.

``source`` is the compute layer: :data:`PLAIN` (the functions of :mod:`dashboard.catalog.compute` and
:mod:`dashboard.catalog.memory`, for exports and tests) or :mod:`dashboard.shell.cache` (the same functions behind
``st.cache_data``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType, SimpleNamespace

from dashboard.catalog import (
    compute,
    depth,
    measure,
    memory,
    memory_panels,
    modern_panels,
    online,
    online_panels,
    panels,
)
from dashboard.catalog.compute import Params
from dashboard.catalog.depth import is_deep
from dashboard.config import RunConfig

#: The computations the pages' panels are built from, uncached (:mod:`dashboard.shell.cache` caches each one).
PLAIN = SimpleNamespace(
    **{
        name: getattr(compute, name)
        for name in (
            "run",
            "stored_run",
            "last_loss_gradient",
            "flow",
            "contributions",
            "jacobians",
            "decay_law",
            "layer_jacobians",
            "layer_spectral",
            "spectral",
            "cell_comparison",
            "phase_diagram",
            "truncation",
        )
    },
    **{name: getattr(memory, name) for name in ("strategy_runs", "memory_scaling", "memory_budget")},
    online_rows=online.method_rows,
    online_lengths=online.memory_lengths,
    online_crossover=online.crossover,
    uoro_study=online.uoro_study,
    cost_sweep=online.cost_sweep,
    measured_peaks=measure.measured_peaks,
)


def _overview(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    res = src.run(c, p)
    curve = src.last_loss_gradient(c, p)
    diagram = (
        depth.unroll_grid(c, res, static=True)
        if is_deep(c)
        else panels.unroll(c, res, src.stored_run(c, p), static=True)
    )
    return [diagram, panels.gradient_norms(c, res, curve)]


def _unroll(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    """One layer: the unrolled chain with its memory bar; a stack: the layers x time grid."""
    if is_deep(c):
        return [depth.unroll_grid(c, src.run(c, p))]
    return [panels.unroll(c, src.run(c, p), src.stored_run(c, p))]


def _flow(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    """The gradient's journey: its norm over time, the flow matrix, the Jacobian products, the spectrum."""
    res, report = src.run(c, p), src.spectral(c, p)
    deep = [depth.layer_time(c, res), depth.layer_jacobian(c, src.layer_jacobians(c, p))] if is_deep(c) else []
    return [
        *deep,
        panels.gradient_norms(c, res, src.last_loss_gradient(c, p)),
        panels.flow(c, *src.flow(c, p)),
        modern_panels.jacobian(c, src.jacobians(c, p), report, src.decay_law(c, p)),
        modern_panels.eigenvalues(c, report),
    ]


def _flow_sources(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    """Where dW_hh comes from: by step, and by loss and distance (up to a length)."""
    run = src.run(c, p)
    itemised = (
        [panels.itemised(c, src.contributions(c, p), clip_coef=run.clip_coef)] if c.T <= compute.ITEMISED_MAX_T else []
    )
    return [panels.contributions(c, run), *itemised]


def _flow_cells(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    return [panels.comparison(c, src.cell_comparison(c))]


def _flow_phase(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    return [panels.phase(c, src.phase_diagram(c))]


def _flow_truncation(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    """Refused for a bidirectional network: its reverse direction reads the whole sequence."""
    return [] if c.bidirectional else [panels.truncation(c, src.truncation(c, p))]


def _memory(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    """What the tape holds, by tensor (and by layer), and over time under each strategy."""
    by_layer = [depth.layer_memory(c, src.stored_run(c, p))] if is_deep(c) else []
    return [
        memory_panels.memory_stack(c, src.stored_run(c, p)),
        *by_layer,
        memory_panels.memory_timelines(c, src.strategy_runs(c, p)),
    ]


def _memory_length(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    return [memory_panels.memory_vs_length(c, src.memory_scaling(c))]


def _memory_budget(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    return [memory_panels.memory_budget(c, src.memory_budget(c, p))]


def _memory_pareto(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    return [memory_panels.pareto(c, memory.pareto_front(c))]


def _weights(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    return [
        modern_panels.eigenvalues(c, src.spectral(c, p)),
        panels.gradient_norms(c, src.run(c, p), src.last_loss_gradient(c, p)),
    ]


def _beyond(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    """Each method's gradient against BPTT, and what each keeps and holds against T (none for a bidirectional
    network: no online method can run it)."""
    if c.bidirectional:
        return []
    rows = src.online_rows(c, p)
    return [
        online_panels.accuracy(c, rows),
        online_panels.memory(c, rows, src.online_lengths(c, p), src.online_crossover(c)),
    ]


def _beyond_uoro(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    study = src.uoro_study(c, p)
    return [] if study is None else [online_panels.uoro(c, study)]


def _beyond_held(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    if c.bidirectional:
        return []
    return [online_panels.held(c, src.measured_peaks(c, what="online"), src.online_rows(c, p))]


def _beyond_cost(c: RunConfig, p: Params | None, src: ModuleType) -> list[panels.Panel]:
    if c.bidirectional:
        return []
    sweep = src.cost_sweep(c, p)
    return [online_panels.cost(c, sweep, "T"), online_panels.cost(c, sweep, "H")]


Builder = Callable[[RunConfig, "Params | None", ModuleType], list[panels.Panel]]

#: Each page's sections in page order: the first (``""``) is always drawn, a page may draw the others on
#: demand (expanders computed only while open). Exports, tests and notebooks build every section.
SECTIONS: dict[str, dict[str, Builder]] = {
    "overview": {"": _overview},
    "unroll": {"": _unroll},
    "gradient_flow": {
        "": _flow,
        "sources": _flow_sources,
        "cells": _flow_cells,
        "phase": _flow_phase,
        "truncation": _flow_truncation,
    },
    "memory": {"": _memory, "length": _memory_length, "budget": _memory_budget, "pareto": _memory_pareto},
    "weights": {"": _weights},
    "beyond_bptt": {"": _beyond, "uoro": _beyond_uoro, "held": _beyond_held, "cost": _beyond_cost},
}
#: The pages whose figures "export all" writes (the weights page repeats figures of gradient flow).
PAGES = ("overview", "unroll", "gradient_flow", "memory")


def page_panels(
    page: str,
    config: RunConfig,
    params: Params | None = None,
    source: ModuleType | SimpleNamespace = PLAIN,
    section: str | None = None,
) -> dict[str, panels.Panel]:
    """The panels of ``page`` by name, in page order: every section's, or one ``section``'s."""
    if page not in SECTIONS:
        raise ValueError(f"page must be one of {tuple(SECTIONS)}, got {page!r}")
    if section is not None and section not in SECTIONS[page]:
        raise ValueError(f"section must be one of {tuple(SECTIONS[page])} for {page}, got {section!r}")
    chosen = SECTIONS[page] if section is None else {section: SECTIONS[page][section]}
    return {panel.name: panel for build in chosen.values() for panel in build(config, params, source)}


def panel(page: str, name: str, config: RunConfig, params: Params | None = None, source=PLAIN) -> panels.Panel:
    """One panel of ``page``, building its sections in order only until the one that draws it."""
    for section in SECTIONS.get(page, {}):
        built = page_panels(page, config, params, source, section)
        if name in built:
            return built[name]
    raise ValueError(f"name must be a panel of {page!r}, got {name!r}")


def all_panels(
    config: RunConfig, params: Params | None = None, source: ModuleType | SimpleNamespace = PLAIN
) -> list[panels.Panel]:
    """Every figure of the dashboard for this configuration, once (a figure two pages show is written once)."""
    unique = {p.name: p for page in PAGES for p in page_panels(page, config, params, source).values()}
    return list(unique.values())
