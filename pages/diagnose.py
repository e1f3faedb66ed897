"""Diagnose: bring a trained RNN and its sequences; get the measurements and advice that cites them."""

import hashlib
import html
import io
import json
import zipfile

import numpy as np
import streamlit as st

from dashboard.diagnose import command as diagnose
from dashboard.diagnose import reproduce
from dashboard.diagnose.measurements import to_json
from dashboard.diagnose.model_files import UPLOAD_LIMITS, Model, UploadError, demo_model, describe, read_model
from dashboard.diagnose.sequence_files import builtin_sequences, builtin_tasks, read_sequences
from dashboard.io.weights import MAX_UPLOAD_BYTES
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import through_entrypoint

DEMOS = {"vanishing": "a vanishing RNN", "exploding": "an exploding RNN", "healthy": "a healthy LSTM"}


@st.cache_data(max_entries=8, show_spinner=False)
def _model(data: bytes, readout: str | None, embedding: str | None, nonlinearity: str) -> Model:
    return read_model(data, readout=readout, embedding=embedding, nonlinearity=nonlinearity)


def _key(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode())
    return h.hexdigest()[:16]


through_entrypoint()  # the user's own model: the sidebar's network does not apply here
st.title("Diagnose your model")
st.markdown(
    "Bring a trained `torch.nn.RNN`, `LSTM` or `GRU` (any depth and direction, with its read-out `nn.Linear` and an "
    "`nn.Embedding` under any prefix) and the sequences it sees. The page measures how its gradients travel back "
    "in time, layer by layer, and says what to change, with the number behind each piece of advice. "
    "The sidebar's settings do not apply here: everything below is your model's."
)

left, right = st.columns(2)
weights_file = left.file_uploader(
    "Weights: a state dict (.pt with weights_only=True, .safetensors or .npz)",
    type=["pt", "pth", "safetensors", "npz"],
    key="diagnose_weights",
    max_upload_size=MAX_UPLOAD_BYTES // 2**20,
)
seq_file = right.file_uploader(
    "Sequences: .npy/.npz (T, B, I) or token ids, .csv (one column per feature), or text",
    type=["npy", "npz", "csv", "txt"],
    key="diagnose_inputs",
    max_upload_size=UPLOAD_LIMITS["sequence MiB"],
)
target_file = right.file_uploader(
    "Targets (optional): .npy or .csv, per step or one per sequence",
    type=["npy", "csv"],
    key="diagnose_targets",
    max_upload_size=UPLOAD_LIMITS["sequence MiB"],
)
st.caption("No model at hand? Try one:")
demo_row = st.container(horizontal=True, wrap=True, gap="small")
for kind, label in DEMOS.items():
    if demo_row.button(label, key=f"demo-{kind}", width="content"):
        st.session_state["diagnose_demo"] = kind

with st.expander("Reading options", expanded=False):
    batch_first = st.checkbox("Arrays are batch-first (B, T, ...)", key="diagnose_batch_first")
    alphabet = st.text_input("Alphabet for text (the characters in token-id order)", key="diagnose_alphabet")
    next_token = st.checkbox("Targets: the next token (a character model)", key="diagnose_next_token")
    nonlinearity = st.selectbox("nn.RNN's non-linearity (not stored in a state dict)", ["tanh", "relu"])

if weights_file is not None:
    model_bytes, source = weights_file.getvalue(), weights_file.name
elif "diagnose_demo" in st.session_state:
    kind = st.session_state["diagnose_demo"]
    model_bytes, source = demo_model(kind), f"the demo ({DEMOS[kind]})"
else:
    st.info("Upload a model's weights, or pick a demo above, to start.")
    st.stop()

roles = {name: st.session_state.get(f"diagnose_role_{name}") for name in ("readout", "embedding")}
try:
    model = _model(model_bytes, roles["readout"], roles["embedding"], nonlinearity)
except UploadError as err:
    st.error(f"{source} cannot be diagnosed: {err}")
    st.stop()
