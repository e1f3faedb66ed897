"""Beyond BPTT: learning online without storing the past. What each method keeps, costs and gets wrong."""

import streamlit as st

from bptt_core.lab.optim import OPTIMIZERS
from bptt_core.lab.tasks import TASKS
from dashboard.catalog import online, online_panels
from dashboard.learning import race
from dashboard.shell import cache, gate, ui
from dashboard.shell.sidebar import current_config, current_params
from dashboard.vocabulary import quantities as Q

config = current_config()
params = current_params(config)
st.title("Beyond BPTT")
st.markdown(
    "BPTT stores every step's intermediates for its backward pass, so its memory grows with T. The online methods "
    "store **no past**: they carry the influence ∂s_t/∂θ of every parameter on the state forward in time and turn "
    "each step's loss into its share of the gradient at once. **RTRL** (Williams & Zipser 1989) carries all of it: "
    "exact, but O(H³) memory and O(H⁴) work per step. **UORO** (Tallec & Ollivier 2018) carries a rank-one random "
    "estimate: O(H²), unbiased but noisy. **SnAp-1** (Menick et al. 2020) keeps each parameter's influence on its "
    "own unit: about BPTT's cost, biased; it is exact for diagonal recurrences (Zucchet et al. 2023). Truncated "
    "BPTT keeps k steps of tape: biased."
)
if config.bidirectional:
    st.info(
        "No online method runs a bidirectional network: they run forward in time and cannot read the future, which "
        "the reverse direction needs from its first step. Turn **Bidirectional** off in the sidebar to compare them "
        "with BPTT (the Memory page shows BPTT's own memory for this network)."
    )
    st.stop()

methods = cache.online_methods(config, params)
if config.num_layers > 1:
    st.info(
        f"A stack of {config.num_layers} layers: UORO and SnAp-1 (and the exact diagonal method) are defined here for "
        "one recurrent layer (their estimate follows one layer's state), so this page compares RTRL (exact for "
        "stacks: each layer carries the influence of its own and the lower layers' parameters), truncated BPTT and "
        "BPTT. Set Layers L to 1 to see UORO and SnAp-1."
    )
skipped = [m for m in methods if m.left_out and m.left_out != online.STACK_REFUSAL]  # a stack: said above
if skipped:
    st.caption("Not run here: " + "; ".join(f"**{m.label}**, {m.left_out}" for m in skipped) + ".")
rows = ui.compute_or_stop(cache.online_rows, config, params, what="the gradients")
t_star = cache.online_crossover(config)
st.markdown(online_panels.HEADLINE)
for column, (name, value, text) in zip(st.columns(4), online_panels.headline(config, rows, t_star)):
    column.metric(name, value, help=text)

panels = cache.page_panels("beyond_bptt", config, params)
left, right = ui.figure_columns(2, key="beyond")
with left:
    ui.show(panels["online_accuracy"], config)
with right:
    ui.show(panels["online_memory"], config)
st.dataframe(
    online_panels.method_table(rows),
    hide_index=True,
    width="stretch",
    column_config={
        name: st.column_config.NumberColumn(format=fmt, help=Q.help_text(key))
        for key, name, fmt in online_panels.TABLE_COLUMNS
    },
)


@st.fragment
def training_race(config) -> None:
    """The race runs on demand: the same task, batches and optimiser for every method (a fragment: its controls
    rerun only this part)."""
    with st.form("race_form"):
        c = st.columns(4)
        task = c[0].selectbox("Task", TASKS, index=TASKS.index("recall"), help="as in the Training lab")
        iterations = c[1].slider("Iterations", 20, 500, 100, step=20)
        lr = c[2].select_slider("Learning rate (log scale)", race.LEARNING_RATES, value=1e-2)
        optimizer = c[3].selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index("adam"))
        start = st.form_submit_button("Start the race", type="primary", icon=":material/sports_score:")
    field = race.entrants(config, task, iterations, lr, optimizer)
    out = [e for e in field if e.left_out]
    if out:
        st.caption("Not in this race: " + "; ".join(f"**{e.label}**, {e.left_out}" for e in out) + ".")
    key = (config.key(), task, iterations, lr, optimizer)
    if start:
        bar = st.progress(0.0, text="Starting…")

        def progress(i: int, n: int, entrant: race.Entrant, done: int) -> None:
            share = (i + done / iterations) / n
            bar.progress(share, text=f"{entrant.label}: iteration {done} of {iterations} ({i + 1} of {n} methods)")

        with gate.aside():  # a long job the user asked for: other sessions run meanwhile
            st.session_state["beyond_race"] = (key, field, race.run_race(field, progress))
        bar.empty()
    ready = st.session_state.get("beyond_race")
    if not ready or ready[0] != key:
        st.info("Choose a task and press **Start the race**: every method trains the sidebar's network in turn.")
        return
    ui.show(race.race_panel(ready[1], ready[2]), config, key="race")


SECTIONS = {
    "uoro": f"UORO's noise: bias and variance over {online.UORO_SEEDS} seeds",
    "held": "Memory held: the ledger against tracemalloc, method by method",
    "cost": "Memory, FLOPs and time against T and H",
    "race": "A training race: each method's gradient drives the same optimiser",
}
for section, box in ui.lazy_sections(SECTIONS, key="beyond"):  # computed and drawn only while open
    with box:
        if section == "race":
            training_race(config)
            continue
        with gate.aside():  # seconds of work: other sessions run meanwhile
            more = ui.compute_or_stop(cache.page_panels, "beyond_bptt", config, params, section, what="this section")
        if section == "uoro" and not more:
            st.info(f"UORO does not run here: {next(m.left_out for m in methods if m.method == 'uoro')}.")
        for panel in more.values():
            ui.show(panel, config)
