"""The one shared sidebar: widgets live in the entrypoint, produce a frozen RunConfig, mirror the URL."""

from __future__ import annotations

from dataclasses import fields

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

import bptt_core as bc
from bptt_core.budget import human
from bptt_core.lab.signals import SIGNALS
from dashboard.catalog import memory
from dashboard.config import CHECKPOINTS, DTYPES, LIMITS, PAGE_PARAMS, RunConfig, from_mapping
from dashboard.config.cell_views import INIT_OPTION_VIEWS, VIEWS
from dashboard.io import export
from dashboard.io.weights import fingerprint
from dashboard.shell import gate, pool, remote

PREFIX = "cfg."
CONFIG_KEY = "run_config"
LAST_GOOD = "last_good_config"
REFUSED = "refused_settings"  # the message when the sidebar's settings do not fit the budget
USER_PARAMS = "user_params"  # session only: {fingerprint: params}; the config names the active one
MAX_USER_PARAMS = 4
INIT_HELP = {
    "uniform": "U(-1/√H, 1/√H), PyTorch's default, times the gain",
    "normal": "N(0, gain²/H)",
    "orthogonal": "gain × a random orthogonal matrix (Saxe et al. 2013)",
    "identity": "gain × I, zero biases (IRNN, Le et al. 2015; use with relu)",
    "spectral": "random, rescaled so that its spectral radius equals the gain",
}


def _seed_from_url() -> None:
    """On a session's first run, put the URL's configuration into the widgets; on every later run, hand
    the widgets their values again.

    Streamlit drops or resets widget state on a page switch in some cases (a widget not drawn on a
    run, and a fresh server whose first session starts in the legacy ``pages/`` mode, streamlit#9446:
    the sidebar then showed every input at its minimum after one click). Writing each value back before
    its widget is drawn is Streamlit's documented way to keep widget state across pages.
    """
    if st.session_state.get("_config_seeded"):
        for f in fields(RunConfig):
            if PREFIX + f.name in st.session_state:
                st.session_state[PREFIX + f.name] = st.session_state[PREFIX + f.name]
        return
    config, problems = from_mapping(dict(st.query_params))
    for f in fields(RunConfig):
        st.session_state[PREFIX + f.name] = getattr(config, f.name)
    st.session_state["_config_seeded"] = True
    st.session_state["_url_problems"] = problems


def _w(name: str) -> str:
    return PREFIX + name


