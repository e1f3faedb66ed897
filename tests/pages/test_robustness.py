"""Exploding values, nonsense combinations and budget refusals never show a traceback."""

from __future__ import annotations

import warnings

import pytest

from dashboard.catalog import compute, memory, panels
from dashboard.catalog import verdict as rules
from dashboard.catalog.sections import PAGES, page_panels
from dashboard.config import RunConfig
from tests.apptest import PAGES as PAGE_FILES
from tests.apptest import assert_clean, chart_specs, open_app

from .test_pages import EXPECTED_CHARTS

EXPLODING = RunConfig(activation="linear", init="orthogonal", scale=3.0, T=1000, hidden_size=8)


@pytest.mark.parametrize("page", PAGES)
def test_overflow_flows_through_every_figure_without_warnings(page):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        built = page_panels(page, EXPLODING)
    assert built and all(len(p.figure.data) for p in built.values())


def test_overflow_verdict_names_the_step():
    res = compute.run(EXPLODING)
    assert not res.finite
    curve = compute.last_loss_gradient(EXPLODING)
    v = rules.verdict(EXPLODING, curve, compute.spectral(EXPLODING), res)
    assert v.label == "overflow" and f"step {res.overflow_step}" in v.detail
    norms = panels.gradient_norms(EXPLODING, res, curve).figure
    assert any("overflow at step" in a.text for a in norms.layout.annotations)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_exploding_configuration_on_every_page(page):
    at = open_app(page, EXPLODING.to_query())
    assert_clean(at)
    assert len(chart_specs(at)) == EXPECTED_CHARTS[page]


NONSENSE = [
    {"truncation": "500", "T": "20"},  # truncation longer than T
    {"checkpoint": "32", "T": "5"},  # checkpoint step > T
    {"T": "1", "hidden_size": "1", "batch_size": "1", "input_size": "1", "output_size": "1"},
    {"loss": "cross_entropy", "output_size": "1"},
    {"delay": "100", "T": "3"},  # delay longer than the sequence
    {"scale": "0"},  # all-zero recurrent weights
    {"ragged": "1", "batch_size": "1"},
    {"init": "identity", "activation": "sigmoid", "scale": "10"},
]


@pytest.mark.parametrize("query", NONSENSE)
@pytest.mark.parametrize("page", PAGE_FILES)
def test_nonsense_combinations_give_a_result_or_a_message(page, query):
    at = open_app(page, query)
    assert not at.exception, [e.value for e in at.exception]


def test_over_budget_settings_are_refused_with_advice_that_fits_and_one_consistent_state():
    at = open_app("pages/memory.py", {"T": "200"})
    at.segmented_control(key="cfg.cell").set_value("lstm").run()
    at.number_input(key="cfg.hidden_size").set_value(256).run()
    at.number_input(key="cfg.batch_size").set_value(64).run()
    at.selectbox(key="cfg.checkpoint").set_value("sqrt").run()
    at.slider(key="cfg.T").set_value(1000).run()
    assert not at.exception
    (message,) = [e.value for e in at.error]
    assert "budget" in message and "checkpointing" not in message  # it is already on: not advised again
    # the sidebar, the address and the page agree: the refused settings stay, no figure of other settings
    assert at.slider(key="cfg.T").value == 1000 and at.query_params["T"] in ("1000", ["1000"])
    assert not at.get("plotly_chart")
    refused = RunConfig(cell="lstm", T=1000, hidden_size=256, batch_size=64, checkpoint="sqrt")
    for change in message.split("To fit: ")[1].rstrip(".").split(", or "):  # every advice fits the budget
        if change == "switch to float32":
            fixed = refused.replace(dtype="float32")
        else:
            label, value = change.removeprefix("lower ").split(" to ")
            name = {"T": "T", "Batch B": "batch_size", "Hidden H": "hidden_size", "Layers L": "num_layers"}[label]
            fixed = refused.replace(**{name: int(value)})
            assert memory.estimate_bytes(fixed.replace(**{name: int(value) + 1})) > memory.DASHBOARD_BUDGET
        assert memory.estimate_bytes(fixed) <= memory.DASHBOARD_BUDGET, change
    at.slider(key="cfg.T").set_value(100).run()  # back within the budget: the page draws again
    assert not at.error and at.get("plotly_chart")
