"""Diagnose: bring a trained RNN and its sequences; get the measurements, advice that cites them, and the fix
tried on your own model."""

import hashlib
import html
import io
import json
import zipfile

import numpy as np
import streamlit as st

from dashboard.diagnose import fixes, reproduce
from dashboard.diagnose.demos import builtin_sequences, builtin_tasks, demo_model
from dashboard.diagnose.measurements import Report
from dashboard.diagnose.model_files import (
    UPLOAD_LIMITS,
    Model,
    UploadError,
    describe,
    read_model,
    state_dict_bytes,
)
from dashboard.diagnose.panels import panels, report_html, rules_table, shown_value, to_json
from dashboard.diagnose.sequence_files import (
    LAYOUTS,
    LayoutError,
    read_sequences,
)
from dashboard.io.weights import MAX_UPLOAD_BYTES
from dashboard.shell import cache, gate, ui
from dashboard.shell.sidebar import through_entrypoint

DEMOS = {"vanishing": "a vanishing RNN", "exploding": "an exploding RNN", "healthy": "a healthy LSTM"}
LAYOUT_CHOICES = {f"time first {LAYOUTS[False][1]}": False, f"batch first {LAYOUTS[True][1]}": True}


@st.cache_data(max_entries=8, show_spinner=False)
def _model(data: bytes, readout: str | None, embedding: str | None, nonlinearity: str, name: str) -> Model:
    return read_model(data, readout=readout, embedding=embedding, nonlinearity=nonlinearity, name=name)


def _key(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode())
    return h.hexdigest()[:16]


def _pick_demo(kind: str) -> None:
    st.session_state["diagnose_demo"] = kind
    st.session_state["diagnose_nonce"] = st.session_state.get("diagnose_nonce", 0) + 1  # empties the uploaders


def _uploaded() -> None:
    st.session_state.pop("diagnose_demo", None)


def _uploader_key(name: str) -> str:
    nonce = st.session_state.get("diagnose_nonce", 0)
    return name if not nonce else f"{name}_{nonce}"


def _evidence(report: Report, rule: str) -> str:
    """The numbers the rule read, each with its threshold (met ones ticked)."""
    check = next(c for c in report.checks if c.rule == rule)
    return "; ".join(
        f"{row['label']}: {shown_value(row['value'])} ({row['op']} {shown_value(row['threshold'])}"
        + (" ✓)" if row["met"] else ")")
        for row in check.rows
    )


through_entrypoint()  # the user's own model: the sidebar's network does not apply here
st.title("Diagnose your model")
st.markdown(
    "Bring a trained `torch.nn.RNN`, `LSTM` or `GRU` (any depth and direction, with its read-out `nn.Linear` and an "
    "`nn.Embedding` under any prefix) and the sequences it sees, with their targets. The page measures how its "
    "gradients travel back in time, layer by layer and sequence by sequence, says what to change with the numbers "
    "behind each piece of advice, and tries the change for you by fine-tuning your model. "
    "The sidebar's settings do not apply here: everything below is your model's."
)

left, right = st.columns(2)
weights_file = left.file_uploader(
    "Weights: a state dict (.pt with weights_only=True, .safetensors or .npz)",
    type=["pt", "pth", "safetensors", "npz"],
    key=_uploader_key("diagnose_weights"),
    max_upload_size=MAX_UPLOAD_BYTES // 2**20,
    on_change=_uploaded,
)
seq_file = right.file_uploader(
    "Sequences: .npy/.npz (T, B, I) or token ids, .csv (one column per feature), or text",
    type=["npy", "npz", "csv", "txt"],
    key=_uploader_key("diagnose_inputs"),
    max_upload_size=UPLOAD_LIMITS["sequence MiB"],
)
target_file = right.file_uploader(
    "Targets (optional): .npy or .csv, per step or one per sequence, in the inputs' layout",
    type=["npy", "csv"],
    key=_uploader_key("diagnose_targets"),
    max_upload_size=UPLOAD_LIMITS["sequence MiB"],
)
layout = right.radio(
    "Layout of the arrays",
    list(LAYOUT_CHOICES),
    index=None,
    horizontal=True,
    key="diagnose_layout",
    help="Asked because a (16, 50, 3) array reads as 50 sequences of 16 steps or as 16 of 50: the page never "
    "guesses. Targets, lengths and the mask are read in the same layout.",
)
st.caption("No model at hand? Try one (it replaces an uploaded model):")
demo_row = st.container(horizontal=True, wrap=True, gap="small")
for kind, label in DEMOS.items():
    demo_row.button(label, key=f"demo-{kind}", width="content", on_click=_pick_demo, args=(kind,))

with st.expander("Reading options", expanded=False):
    alphabet = st.text_input("Alphabet for text (the characters in token-id order)", key="diagnose_alphabet")
    next_token = st.checkbox("Targets: the next token (a character model)", key="diagnose_next_token")
    nonlinearity = st.selectbox("nn.RNN's non-linearity (not stored in a state dict)", ["tanh", "relu"])

if "diagnose_demo" in st.session_state:
    kind = st.session_state["diagnose_demo"]
    model_bytes, source = demo_model(kind), f"the demo ({DEMOS[kind]})"
elif weights_file is not None:
    model_bytes, source = weights_file.getvalue(), weights_file.name
else:
    st.info("Upload a model's weights, or pick a demo above, to start.")
    st.stop()

roles = {name: st.session_state.get(f"diagnose_role_{name}") for name in ("readout", "embedding")}
try:
    model = _model(model_bytes, roles["readout"], roles["embedding"], nonlinearity, source)
except UploadError as err:
    st.error(f"This model cannot be diagnosed. {err}")
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