def render_sidebar() -> RunConfig:
    """Draw the sidebar and return the current configuration (also in ``st.session_state``)."""
    _seed_from_url()
    sb = st.sidebar
    for problem in st.session_state.pop("_url_problems", []):
        sb.warning(f"Link setting {problem}.")
    sb.markdown("### Network")
    cell = sb.segmented_control("Cell", bc.CELLS, key=_w("cell"), format_func=lambda c: VIEWS[c].label, required=True)
    sb.selectbox(
        "Activation",
        bc.ACTIVATIONS,
        key=_w("activation"),
        disabled=not bc.CELLS[cell].chooses_activation,
        help="Vanilla RNN only; the other cells' non-linearities are part of the cell.",
    )
    sb.slider("Sequence length T", *LIMITS["T"], key=_w("T"))
    c1, c2 = sb.columns(2)
    c1.number_input("Hidden H", *LIMITS["hidden_size"], key=_w("hidden_size"))
    c2.number_input("Batch B", *LIMITS["batch_size"], key=_w("batch_size"))
    c1.number_input("Inputs I", *LIMITS["input_size"], key=_w("input_size"))
    c2.number_input("Outputs O", *LIMITS["output_size"], key=_w("output_size"))
    sb.slider(
        "Layers L", *LIMITS["num_layers"], key=_w("num_layers"), help="Stacked layers: layer l reads layer l - 1."
    )
    sb.toggle(
        "Bidirectional",
        key=_w("bidirectional"),
        help="Each layer also runs from the last step to the first; the read-out sees both directions.",
    )

    sb.markdown("### Weights")
    _init_widgets(cell)
    if bc.CELLS[cell].forget_gate is not None:
        sb.slider(
            "Forget-gate bias",
            *LIMITS["forget_bias"],
            step=0.1,
            key=_w("forget_bias"),
            help="1 keeps the cell state's memory open at the start (Gers et al. 2000).",
        )
    sb.number_input("Seed", *LIMITS["seed"], key=_w("seed"))
    if st.session_state.get(_w("weights"), "preset") != "preset":
        sb.info("Using your own weights (see the Weights page).")

    sb.markdown("### Data")
    sb.selectbox(
        "Input signal",
        SIGNALS,
        key=_w("signal"),
        help="random noise, sines, one-hot tokens, or a single impulse at t = 0",
    )
    sb.slider(
        "Target = input from d steps back",
        *LIMITS["delay"],
        key=_w("delay"),
        help="A delayed-recall task: the gradient must travel d steps to learn it.",
    )
    sb.toggle("Variable lengths (padding mask)", key=_w("ragged"))

    sb.markdown("### Training options")
    loss = sb.selectbox("Loss", bc.LOSSES, key=_w("loss"))
    sb.radio(
        "Reduction",
        bc.REDUCTIONS,
        key=_w("reduction"),
        horizontal=True,
        help="mean: average over valid tokens; sum: sum over time, averaged over the batch",
    )
    c1, c2 = sb.columns(2)
    c1.number_input(
        "Truncation k",
        *LIMITS["truncation"],
        key=_w("truncation"),
        help="0 = full BPTT. Unidirectional networks only: the reverse direction reads the future.",
    )
    c2.number_input("Clip norm", *LIMITS["clip"], key=_w("clip"), step=0.5, help="0 = no clipping")
    c1.selectbox("Checkpoint", CHECKPOINTS, key=_w("checkpoint"), help="none, √T, or every k steps")
    c2.radio("dtype", DTYPES, key=_w("dtype"))

    default = RunConfig()  # a widget hidden on this run (forget bias unless LSTM) may have lost its state
    values = {f.name: st.session_state.get(PREFIX + f.name, getattr(default, f.name)) for f in fields(RunConfig)}
    try:
        config = RunConfig(**values)
    except (ValueError, TypeError) as err:
        sb.error(f"These settings do not fit together: {err}. Showing the last valid view.")
        config = st.session_state.get(LAST_GOOD, RunConfig())
    needed = memory.estimate_bytes(config)
    st.session_state[REFUSED] = None
    if needed > memory.DASHBOARD_BUDGET:  # the sidebar and the address keep these settings; pages say why
        st.session_state[REFUSED] = (
            f"These settings would need about {human(needed)} of memory, above the dashboard's budget of "
            f"{human(memory.DASHBOARD_BUDGET)}. To fit: {memory.budget_advice(config)}."
        )
        _mirror_in_url(config)
        st.session_state[CONFIG_KEY] = st.session_state.get(LAST_GOOD, RunConfig())  # for callbacks and exports
        _export_section(st.session_state[CONFIG_KEY])
        return st.session_state[CONFIG_KEY]
    st.session_state[LAST_GOOD] = config
    if loss == "cross_entropy" and config.output_size == 1:
        sb.warning("Cross-entropy over 1 class is always 0: raise Outputs O to 2 or more.")
    if config.truncation >= config.T:
        sb.caption(f"Truncation k = {config.truncation} ≥ T = {config.T}: this is full BPTT.")
    st.session_state[CONFIG_KEY] = config
    _mirror_in_url(config)
    _export_section(config)
    return config


def _init_widgets(cell: str) -> None:
    """The init preset and gain for a cell whose W_hh they shape; else the cell's own init options."""
    sb = st.sidebar
    if bc.CELLS[cell].init_presets:
        init = sb.selectbox("Init preset", bc.INITS, key=_w("init"), format_func=lambda i: f"{i}: {INIT_HELP[i]}")
        scale = "Target spectral radius ρ" if init == "spectral" else "Gain of W_hh"
        sb.slider(scale, *LIMITS["scale"], step=0.05, key=_w("scale"))
        return
    for name in bc.CELLS[cell].init_options:
        label, step, help_text = INIT_OPTION_VIEWS[name]
        sb.slider(label, *LIMITS[name], step=step, key=_w(name), help=help_text)
    if not bc.CELLS[cell].init_options:
        sb.caption(f"The {VIEWS[cell].label} draws its weights as its paper does (no W_hh: no preset or gain).")


def _mirror_in_url(config: RunConfig) -> None:
    """The address holds the configuration, and keeps the page's own parameters (scene, lecture)."""
    kept = {k: st.query_params[k] for k in PAGE_PARAMS if k in st.query_params}
    st.query_params.from_dict({**config.to_query(), **kept})


EXPORT = "export_zip"  # (config key, zip bytes): the one prepared export of this session


