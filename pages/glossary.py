"""Glossary: every quantity the pages name, from the one vocabulary (the same words as every tooltip)."""

import pandas as pd
import streamlit as st

from dashboard.vocabulary.quantities import GLOSSARY_COLUMNS, glossary_rows

st.title("Glossary")
st.markdown(
    "Every number the dashboard shows is one of these quantities, under this name on every page, in every "
    "caption, tooltip and export. Hover a metric anywhere for the same definition."
)
table = pd.DataFrame(glossary_rows(), columns=GLOSSARY_COLUMNS)
search = st.text_input("Find a quantity", placeholder="e.g. horizon, peak, ∂l_T")
if search:
    table = table[table.apply(lambda row: search.lower() in " ".join(row).lower(), axis=1)]
    if table.empty:
        st.info(f"No quantity mentions “{search}”: try a shorter word.")
st.dataframe(table, hide_index=True, width="stretch", row_height=80)
