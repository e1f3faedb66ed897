"""Memory: what BPTT stores for backward, and what checkpointing or truncation buys."""

import streamlit as st

from dashboard import cache, ui
from dashboard.sidebar import current_config, current_params

config = current_config()
params = current_params(config)
st.title("Memory")
st.markdown("Backward needs every step's intermediates, so training holds a **tape** that grows with T. "
            "Checkpointing keeps only some states and recomputes the rest; truncation holds one window at a time "
            "but changes the gradient.")
res = ui.compute_or_stop(cache.run, config, params, what="the BPTT run")
runs = cache.strategy_runs(config, params)
full, sqrt = runs["full storage"], runs["checkpoint sqrt(T)"]

cols = st.columns(4)
with cols[0]:
    ui.bytes_metric("Held for backward (this run)", res.memory_bytes,
                    help=f"checkpoint = {config.checkpoint}, truncation = {config.truncation or 'off'}")
with cols[1]:
    ui.bytes_metric("Parameters", res.param_bytes)
with cols[2]:
    ui.bytes_metric("Gradient buffers", res.grad_bytes, help="allocated once, accumulated over all steps")
saved = 1 - sqrt.memory_bytes / full.memory_bytes if full.memory_bytes else 0.0
cols[3].metric("√T checkpointing saves", f"{saved:.0%}",
               help=f"for {sqrt.recomputed_steps} recomputed forward steps (first sequence)")

panels = cache.page_panels("memory", config, params)
left, right = st.columns(2)
with left:
    ui.show(panels["memory_by_tensor"], config)
    ui.show(panels["memory_vs_length"], config)
with right:
    ui.show(panels["memory_timelines"], config)
    ui.show(panels["memory_budget"], config)
ui.show(panels["pareto_front"], config)
