"""The Papers page through Streamlit's AppTest: the table, every row's checks and verdict, and one figure per row,
all read from the same studies the tests compute."""

from __future__ import annotations

from dashboard.learning import paper_panels, paper_rows, papers
from tests.apptest import assert_clean, chart_specs, open_app

PAGE = "pages/papers.py"


def _rows():
    studies = {key: papers.study(key, "page") for key in papers.STUDIES}
    return studies, [paper_rows.reproduction(key, studies[key], "page") for key in papers.STUDIES]


def test_the_page_shows_every_row_its_verdict_and_its_figure():
    at = open_app(PAGE)
    assert_clean(at)
    studies, rows = _rows()
    agreed = sum(r.verdict == "agree" for r in rows)
    assert at.metric[0].value == f"{agreed} of 6"
    table = at.dataframe[0].value
    assert list(table["result"]) == [r.title for r in rows]
    assert list(table["verdict"]) == [r.verdict for r in rows]  # computed, the same on the page as here
    assert [h.value for h in at.subheader] == [r.title for r in rows]
    shown = "\n".join(m.value for m in at.markdown)
    for row in rows:
        assert row.published in shown
        for check in row.checks:
            assert f"{check.what}: {check.ours} (tolerance: {check.tolerance})" in shown
    captions = [c.value for c in at.caption]
    for key in papers.STUDIES:
        assert paper_panels.panel(key, studies[key]).caption in captions
    assert sum(f"`{papers.BENCH_COMMAND}`" in c for c in captions) == 6
    titles = [spec["layout"]["title"]["text"] for spec in chart_specs(at)]
    assert len(titles) == 6 and titles[0] == "Measured growth never exceeds the bound"


def test_the_page_ignores_the_sidebar_and_keeps_its_numbers():
    """The papers' settings are their own: a sidebar change reruns the page with the same (cached) rows."""
    at = open_app(PAGE, {"cell": "gru", "T": "7"})
    assert_clean(at)
    _, rows = _rows()
    assert list(at.dataframe[0].value["verdict"]) == [r.verdict for r in rows]
    at.slider(key="cfg.T").set_value(57).run()
    assert_clean(at)
    assert len(chart_specs(at)) == 6
