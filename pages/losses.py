"""Loss over time steps: per-step losses, sum against mean, and padding masks."""

import streamlit as st

from dashboard.learning import lessons
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params

config = current_config()
params = current_params(config)
st.title("Loss over time steps")
st.markdown(
    "A sequence model makes a prediction, and pays a loss, at every step. The training loss adds them up: "
    "**L = Σ_t l_t**, then either divides by the number of valid tokens (*mean*) or keeps the sum over time "
    "(*sum*, averaged over the batch only)."
)

example = lessons.worked_example()
st.subheader("The worked example")
st.latex(
    r"l = [0.2,\ 0.5,\ 0.1,\ 0.4] \quad\Rightarrow\quad L_\text{sum} = \sum_t l_t = "
    f"{example['sum']:.4g}" + r",\qquad L_\text{mean} = \frac{1}{4}\sum_t l_t = " + f"{example['mean']:.4g}"
)
st.caption("Computed by the engine's own reduction code (bptt_core.losses.reduce).")

panels = ui.compute_or_stop(cache.loss_panels, config, params, what="the loss views")
ui.show(panels["step_losses"], config)
st.subheader("Token-level losses with padding masks")
ui.show(panels["token_losses"], config)

SECTIONS = {"scale": "Why averaging keeps the gradient scale independent of T: the gradient at six lengths"}
for section, box in ui.lazy_sections(SECTIONS, key="losses"):  # computed and drawn only while open
    with box:
        st.markdown(
            "With *sum*, ∇L is exactly T times the *mean*'s gradient (for equal lengths), and with plain SGD "
            "(θ ← θ − η∇L) every step grows with it: a learning rate that works for T = 10 is T/10 times too large "
            "for longer sequences. With *mean* the 1/T factor keeps the scale, and the learning rate, the same for "
            "any length. Adam divides each step by the gradient's running size, so for Adam the choice barely "
            "changes the steps (it still changes the loss you read)."
        )
        scale = ui.compute_or_stop(cache.loss_panels, config, params, section, what="the gradient scale")
        ui.show(scale["scale_vs_length"], config)
