"""The statements about the modern recurrences, checked on their figures' data over random settings and the edges:
λ in the complex plane, each diagonal recurrence's law beside its Jacobian products, the phase diagram's cells
without W_hh, and the vocabulary they use."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import bptt_core as bc
from dashboard.catalog import compute, modern_panels, panels
from dashboard.catalog import sections as catalog
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS
from dashboard.learning import quiz, tour
from dashboard.vocabulary.modern_quantities import MODERN_QUANTITIES
from dashboard.vocabulary.numbers import factor, readable

#: The registered cells with a diagonal recurrence: each has a law (``Cell.decay``).
DIAGONAL = [name for name, c in bc.CELLS.items() if c.decay is not None]
#: ... and those whose λ are weights: their eigenvalues are drawn on rings.
RINGED = [name for name in DIAGONAL if bc.CELLS[name].init_options]


def modern_settings(n: int, seed: int) -> list[RunConfig]:
    """Random settings of the diagonal cells: sizes, depth, direction, truncation, masks, dtype, init rings."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        r_min = float(rng.choice([0.0, 0.5, 0.9, 0.99]))
        out.append(
            RunConfig(
                cell=str(rng.choice(DIAGONAL)),
                T=int(rng.choice([2, 3, 10, 40, 150, 400])),
                hidden_size=int(rng.integers(1, 20)),
                batch_size=int(rng.integers(1, 4)),
                num_layers=int(rng.choice([1, 1, 2, 3])),
                bidirectional=(bidirectional := bool(rng.random() < 0.3)),
                truncation=0 if bidirectional or rng.random() < 0.7 else int(rng.choice([1, 3, 8])),
                ragged=bool(rng.random() < 0.3),
                signal=str(rng.choice(["random", "sine", "tokens", "impulse"])),
                dtype="float64" if rng.random() < 0.8 else "float32",
                seed=int(rng.integers(0, 1000)),
                r_min=r_min,
                r_max=float(rng.uniform(r_min, 1.0)),
                max_phase=float(rng.choice([0.01, np.pi / 10, np.pi, 2 * np.pi])),
            )
        )
    return out


EDGES = [
    *(RunConfig(cell=c, T=T) for c in DIAGONAL for T in (2, 3, 600, 1000)),
    *(RunConfig(cell=c, T=1000, dtype="float32") for c in DIAGONAL),
    *(RunConfig(cell=c, T=30, num_layers=3, bidirectional=True) for c in DIAGONAL),
    *(RunConfig(cell=c, T=41, truncation=8) for c in DIAGONAL),
    *(RunConfig(cell=c, T=200, r_min=r, r_max=r) for c in RINGED for r in (0.0, 0.5, 0.999)),
    *(RunConfig(cell=c, T=200, r_min=0.0, r_max=1.0, max_phase=6.283) for c in RINGED),
]


@pytest.mark.parametrize("config", modern_settings(24, seed=3) + EDGES, ids=lambda c: c.key())
def test_the_law_lies_on_the_measured_products_and_the_caption_says_so(config):
    """'the measured spectral norm lies on the law (rounding only)' and 'the law falls ×f per step': the law is
    recomputed here from the cell's own factors (|λ| from ν; 1 − z from the gates) on the figure's lags."""
    panel = catalog.panel("gradient_flow", "jacobian_vs_lag", config)
    df = panel.data
    gap = modern_panels.law_gap(df)
    assert gap < modern_panels.LAW_ROUNDING, (gap, config)
    assert f"{readable(gap, 2)} decades over lags 0 to {int(df['lag'].iloc[-1])}" in panel.caption
    assert "lies on the law (rounding only)" in panel.caption
    law = df["log10_law"].to_numpy()
    if len(df) > 1 and np.isfinite(law[-1]):
        assert f"falls {factor(10 ** (law[-1] / df['lag'].iloc[-1]))} per step" in panel.caption
    assert [t.name for t in panel.figure.data][-1] == f"law {VIEWS[config.cell].law}"
    np.testing.assert_array_equal(panel.figure.data[-1].y, law)