st.success(f"{source}: {describe(model.spec)}, {model.spec.output_size} outputs. " + "; ".join(model.notes[1:]))
with st.expander("Correct the mapping", expanded=False):
    cols = st.columns(2)
    for col, name in zip(cols, ("readout", "embedding")):
        options = ["none", *model.candidates[name]]
        col.selectbox(
            f"The {'read-out' if name == 'readout' else 'embedding'}'s weight",
            options,
            index=options.index(model.roles[name]),
            key=f"diagnose_role_{name}",
        )

try:
    if seq_file is not None:
        seqs = read_sequences(
            seq_file.getvalue(),
            seq_file.name,
            model,
            batch_first=batch_first,
            alphabet=alphabet or None,
            targets=None if target_file is None else target_file.getvalue(),
            targets_name="" if target_file is None else target_file.name,
            next_token=next_token,
        )
        seq_key = _key(
            seq_file.getvalue(),
            None if target_file is None else target_file.getvalue(),
            batch_first,
            alphabet,
            next_token,
        )
    else:
        tasks = ["random", *builtin_tasks(model)]
        cols = st.columns(3)
        task = cols[0].selectbox("No sequences uploaded: use", tasks, key="diagnose_task")
        T = cols[1].number_input("Steps T", 2, UPLOAD_LIMITS["T"], 60, key="diagnose_T")
        B = cols[2].number_input("Sequences B", 1, UPLOAD_LIMITS["B"], 8, key="diagnose_B")
        seqs = builtin_sequences(model, task, int(T), int(B))
        seq_key = _key(task, T, B)
    report = cache.diagnosis(model, _key(model_bytes, roles, nonlinearity), seqs, seq_key)
except (UploadError, ValueError) as err:
    st.error(f"The sequences cannot be diagnosed: {err}")
    st.stop()

st.caption(" · ".join([*seqs.notes, f"loss: {seqs.loss or 'none (no targets: the read-out sensitivity is shown)'}"]))
st.subheader("What to change")
if not report.recommendations:
    st.success(
        "Nothing to change: no measurement crossed a threshold (gradients neither explode nor vanish within "
        "the sequence, no gate is saturated, no layer is a bottleneck)."
    )
for rec in report.recommendations:
    with st.container(border=True):
        st.markdown(f"**{rec.what}**")
        st.markdown(rec.why)
        st.caption(
            "Evidence: "
            + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in rec.evidence.items())
        )

st.subheader("Measurements")
shown = diagnose.panels(report, seqs)
stem = _key(model_bytes, seq_key)[:8]
for i in range(0, len(shown), 2):
    for col, panel in zip(ui.figure_columns(2, f"diagnose-{i}"), shown[i : i + 2]):
        with col:
            ui.show(panel, f"diagnose-{stem}")

if seqs.text:
    norms = report.connectivity
    peak = np.nanmax(np.where(np.isfinite(norms), norms, np.nan)) or 1.0
    spans = "".join(
        f"<span title='{v:.3g}' style='background:rgba(214,39,40,{min(1.0, v / peak):.2f})'>{html.escape(c)}</span>"
        for c, v in zip(seqs.text[0], norms)
    )
    st.markdown("**Your text, shaded by its influence on the last read-out**")
    st.html(f"<div style='font-family:monospace;font-size:18px;line-height:1.8'>{spans}</div>")

st.subheader("Take it with you")
row = st.container(horizontal=True, wrap=True, gap="small")
row.download_button(
    "report.json", json.dumps(to_json(report), indent=1), "report.json", "application/json", on_click="ignore"
)
row.download_button(
    "report.html", lambda: diagnose.report_html(report, seqs), "report.html", "text/html", on_click="ignore"
)
if seqs.y is not None:
    weights_name = weights_file.name if weights_file is not None else "demo.npz"

    def _reproduction() -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("reproduce.py", reproduce.script(model, weights_name, seqs.loss))
            zf.writestr("diagnose_data.npz", reproduce.data_npz(seqs))
            zf.writestr(weights_name, model_bytes)
        return buf.getvalue()

    row.download_button(
        "Reproduce in PyTorch (.zip)",
        _reproduction,
        "reproduce.zip",
        "application/zip",
        on_click="ignore",
        help="reproduce.py rebuilds the model with torch.nn from your weights and prints the same loss, "
        "gradient norms and dh_norms",
    )
