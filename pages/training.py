"""Training lab: watch gradients while a network learns a task that needs memory."""

import time
from dataclasses import replace

import numpy as np
import streamlit as st

import bptt_core as bc
from bptt_core.lab.optim import OPTIMIZERS
from bptt_core.lab.tasks import TASKS
from bptt_core.lab.train import train
from dashboard.catalog import memory
from dashboard.config.cell_views import VIEWS, cell_name
from dashboard.learning import copy_race, lessons
from dashboard.shell import gate, pool, ui
from dashboard.shell.sidebar import current_config

run = current_config()
st.title("Training lab")
COPY_LAGS = (100, 200, 500)


def copy_comparison() -> None:
    """Every registered cell on the copy task, several seeds, behind a button; the runs stay in the session."""
    st.markdown(
        "The **copy task** of Arjovsky, Shah & Bengio (2016): ten symbols drawn from 8, then T blanks, a "
        "delimiter, and the ten symbols must come out in order. A model that remembers nothing scores the "
        "memoryless baseline 10 ln 8 / (T + 20): blank where the answer is blank, a guess over 8 symbols after "
        "the delimiter. Every cell trains on the same batches with the same optimiser; the figure and the "
        "sentence below it are what this machine measured."
    )
    with st.form("copy_form"):
        c = st.columns(3)
        lags = c[0].multiselect(
            "Lags T", COPY_LAGS, default=[COPY_LAGS[0]], help="blanks before the delimiter", key="copy_lags"
        )
        seeds = c[1].slider("Seeds", 1, 5, 3, help="each seed its own initialisation and batches", key="copy_seeds")
        iterations = c[2].select_slider(
            "Iterations", (200, 400, 800, 1600, 3200), value=copy_race.STUDY.iterations, key="copy_iterations"
        )
        submitted = st.form_submit_button("Run the comparison", type="primary", icon=":material/play_arrow:")
    if submitted and not lags:
        st.warning("Choose at least one lag T.")
    elif submitted:
        chosen = {"lags": tuple(sorted(lags)), "seeds": tuple(range(seeds)), "iterations": int(iterations)}
        study = replace(copy_race.STUDY, **chosen)
        stop = st.empty()
        stop.button("Stop", key="copy_stop", icon=":material/stop:", help="Stops; the runs finished so far are kept.")
        bar, start, done_runs = st.progress(0.0, text="Starting…"), time.perf_counter(), {}

        def progress(i: int, n: int, config, done: int) -> None:
            fraction = (i + done / config.iterations) / n
            left = (time.perf_counter() - start) * (1 - fraction) / fraction
            bar.progress(
                fraction,
                text=f"run {i + 1} of {n}: {VIEWS[config.cell].label}, T = {config.T}, seed {config.seed}, "
                f"iteration {done} of {config.iterations} · about {left / 60:.1f} min left",
            )

        def keep(key: tuple, loss) -> None:  # what finished survives a Stop
            done_runs[key] = loss
            st.session_state["copy_last"] = (study, dict(done_runs))

        with gate.aside():  # a long job the user asked for, in a worker: other sessions run meanwhile
            pool.call(copy_race.run_study, study, callbacks={"progress": progress, "finished": keep})
        stop.empty()
        bar.empty()
    if "copy_last" not in st.session_state:
        st.info(
            f"Press **Run the comparison**: {len(bc.CELLS)} cells × the seeds × the lags, each with H = "
            f"{copy_race.STUDY.hidden_size} and B = {copy_race.STUDY.batch_size}; a run at T = 500 takes about "
            "five times one at T = 100 (T + 20 steps each), and the progress bar estimates the time left."
        )
        return
    study, losses = st.session_state["copy_last"]
    if len(losses) < len(study.configs()):
        st.warning(f"Stopped after {len(losses)} of {len(study.configs())} runs: the figure shows those.")
    ui.show(copy_race.comparison(study, losses), run, key="copy")


one, everyone = st.tabs(["One network", "Every cell on the copy task"])
with everyone:
    copy_comparison()
