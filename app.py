"""Router: page config, the one shared sidebar (a frozen RunConfig), and the pages."""

import streamlit as st

from dashboard.sidebar import render_sidebar

st.set_page_config(page_title="BPTT dashboard", page_icon="⏪", layout="wide")
render_sidebar()
st.navigation([
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/unroll.py", title="Unroll & animate", icon=":material/animation:"),
    st.Page("pages/gradient_flow.py", title="Gradient flow", icon=":material/trending_down:"),
    st.Page("pages/memory.py", title="Memory", icon=":material/memory:"),
    st.Page("pages/weights.py", title="Weights", icon=":material/tune:"),
]).run()
