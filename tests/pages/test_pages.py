"""Every page through Streamlit's AppTest, with the real router and sidebar."""

from __future__ import annotations

import pytest

import bptt_core as bc
from dashboard.catalog import compute, memory
from dashboard.catalog import sections as catalog
from dashboard.config import LIMITS, RunConfig, from_mapping
from tests.apptest import PAGES, array_of, assert_clean, chart_specs, open_app

EXPECTED_CHARTS = {
    "pages/overview.py": 2,
    "pages/unroll.py": 1,
    "pages/gradient_flow.py": 4,  # and more in sections drawn while open (test_gradient_flow_sections...)
    "pages/memory.py": 2,  # and one in each section while open
    "pages/beyond_bptt.py": 2,  # and more in each section while open (test_beyond_bptt_sections...)
    "pages/weights.py": 2,
    "pages/training.py": 0,
    "pages/losses.py": 2,  # and one in its section while open
    "pages/chain_rule.py": 0,
    "pages/stochastic.py": 2,
    "pages/papers.py": 6,
    "pages/tour.py": 1,
    "pages/quiz.py": 0,
    "pages/diagnose.py": 0,  # until a model is given (tests/dashboard/diagnose/test_diagnose.py)
    "pages/glossary.py": 0,
}


#: Pages that do not read the sidebar's network (the Diagnose page runs the user's own model, the Papers page the
#: papers' own settings).
OWN_SETTINGS = {"pages/diagnose.py", "pages/glossary.py", "pages/papers.py"}


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_with_defaults(page):
    at = open_app(page)
    assert_clean(at)
    assert len(chart_specs(at)) == EXPECTED_CHARTS[page]
    assert at.session_state["run_config"] == RunConfig()


@pytest.mark.parametrize(
    "query",
    [
        {"T": "1"},
        {"T": "1000"},
        *({"cell": name} for name in bc.CELLS if name != "rnn"),  # every registered cell
        {"activation": "relu"},
        {"activation": "sigmoid"},
        {"activation": "linear"},
        {"T": "1", "cell": "lstm", "hidden_size": "1", "batch_size": "1"},
        {"checkpoint": "sqrt", "truncation": "7", "clip": "0.5", "ragged": "1", "loss": "cross_entropy"},
        {"init": "identity", "activation": "relu", "signal": "impulse"},
        {"dtype": "float32", "reduction": "sum", "signal": "tokens"},
        {"delay": "1000"},  # valid for the config, once above the slider's range: the widgets share LIMITS
        {name: str(lo) for name, (lo, _) in LIMITS.items()},  # every setting at its URL minimum
        {name: str(hi) for name, (_, hi) in LIMITS.items()},  # and at its maximum (over budget: refused)
    ],
)
@pytest.mark.parametrize("page", PAGES)
def test_page_at_extremes(page, query):
    at = open_app(page, query)
    over_budget = memory.estimate_bytes(from_mapping(query)[0]) > memory.DASHBOARD_BUDGET
    if over_budget and page not in OWN_SETTINGS:  # refused with what to change: no figure of other settings
        assert not at.exception and "budget" in at.error[0].value
        assert len(chart_specs(at)) == 0
    else:
        assert_clean(at)
        assert len(chart_specs(at)) == EXPECTED_CHARTS[page]


def test_sidebar_value_set_once_reaches_every_page():
    at = open_app()
    at.slider(key="cfg.T").set_value(57).run()
    at.segmented_control(key="cfg.cell").set_value("gru").run()
    for page in PAGES:
        at.switch_page(page).run()
        assert_clean(at)
        assert at.session_state["run_config"].T == 57
        assert at.session_state["run_config"].cell == "gru"
        assert at.slider(key="cfg.T").value == 57
    # and the figures used it: the memory stack's steps go up to T - 1
    at.switch_page("pages/memory.py").run()
    stack = chart_specs(at)[0]
    assert max(array_of(trace["customdata"]).max() for trace in stack["data"]) == 56


def _first_trace_values(at, page, index=0, field="y"):
    at.switch_page(page).run()
    return chart_specs(at)[index]["data"][0][field]


@pytest.mark.parametrize(
    "change",
    [
        ("slider", "cfg.T", 44),
        ("segmented_control", "cfg.cell", "lstm"),
        ("slider", "cfg.scale", 1.5),  # the weights
        ("number_input", "cfg.seed", 3),  # other weights and inputs
    ],
)
def test_figures_change_with_T_cell_and_weights(change):
    kind, key, value = change
    at = open_app("pages/gradient_flow.py")
    before = chart_specs(at)
    getattr(at, kind)(key=key).set_value(value).run()
    assert_clean(at)
    after = chart_specs(at)
    for i in (0, 2, 3):  # gradient norms, flow matrix, eigenvalues... differ
        if kind == "slider" and key == "cfg.T" and i == 3:
            continue  # eigenvalues of W_hh do not depend on T
        assert before[i]["data"] != after[i]["data"], (key, i)


