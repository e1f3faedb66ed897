"""Overview: what BPTT is, and the current run's headline numbers."""

import streamlit as st

from dashboard.catalog import verdict as rules
from dashboard.catalog.depth import is_deep
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params

config = current_config()
params = current_params(config)
st.title("Backpropagation through time")
st.markdown(
    "A recurrent network applies **the same weights at every time step**. Unrolled over a sequence of "
    f"**T = {config.T}** steps it becomes a deep feed-forward network with tied weights, and BPTT is ordinary "
    "backpropagation through that unrolled graph: a forward pass stores each step's intermediates, then a "
    "backward pass carries ∂L/∂h_t from the last step to the first, adding each step's contribution to the "
    "shared weight gradients. Because the gradient is multiplied by a Jacobian at every step, it can **vanish** "
    "or **explode** exponentially with distance, and because every step's intermediates are stored, memory "
    "grows with T."
)
# the panels first: the worker that draws them then has the run and its analyses at hand
panels = ui.compute_or_stop(cache.page_panels, "overview", config, params, what="the BPTT run")
res = cache.run(config, params)
report = cache.spectral(config, params)
verdict = rules.verdict(cache.last_loss_gradient(config, params), report, res)

cols = st.columns(5)
cols[0].metric("Loss L", f"{res.loss:.4g}", help=f"reduction = {config.reduction}")
cols[1].metric(
    "Gradient norm", f"{res.grad_norm:.3g}", help="global L2 norm of all parameter gradients, before clipping"
)
cols[2].metric(
    "Spectral radius of W_hh" + (" (top layer)" if is_deep(config) else ""),
    f"{max(report.spectral_radius.values()):.3g}",
    help="largest |eigenvalue| over the gate blocks",
)
cols[3].metric("Verdict", verdict.label, help=rules.VERDICT_RULE)
with cols[4]:
    ui.bytes_metric(
        "Memory at peak",
        res.memory_bytes,
        help="what this BPTT call holds at its peak: the tape of stored intermediates, gradient buffers, "
        "scratch and the returned sequences",
    )

if is_deep(config):
    ui.layer_table(config, params, res)
left, right = ui.figure_columns(2, key="overview")
with left:
    ui.show(panels["unroll_grid_diagram" if is_deep(config) else "unroll_diagram"], config)
with right:
    st.markdown(f"**Verdict: {verdict.label}.** {verdict.detail}")
    ui.show(panels["gradient_norms"], config)

st.subheader("Explore")
links = st.columns(3)
links[0].page_link("pages/unroll.py", label="Unroll & animate: watch both passes", icon=":material/animation:")
links[1].page_link(
    "pages/gradient_flow.py", label="Gradient flow: why it vanishes or explodes", icon=":material/trending_down:"
)
links[2].page_link("pages/memory.py", label="Memory: what the tape costs", icon=":material/memory:")
