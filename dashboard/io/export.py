"""Export figures and their data: PNG/SVG (kaleido + Chromium), HTML, CSV, and zip bundles.

Command line (the same bundle as the dashboard's "Export all" button)::

    python -m dashboard.io.export --config config.json --out figures/
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import urllib.parse
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from dashboard.catalog import PLAIN, all_panels, page_panels
from dashboard.catalog.code import reference_source, unroll_code
from dashboard.catalog.compute import preset_params
from dashboard.catalog.depth import is_deep
from dashboard.catalog.panels import Panel
from dashboard.config import RunConfig, from_mapping
from dashboard.io.weights import to_npz
from dashboard.learning import lessons, paper_panels, papers, stochastic

STATIC_FORMATS = ("png", "svg")
NO_BROWSER = (
    "PNG/SVG export needs a Chromium browser on the server and none was found. Install one "
    "(Debian: `apt-get install chromium`) or point `BROWSER_PATH` at it; HTML and CSV work without it."
)


def export_panels(config: RunConfig, params: dict | None = None, source=PLAIN) -> list[Panel]:
    """Every figure an export writes: every page's (the Unroll page's code view of one layer, Loss over time,
    Beyond BPTT with its sections, Stochastic nodes at its opening settings, and the Papers page at its scale,
    included). The Training lab's figures and Beyond BPTT's race need a training run: they download from their page.
    The Papers page's studies come from ``source.paper_study`` when the source has one (the app's cache)."""
    extra = []
    if not is_deep(config):  # the Unroll page's code view (one layer in one direction)
        extra.append(unroll_code(config, params, source.run(config, params), source.stored_run(config, params)))
    extra += lessons.loss_panels(config, params, source=source).values()
    extra += page_panels("beyond_bptt", config, params, source).values()
    kind, theta, target, taus, n, tau = stochastic.STOCHASTIC_DEFAULTS
    extra += stochastic.estimator_panels(kind, theta, target, np.asarray(taus), n, tau).values()
    extra += paper_panels.paper_panels(getattr(source, "paper_study", papers.study)).values()
    return [*all_panels(config, params, source), *extra]


def find_browser() -> str | None:
    """Path of the Chromium that kaleido will drive, or None."""
    for candidate in (
        os.environ.get("BROWSER_PATH"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


_kaleido_lock = threading.Lock()


def _kaleido_server() -> bool:
    """Start kaleido's sync server once per process (0.2 s per image after, instead of 2 s)."""
    with _kaleido_lock:
        return _start_kaleido()


@functools.cache
def _start_kaleido() -> bool:
    import kaleido

    os.environ.setdefault("BROWSER_PATH", find_browser() or "")
    kaleido.start_sync_server(n=RENDER_TABS, silence_warnings=True)
    return True


@functools.cache
def warm_up() -> None:
    """Start the renderer in the background, once (Chromium takes seconds to start): a page that offers a
    static export calls this, so the first image waits for rendering only."""
    if find_browser() is not None:
        threading.Thread(target=_kaleido_server, daemon=True, name="kaleido-warm-up").start()


def to_static(fig: go.Figure, fmt: str, *, width: int = 1100, scale: float = 2.0) -> bytes:
    """PNG or SVG bytes of a figure (the first animation frame for animations).

    Raises
    ------
    RuntimeError
        With :data:`NO_BROWSER` when no Chromium is installed.
    """
    if fmt not in STATIC_FORMATS:
        raise ValueError(f"fmt must be one of {STATIC_FORMATS}, got {fmt!r}")
    if find_browser() is None:
        raise RuntimeError(NO_BROWSER)
    _kaleido_server()
    height = fig.layout.height or 450
    with warnings.catch_warnings():  # plotly passes options the running kaleido server already has
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        return pio.to_image(fig, format=fmt, width=width, height=height, scale=scale if fmt == "png" else 1)


#: The textbook loop beside the Unroll page's animation, as a file of the bundle.
CODE_FILE = "reference.py"
#: The one copy of plotly.js an export bundle carries; its HTML figures load it from beside them.
PLOTLY_JS = "plotly.min.js"


