"""Papers, reproduced: six published results about gradients through time, each beside the engine's own numbers."""

import streamlit as st

from dashboard.learning import paper_panels, paper_rows, papers
from dashboard.shell import cache, gate, ui
from dashboard.shell.sidebar import through_entrypoint

through_entrypoint()  # the papers' own settings: the sidebar's network does not apply here
st.title("Papers, reproduced")
st.markdown(
    "The results this dashboard teaches come from papers. Each row below states a published result as its paper "
    "states it, with where it stands, then the engine's own number: computed here, with its spread over seeds, a "
    "tolerance, and a verdict computed from the two, never written in advance. This page runs small versions in "
    f"seconds; `{papers.BENCH_COMMAND}` runs all six at full scale (the table in the README)."
)
with gate.aside():  # seconds of work the first time: other sessions run meanwhile
    studies = {key: cache.paper_study(key, "page") for key in papers.STUDIES}
rows = [paper_rows.reproduction(key, studies[key], "page") for key in papers.STUDIES]
agreed = sum(r.verdict == "agree" for r in rows)
st.metric("Reproduced within tolerance", f"{agreed} of {len(rows)}")
table = paper_rows.table(rows)
st.dataframe(
    table[["result", "verdict", "source", "paper"]],
    hide_index=True,
    width="stretch",
    column_config={"verdict": st.column_config.TextColumn(help="agree: every check of the row within its tolerance")},
)
st.download_button(
    "The table (CSV)",
    table.to_csv(index=False),
    file_name="papers-reproduced.csv",
    mime="text/csv",
    icon=":material/table:",
    on_click="ignore",
)

for row in rows:
    st.subheader(row.title)
    st.markdown(f"**{row.paper}**, {row.source}: {row.published}" + ("" if row.published.endswith("”") else "."))
    st.markdown(
        "\n".join(
            f"- {':green[agree]' if c.agrees else ':red[disagree]'} · {c.what}: {c.ours} (tolerance: {c.tolerance})"
            for c in row.checks
        )
    )
    st.caption(f"Scale here: {row.scale}. Full scale: `{papers.BENCH_COMMAND}`; this row as run here: `{row.command}`")
    ui.show(paper_panels.panel(row.key, studies[row.key]), "papers")
