"""Router: page config, the one shared sidebar (a frozen RunConfig), and the pages."""

import streamlit as st

from dashboard.shell.gate import turn
from dashboard.shell.pool import WorkerLost
from dashboard.shell.sidebar import render_sidebar
from dashboard.shell.timing import timed_run
from dashboard.shell.ui import responsive_layout

PAGES = {
    "Start here": [
        st.Page("pages/tour.py", title="Guided tour", icon=":material/school:"),
        st.Page("pages/quiz.py", title="Check yourself", icon=":material/quiz:"),
        st.Page("pages/glossary.py", title="Glossary", icon=":material/menu_book:"),
    ],
    "See BPTT": [
        st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("pages/unroll.py", title="Unroll & animate", icon=":material/animation:"),
        st.Page("pages/gradient_flow.py", title="Gradient flow", icon=":material/trending_down:"),
        st.Page("pages/memory.py", title="Memory", icon=":material/memory:"),
        st.Page("pages/beyond_bptt.py", title="Beyond BPTT", icon=":material/fast_forward:"),
        st.Page("pages/weights.py", title="Weights", icon=":material/tune:"),
    ],
    "Learn by trying": [
        st.Page("pages/training.py", title="Training lab", icon=":material/model_training:"),
        st.Page("pages/losses.py", title="Loss over time", icon=":material/functions:"),
        st.Page("pages/chain_rule.py", title="Chain rule", icon=":material/link:"),
        st.Page("pages/stochastic.py", title="Stochastic nodes", icon=":material/casino:"),
        st.Page("pages/papers.py", title="Papers", icon=":material/library_books:"),
    ],
    "Your model": [
        st.Page("pages/diagnose.py", title="Diagnose", icon=":material/stethoscope:"),
    ],
}

st.set_page_config(page_title="BPTT dashboard", page_icon="⏪", layout="wide")
# the load benchmark's server-side time per run (BPTT_TIMING=path), waiting for a turn included
with timed_run(), turn():
    responsive_layout()
    try:
        render_sidebar()
        st.navigation(PAGES).run()
    except WorkerLost as err:  # a worker process died mid-computation: say so, never hang (a new one starts)
        st.error(f"The computation stopped: {err}.")
