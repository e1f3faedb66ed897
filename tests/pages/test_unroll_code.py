"""The Unroll page shows the textbook loop: beside the animation (one layer), or below the grid (a stack)."""

from __future__ import annotations

import inspect

from bptt_core import reference
from dashboard.catalog.code import reference_body
from tests.apptest import assert_clean, chart_specs, open_app


def _trace(spec: dict, name: str) -> dict | None:
    return next((t for t in spec["data"] if t.get("name") == name), None)


def test_one_layer_plays_the_code_beside_the_animation():
    at = open_app("pages/unroll.py", {"T": "7", "cell": "lstm"})
    assert_clean(at)
    (spec,) = chart_specs(at)
    lines, first_number, loops = reference_body()
    shown = [
        line.replace("\u00a0", " ").replace("&lt;", "<").replace("&amp;", "&") for line in _trace(spec, "code")["text"]
    ]
    assert [s.rstrip() for s in shown] == [line.rstrip() for line in lines]
    assert _trace(spec, "line numbers")["text"][0] == str(first_number)
    names = [f["name"] for f in spec["frames"]]
    assert names == [f"f{t}" for t in range(7)] + [f"b{t}" for t in reversed(range(7))]
    band = next(i for i, t in enumerate(spec["data"]) if t.get("name") == "backward lines")
    last = spec["frames"][-1]
    lit = last["data"][last["traces"].index(band)]["y"]
    assert (min(lit), max(lit)) == (loops["backward"][0] - 0.5, loops["backward"][1] + 0.5)
    assert "bptt_core/reference.py" in at.caption[0].value
    (listing,) = at.code
    assert listing.value == inspect.getsource(reference).rstrip("\n")
    assert at.get("download_button")[-1].proto.label == "reference.py"


def test_a_stack_shows_its_grid_and_the_loop_each_layer_runs():
    at = open_app("pages/unroll.py", {"T": "6", "num_layers": "2"})
    assert_clean(at)
    (spec,) = chart_specs(at)
    assert _trace(spec, "code") is None
    (listing,) = at.code
    assert listing.value == inspect.getsource(reference).rstrip("\n")
    assert any("Each layer and direction of your stack runs this loop" in c.value for c in at.caption)
