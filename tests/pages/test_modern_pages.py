"""The pages with the LRU and minGRU selected, through AppTest: the sidebar's own init options, λ in the complex
plane and each cell's law, the Weights page's editor and downloads, the Training lab's copy-task comparison."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import bptt_core as bc
from dashboard.catalog import compute
from dashboard.config import LIMITS
from dashboard.config.cell_views import VIEWS
from dashboard.io import weights
from dashboard.learning import copy_race
from tests.apptest import array_of, assert_clean, chart_specs, open_app

#: Cells whose weights the init presets shape, and the others (which draw their own way).
PRESET = [c for c in bc.CELLS if bc.CELLS[c].init_presets]
OWN = [c for c in bc.CELLS if not bc.CELLS[c].init_presets]


def widget_keys(at) -> set[str]:
    return {w.key for kind in ("slider", "selectbox", "number_input") for w in at.get(kind) if w.key}


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_the_sidebar_offers_the_presets_or_the_cells_own_init_options(cell):
    at = open_app("pages/weights.py", {"cell": cell})
    assert_clean(at)
    keys, own = widget_keys(at), bc.CELLS[cell].init_options
    assert ("cfg.init" in keys) == ("cfg.scale" in keys) == bc.CELLS[cell].init_presets
    for name in ("r_min", "r_max", "max_phase"):
        assert (f"cfg.{name}" in keys) == (name in own)
    for name in own:
        slider = at.slider(key=f"cfg.{name}")
        assert (slider.min, slider.max) == LIMITS[name]  # the one table of limits
    presets = [b for b in at.button if b.label in ("Identity (IRNN)", "Orthogonal", "Scaled random", "Apply ρ")]
    assert len(presets) == 4 and all(b.disabled != bc.CELLS[cell].init_presets for b in presets)


def test_the_lru_ring_moves_its_eigenvalues_and_a_wrong_ring_is_refused():
    cell = next(c for c in OWN if "r_max" in bc.CELLS[c].init_options)
    at = open_app("pages/gradient_flow.py", {"cell": cell})
    at.slider(key="cfg.r_max").set_value(0.95).run()
    assert_clean(at)
    config = at.session_state["run_config"]
    assert config.r_max == 0.95 and "r_max=0.95" in "&".join(f"{k}={v}" for k, v in at.query_params.items())
    ring = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("Eigenvalues λ"))
    lam = array_of(ring["data"][-1]["x"]) + 1j * array_of(ring["data"][-1]["y"])
    assert np.abs(lam).max() <= 0.95 + 1e-12 and np.abs(lam).min() >= config.r_min - 1e-12
    at.slider(key="cfg.r_min").set_value(0.99).run()  # above r_max: the cell's own rule
    assert not at.exception and "r_min and r_max must satisfy" in at.sidebar.error[0].value
    assert at.session_state["run_config"] == config  # the last valid view stays


@pytest.mark.parametrize("cell", [c for c in bc.CELLS if bc.CELLS[c].decay is not None])
def test_gradient_flow_draws_each_cells_law_beside_its_products(cell):
    at = open_app("pages/gradient_flow.py", {"cell": cell, "T": "120"})
    assert_clean(at)
    jac = next(s for s in chart_specs(at) if s["layout"]["title"]["text"] == "Jacobian product norm against lag")
    law = next(t for t in jac["data"] if t["name"] == f"law {VIEWS[cell].law}")
    measured = next(t for t in jac["data"] if t["name"] == "spectral norm")
    np.testing.assert_allclose(array_of(law["y"]), array_of(measured["y"]), atol=1e-9)


@pytest.mark.parametrize("cell", OWN)
def test_the_weights_page_edits_the_recurrent_parameter_and_offers_safetensors(cell):
    at = open_app("pages/weights.py", {"cell": cell, "hidden_size": "4", "num_layers": "2"})
    assert_clean(at)
    shared = bc.CELLS[cell].term_params[0]
    assert at.selectbox(key="weights_matrix").options == [f"{shared}_l0", f"{shared}_l1"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download these weights (.npz)" in labels and "Download (.safetensors)" in labels
    assert any("has none and draws its weights" in i.value for i in at.info)
    before = compute.preset_params(at.session_state["run_config"])
    edited = weights.apply_edits(before, 0, {1: {"0": -3.0}}, key=f"{shared}_l1", height=4)
    changed = [k for k in before if not np.array_equal(before[k], edited[k])]
    assert changed == [f"{shared}_l1"] and edited[f"{shared}_l1"].reshape(-1)[1 * before[changed[0]][0].size] == -3.0


def test_the_copy_comparison_runs_behind_its_button_and_states_what_it_measured(monkeypatch):
    """A small study (H = 2, B = 2, one seed, 200 iterations): every cell's curve, the baseline and the caption."""
    monkeypatch.setattr(copy_race, "STUDY", replace(copy_race.STUDY, hidden_size=2, batch_size=2))
    at = open_app("pages/training.py")
    assert_clean(at)
    assert any("Run the comparison" in i.value for i in at.info)
    at.slider(key="copy_seeds").set_value(1)
    at.select_slider(key="copy_iterations").set_value(200)
    next(b for b in at.button if b.label == "Run the comparison").click().run()
    assert_clean(at)
    figure = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("The cells on the copy task"))
    names = {t.get("name") for t in figure["data"] if t.get("mode") == "lines"}
    assert {VIEWS[c].label for c in bc.CELLS} <= names
    study, losses = at.session_state["copy_last"]
    assert len(losses) == len(bc.CELLS) and study.hidden_size == 2
    caption = copy_race.comparison(study, losses).caption
    assert any(caption in c.value for c in at.caption)