batch_first = None if layout is None else LAYOUT_CHOICES[layout]
try:
    if seq_file is not None:
        targets = None if target_file is None else target_file.getvalue()
        seqs = read_sequences(
            seq_file.getvalue(), seq_file.name, model, batch_first=batch_first, alphabet=alphabet or None,
            targets=targets, targets_name="" if target_file is None else target_file.name, next_token=next_token,
        )  # fmt: skip
        seq_key = _key(seq_file.getvalue(), targets, batch_first, alphabet, next_token)
    else:
        tasks = [*builtin_tasks(model), "random"]
        cols = st.columns(3)
        task = cols[0].selectbox("No sequences uploaded: use", tasks, key="diagnose_task")
        T = cols[1].number_input("Steps T", 2, UPLOAD_LIMITS["T"], 60, key="diagnose_T")
        B = cols[2].number_input("Sequences B", 1, UPLOAD_LIMITS["B"], 64, key="diagnose_B")
        seqs = builtin_sequences(model, task, int(T), int(B))
        seq_key = _key(task, T, B)
    report = cache.diagnosis(model, _key(model_bytes, roles, nonlinearity), seqs, seq_key)
except LayoutError as err:
    st.warning(f"{err}: choose the layout of the arrays above (next to the uploads). The page never guesses.")
    st.stop()
except (UploadError, ValueError) as err:
    st.error(f"The sequences cannot be diagnosed. {err}")
    st.stop()

st.caption(" · ".join([*seqs.notes, f"loss: {seqs.loss or 'none (no targets: the read-out sensitivity is shown)'}"]))
report_key = _key(model_bytes, roles, nonlinearity, seq_key)
tried = st.session_state.setdefault("diagnose_fixes", {}).setdefault(report_key, {})
st.subheader("What to change")
if not report.recommendations:
    st.success(
        "Nothing to change: no rule of kind fix fired (gradients do not explode, the memory the task needs is "
        "within the model's reach or not measurable, no gate is saturated, no layer is starved). Every rule's "
        "numbers are below."
    )
for rec in [*report.recommendations, *report.options]:
    with st.container(border=True, key=f"advice-{rec.rule}"):
        st.markdown(("**Option:** " if rec in report.options else "") + f"**{rec.what}**")
        st.markdown(rec.why)
        st.caption("Evidence: " + _evidence(report, rec.rule))
        if rec.rule in tried:
            result = tried[rec.rule]
            ui.show(fixes.fix_panel(result), f"diagnose-{report_key[:8]}", key=f"fix-{rec.rule}")
            for run in ("with the change", "as is"):
                data, suffix, notes = state_dict_bytes(model, model_bytes, result.runs[run].spec,
                                                       result.runs[run].history.params)  # fmt: skip
                st.download_button(
                    f"Fine-tuned weights, {run} ({suffix})", data, f"fine_tuned_{rec.rule}_{run.replace(' ', '_')}"
                    f"{suffix}", key=f"weights-{rec.rule}-{run}", on_click="ignore", help="; ".join(notes) or None,
                )  # fmt: skip

with st.expander("Every rule and the numbers it read", expanded=False):
    st.dataframe(rules_table(report), hide_index=True)
    st.caption("A rule that combines with 'all' fires when every condition is met, with 'any' when one is. "
               "docs/diagnosis.md writes each rule down with its evidence.")  # fmt: skip

st.subheader("Try the fix")
if seqs.y is None:
    st.info("Trying a fix fine-tunes your model on your sequences' loss: give targets (or pick a built-in task).")
elif not [*report.recommendations, *report.options]:
    st.caption("Nothing to try: no rule fired.")
else:
    with st.form("diagnose_fix_form"):
        c = st.columns(2)
        steps = c[0].slider("Fine-tuning steps (each run)", 20, 1000, fixes.STEPS, step=20)
        lr = c[1].select_slider("Adam's learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], value=fixes.LR)
        go = st.form_submit_button("Try the fixes", type="primary")
    st.caption(
        "Two copies of your model are fine-tuned from its own weights on your sequences for the same steps, with "
        "the same batches (one seed) and the same optimiser: as is, and with the change. Both are scored on held-out "
        "sequences; the verdict needs a difference larger than 5 % and than twice its standard error."
    )
    if go:
        stop = st.empty()
        stop.button("Stop", icon=":material/stop:", help="Stops fine-tuning; the fixes tried so far are kept.")
        progress = st.progress(0.0, text="Fine-tuning …")
        todo = [*report.recommendations, *report.options]
        with gate.aside():  # a long job the user asked for: other sessions run meanwhile
            for i, rec in enumerate(todo):
                label = f"{rec.rule} ({i + 1} of {len(todo)})"
                tried[rec.rule] = fixes.try_fix(
                    model, seqs, rec, steps=steps, lr=lr, kind="saving" if rec in report.options else "fix",
                    progress=lambda f, text, i=i, label=label: progress.progress(
                        (i + f) / len(todo), text=f"{label}: {text}"),
                )  # fmt: skip
        stop.empty()
        progress.empty()
        st.rerun()

st.subheader("Measurements")
shown = panels(report, seqs)
stem = report_key[:8]
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
fix_html = "".join(f"<h2>Try it: {r.rule}</h2><p>{html.escape(r.sentence)}</p>" for r in tried.values())
row.download_button(
    "report.html", lambda: report_html(report, seqs, fix_html), "report.html", "text/html", on_click="ignore"
)
if seqs.y is not None:
    weights_name = (
        weights_file.name if weights_file is not None and "diagnose_demo" not in st.session_state else "demo.npz"
    )

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
        "gradient norms and dh_norms (python reproduce.py without arguments prints its usage)",
    )
