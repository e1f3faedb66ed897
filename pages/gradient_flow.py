"""Gradient flow: how ||dL/dh_t|| vanishes or explodes across time, and why."""

import streamlit as st

from dashboard import cache, compute, ui
from dashboard.sidebar import current_config, current_params

config = current_config()
params = current_params(config)
st.title("Gradient flow")
res = ui.compute_or_stop(cache.run, config, params, what="the BPTT run")
report = cache.spectral(config, params)
verdict = compute.verdict(res, cache.jacobians(config, params), report)

cols = st.columns(4)
cols[0].metric("Verdict", verdict.label, help=verdict.detail)
cols[1].metric("Growth per step", compute.growth_label(verdict),
               help="exp of the slope of ln ||∂h_t/∂h_k|| against the lag (a finite-time Lyapunov exponent)")
cols[2].metric("Memory horizon", f"{verdict.horizon} steps" if verdict.horizon is not None else "whole sequence",
               help="lag at which ||∂h_t/∂h_k|| falls below 1/1000 of its peak")
cols[3].metric("γ·σ_max (Pascanu)", f"{report.bound_rate:.3g}" if report.bound_rate is not None else "gated",
               help="below 1 gradients must vanish; above 1 they may explode (vanilla RNN only)")
st.caption(verdict.detail)

panels = cache.page_panels("gradient_flow", config, params)
left, right = st.columns(2)
with left:
    for name in ("gradient_norms", "jacobian_vs_lag", "step_contributions"):
        ui.show(panels[name], config)
with right:
    for name in ("flow_matrix", "eigenvalues", "cell_comparison"):
        ui.show(panels[name], config)
ui.show(panels["phase_diagram"], config)
ui.show(panels["truncation_study"], config)
