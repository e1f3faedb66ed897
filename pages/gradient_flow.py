"""Gradient flow: how ||dL/dh_t|| vanishes or explodes across time, and why."""

import streamlit as st

from dashboard.catalog import compute
from dashboard.catalog import panels as panels_mod
from dashboard.catalog import verdict as rules
from dashboard.catalog.depth import is_deep
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params
from dashboard.vocabulary import quantities as Q

config = current_config()
params = current_params(config)
st.title("Gradient flow")
# the panels first: the worker that draws them then has the run and its analyses at hand
panels = ui.compute_or_stop(cache.page_panels, "gradient_flow", config, params, what="the BPTT run")
res = cache.run(config, params)
report = cache.spectral(config, params)
verdict = rules.verdict(config, cache.last_loss_gradient(config, params), report, res)
jp = cache.jacobians(config, params)
summary = rules.jacobian_summary(jp)

cols = st.columns(4)
cols[0].metric(Q.label("verdict"), verdict.label, help=rules.VERDICT_RULE)
cols[1].metric(Q.label("jacobian_growth"), rules.growth_text(summary), help=Q.help_text("jacobian_growth"))
cols[2].metric(Q.label("memory_horizon"), rules.horizon_text(summary, jp), help=Q.help_text("memory_horizon"))
cols[3].metric(
    Q.label("pascanu_rate"),
    rules.shown_against_one(report.bound_rate) if report.bound_rate is not None else "gated",
    help=Q.help_text("pascanu_rate"),
)
st.markdown(f"**Verdict: {verdict.label}.** {verdict.detail}")

if is_deep(config):
    st.subheader("Over time and depth")
    ui.layer_table(config, params, res)
    deep_left, deep_right = ui.figure_columns([3, 2], key="depth")
    with deep_left:
        ui.show(panels["layer_time"], config)
    with deep_right:
        ui.show(panels["layer_jacobians"], config)
    st.subheader(f"The top layer (layer {config.num_layers - 1})" if config.num_layers > 1 else "The layer")
left, right = ui.figure_columns(2, key="flow")
with left:
    for name in ("gradient_norms", "jacobian_vs_lag"):
        ui.show(panels[name], config)
with right:
    for name in ("flow_matrix", "eigenvalues"):
        ui.show(panels[name], config)


@st.fragment
def where_dw_hh_comes_from(config, params, more: dict) -> None:
    """By step; and by loss and distance, following one loss back in time (up to a length). Following
    another loss reruns only this section (a fragment)."""
    ui.show(more["step_contributions"], config)
    if "gradient_itemised" not in more:
        st.info(
            f"dW_hh itemised by loss and distance is drawn up to T = {compute.ITEMISED_MAX_T}: every loss goes "
            "back to step 0, T² / 2 backward steps in all."
        )
        return
    origin = (
        st.slider(
            "Follow the loss at step s back in time (black line)",
            0,
            config.T - 1,
            config.T - 1,
            key="itemised_origin",
            help="its terms of dW_hh at every earlier step, projected like the bars",
        )
        if config.T > 1
        else 0
    )
    itemised = more["gradient_itemised"]  # built for the last loss; rebuilt only when another is followed
    if origin != config.T - 1:
        itemised = panels_mod.itemised(config, cache.contributions(config, params), origin)
    ui.show(itemised, config)


SECTIONS = {
    "sources": "Where dW_hh comes from: by step, and by loss and distance",
    "cells": "The cells compared on this task: how far the last loss reaches back",
    "phase": "Phase diagram: vanishing or exploding, by weight scale and length",
    "truncation": "Truncated BPTT: the gradient's error against the full one",
}
for section, box in ui.lazy_sections(SECTIONS, key="flow"):  # computed and drawn only while open
    more = cache.page_panels("gradient_flow", config, params, section)
    with box:
        if section == "sources":
            where_dw_hh_comes_from(config, params, more)
        elif not more:
            st.info("No truncation study for a bidirectional network: the reverse direction reads the whole sequence.")
        else:
            for panel in more.values():
                ui.show(panel, config)
