"""Every panel of every page for one configuration, in page order (for export and tests)."""

from __future__ import annotations

from . import compute, panels
from .compute import Params
from .config import RunConfig


def page_panels(page: str, config: RunConfig, params: Params | None = None) -> list[panels.Panel]:
    """The panels a page shows, computed without Streamlit."""
    if page == "overview":
        return [panels.unroll(config, compute.run(config, params), static=True)]
    if page == "unroll":
        return [panels.unroll(config, compute.run(config, params))]
    if page == "gradient_flow":
        res, report = compute.run(config, params), compute.spectral(config, params)
        return [
            panels.gradient_norms(config, res),
            panels.flow(config, *compute.flow(config, params)),
            panels.jacobian(config, compute.jacobians(config, params), report),
            panels.eigenvalues(config, report),
            panels.contributions(config, res),
            panels.comparison(config, compute.cell_comparison(config)),
            panels.phase(config, compute.phase_diagram(config)),
            panels.truncation(config, compute.truncation(config, params)),
        ]
    if page == "memory":
        return [
            panels.memory_stack(config, compute.run(config, params)),
            panels.memory_timelines(config, compute.strategy_runs(config, params)),
            panels.memory_vs_length(config, compute.memory_scaling(config)),
            panels.memory_budget(config, compute.memory_budget(config, params)),
        ]
    raise ValueError(f"unknown page {page!r}")


PAGES = ("overview", "unroll", "gradient_flow", "memory")


def all_panels(config: RunConfig, params: Params | None = None) -> list[panels.Panel]:
    """Every figure of the dashboard for this configuration."""
    return [p for page in PAGES for p in page_panels(page, config, params)]
