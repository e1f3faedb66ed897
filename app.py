"""Placeholder-free first page: one BPTT run and its numbers (the full dashboard replaces this)."""

import numpy as np
import streamlit as st

import bptt_core as bc

st.set_page_config(page_title="BPTT", layout="wide")
st.title("Backpropagation through time")
cell = st.sidebar.selectbox("cell", bc.CELLS)
T = st.sidebar.slider("sequence length T", 1, 200, 20)
spec = bc.RNNSpec(cell, 3, 16, 2)
x = np.random.default_rng(0).standard_normal((T, 4, 3))
res = bc.bptt(spec, bc.init_params(spec, seed=0), x, np.zeros((T, 4, 2)))
st.metric("loss", f"{res.loss:.4g}")
st.metric("gradient norm", f"{res.grad_norm:.4g}")
st.line_chart(np.linalg.norm(res.dh.reshape(T, -1), axis=1))
