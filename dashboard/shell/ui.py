"""Streamlit helpers shared by the pages: show a panel with its exports, headline metrics, errors."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.catalog.panels import Panel
from dashboard.config import RunConfig
from dashboard.figures.style import FONT
from dashboard.io import export
from dashboard.shell import gate, pool
from dashboard.vocabulary.numbers import human_bytes
from dashboard.vocabulary.quantities import help_text, label

#: Largest hidden size whose W_hh is offered for editing cell by cell.
EDITABLE_HIDDEN = 16


#: Rows of columns wrap in a narrow window instead of squeezing their content: metrics keep at least
#: 190 px, figures (columns inside a ``figures`` container, :func:`figure_columns`) at least 460 px; a wide
#: figure (:func:`wide_figure`) keeps 1040 px and scrolls sideways in its box.
LAYOUT_CSS = """
[data-testid="stMain"] [data-testid="stHorizontalBlock"] { flex-wrap: wrap; row-gap: 0.75rem; }
[data-testid="stMain"] [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] { min-width: 190px; }
[data-testid="stMain"] [class*="st-key-figures"] [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {
    min-width: min(460px, 100%);
}
[data-testid="stMain"] [class*="st-key-wide-figure"]
    [data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]) { min-width: 1040px; }
[data-testid="stMain"] [class*="st-key-wide-figure"] { overflow-x: auto; }
"""


#: Lecture mode: no sidebar, header or toolbar, and text a room can read (>= 22 px).
LECTURE_CSS = """
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMain"] { font-size: 22px; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stCaptionContainer"] { font-size: 22px !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1rem; max-width: 100%; }
"""


def lecture_style() -> None:
    """Switch the page to lecture mode (see :data:`LECTURE_CSS`)."""
    st.html(f"<style>{LECTURE_CSS}</style>")


#: Lecture mode draws a figure this much larger: its fonts and everything sized in px with them (height,
#: margins, markers, lines, colour bars, paddings), so it keeps the proportions it was laid out with; and no
#: figure text smaller than :data:`PROJECTOR_FONT` px.
PROJECTOR_SCALE, PROJECTOR_FONT = 1.55, 18
#: Keys whose dict is a font, keys holding a length in px, and dicts whose every entry is one (paddings).
_FONTS = ("font", "textfont", "tickfont", "insidetextfont", "outsidetextfont")
_LENGTHS = ("height", "thickness", "xpad", "ypad", "xshift", "yshift", "standoff", "ticklen")
_PADDINGS = ("margin", "pad")


def _projected(spec, key: str = "", scale: float = PROJECTOR_SCALE):
    """A figure's JSON (``fig.to_plotly_json()``) with fonts and px lengths scaled by ``scale`` (fonts to at
    least :data:`PROJECTOR_FONT`); fractions of the figure (positions, lengths in ``fraction`` mode) stay."""
    if isinstance(spec, list):
        return [_projected(v, key, scale) for v in spec]
    if not isinstance(spec, dict):
        return spec
    out = {}
    for k, v in spec.items():
        if key in _FONTS and k == "size":
            out[k] = _times(v, scale, PROJECTOR_FONT)
        elif (key, k) in (("marker", "size"), ("line", "width")) or key in _PADDINGS or k in _LENGTHS:
            out[k] = _times(v, scale)
        elif k == "ticklabelstandoff":  # a length Plotly takes in whole px
            out[k] = round(v * scale)
        else:
            out[k] = _projected(v, k, scale)
    if key == "layout" and "size" not in out.get("font", {}):  # the size every other text inherits
        out["font"] = {**out.get("font", {}), "size": scale * FONT}
    return out


def _times(value, scale: float, least: float = 0.0):
    """``value`` (a number or a list of them) times ``scale``, at least ``least``; anything else unchanged."""
    if isinstance(value, list):
        return [_times(v, scale, least) for v in value]
    return max(least, value * scale) if isinstance(value, int | float) and not isinstance(value, bool) else value


#: Font sizes (px) Streamlit's chart theme gives what a figure leaves unset: tick labels, axis and colour-bar
#: titles, legend entries and buttons.
THEME_FONTS = {"tick": 12, "title": 14, "legend": 12}


def _stated_fonts(spec: dict, scale: float = PROJECTOR_SCALE) -> dict:
    """``spec`` (projected) with a size, :data:`THEME_FONTS` scaled, wherever the figure leaves one to the
    theme (Streamlit's chart theme would draw those at its own small sizes on a projector)."""
    layout, least = spec["layout"], PROJECTOR_FONT
    layout.setdefault("xaxis", {}), layout.setdefault("yaxis", {})
    axes = [v for k, v in layout.items() if re.fullmatch(r"[xy]axis\d*", k)]
    axes += [v["colorbar"] for k, v in layout.items() if k.startswith("coloraxis") and "colorbar" in v]
    for trace in spec["data"]:
        axes += [bar for bar in (trace.get("colorbar"), trace.get("marker", {}).get("colorbar")) if bar]
    for axis in axes:
        axis.setdefault("tickfont", {}).setdefault("size", max(least, THEME_FONTS["tick"] * scale))
        title = axis.setdefault("title", {})
        title.setdefault("font", {}).setdefault("size", max(least, THEME_FONTS["title"] * scale))
    for owner in [layout.setdefault("legend", {}), *layout.get("updatemenus", [])]:
        owner.setdefault("font", {}).setdefault("size", max(least, THEME_FONTS["legend"] * scale))
    return spec


def for_projector(panel: Panel) -> Panel:
    """The panel's figure for a projector: everything sized in px :data:`PROJECTOR_SCALE` times larger, so
    a figure laid out for the dashboard keeps its proportions and its labels apart (:func:`_projected`),
    and the fonts the theme would choose stated (:func:`_stated_fonts`)."""
    spec = _stated_fonts(_projected(panel.figure.to_plotly_json()))
    layout = go.Layout(spec["layout"])
    fig = go.Figure(data=spec["data"], layout=layout, frames=spec.get("frames", []), _validate=False)
    return dataclasses.replace(panel, figure=fig)


def responsive_layout() -> None:
    """Let rows of columns wrap on narrow screens (call once per run, from the entrypoint)."""
    st.html(f"<style>{LAYOUT_CSS}</style>")


def wide_figure(key: str) -> DeltaGenerator:
    """A box for a figure that needs 1040 px (code beside an animation): narrower, it scrolls sideways inside
    the box instead of squeezing its text."""
    return st.container(key=f"wide-figure-{key}")


def figure_columns(spec: int | list, key: str) -> list:
    """Columns for figures side by side, stacking when the window is too narrow for both."""
    return st.container(key=f"figures-{key}").columns(spec)


def lazy_sections(labels: dict[str, str], key: str) -> list[tuple[str, DeltaGenerator]]:
    """Expanders, closed at first, whose content runs only while open: the open ones' names (keys of
    ``labels``) and containers, in order.

    A closed section's figures are neither computed nor sent: a change of settings redraws what is seen.
    """
    st.markdown("**Dig deeper.** Each section is computed and drawn while it is open.")
    sections = [(name, st.expander(label, key=f"{key}-{name}", on_change="rerun")) for name, label in labels.items()]
    return [(name, box) for name, box in sections if box.open]


def plotly_config(panel: Panel, view: RunConfig | str) -> dict:
    """The modebar's own PNG button: 2x scale, a file name that names the view (a config or a name)."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "scale": 2, "filename": _stem(panel, view)},
    }


def _stem(panel: Panel, view: RunConfig | str) -> str:
    return f"{panel.name}-{view if isinstance(view, str) else view.key()}"


def show(panel: Panel, view: RunConfig | str, *, key: str = "", downloads: bool = True) -> None:
    """The figure, its one-line caption, and download buttons for PNG, SVG, HTML and CSV.

    ``view`` names the files: the page's config, or a name of its own (a diagnosis).
    """
    st.plotly_chart(panel.figure, config=plotly_config(panel, view), key=f"chart-{panel.name}{key}")
    st.caption(panel.caption)
    if not downloads:
        return
    stem = _stem(panel, view)
    row = st.container(horizontal=True, wrap=True, gap="small")  # buttons wrap on a narrow column
    browser = export.find_browser() is not None
    icons = {"png": ":material/image:", "svg": ":material/shape_line:"}
    for fmt, mime in zip(export.STATIC_FORMATS, ("image/png", "image/svg+xml")):
        row.download_button(
            fmt.upper(),
            data=_static(panel, fmt) if browser else b"",
            file_name=f"{stem}.{fmt}",
            mime=mime,
            key=f"dl-{fmt}-{panel.name}{key}",
            disabled=not browser,
            on_click="ignore",
            help=None if browser else export.NO_BROWSER,
            width="content",
            icon=icons[fmt],
        )
    row.download_button(
        "HTML",
        data=lambda: export.to_html(panel.figure),
        file_name=f"{stem}.html",
        mime="text/html",
        key=f"dl-html-{panel.name}{key}",
        on_click="ignore",
        width="content",
        icon=":material/code:",
    )
    row.download_button(
        "CSV",
        data=lambda: panel.data.to_csv(index=False),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"dl-csv-{panel.name}{key}",
        on_click="ignore",
        width="content",
        icon=":material/table:",
    )


def _static(panel: Panel, fmt: str) -> Callable[[], bytes]:
    """Render on click only: kaleido takes about 0.2 s an image, too slow for every rerun."""
    return lambda: export.to_static(panel.figure, fmt)


def bytes_metric(label: str, n: float, help: str | None = None) -> None:
    st.metric(label, human_bytes(n), help=help)


def compute_or_stop(fn: Callable, *args, what: str = "this view"):
    """Run a computation; on a bad setting show ``st.error`` with the reason and stop the page (no traceback)."""
    try:
        return fn(*args)
    except ValueError as err:
        st.error(f"Cannot compute {what}: {err}. Change the setting in the sidebar.")
        st.stop()


#: A GIF of more frames than this is offered with at most this many first (each frame takes Chromium about
#: 0.3 s to draw, two at once here): a GIF in seconds, or every frame on request.
GIF_QUICK_FRAMES = 24


@st.fragment
def gif_button(panel: Panel, config: RunConfig) -> None:
    """Prepare the animation as a GIF (frames rendered in parallel, progress shown), then download it; its
    controls rerun only this part (a fragment)."""
    if export.find_browser() is None:
        st.button("Animated GIF", icon=":material/gif_box:", disabled=True, help=export.NO_BROWSER)
        st.caption(export.NO_BROWSER)
        return
    if not st.session_state.get("gif-warm-up"):  # start Chromium, once, where this session's GIF most likely renders
        pool.call(export.warm_up, key=config.key())
        st.session_state["gif-warm-up"] = True
    slot = f"gif-{panel.name}"
    frames = len(panel.figure.frames)
    strides = {1: f"every frame ({frames})"}
    quick = -(-frames // GIF_QUICK_FRAMES)  # the smallest stride that keeps at most GIF_QUICK_FRAMES
    if quick > 1:
        strides = {quick: f"one in {quick} ({len(export.gif_frames(frames, quick))} frames, quick)", **strides}
    prepare, choose = st.columns([1, 2], vertical_alignment="bottom")
    stride = choose.radio("GIF frames", list(strides), format_func=strides.get, horizontal=True, key=f"stride-{slot}")
    if prepare.button("Prepare an animated GIF", icon=":material/gif_box:", key=f"prepare-{slot}"):
        bar = st.progress(0.0, text="Rendering the frames…")
        with gate.aside():  # a worker and Chromium render; other sessions run meanwhile
            data = pool.call(
                export.to_gif,
                panel.figure,
                stride=stride,
                key=config.key(),
                callbacks={
                    "progress": lambda done, total, _: bar.progress(done / total, text=f"frame {done} of {total}")
                },
            )
        st.session_state[f"{slot}-bytes"] = (config.key(), data)
        bar.empty()
    ready = st.session_state.get(f"{slot}-bytes")
    if ready and ready[0] == config.key():
        st.download_button(
            f"Download the GIF ({len(ready[1]) / 2**20:.1f} MiB)",
            icon=":material/download:",
            data=ready[1],
            file_name=f"{panel.name}-{config.key()}.gif",
            mime="image/gif",
            on_click="ignore",
            key=slot,
        )


def layer_table(config: RunConfig, params: dict | None, res) -> None:
    """One row per layer and direction: its W_hh, how its Jacobian products grow, the gradient it gets."""
    from dashboard.catalog import depth
    from dashboard.shell import cache  # the cached analyses (cache imports the panels this module shows)

    df = depth.layer_summary(config, res, cache.layer_jacobians(config, params), cache.layer_spectral(config, params))
    fmt = st.column_config.NumberColumn
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config={
            label("spectral_radius"): fmt(format="%.3g", help=help_text("spectral_radius")),
            label("pascanu_rate"): fmt(format="%.3g", help=help_text("pascanu_rate")),
            label("jacobian_growth"): fmt(format="%.3g", help=help_text("jacobian_growth")),
            label("memory_horizon"): st.column_config.TextColumn(help=help_text("memory_horizon")),
            label("jacobian_change"): st.column_config.TextColumn(help=help_text("jacobian_change")),
            label("layer_median_gradient"): fmt(format="%.3e", help=help_text("layer_median_gradient")),
        },
    )
