"""Unroll & animate: the forward pass, then the backward pass, over the unrolled steps."""

import streamlit as st

from dashboard import cache, ui
from dashboard.cells import VIEWS
from dashboard.sidebar import current_config, current_params

config = current_config()
params = current_params(config)
st.title("Unroll & animate")
st.markdown(
    "Press **▶ Play**. Forward: each h_t lights up as it is computed, and the memory bar grows as its "
    "intermediates are stored. Backward: ∂L/∂h_t travels right to left, node size and red shade showing "
    "its size, and memory is freed step by step."
)
ui.compute_or_stop(cache.run, config, params, what="the BPTT run")
animation = cache.page_panels("unroll", config, params)["unroll_animation"]
ui.show(animation, config)
ui.gif_button(animation, config)

st.subheader("The equations of one step, with this run's numbers")
pick_t, pick_j = st.columns(2)
t = pick_t.slider("Step t", 0, config.T - 1, config.T - 1, key="eq_step") if config.T > 1 else 0
j = pick_j.number_input("Hidden unit j", 0, config.hidden_size - 1, 0, key="eq_unit")
numbers = cache.step_equation(config, t, j, params)
forward, backward = st.columns(2)
with forward:
    st.markdown(f"**Forward** · first sequence · {config.cell.upper()}")
    for line in VIEWS[config.cell].forward(t, j, numbers, config.activation):
        st.latex(line)
with backward:
    st.markdown("**Backward**")
    for line in VIEWS[config.cell].backward(t, j, numbers, config.activation):
        st.latex(line)