@pytest.mark.parametrize(
    ("sections", "config", "names"),
    [
        (["sources"], RunConfig(), ["step_contributions", "gradient_itemised"]),
        (["sources"], RunConfig(T=compute.ITEMISED_MAX_T + 1), ["step_contributions"]),
        (["cells"], RunConfig(), ["cell_comparison"]),
        (["phase"], RunConfig(), ["phase_diagram"]),
        (["truncation"], RunConfig(), ["truncation_study"]),
        (["truncation"], RunConfig(num_layers=2, bidirectional=True, T=12), []),
        (["cells", "phase", "truncation"], RunConfig(), ["cell_comparison", "phase_diagram", "truncation_study"]),
    ],
)
def test_gradient_flow_sections_draw_their_figures_only_while_open(sections, config, names):
    at = open_app("pages/gradient_flow.py", config.to_query())
    always = 4 + 2 * (config.num_layers > 1)  # the flow's own figures, and the depth figures of a stack
    assert len(at.get("plotly_chart")) == always  # every section starts closed
    for section in sections:
        at.session_state[f"flow-{section}"] = True
    at.run()
    assert_clean(at)
    drawn = [c.proto.id for c in at.get("plotly_chart")]
    assert len(drawn) == always + len(names)
    assert all(any(f"chart-{name}" in d for d in drawn[always:]) for name in names), drawn
    assert len(at.info) == (not names or (sections == ["sources"] and len(names) == 1))  # says what is not drawn
    at.session_state[f"flow-{sections[0]}"] = False  # closed again: its figures go
    at.run()
    assert len(at.get("plotly_chart")) == always + len(names) - len(
        catalog.page_panels("gradient_flow", config, section=sections[0])
    )


def test_memory_sections_draw_their_figure_only_while_open():
    at = open_app("pages/memory.py")
    for section, name in (("length", "memory_vs_length"), ("budget", "memory_budget"), ("pareto", "pareto_front")):
        at.session_state[f"memory-{section}"] = True
        at.run()
        assert_clean(at)
        drawn = [c.proto.id for c in at.get("plotly_chart")]
        assert len(drawn) == 3 and f"chart-{name}" in drawn[-1]
        at.session_state[f"memory-{section}"] = False


def test_url_restores_exact_configuration():
    config = RunConfig(
        cell="lstm",
        T=123,
        hidden_size=8,
        init="orthogonal",
        scale=0.9,
        checkpoint="sqrt",
        truncation=10,
        loss="cross_entropy",
        output_size=3,
        ragged=True,
        dtype="float32",
    )
    at = open_app("pages/memory.py", config.to_query())
    assert_clean(at)
    assert at.session_state["run_config"] == config
    assert dict(at.query_params) == config.to_query()  # and the URL still says so


def test_bad_url_values_warn_and_fall_back():
    at = open_app(None, {"T": "-5", "cell": "transformer", "bogus": "1", "hidden_size": "12"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "T=" in warnings and "cell=" in warnings and "bogus" in warnings
    assert at.session_state["run_config"].hidden_size == 12
    assert at.session_state["run_config"].T == RunConfig().T


def test_cross_entropy_with_one_class_warns():
    at = open_app(None, {"loss": "cross_entropy", "output_size": "1"})
    assert_clean(at)
    assert any("1 class" in w.value for w in at.sidebar.warning)


def test_unroll_page_equations_follow_the_chosen_step():
    at = open_app("pages/unroll.py", {"T": "12", "cell": "gru"})
    at.slider(key="eq_step").set_value(4).run()
    assert_clean(at)
    latex = " ".join(x.value for x in at.latex)
    assert "h_{4,0}" in latex and "(1 - z)" in latex


def test_animation_has_forward_then_backward_frames():
    at = open_app("pages/unroll.py", {"T": "9"})
    spec = chart_specs(at)[0]
    names = [f["name"] for f in spec["frames"]]
    assert names == [f"f{t}" for t in range(9)] + [f"b{t}" for t in reversed(range(9))]


def test_hidden_lstm_widget_survives_switching_cells():
    at = open_app(None, {"cell": "lstm"})
    at.slider(key="cfg.forget_bias").set_value(2.5).run()
    at.segmented_control(key="cfg.cell").set_value("rnn").run()
    at.slider(key="cfg.T").set_value(12).run()
    at.segmented_control(key="cfg.cell").set_value("lstm").run()
    assert_clean(at)
    assert at.session_state["run_config"].cell == "lstm" and at.session_state["run_config"].T == 12


def test_the_glossary_lists_every_quantity_and_finds_one():
    from dashboard.vocabulary.quantities import QUANTITIES

    at = open_app("pages/glossary.py")
    assert_clean(at)
    shown = at.dataframe[0].value
    assert list(shown["quantity"]) == [q.label for q in QUANTITIES.values()]
    at.text_input[0].set_value("horizon").run()
    assert list(at.dataframe[0].value["quantity"]) == [QUANTITIES["memory_horizon"].label] or all(
        "horizon" in " ".join(row).lower() for row in at.dataframe[0].value.astype(str).to_numpy()
    )
    at.text_input[0].set_value("zebra").run()
    assert "No quantity mentions" in at.info[0].value