def _export_section(config: RunConfig) -> None:
    """One zip with every figure of this configuration: prepared on click with its progress shown, then
    downloaded (one zip per session at most)."""
    sb = st.sidebar
    sb.markdown("### Export")
    params = _lookup(config)[0]
    url = export.share_url(st.context.url or "", config)
    has_browser = export.find_browser() is not None
    if sb.button(
        "Prepare all figures, data and config", icon=":material/folder_zip:", width="stretch", key="export_prepare"
    ):
        bar = sb.progress(0.0, text="Computing the figures…")
        with gate.aside():  # a worker computes and Chromium renders; other sessions run meanwhile
            data = pool.call(
                remote.export_zip,
                config,
                params,
                url,
                has_browser,
                key=config.key(),
                callbacks={
                    "progress": lambda done, total, name: bar.progress(done / total, text=f"{done}/{total}: {name}")
                },
            )
        st.session_state[EXPORT] = (config.key(), data)
        bar.empty()
    ready = st.session_state.get(EXPORT)
    if ready and ready[0] == config.key():
        sb.download_button(
            f"Download the zip ({len(ready[1]) / 2**20:.1f} MiB)",
            icon=":material/download:",
            width="stretch",
            data=ready[1],
            file_name=f"bptt-{config.key()}.zip",
            mime="application/zip",
            on_click="ignore",
            key="export_all",
        )
    if not has_browser:
        sb.caption(export.NO_BROWSER)
    sb.caption(f"Share this view: [link]({url})")


def through_entrypoint() -> None:
    """Make sure this run went through ``app.py``; every page calls this first (via :func:`current_config`).

    When a fresh server's first request is a sub-page URL, Streamlit takes its
    legacy ``pages/`` path and runs the page without ``app.py`` (streamlit#9446).
    The page then finds no configuration: switch to ``st.navigation`` and rerun
    through the entrypoint, so the shared sidebar and page layout always run.
    """
    if CONFIG_KEY not in st.session_state:
        PagesManager.uses_pages_directory = False
        st.rerun()


def current_config() -> RunConfig:
    """The configuration the sidebar produced; each page calls this first. Settings above the memory
    budget stop the page with the advice (the sidebar and the address keep them, so nothing disagrees)."""
    through_entrypoint()
    if st.session_state.get(REFUSED):
        st.error(st.session_state[REFUSED])
        st.stop()
    return st.session_state[CONFIG_KEY]


def last_config() -> RunConfig:
    """The last configuration that ran (for widget callbacks, which run before the sidebar)."""
    return st.session_state.get(CONFIG_KEY, RunConfig())


def _lookup(config: RunConfig) -> tuple[dict | None, str | None]:
    """The user's weights named by ``config.weights`` (None for the preset) and why they cannot be used."""
    if config.weights == "preset":
        return None, None
    params = st.session_state.get(USER_PARAMS, {}).get(config.weights)
    if params is None:
        return None, (
            "Your own weights are not in this session any more (the page was reloaded); "
            "showing the preset. Upload them again on the Weights page."
        )
    try:
        bc.spec.check_params(config.spec, params)
    except ValueError as err:
        return None, (
            f"Your own weights do not fit the current settings ({err}). Showing the preset weights: "
            "set the cell and sizes back, or choose a preset on the Weights page."
        )
    return params, None


def current_params(config: RunConfig) -> dict | None:
    """The user's own weights named by ``config.weights``, or None for the init preset.

    Weights that no longer fit the sidebar (another cell or size) fall back to the
    preset with a warning that says what to change.
    """
    params, problem = _lookup(config)
    if problem:
        st.warning(problem)
    return params


def use_params(params: dict, **settings) -> str:
    """Make ``params`` the active weights of this session, optionally changing sidebar settings to fit
    them (call from a widget callback)."""
    for name, value in settings.items():
        st.session_state[PREFIX + name] = value
    key = fingerprint(params)
    store = dict(st.session_state.get(USER_PARAMS, {}))
    store[key] = params
    while len(store) > MAX_USER_PARAMS:  # keep the session small: drop the oldest
        store.pop(next(iter(store)))
    st.session_state[USER_PARAMS] = store
    st.session_state[PREFIX + "weights"] = key
    return key


def use_preset(**settings) -> None:
    """Back to the init preset, optionally changing sidebar settings (call from a widget callback)."""
    for name, value in settings.items():
        st.session_state[PREFIX + name] = value
    st.session_state[PREFIX + "weights"] = "preset"
