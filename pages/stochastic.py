"""Stochastic and discrete operations: gradients through a sampling node."""

import streamlit as st

from dashboard.learning import stochastic
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config

config = current_config()
st.title("Stochastic and discrete operations")
st.markdown(
    "Backpropagation needs a derivative at every node, and sampling has none: "
    r"$z \sim \text{Bernoulli}(\sigma(\theta))$ is a step function of the noise. A small model "
    r"$\theta \to p \to z \to f(z)$ (written out below for the node you pick) needs "
    r"$\nabla_\theta\, \mathbb{E}_z[f(z)]$, and there are several ways to estimate it:"
)
st.markdown(
    "- **REINFORCE** (score function, Williams 1992): f(z) ∇ log p(z), unbiased by construction; a "
    "**baseline** subtracted from f keeps it unbiased and can cut its variance.\n"
    "- **Straight-through** (Bengio et al. 2013): use the hard sample forward, pretend it was p backward: "
    "biased, and its variance depends on the problem.\n"
    "- **Gumbel-softmax** (Jang et al. 2016): differentiate a relaxed sample at temperature τ: as τ → 0 "
    "the relaxation approaches the hard sample (less bias) and its gradient grows spiky (more variance).\n\n"
    "The caption under the figure says what this setting shows."
)
c = st.columns(5)
kind = c[0].selectbox("Sampling node", ("bernoulli", "categorical"), key="st_kind")
theta = c[1].slider("logit θ", -4.0, 4.0, 0.3, 0.1, key="st_theta")
target = c[2].slider("target (Bernoulli)", 0.0, 1.0, 0.2, 0.05, key="st_target", disabled=kind != "bernoulli")
n = c[3].select_slider("samples per estimate", (500, 1000, 2000, 5000, 20000), 2000, key="st_n")
tau = c[4].select_slider("τ for the spread plot", (0.05, 0.1, 0.2, 0.5, 1.0, 2.0), 0.5, key="st_tau")
st.markdown("**The problem, and its exact gradient** (summed over the outcomes z):")
for line in stochastic.stochastic_equations(kind, theta, target):
    st.latex(line)
panels = cache.estimator_panels(kind, theta, target, stochastic.STOCHASTIC_DEFAULTS[3], n, tau)
ui.show(panels["estimator_bias_variance"], config)
ui.show(panels["estimator_spread"], config)
