"""Chain rule: every factor of a tiny network's gradient, then the same rule for tensors."""

import pandas as pd
import streamlit as st

import bptt_core as bc
from bptt_core.lab.chain_rule import scalar_chain
from dashboard.config.cell_views import cell_name, jacobian_shapes
from dashboard.shell.sidebar import current_config

config = current_config()
st.title("The chain rule")
st.markdown(
    "Backpropagation is the chain rule applied backwards. Take the smallest network: "
    r"one input $x$, one hidden unit $h = \phi(w_1 x)$, one output $\hat y = \psi(w_2 h)$, "
    r"and the error $E = \tfrac12(\hat y - y)^2$."
)

c = st.columns(4)
x = c[0].number_input("input x", -5.0, 5.0, 0.7, 0.1, key="cr_x")
y = c[1].number_input("target y", -5.0, 5.0, 0.2, 0.1, key="cr_y")
w1 = c[2].number_input("w1", -5.0, 5.0, 1.3, 0.1, key="cr_w1")
w2 = c[3].number_input("w2", -5.0, 5.0, -0.8, 0.1, key="cr_w2")
c = st.columns(3)
hidden = c[0].selectbox("hidden activation φ", bc.ACTIVATIONS, key="cr_hidden")
output = c[1].selectbox("output activation ψ", ("sigmoid", "linear", "tanh"), key="cr_output")
backward = c[2].selectbox(
    "activation used in the backward pass",
    bc.ACTIVATIONS,
    key="cr_backward",
    help="Pick a different one from φ to see the gradient go wrong.",
)
v = scalar_chain(x, y, w1, w2, hidden=hidden, output=output, backward_hidden=backward)

st.latex(rf"h = \phi(w_1 x) = {v['h']:.5g},\quad \hat y = \psi(w_2 h) = {v['yhat']:.5g},\quad E = {v['E']:.5g}")
st.latex(
    r"\frac{\partial E}{\partial w_2} = \underbrace{(\hat y - y)}_{\text{error } "
    + f"{v['error']:.4g}"
    + r"}\cdot\underbrace{\psi'(w_2 h)}_{"
    + f"{v['dpsi']:.4g}"
    + r"}\cdot\underbrace{h}_{"
    + f"{v['h']:.4g}"
    + rf"}} = {v['dE_dw2']:.6g}"
)
st.latex(
    r"\frac{\partial E}{\partial w_1} = \underbrace{(\hat y - y)}_{"
    + f"{v['error']:.4g}"
    + r"}\cdot\underbrace{\psi'(w_2 h)}_{"
    + f"{v['dpsi']:.4g}"
    + r"}\cdot\underbrace{w_2}_{"
    + f"{v['w2']:.4g}"
    + r"}\cdot\underbrace{\phi'(w_1 x)}_{"
    + f"{v['dphi']:.4g}"
    + r"}\cdot\underbrace{x}_{"
    + f"{v['x']:.4g}"
    + rf"}} = {v['dE_dw1']:.6g}"
)
check = pd.DataFrame(
    {"chain rule": [v["dE_dw1"], v["dE_dw2"]], "finite differences": [v["fd_dw1"], v["fd_dw2"]]},
    index=["∂E/∂w1", "∂E/∂w2"],
)
check["difference"] = check["chain rule"] - check["finite differences"]
check["agree"] = check["difference"].abs() <= 1e-6 * (1 + check["finite differences"].abs())
st.dataframe(check, width="stretch", column_config={"difference": st.column_config.NumberColumn(format="%.2e")})
if check["agree"].all():
    if backward != hidden:
        st.info(f"{backward}′ happens to give the same numbers here; try other weights.")
    else:
        st.success("Chain rule and finite differences agree (within 1e-6, relative).")
elif backward != hidden:
    st.error(
        f"The backward pass used {backward}′ while the forward pass used {hidden}: the gradient no longer matches "
        "the finite differences. Backward must differentiate exactly the function forward computed."
    )
else:
    st.warning(
        f"Chain rule and finite differences differ by {check['difference'].abs().max():.2g}: φ = {hidden} has no "
        f"derivative at w1·x = {w1 * x:.3g} (a kink), where finite differences average its two sides."
    )

st.subheader(f"The same rule for tensors: one step of the current {cell_name(config.cell, config.activation)}")
st.markdown(
    f"With batch B = {config.batch_size}, hidden H = {config.hidden_size}, inputs I = {config.input_size}, "
    f"outputs O = {config.output_size} and T = {config.T} steps (from the sidebar), every factor becomes a "
    "Jacobian. BPTT multiplies them right to left, one time step at a time:"
)
st.dataframe(
    pd.DataFrame(
        jacobian_shapes(config.spec, config.T, config.batch_size), columns=["quantity", "what it is", "shape"]
    ),
    hide_index=True,
    width="stretch",
)