def to_html(fig: go.Figure, plotly_js: str | bool = True) -> bytes:
    """An interactive HTML page: plotly.js embedded (works offline, alone) or loaded from ``plotly_js``,
    a file beside it (a bundle ships one copy for all its figures)."""
    return pio.to_html(fig, include_plotlyjs=plotly_js, full_html=True, auto_play=False).encode()


def _merged(base: dict, update: dict) -> dict:
    """``base`` updated by ``update`` the way Plotly applies a frame: nested dicts merged, the rest replaced."""
    out = dict(base)
    for key, value in update.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def animation_frames(fig: go.Figure) -> Iterator[dict]:
    """One static figure (a plain dict, controls removed) per animation frame, in play order.

    Plain dicts merged as Plotly merges a frame: no figure object is validated per frame.
    """
    spec = fig.to_dict()
    frames = spec.pop("frames", [])
    layout = {k: v for k, v in spec["layout"].items() if k not in ("updatemenus", "sliders")}
    layout["margin"] = {**layout.get("margin", {}), "b": 50}
    for frame in frames:
        data = list(spec["data"])
        for index, trace in zip(frame.get("traces", range(len(frame.get("data", [])))), frame.get("data", [])):
            data[index] = _merged(data[index], trace)
        yield {"data": data, "layout": _merged(layout, frame.get("layout", {}))}


#: Chromium tabs kaleido renders in at once (the GIF's frames); one per core here.
RENDER_TABS = 2
#: Images per kaleido call: progress is reported between calls.
RENDER_CHUNK = 8


def render_static(jobs: list[tuple[dict, dict]], progress: Callable | None = None, what: str = "image") -> list[bytes]:
    """Bytes of many static images, ``(figure dict, kaleido opts)`` each, rendered :data:`RENDER_TABS` at a time
    (a chunk at a time, so ``progress(done, total, what)`` can follow)."""
    import kaleido

    _kaleido_server()
    out = []
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        chunk = RENDER_CHUNK
        for start in range(0, len(jobs), chunk):
            batch = range(start, min(start + chunk, len(jobs)))
            paths = [Path(folder) / f"{i:05d}.{jobs[i][1]['format']}" for i in batch]
            kaleido.write_fig_from_object_sync(
                [{"fig": jobs[i][0], "path": path, "opts": jobs[i][1]} for i, path in zip(batch, paths)]
            )
            out += [path.read_bytes() for path in paths]
            if progress:
                progress(len(out), len(jobs), what)
    return out


def static_options(fig: go.Figure, fmt: str, *, width: int = 1100, scale: float = 2.0) -> dict:
    """Kaleido's options for :func:`to_static`'s image of ``fig`` (SVG at scale 1)."""
    return {
        "format": fmt,
        "width": width,
        "height": int(fig.layout.height or 450),
        "scale": scale if fmt == "png" else 1,
    }


def gif_frames(n: int, stride: int) -> list[int]:
    """The animation frames a GIF shows: every ``stride``-th of ``n``, the last one always (each pass ends)."""
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    picked = list(range(0, n, stride))
    return picked + [n - 1] if n and picked[-1] != n - 1 else picked


def to_gif(
    fig: go.Figure,
    *,
    width: int = 900,
    duration_ms: int = 250,
    stride: int = 1,
    progress: Callable[[int, int, str], None] | None = None,
) -> bytes:
    """An animated GIF of a Plotly animation: every ``stride``-th animation frame (needs Chromium).

    Each frame is shown ``stride`` times longer, so the GIF plays as long as the animation. Frames render
    in parallel tabs; ``progress(done, total, "frame")`` is called as they come.
    """
    from PIL import Image

    if find_browser() is None:
        raise RuntimeError(NO_BROWSER)
    specs = list(animation_frames(fig))
    if not specs:
        raise ValueError("the figure has no animation frames")
    specs = [specs[i] for i in gif_frames(len(specs), stride)]
    opts = static_options(fig, "png", width=width, scale=1.0)
    pngs = render_static([(spec, opts) for spec in specs], progress, "frame")
    images = [Image.open(io.BytesIO(png)).convert("P", palette=Image.Palette.ADAPTIVE) for png in pngs]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms * stride, loop=0)
    return buf.getvalue()


