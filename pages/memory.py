"""Memory: what BPTT stores for backward, and what checkpointing or truncation buys."""

import streamlit as st

from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params
from dashboard.vocabulary import quantities as Q

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
        Q.label("peak_held"),
        stored.memory_bytes,
        help=Q.help_text("peak_held") + f" Counted by the engine's ledger (checkpoint = {config.checkpoint}, "
        f"truncation = {config.truncation or 'off'}); measured by tracemalloc below.",
    )
with cols[1]:
    ui.bytes_metric(Q.label("stored_for_backward"), stored.stored_bytes, help=Q.help_text("stored_for_backward"))
with cols[2]:
    ui.bytes_metric(Q.label("parameter_bytes"), res.param_bytes, help=Q.help_text("parameter_bytes"))


def measured() -> None:
    """The ledger against tracemalloc (in a separate process), and what √T checkpointing holds at its peak."""
    peaks = ui.compute_or_stop(cache.measured_peaks, config, what="the memory measurement")
    this, full, sqrt = peaks["this run"], peaks["full storage"], peaks["checkpoint sqrt(T)"]
    cols = st.columns(3)
    with cols[0]:
        ui.bytes_metric(Q.label("peak_held"), this["ledger"], help=Q.help_text("peak_held") + " As above.")
    with cols[1]:
        ui.bytes_metric(
            Q.label("measured_peak"),
            this["measured"],
            help=Q.help_text("measured_peak") + f" The ledger is {this['ledger'] / this['measured']:.0%} of it.",
        )
    share = sqrt["measured"] / full["measured"] if full["measured"] else 1.0
    cols[2].metric(
        "√T checkpointing: peak measured",
        f"{share:.0%} of full",
        help=f"{Q.label('measured_peak')} with √T checkpointing, {sqrt['measured']:,} B, against "
        f"{full['measured']:,} B with full storage (this batch, every buffer counted; the figures below count "
        f"only what is {Q.label('stored_for_backward').lower()})",
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
