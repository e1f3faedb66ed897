"""Weights: download, upload, edit the recurrent weight, pick a preset, and watch the gradient flow respond."""

import pandas as pd
import streamlit as st

import bptt_core as bc
from dashboard.catalog import compute
from dashboard.config.cell_views import VIEWS, cell_name, param_label
from dashboard.io import weights
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, current_params, last_config, use_params, use_preset

config = current_config()
params = current_params(config)
active = params if params is not None else compute.preset_params(config)
st.title("Weights")
source = "your own weights" if params is not None else f"the {config.init} preset"
layers = f"{config.num_layers} layer{'s' if config.num_layers > 1 else ''}" + (
    ", bidirectional" if config.bidirectional else ""
)
cell = bc.CELLS[config.cell]
st.markdown(
    f"Now using **{source}** for a {cell_name(config.cell, config.activation)} with H = {config.hidden_size}, "
    f"I = {config.input_size}, O = {config.output_size}, {layers}. {weights.key_description(config.cell)} "
    "A file for another cell, size or depth sets the sidebar to match."
)

down, down_st, reset = st.columns([2, 2, 1])
down.download_button(
    "Download these weights (.npz)",
    weights.to_npz(active),
    file_name=f"weights-{config.key()}.npz",
    mime="application/octet-stream",
    icon=":material/download:",
    on_click="ignore",
)
safetensors = weights.to_safetensors(active)
if safetensors is not None:
    down_st.download_button(
        "Download (.safetensors)",
        safetensors,
        file_name=f"weights-{config.key()}.safetensors",
        mime="application/octet-stream",
        icon=":material/download:",
        on_click="ignore",
    )
reset.button("Back to the preset", on_click=use_preset, disabled=params is None)


def _on_upload() -> None:
    """Validate the uploaded file and make it the active weights (runs before the page)."""
    upload = st.session_state.get("weights_upload")
    if upload is None:
        return
    try:
        loaded, notes, changes = weights.load_for(upload.getvalue(), last_config(), fallback=active)
    except weights.WeightsError as err:
        st.session_state["weights_message"] = ("error", f"{upload.name} was not loaded: {err}")
        return
    use_params(loaded, **changes)
    st.session_state["weights_message"] = (
        "success",
        f"Loaded {upload.name}." + (" " + "; ".join(notes) + "." if notes else ""),
    )


st.subheader("Upload")
st.file_uploader(
    "An .npz, .safetensors or PyTorch state_dict (.pt, loaded with weights_only=True)",
    type=["npz", "safetensors", "pt", "pth"],
    key="weights_upload",
    on_change=_on_upload,
    max_upload_size=weights.MAX_UPLOAD_BYTES // 2**20,
    help=f"At most {weights.MAX_UPLOAD_BYTES // 2**20} MiB; no pickled objects; every shape checked.",
)
kind, message = st.session_state.get("weights_message", (None, None))
if kind == "error":
    st.error(message)
elif kind == "success":
    st.success(message)

st.subheader("Presets")
if not cell.init_presets:
    own = f"Its own init options are in the sidebar: {', '.join(cell.init_options)}." if cell.init_options else ""
    st.info(
        f"The presets below shape W_hh; the {VIEWS[config.cell].label} has none and draws its weights as its paper "
        f"does. {own}"
    )
preset_cols = st.columns(4)
preset_cols[0].button(
    "Identity (IRNN)",
    on_click=use_preset,
    kwargs={"init": "identity", "scale": 1.0},
    help="W_hh = I, zero biases (Le et al. 2015); pair with relu",
    disabled=not cell.init_presets,
)
preset_cols[1].button(
    "Orthogonal",
    on_click=use_preset,
    kwargs={"init": "orthogonal", "scale": 1.0},
    help="all singular values 1 (Saxe et al. 2013)",
    disabled=not cell.init_presets,
)
preset_cols[2].button(
    "Scaled random",
    on_click=use_preset,
    kwargs={"init": "normal", "scale": 1.0},
    help="N(0, 1/H)",
    disabled=not cell.init_presets,
)
rho = preset_cols[3].number_input("Target spectral radius ρ", 0.0, 10.0, 1.0, 0.1, key="weights_rho")
preset_cols[3].button(
    "Apply ρ", on_click=use_preset, kwargs={"init": "spectral", "scale": rho}, disabled=not cell.init_presets
)

shared = cell.term_params[0]  # the recurrent weight where there is one (W_hh; the LRU's ν; minGRU's W_ih)
st.subheader(f"Edit {param_label(shared)}")
H = config.hidden_size
editable = [k for k in active if k.rsplit("_l", 1)[0] == shared]
if H > ui.EDITABLE_HIDDEN:
    st.info(
        f"Direct editing is offered up to H = {ui.EDITABLE_HIDDEN} (now H = {H}); download, edit and upload "
        "larger matrices instead."
    )
else:
    pick_matrix, pick_block = st.columns(2)
    matrix = pick_matrix.selectbox("Matrix", editable, key="weights_matrix", disabled=len(editable) == 1)
    blocks = active[matrix].shape[0] // H
    names = [VIEWS[config.cell].gate_labels[g] for g in cell.gate_names] if blocks == cell.gates else []
    block = (
        pick_block.selectbox("Gate block", range(blocks), format_func=lambda g: names[g], key="weights_block")
        if blocks > 1
        else 0
    )
    current = active[matrix][block * H : (block + 1) * H]

    def _on_edit() -> None:
        edits = st.session_state["weights_editor"]["edited_rows"]
        use_params(weights.apply_edits(active, block, edits, key=matrix, height=H))

    columns = [str(c) for c in range(current.shape[1])] if current.ndim == 2 else [param_label(shared)]
    st.data_editor(
        pd.DataFrame(current.reshape(H, -1), columns=columns),
        key="weights_editor",
        on_change=_on_edit,
        width="stretch",
    )
    st.caption(f"Edit any entry: the eigenvalues and the gradient-flow curve below follow. {VIEWS[config.cell].edit}")

panels = ui.compute_or_stop(cache.page_panels, "weights", config, params, what="the BPTT run")
left, right = ui.figure_columns(2, key="weights")
with left:
    ui.show(panels["eigenvalues"], config, key="w")
with right:
    ui.show(panels["gradient_norms"], config, key="w")
