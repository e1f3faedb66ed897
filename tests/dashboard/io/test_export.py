"""Exports: every panel of every page in every format; the zip holds what it lists."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dashboard.catalog import PAGES, all_panels, page_panels
from dashboard.catalog.compute import preset_params
from dashboard.config import RunConfig
from dashboard.io import export
from dashboard.io.export import export_panels
from tests.apptest import assert_clean, open_app

CONFIG = RunConfig(T=12, hidden_size=6)
#: Panels whose data are timed or measured by tracemalloc when they are built, so two exports differ there.
MEASURED_ANEW = {"online_cost_T", "online_cost_H", "online_held_measured"}
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<svg"}
needs_browser = pytest.mark.skipif(export.find_browser() is None, reason="PNG/SVG export needs Chromium")


@pytest.fixture(scope="module")
def panels():
    return all_panels(CONFIG)


def test_catalog_covers_every_page_with_unique_names(panels):
    assert {name for p in PAGES for name in page_panels(p, CONFIG)} == {p.name for p in panels}
    assert len({p.name for p in panels}) == len(panels)


def test_html_and_csv_of_every_panel(panels):
    for p in panels:
        html = export.to_html(p.figure)
        assert html.lstrip().lower().startswith(b"<!doctype html>") and b"plotly" in html
        assert len(html) > 1_000_000  # plotly.js embedded: works offline
        assert p.data.to_csv(index=False).count("\n") == len(p.data) + 1


@needs_browser
def test_png_and_svg_of_every_panel(panels):
    for p in panels:
        for fmt in export.STATIC_FORMATS:
            data = export.to_static(p.figure, fmt)
            assert MAGIC[fmt] in data[:200], (p.name, fmt)
            assert len(data) > 5_000, (p.name, fmt)


def test_bundle_contains_what_it_lists(panels):
    data = export.bundle(CONFIG, panels, url="http://x/?T=12", static=export.find_browser() is not None)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        listed = set(zf.read("README.txt").decode().split("Files:\n")[1].split("\n\n")[0].split())
        assert listed <= names
        assert json.loads(zf.read("config.json")) == json.loads(CONFIG.to_json())
        assert zf.read("url.txt").decode().strip() == "http://x/?T=12"
        formats = ("html", "csv", "png", "svg") if export.find_browser() else ("html", "csv")
        assert {f"{p.name}.{fmt}" for p in panels for fmt in formats} | {export.PLOTLY_JS, export.CODE_FILE} == listed


def test_without_a_browser_static_export_says_why_and_html_csv_still_work(monkeypatch, panels):
    monkeypatch.setattr(export, "find_browser", lambda: None)
    with pytest.raises(RuntimeError, match="Chromium"):
        export.to_static(panels[0].figure, "png")
    data = export.bundle(CONFIG, panels[:2])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "PNG/SVG skipped" in zf.read("README.txt").decode()
        assert not any(n.endswith(".png") for n in zf.namelist())


def test_headless_export_writes_the_same_files_as_the_ui_bundle(tmp_path: Path, panels):
    (tmp_path / "config.json").write_text(CONFIG.to_json())
    out = tmp_path / "figures"
    assert export.main(["--config", str(tmp_path / "config.json"), "--out", str(out), "--no-static"]) == 0
    ui = export.bundle(CONFIG, export_panels(CONFIG), static=False, params=preset_params(CONFIG))  # as the sidebar
    with zipfile.ZipFile(io.BytesIO(ui)) as zf:
        assert sorted(p.name for p in out.iterdir()) == sorted(zf.namelist())
        for name in zf.namelist():
            if name.split(".")[0] in MEASURED_ANEW:  # seconds and tracemalloc's bytes: measured by each export
                continue
            if name.endswith((".csv", ".npz")) or name == "config.json":
                assert (out / name).read_bytes() == zf.read(name), name


@pytest.fixture(scope="module")
def lesson_panels():
    from bptt_core.lab.train import TrainConfig, train
    from dashboard.learning import lessons, stochastic

    history = train(TrainConfig(task="sine", T=8, hidden_size=4, batch_size=4, iterations=15))
    return [
        *lessons.loss_panels(CONFIG).values(),
        *stochastic.estimator_panels("bernoulli", 0.3, 0.2, np.geomspace(0.1, 1, 3), 200, 0.5).values(),
        *lessons.training_panels({"run": history}, "run").values(),
    ]


def test_concept_and_training_figures_export_too(lesson_panels):
    for p in lesson_panels:
        assert export.to_html(p.figure) and p.data.to_csv(index=False)
        if export.find_browser():
            assert export.to_static(p.figure, "png")[:8] == MAGIC["png"], p.name
            assert MAGIC["svg"] in export.to_static(p.figure, "svg")[:200], p.name


@needs_browser
def test_gif_has_one_frame_per_animation_step_and_opens_with_pillow():
    from PIL import Image

    from dashboard.catalog import compute
    from dashboard.catalog import panels as P

    config = RunConfig(T=5, hidden_size=4)
    fig = P.unroll(config, compute.run(config), compute.stored_run(config)).figure
    seen = []
    gif = Image.open(io.BytesIO(export.to_gif(fig, width=500, progress=lambda done, total, _: seen.append(done))))
    assert gif.format == "GIF" and gif.n_frames == len(fig.frames) == 10
    assert seen[-1] == 10 and seen == sorted(seen)  # progress reported as the frames come
    half = Image.open(io.BytesIO(export.to_gif(fig, width=500, stride=2)))
    assert half.n_frames == 6 and half.info["duration"] == 500  # frames 0, 2, 4, 6, 8, 9: as long a play


@pytest.mark.parametrize(
    ("n", "stride", "expected"),
    [(10, 1, list(range(10))), (10, 2, [0, 2, 4, 6, 8, 9]), (9, 2, [0, 2, 4, 6, 8]), (1, 3, [0])],
)
def test_a_gif_keeps_every_stride_th_frame_and_the_last(n, stride, expected):
    assert export.gif_frames(n, stride) == expected


@pytest.mark.parametrize("deep", [False, True])
def test_each_gif_frame_is_the_figure_with_its_animation_frame_applied(deep):
    """The frames are merged as plain dicts; Plotly's own update of a validated figure gives the same figure."""
    import plotly.graph_objects as go

    from dashboard.catalog import compute
    from dashboard.catalog import panels as P

    config = RunConfig(T=6, hidden_size=4, num_layers=2 if deep else 1, bidirectional=deep)
    panel = P.unroll(config, compute.run(config), compute.stored_run(config))
    fig = panel.figure if not deep else page_panels("unroll", config)["unroll_grid"].figure
    stills = list(export.animation_frames(fig))
    assert len(stills) == len(fig.frames)
    for k in (0, len(fig.frames) // 2, len(fig.frames) - 1):
        expected = go.Figure(fig)
        expected.frames, expected.layout.updatemenus, expected.layout.sliders = [], (), ()
        frame = fig.frames[k]
        for index, trace in zip(frame.traces or range(len(frame.data)), frame.data):
            expected.data[index].update(trace)
        if frame.layout:
            expected.update_layout(frame.layout)
        expected.update_layout(margin={"b": 50})
        assert json.loads(go.Figure(stills[k]).to_json())["data"] == json.loads(expected.to_json())["data"]


def test_the_bundle_ships_plotly_once_and_every_pages_figures():
    figures = export_panels(CONFIG)
    names = {p.name for p in figures}
    assert {"step_losses", "scale_vs_length", "token_losses", "estimator_bias_variance", "estimator_spread"} <= names
    data = export.bundle(CONFIG, figures[:3], static=False)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = zf.namelist()
        assert files.count(export.PLOTLY_JS) == 1
        page = zf.read(f"{figures[0].name}.html").decode()
        assert f'src="{export.PLOTLY_JS}"' in page and len(page) < 500_000  # the library is not inside
    assert len(data) < 8 * 2**20


def test_the_sidebar_prepares_the_zip_with_progress_then_offers_it():
    at = open_app("pages/overview.py", {"T": "8"})
    assert not [b for b in at.sidebar.get("download_button") if b.proto.label.startswith("Download the zip")]
    next(b for b in at.sidebar.button if b.label.startswith("Prepare all figures")).click().run()
    assert_clean(at)
    ready = [b for b in at.sidebar.get("download_button") if b.proto.label.startswith("Download the zip")]
    assert len(ready) == 1 and "MiB" in ready[0].proto.label
    at.slider(key="cfg.T").set_value(9).run()  # another configuration: the zip of the old one is not offered
    assert not [b for b in at.sidebar.get("download_button") if b.proto.label.startswith("Download the zip")]


@needs_browser
def test_the_unroll_page_prepares_the_gif_with_progress_then_offers_it():
    at = open_app("pages/unroll.py", {"T": "4", "hidden_size": "3"})
    assert not [b for b in at.get("download_button") if "GIF" in b.proto.label]
    at.button(key="prepare-gif-unroll_code").click().run()
    assert_clean(at)
    offered = [b for b in at.get("download_button") if "Download the GIF" in b.proto.label]
    assert len(offered) == 1


@pytest.mark.parametrize("config", [CONFIG, RunConfig(T=6, num_layers=2)], ids=["one layer", "stack"])
def test_the_exports_include_the_code_view(config):
    """The textbook loop as a file, and (one layer in one direction) the animation with the code beside it."""
    figures = {p.name: p for p in export_panels(config)}
    assert ("unroll_code" in figures) == (config.num_layers == 1)
    data = export.bundle(config, [figures.get("unroll_code", figures["step_losses"])], static=False)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        source = zf.read(export.CODE_FILE).decode()
        assert source == (Path(__file__).parents[3] / "bptt_core" / "reference.py").read_text()
        if config.num_layers == 1:
            page = zf.read("unroll_code.html").decode()
            assert "reference_bptt" in page and "[forward]" in page and "[backward]" in page
            assert zf.read("unroll_code.csv").decode().startswith("name,phase,t,first,last,note")