def bundle(
    config: RunConfig,
    panels: Iterable,
    *,
    url: str = "",
    static: bool = True,
    params: dict | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> bytes:
    """A zip with every panel as PNG, SVG (when a browser exists), HTML and CSV, plus config, URL and weights;
    the HTML figures share one ``plotly.min.js`` (open them from the unpacked folder, offline).

    Parameters
    ----------
    config : RunConfig
    panels : iterable of Panel
    url : str
        The link that reproduces the view (written to ``url.txt``).
    params : dict, optional
        The weights in use, written as ``weights.npz`` (the URL cannot carry them).
    static : bool
        Include PNG/SVG; skipped with a note in ``README.txt`` when no browser is found.
    progress : callable(done, total, name), optional
    """
    panels = list(panels)
    can_static = static and find_browser() is not None
    images = {}
    if can_static:  # every PNG and SVG in one parallel batch (the slow part: ~0.2 s an image)
        jobs = [(p, fmt) for p in panels for fmt in STATIC_FORMATS]
        done = render_static(
            [(p.figure.to_dict(), static_options(p.figure, fmt)) for p, fmt in jobs],
            progress and (lambda n, total, _: progress(n, total + len(panels), "PNG and SVG images")),
        )
        images = {f"{p.name}.{fmt}": data for (p, fmt), data in zip(jobs, done)}
    buf = io.BytesIO()
    listing = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(PLOTLY_JS, get_plotlyjs())
        listing.append(PLOTLY_JS)
        for i, panel in enumerate(panels):
            files = {
                f"{panel.name}.html": to_html(panel.figure, PLOTLY_JS),
                f"{panel.name}.csv": panel.data.to_csv(index=False).encode(),
            }
            files |= {f"{panel.name}.{fmt}": images[f"{panel.name}.{fmt}"] for fmt in STATIC_FORMATS if images}
            for name, data in files.items():
                zf.writestr(name, data)
                listing.append(name)
            if progress:
                progress(len(images) + i + 1, len(images) + len(panels), panel.name)
        zf.writestr("config.json", config.to_json())
        zf.writestr(CODE_FILE, reference_source())  # the loop the code view shows
        listing.append(CODE_FILE)
        if params is not None:
            zf.writestr("weights.npz", to_npz(params))
        zf.writestr("url.txt", url + "\n")
        note = "" if can_static else f"\nPNG/SVG skipped: {NO_BROWSER}\n"
        zf.writestr("README.txt", "BPTT dashboard export\n\nFiles:\n" + "\n".join(sorted(listing)) + "\n" + note)
    return buf.getvalue()


def share_url(base: str, config: RunConfig) -> str:
    """The link that reproduces ``config``: ``base`` (the app's address) plus its query parameters."""
    query = urllib.parse.urlencode(config.to_query())
    return base.split("?")[0] + (f"?{query}" if query else "")


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboard.io.export --config config.json --out figures/``."""

    parser = argparse.ArgumentParser(prog="python -m dashboard.io.export", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="config.json saved by the dashboard (defaults if omitted)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    parser.add_argument("--no-static", action="store_true", help="skip PNG/SVG (no browser needed)")
    args = parser.parse_args(argv)
    values = json.loads(args.config.read_text()) if args.config else {}
    config, problems = from_mapping({k: v for k, v in values.items() if k != "weights"})
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    panels = export_panels(config)

    def progress(done: int, total: int, name: str) -> None:
        bar = "#" * int(30 * done / total)
        print(f"\r[{bar:<30}] {done}/{total} {name:<24}", end="", file=sys.stderr, flush=True)

    data = bundle(
        config,
        panels,
        url=share_url("", config),
        static=not args.no_static,
        params=preset_params(config),
        progress=progress,
    )
    print(file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(args.out)
        names = zf.namelist()
    print(f"wrote {len(names)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