@pytest.mark.parametrize("config", [c for c in modern_settings(24, seed=4) + EDGES if c.cell in RINGED][:16])
def test_the_lru_law_is_the_largest_modulus_to_the_lag(config):
    """For the LRU the law is max|λ|^k exactly: λ read from the top layer's ν, independently of the panel."""
    df = catalog.panel("gradient_flow", "jacobian_vs_lag", config).data
    top = bc.layer_params(compute.preset_params(config), config.num_layers - 1)
    modulus = np.exp(-np.exp(top["nu_log"])).max()
    with np.errstate(divide="ignore"):
        expected = df["lag"].to_numpy() * np.log10(modulus)
    np.testing.assert_allclose(df["log10_law"], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("config", [c for c in modern_settings(24, seed=5) + EDGES if c.cell in RINGED][:16])
def test_the_eigenvalue_caption_reads_its_rings(config):
    """The smallest and largest |λ|, where they sit, and the steps each keeps 1 %, against λ from ν and θ."""
    panel = catalog.panel("gradient_flow", "eigenvalues", config)
    top = bc.layer_params(compute.preset_params(config), config.num_layers - 1)
    lam = np.exp(-np.exp(top["nu_log"]) + 1j * np.exp(top["theta_log"]))
    m = np.abs(lam)
    assert sorted(panel.data["modulus"]) == pytest.approx(sorted(m), rel=1e-12)
    assert f"from {readable(m.min(), 4)} to {readable(m.max(), 4)}" in panel.caption
    assert ("all inside the unit circle" in panel.caption) == bool(m.max() < 1)
    slowest = np.log(0.01) / np.log(m.max()) if m.max() < 1 else np.inf
    assert (f"for {readable(slowest)} steps" if np.isfinite(slowest) else "for ever") in panel.caption
    circle = next(t for t in panel.figure.data if t.name == "unit circle |λ| = 1")
    assert np.allclose(np.hypot(circle.x, circle.y), 1.0)
    markers = [t for t in panel.figure.data if t.mode == "markers"]
    assert len(markers) == 2 and all(len(t.x) == config.hidden_size for t in markers)


def test_a_modulus_on_the_unit_circle_is_said_and_kept_for_ever():
    """User weights with ν = −50 put |λ| = exp(−e^−50) on the circle to float64's precision (weights must be finite:
    ν = −inf is refused): the caption says so instead of "inside"."""
    config = RunConfig(cell=RINGED[0], T=20, hidden_size=3)
    params = compute.preset_params(config)
    params["nu_log_l0"] = np.array([-50.0, 0.0, -2.0])
    panel = modern_panels.eigenvalues(config, compute.spectral(config, params))
    assert "1 on the unit circle" in panel.caption and "for ever" in panel.caption
    assert "all inside" not in panel.caption


@pytest.mark.parametrize("cell", [c for c in bc.CELLS if c not in RINGED])
def test_other_cells_keep_their_eigenvalue_panel(cell):
    config = RunConfig(cell=cell, T=20)
    report = compute.spectral(config)
    assert modern_panels.eigenvalues(config, report).caption == panels.eigenvalue_caption(report)


@pytest.mark.parametrize("seed", range(3))
def test_the_phase_diagram_says_rho_does_not_apply_and_states_their_reach(seed):
    """Cells without W_hh are not drawn over ρ (it does not shape them); the caption names each and its reach at
    the longest T, read off its own row; every cell with W_hh has a heatmap."""
    rng = np.random.default_rng(seed)
    config = RunConfig(hidden_size=int(rng.integers(2, 20)), seed=seed, r_min=float(rng.uniform(0, 0.99)))
    panel = panels.phase(config, compute.phase_diagram(config, n=6, max_length=int(rng.integers(20, 120))))
    own = [c for c in bc.CELLS if not bc.CELLS[c].init_presets]
    heatmaps = [t for t in panel.figure.data if t.type == "heatmap"]
    assert len(heatmaps) == len(bc.CELLS) - len(own)
    rows = panel.data[panel.data["radius"].isna()]
    assert sorted(rows["cell"].unique()) == sorted(own)
    names = " and ".join(VIEWS[c].label for c in rows["cell"].unique())
    assert f"ρ(W_hh) does not apply to the {names}" in panel.caption
    longest = rows[rows["T"] == rows["T"].max()]
    for cell, v in zip(longest["cell"], longest["log10_ratio"]):
        assert VIEWS[cell].label in panel.caption.split("the reach at")[-1]
        want = compute.phase_diagram(config, n=6, max_length=int(rows["T"].max())).own_init[cell][-1]
        assert v == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_settings_set_for_another_cell_do_not_break_the_comparisons():
    """r_min > r_max is no LRU ring, but the RNN's page must still compare every cell: each cell whose own options
    do not pass its check runs at its defaults."""
    config = RunConfig(cell="rnn", r_min=0.95, r_max=0.5, T=20)
    assert set(compute.cell_comparison(config)) == set(bc.CELLS)
    assert set(compute.phase_diagram(config, n=3, max_length=10).own_init) == {c for c in RINGED} | {
        c for c in bc.CELLS if not bc.CELLS[c].init_presets
    }


def test_the_modern_quantities_name_functions_that_exist():
    for key, *_, computed_by, _unit in MODERN_QUANTITIES:
        module, function = computed_by.split(":")
        assert callable(getattr(importlib.import_module(module), function, None)), key


def test_the_modern_scene_states_the_figures_numbers_and_grades_the_ring():
    """The tour's scene: |λ| from ν, each cell's reach read off the figure's own curves (its caption's numbers), and
    closing the ring to |λ| = 0.9 makes the reach smaller by the law (0.9^(T-1) for one unit's worth)."""
    scene = next(s for s in tour.SCENES if s.key == "modern")
    config = scene.config()
    figure = tour.figure(scene, config)
    text = scene.notice(config)
    for cell, part in figure.data.groupby("cell", sort=False):
        g = part["last_loss_gradient"].to_numpy()
        assert f"{VIEWS[cell].label} {factor(g[0] / g[-1])}" in text and factor(g[0] / g[-1]) in figure.caption
    m = np.exp(-np.exp(bc.layer_params(compute.preset_params(config))["nu_log"]))
    assert f"from {readable(m.min(), 4)} to {readable(m.max(), 4)}" in text
    right, before, after = tour.outcome(scene)
    assert scene.options[right] == "smaller" and after < before * 1e-3
    assert after <= 0.9 ** (config.T - 1) * 10  # every |λ| = 0.9: the law bounds the reach, up to the read-out


@pytest.mark.parametrize("variant", range(6))
def test_the_modern_self_check_answer_is_where_the_engine_falls_below_one_percent(variant):
    """The answer k = ceil(ln 0.01 / ln |λ|) is the first distance at which the engine's one-unit LRU keeps less than
    1 % of its last loss's gradient, and the explanation quotes both sides of it."""
    q = quiz.question("modern_memory", variant)
    curve = compute.last_loss_gradient(q.network)[::-1]
    share = curve / curve[0]
    k = int(q.answer)
    assert share[k] < 0.01 <= share[k - 1]
    assert f"{share[k - 1]:.4g} of its size {k - 1} steps back and {share[k]:.4g} at {k}" in q.explanation
    assert quiz.grade(q, k) and quiz.grade(q, k - 1) and not quiz.grade(q, 0.9 * k)
