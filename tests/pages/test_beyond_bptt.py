"""The Beyond BPTT page through Streamlit's AppTest: its metrics, figures and table at the defaults, a stack and a
bidirectional network, its sections drawn only while open, and a training race run from its form."""

from __future__ import annotations

import pytest

from dashboard.catalog import online, online_panels
from dashboard.config import RunConfig
from dashboard.vocabulary.quantities import label
from tests.apptest import assert_clean, chart_specs, open_app

PAGE = "pages/beyond_bptt.py"


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_defaults_show_the_catalogs_numbers():
    at = open_app(PAGE)
    assert_clean(at)
    config = RunConfig()
    rows = online.method_rows(config)
    shown = metrics(at)
    for name, value, _ in online_panels.headline(config, rows, online.crossover(config)):
        assert shown[name] == value
    assert any(m.value == online_panels.HEADLINE for m in at.markdown)  # the metrics are RTRL's against BPTT's
    assert shown[label("crossover_length")] == "336 steps"  # S N / (w H) + 1 for H = 16, I = 3
    titles = [spec["layout"]["title"]["text"] for spec in chart_specs(at)]
    assert titles == ["Each method's gradient against exact BPTT", "What each method keeps and holds, against T"]
    table = at.dataframe[0].value
    assert list(table["method"]) == list(rows["method"])
    assert [c for c in table.columns[1:]] == [name for _, name, _ in online_panels.TABLE_COLUMNS]
    assert any("exact diagonal" in c.value and "couple" in c.value for c in at.caption)  # why it is not run


def test_a_stack_says_which_methods_it_compares():
    at = open_app(PAGE, {"num_layers": "2", "hidden_size": "6", "T": "20"})
    assert_clean(at)
    assert (
        "UORO and SnAp-1 (and the exact diagonal method) are defined here for one recurrent layer" in at.info[0].value
    )
    accuracy = chart_specs(at)[0]
    assert list(accuracy["data"][0]["y"]) == ["RTRL", "truncated BPTT (k = 8)", "BPTT"]


def test_a_bidirectional_network_gets_a_message_and_no_figure():
    at = open_app(PAGE, {"bidirectional": "1"})
    assert_clean(at)
    assert "No online method runs a bidirectional network" in at.info[0].value
    assert not chart_specs(at) and not at.metric


def test_rtrl_too_large_for_the_page_is_named_with_its_reason():
    at = open_app(PAGE, {"hidden_size": "128"})
    assert_clean(at)
    assert any("RTRL" in c.value and "FLOPs" in c.value for c in at.caption)
    assert metrics(at)[label("gradient_error")] == "–"
    assert "RTRL" not in chart_specs(at)[0]["data"][0]["y"]


@pytest.mark.parametrize(
    ("section", "names"),
    [("uoro", ["uoro_noise"]), ("held", ["online_held_measured"]), ("cost", ["online_cost_T", "online_cost_H"])],
)
def test_each_section_draws_its_figures_only_while_open(section, names):
    at = open_app(PAGE, {"T": "12", "hidden_size": "6"})
    assert len(chart_specs(at)) == 2  # every section starts closed
    at.session_state[f"beyond-{section}"] = True
    at.run()
    assert_clean(at)
    drawn = [c.proto.id for c in at.get("plotly_chart")]
    assert len(drawn) == 2 + len(names)
    assert all(any(f"chart-{name}" in d for d in drawn[2:]) for name in names), drawn
    at.session_state[f"beyond-{section}"] = False
    at.run()
    assert len(at.get("plotly_chart")) == 2


def test_the_uoro_section_says_why_it_is_empty_on_a_stack():
    at = open_app(PAGE, {"num_layers": "2", "hidden_size": "4", "T": "10"})
    at.session_state["beyond-uoro"] = True
    at.run()
    assert_clean(at)
    assert any(i.value.startswith("UORO does not run here") for i in at.info)


def test_the_race_runs_from_its_form_and_draws_every_method():
    at = open_app(PAGE, {"T": "10", "hidden_size": "4", "batch_size": "2"})
    at.session_state["beyond-race"] = True
    at.run()
    assert_clean(at)
    assert any("Start the race" in i.value for i in at.info)  # nothing runs until asked
    next(s for s in at.selectbox if s.label == "Task").set_value("sine")
    next(s for s in at.slider if s.label == "Iterations").set_value(20)
    next(b for b in at.button if b.label == "Start the race").click()
    at.run()
    assert_clean(at)
    (race,) = [s for s in chart_specs(at) if s["layout"]["title"]["text"] == "The training race: loss per iteration"]
    names = ["RTRL", "UORO", "SnAp-1", "truncated BPTT (k = 8)", "BPTT"]
    assert [t["name"] for t in race["data"]] == names[::-1]  # drawn last first: RTRL's dashes on top of BPTT
    assert race["layout"]["legend"]["traceorder"] == "reversed"  # listed in the methods' order
    assert any("RTRL's curve is BPTT's" in c.value for c in at.caption)
    at.run()  # a rerun keeps the race's result (the session holds it), without training again
    assert any(s["layout"]["title"]["text"].startswith("The training race") for s in chart_specs(at))
