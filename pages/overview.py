"""Overview: what BPTT is, and the current run's headline numbers."""

import streamlit as st

from dashboard.catalog import verdict as rules
from dashboard.catalog.depth import is_deep
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params
from dashboard.vocabulary import quantities as Q

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
verdict = rules.verdict(config, cache.last_loss_gradient(config, params), report, res)

cols = st.columns(5)
cols[0].metric(Q.label("loss"), f"{res.loss:.4g}", help=Q.help_text("loss"))
cols[1].metric(Q.label("gradient_norm"), f"{res.grad_norm:.3g}", help=Q.help_text("gradient_norm"))
cols[2].metric(
    Q.label("spectral_radius"),
    f"{max(report.spectral_radius.values()):.3g}" if report.spectral_radius else "none",
    help=Q.help_text("spectral_radius")
    + (" Here the top layer's." if is_deep(config) else "")
    + (" None: this cell has no recurrent weight matrix." if not report.spectral_radius else ""),
)
cols[3].metric(Q.label("verdict"), verdict.label, help=rules.VERDICT_RULE)
with cols[4]:
    ui.bytes_metric(Q.label("peak_held"), cache.stored_run(config, params).memory_bytes, help=Q.help_text("peak_held"))

if is_deep(config):
    ui.layer_table(config, params, res)
left, right = ui.figure_columns(2, key="overview")
with left:
    ui.show(panels["unroll_grid_diagram" if is_deep(config) else "unroll_diagram"], config)
with right:
    st.markdown(f"**Verdict: {verdict.label}.** {verdict.detail}")
    ui.show(panels["gradient_norms"], config)

st.subheader("Explore")
links = st.container(horizontal=True, wrap=True)  # each link whole: side by side where they fit, else wrapped
links.page_link("pages/unroll.py", label="Unroll & animate: watch both passes", icon=":material/animation:")
links.page_link(
    "pages/gradient_flow.py", label="Gradient flow: why it vanishes or explodes", icon=":material/trending_down:"
)
links.page_link("pages/memory.py", label="Memory: what the tape costs", icon=":material/memory:")
