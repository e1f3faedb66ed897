"""Unroll & animate: the forward pass, then the backward pass, over the unrolled steps."""

import streamlit as st

from dashboard.catalog import code
from dashboard.catalog.depth import is_deep
from dashboard.config.cell_views import VIEWS, cell_name
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params

config = current_config()
params = current_params(config)
st.title("Unroll & animate")
if is_deep(config):
    st.markdown(
        f"Press **▶ Play**. The {config.num_layers}-layer stack unrolled: layers as rows, time as columns. "
        "Forward fills one layer at a time from the input up (a reverse direction right to left); "
        "backward starts at the top and carries ∂L/∂h back in time, layer by layer, down to the input."
    )
else:
    st.markdown(
        "Press **▶ Play**. Forward: each h_t lights up as it is computed, and the memory bar grows as its "
        "intermediates are stored. Backward: ∂L/∂h_t travels right to left, node size and red shade showing "
        "its size, and memory is freed step by step. On the right, the loop that computes it: the lines the "
        "current step runs are lit."
    )
if is_deep(config):
    panels = ui.compute_or_stop(cache.page_panels, "unroll", config, params, what="the BPTT run")
    animation = panels["unroll_grid"]
    ui.show(animation, config)
else:  # the animation with the loop that computes it beside it, the running lines lit frame by frame
    animation = ui.compute_or_stop(cache.unroll_code, config, params, what="the BPTT run")
    with ui.wide_figure("unroll"):
        ui.show(animation, config)
ui.gif_button(animation, config)
with st.expander(f"The code: `{code.REFERENCE_FILE}`, the whole file", expanded=is_deep(config)):
    if is_deep(config):
        st.caption(
            "Each layer and direction of your stack runs this loop; the engine chains them (the layer above hands "
            "its inputs' gradient down). With one layer in one direction, the code plays beside the animation."
        )
    st.code(code.reference_source(), language="python", line_numbers=True)
    st.download_button(
        "reference.py", code.reference_source(), file_name="reference.py", mime="text/x-python", on_click="ignore"
    )


@st.fragment
def equations(config, params) -> None:
    """One step's forward and backward equations with this run's numbers; picking another step, unit or
    layer reruns only this part (the animation above is not rebuilt or sent again)."""
    st.subheader("The equations of one step, with this run's numbers")
    pick_t, pick_j, pick_layer = st.columns(3)
    t = pick_t.slider("Step t", 0, config.T - 1, config.T - 1, key="eq_step") if config.T > 1 else 0
    j = pick_j.number_input("Hidden unit j", 0, config.hidden_size - 1, 0, key="eq_unit")
    layer = config.num_layers - 1
    if config.num_layers > 1:
        layer = pick_layer.selectbox(
            "Layer", range(config.num_layers), index=layer, key="eq_layer", help="read in its forward direction"
        )
    numbers = cache.step_equation(config, t, j, params, layer)
    forward, backward = ui.figure_columns(2, key="equations")
    with forward:
        where = f" · layer {layer} →" if is_deep(config) else ""
        st.markdown(f"**Forward** · first sequence · {cell_name(config.cell, config.activation)}{where}")
        for line in VIEWS[config.cell].forward(t, j, numbers, config.activation):
            st.latex(line)
    with backward:
        st.markdown("**Backward**")
        for line in VIEWS[config.cell].backward(t, j, numbers, config.activation):
            st.latex(line)


equations(config, params)