with one:
    st.markdown(
        "Train the sidebar's network on a task that needs memory and watch what BPTT does at every iteration. "
        "The **adding problem** (Hochreiter & Schmidhuber 1997) must carry two marked numbers across the whole "
        "sequence. Try a vanilla RNN and an LSTM on the same settings (save each run to compare them), lengthen "
        "T, then switch to SGD and raise the learning rate until the gradient norm spikes, and set a clip norm "
        "in the sidebar."
    )
    st.caption(
        f"From the sidebar: {cell_name(run.cell, run.activation)}"
        + f", T = {run.T}, H = {run.hidden_size}, B = {run.batch_size}, {run.num_layers} layer(s)"
        + (", bidirectional" if run.bidirectional else "")
        + f", {run.init_text}, clip {run.clip or 'off'}, truncation {run.truncation or 'off'}, "
        f"seed {run.seed}. The task sets the inputs and outputs."
    )

    LEARNING_RATES = [float(f"{v:.0e}") for v in np.geomspace(1e-4, 1.0, 13)]
    with st.form("train_form"):
        c = st.columns(4)
        task = c[0].selectbox(
            "Task",
            TASKS,
            help="adding: sum two marked numbers; recall: repeat a symbol d steps "
            "later (d from the sidebar); sine: predict the next value; chars: next character of Alice in Wonderland; "
            "copy: repeat 10 symbols after T blanks (Arjovsky et al. 2016; T from the sidebar, T + 20 steps)",
        )
        iterations = c[1].slider("Iterations", 20, 3000, 500, step=20)
        lr = c[2].select_slider("Learning rate (log scale)", LEARNING_RATES, value=1e-2)
        optimizer = c[3].selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index("adam"))
        submitted = st.form_submit_button("Train", type="primary")

    config = lessons.train_config(run, task, int(iterations), lr, optimizer)
    if submitted:
        stop = st.empty()  # the Stop button lives only while training runs
        stop.button("Stop", icon=":material/stop:", help="Stops training; what ran so far is kept.")
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
            with gate.aside():  # a long job the user asked for, in a worker: other sessions run meanwhile
                history = pool.call(
                    train, config, callbacks={"callback": show_progress}, every=max(5, config.iterations // 50)
                )
        except ValueError as err:  # e.g. over the memory budget: say what to change, keep the last run
            stop.empty()
            st.error(f"Training could not run: {err}.")
            st.stop()
        st.session_state["train_last"] = (config, history)
        stop.empty()
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
    configs = st.session_state.setdefault("saved_configs", {})
    if m[3].button("Save this run to compare", icon=":material/bookmark_add:"):
        saved[label] = history
        configs[label] = last_config
        while len(saved) > lessons.MAX_SAVED_RUNS:
            saved.pop(next(iter(saved)))
    runs = {**saved, label: history}
    panels = lessons.training_panels(runs, label, last_config.clip)
    ui.show(panels["training_curves"], run, key="t")
    ui.show(panels["training_heatmap"], run, key="t")
    if saved and st.button("Clear saved runs"):
        saved.clear()
        configs.clear()
        st.rerun()

    st.subheader("What the model remembers, on text")
    runs_by_label = {name: (configs[name], saved[name]) for name in saved if name in configs} | {
        label: (last_config, history)
    }
    if not any(cfg.task == "chars" for cfg, _ in runs_by_label.values()):
        st.info(
            "Train on the **chars** task (a single-layer network) to see, for a predicted character, how much each "
            "earlier character of the text moved that prediction; save an RNN, a GRU and an LSTM run to compare."
        )
    else:
        last = last_config.T - 1
        step = st.slider("Predicted character (step t)", 0, last, last, key="memory_step") if last > 0 else 0
        rows = lessons.memory_rows(runs_by_label, step)
        for name, chars, weights in rows:
            st.markdown(f"**{name}**: the prediction after the underlined character, shaded by ||∂ŷ_t/∂x_k||")
            st.html(f"<div style='line-height:2'>{lessons.shaded_text(chars, weights)}</div>")
        if not rows:
            st.info("The connectivity view reads single-layer, unidirectional runs: set Layers L to 1.")
        st.caption(
            "Darker = the output at the underlined step depends more strongly on that input character (exact "
            "gradient norms of the trained network, Distill's memorization view; hover a character for its value)."
        )

    st.subheader("Memory: training against prediction")
    budget = lessons.training_budget(last_config, history)["float64"]
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
    cols[3].metric("Training / prediction", f"×{memory.training_ratio(budget):.1f}")
    st.page_link("pages/memory.py", label="How checkpointing and truncation shrink the tape", icon=":material/memory:")
