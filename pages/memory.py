"""Memory: what BPTT stores for backward, and what checkpointing or truncation buys."""

import streamlit as st

from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params

config = current_config()
params = current_params(config)
st.title("Memory")
st.markdown(
    "Backward needs every step's intermediates, so training holds a **tape** that grows with T. "
    "Checkpointing keeps only some states and recomputes the rest; truncation holds one window at a time "
    "but changes the gradient."
)
# the panels first: the worker that draws them then has the run and its analyses at hand
panels = ui.compute_or_stop(cache.page_panels, "memory", config, params, what="the BPTT run")
res = cache.run(config, params)
stored = cache.stored_run(config, params)

cols = st.columns(3)
with cols[0]:
    ui.bytes_metric(
        "Peak of this run (ledger)",
        stored.memory_bytes,
        help="what the engine counts: tape, checkpoints, gradient buffers, scratch and losses, "
        f"for the whole batch (checkpoint = {config.checkpoint}, truncation = "
        f"{config.truncation or 'off'}, returned sequences left out); measured by tracemalloc below",
    )
with cols[1]:
    ui.bytes_metric(
        "Stored for backward (peak)",
        stored.stored_bytes,
        help="the tape and checkpoints alone: what grows with T and what checkpointing shrinks",
    )
with cols[2]:
    ui.bytes_metric("Parameters", res.param_bytes, help=f"the gradient buffers are as large: {res.grad_bytes:,} B")


def measured() -> None:
    """The ledger against tracemalloc (in a separate process), and the measured saving of √T checkpointing."""
    peaks = ui.compute_or_stop(cache.measured_peaks, config, what="the memory measurement")
    this, full, sqrt = peaks["this run"], peaks["full storage"], peaks["checkpoint sqrt(T)"]
    cols = st.columns(3)
    with cols[0]:
        ui.bytes_metric("Peak of this run (ledger)", this["ledger"], help="the engine's count, as above")
    with cols[1]:
        ui.bytes_metric(
            "Measured by tracemalloc",
            this["measured"],
            help="the same call's peak as Python's allocator saw it, in a process of its own; "
            f"the ledger is {this['ledger'] / this['measured']:.0%} of it",
        )
    saved = 1 - sqrt["measured"] / full["measured"] if full["measured"] else 0.0
    cols[2].metric(
        "√T checkpointing saves",
        f"{saved:.0%}",
        help=f"measured peaks: {sqrt['measured']:,} B against {full['measured']:,} B for full storage "
        "(this batch, tracemalloc)",
    )


left, right = ui.figure_columns(2, key="memory")
with left:
    ui.show(panels["memory_by_tensor"], config)
    if "layer_memory" in panels:
        ui.show(panels["layer_memory"], config)
with right:
    ui.show(panels["memory_timelines"], config)

SECTIONS = {
    "measured": "Measured by tracemalloc: the ledger checked, and what √T checkpointing saves",
    "length": "How the memory grows with T, under each strategy",
    "budget": "What fits in a memory budget: every stored item, in float64 and float32",
    "pareto": "Checkpointing: memory against recomputation, every schedule",
}
for section, box in ui.lazy_sections(SECTIONS, key="memory"):  # computed and drawn only while open
    with box:
        if section == "measured":
            measured()
            continue
        for panel in cache.page_panels("memory", config, params, section).values():
            ui.show(panel, config)
