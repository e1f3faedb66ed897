"""Training lab: watch gradients while a network learns a task that needs memory."""

import numpy as np
import streamlit as st

from bptt_core.lab.optim import OPTIMIZERS
from bptt_core.lab.tasks import TASKS
from bptt_core.lab.train import TrainConfig, train
from dashboard import cache, compute, lessons, ui
from dashboard.config import RunConfig
from dashboard.sidebar import current_config

current_config()  # keeps the shared sidebar (and its URL) in place
st.title("Training lab")
st.markdown(
    "Train a small network on a task that needs memory and watch what BPTT does at every iteration. "
    "The **adding problem** (Hochreiter & Schmidhuber 1997) must carry two numbers across the whole "
    "sequence: a vanilla RNN's gradient vanishes before it can learn that, an LSTM's does not. Raise the "
    "learning rate without clipping to see exploding spikes, then clip them."
)

LEARNING_RATES = [float(f"{v:.0e}") for v in np.geomspace(1e-4, 1.0, 13)]
with st.form("train_form"):
    c = st.columns(4)
    task = c[0].selectbox(
        "Task",
        TASKS,
        help="adding: sum two marked numbers; recall: repeat a symbol d steps "
        "later; sine: predict the next value; chars: next character of Alice in Wonderland",
    )
    cell = c[1].segmented_control("Cell", ("rnn", "lstm", "gru"), default="lstm", format_func=str.upper, required=True)
    T = c[2].number_input("Sequence length T", 2, 300, 20)
    iterations = c[3].slider("Iterations", 20, 3000, 500, step=20)
    c = st.columns(4)
    lr = c[0].select_slider("Learning rate (log scale)", LEARNING_RATES, value=1e-2)
    optimizer = c[1].selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index("adam"))
    clip = c[2].number_input("Clip norm (0 = off)", 0.0, 1000.0, 0.0, 0.5)
    truncation = c[3].number_input("Truncation k (0 = full BPTT)", 0, 300, 0)
    c = st.columns(4)
    hidden = c[0].number_input("Hidden H", 1, 128, 16)
    batch = c[1].number_input("Batch B", 1, 128, 32)
    seed = c[2].number_input("Seed", 0, 10_000, 0)
    submitted = c[3].form_submit_button("Train", type="primary", width="stretch")

config = TrainConfig(
    task=task,
    cell=cell,
    T=int(T),
    hidden_size=int(hidden),
    batch_size=int(batch),
    iterations=int(iterations),
    lr=lr,
    optimizer=optimizer,
    clip=clip or None,
    truncation=int(truncation) or None,
    seed=int(seed),
)
if submitted:
    st.button("Stop", icon=":material/stop:", help="Stops training; what ran so far is kept.")
    progress = st.progress(0.0, text="Training…")
    live = st.empty()

    def show_progress(done: int, history) -> bool:
        st.session_state["train_last"] = (config, history)
        progress.progress(
            done / config.iterations, text=f"iteration {done} of {config.iterations} · loss {history.loss[-1]:.4g}"
        )
        live.plotly_chart(
            lessons.training_panels({"this run": history}, "this run")["training_curves"].figure, key=f"live-{done}"
        )
        return True

    try:
        history = train(config, callback=show_progress, every=max(5, config.iterations // 50))
    except ValueError as err:  # e.g. over the memory budget: say what to change, keep the last run
        st.error(f"Training could not run: {err}.")
        st.stop()
    st.session_state["train_last"] = (config, history)
    progress.empty()
    live.empty()

if "train_last" not in st.session_state:
    st.info("Choose a task and press **Train**.")
    st.stop()

last_config, history = st.session_state["train_last"]
saved = st.session_state.setdefault("saved_runs", {})
label = lessons.run_label(last_config)
if len(history.loss) < last_config.iterations:
    st.warning(
        f"Stopped after {len(history.loss)} of {last_config.iterations} iterations"
        + (" (the loss overflowed)." if not np.isfinite(history.loss[-1]) else ".")
    )
m = st.columns(4)
m[0].metric("Final loss", f"{np.mean(history.loss[-20:]):.4g}", help="mean of the last 20 iterations")
m[1].metric("Largest gradient norm", f"{np.nanmax(history.grad_norm):.3g}", help="before clipping")
m[2].metric(
    "Gradient reaching t = 0",
    f"{lessons.first_step_ratio(history):.2g}",
    help="||∂L/∂h_0|| / ||∂L/∂h_T|| at the last iteration",
)
if m[3].button("Save this run to compare", icon=":material/bookmark_add:"):
    saved[label] = history
    while len(saved) > lessons.MAX_SAVED_RUNS:
        saved.pop(next(iter(saved)))
runs = {**saved, label: history}
panels = lessons.training_panels(runs, label)
ui.show(panels["training_curves"], current_config(), key="t")
ui.show(panels["training_heatmap"], current_config(), key="t")
if saved and st.button("Clear saved runs"):
    saved.clear()
    st.rerun()

st.subheader("Memory: training against prediction")
budget = cache.memory_budget(
    RunConfig(
        cell=last_config.cell,
        T=last_config.T,
        hidden_size=last_config.hidden_size,
        batch_size=last_config.batch_size,
        input_size=last_config.spec.input_size,
        output_size=last_config.spec.output_size,
    ),
    None,
)["float64"]
cols = st.columns(4)
with cols[0]:
    ui.bytes_metric("Prediction: parameters + state", budget["parameters"] + budget["state (prediction)"])
with cols[1]:
    ui.bytes_metric(
        "Training adds: gradient buffers",
        budget["gradient buffers"],
        help="allocated once and accumulated over every time step",
    )
with cols[2]:
    ui.bytes_metric(
        "Training adds: stored activations",
        budget["stored activations (peak)"],
        help="the tape BPTT keeps for the backward pass",
    )
cols[3].metric("Training / prediction", f"×{compute.training_ratio(budget):.1f}")
st.page_link("pages/memory.py", label="How checkpointing and truncation shrink the tape", icon=":material/memory:")
