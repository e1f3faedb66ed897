"""Every sentence that states a law, a comparison or a threshold, checked on its figure's own data.

Random settings come from one seeded generator (cells, activations, inits, gains, signals, T up
to 1000), so a failure names a reproducible configuration.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.lab.signals import SIGNALS
from dashboard.catalog import compute, memory, panels
from dashboard.catalog import sections as catalog
from dashboard.catalog import verdict as rules
from dashboard.config import RunConfig
from dashboard.diagnose import panels as diagnose
from dashboard.diagnose.advice import RULES
from dashboard.figures.style import human_bytes
from dashboard.learning import lessons


def random_settings(n: int, seed: int, max_T: int = 1000) -> list[RunConfig]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        cell = str(rng.choice(["rnn", *bc.CELLS]))  # the vanilla RNN twice: it has four activations
        out.append(
            RunConfig(
                cell=cell,
                activation=str(rng.choice(["tanh", "relu", "sigmoid", "linear"])) if cell == "rnn" else "tanh",
                T=int(rng.choice([2, 10, 40, 150, 400, max_T])),
                hidden_size=int(rng.integers(2, 33)),
                batch_size=int(rng.integers(1, 5)),
                init=str(rng.choice(["uniform", "normal", "orthogonal", "spectral"])),
                scale=float(rng.choice([0.5, 0.9, 1.0, 1.1, 1.5, 3.0])),
                signal=str(rng.choice(SIGNALS)),
                seed=int(rng.integers(0, 1000)),
                loss=str(rng.choice(["mse", "cross_entropy"])),
                ragged=bool(rng.random() < 0.3),
                num_layers=int(rng.choice([1, 1, 1, 2, 3])),
                bidirectional=bool(rng.random() < 0.25),
            )
        )
    return out


def trace(fig, name_part: str) -> np.ndarray:
    """The y values of the one trace whose name contains ``name_part`` (None where not drawn)."""
    (found,) = [t for t in fig.data if name_part in (t.name or "")]
    return np.array([np.nan if v is None else v for v in found.y], dtype=float)


GROWING = [
    RunConfig(cell="rnn", activation="linear", init="orthogonal", scale=1.2, T=40),
    RunConfig(cell="rnn", activation="relu", init="identity", scale=1.3, T=60),
    RunConfig(cell="rnn", activation="linear", init="spectral", scale=3.0, T=1000),
]


@pytest.mark.parametrize("config", random_settings(32, seed=1) + GROWING, ids=lambda c: c.key())
def test_the_verdict_never_contradicts_the_curve_it_is_computed_from(config):
    """The label follows the stated rule on the blue curve exactly as the figure draws it."""
    res = compute.run(config)
    curve = compute.last_loss_gradient(config)
    found = rules.verdict(curve, compute.spectral(config), res)
    panel = panels.gradient_norms(config, res, curve)
    drawn = panel.data["last_loss_grad"].to_numpy()  # the figure's data (a log axis leaves out exact zeros)
    shown = trace(panel.figure, "last loss")
    assert np.array_equal(np.isnan(shown), ~(drawn > 0) | ~np.isfinite(drawn))
    ok = (drawn > 0) & np.isfinite(drawn)
    np.testing.assert_allclose(shown[ok], drawn[ok], rtol=1e-6)
    positive = np.flatnonzero(np.isfinite(drawn) & (drawn > 0))
    if found.label == "overflow":
        assert not res.finite or not np.all(np.isfinite(curve))
        return
    if found.label == "too short":
        assert positive.size <= 1 or positive[-1] == 0
        return
    first, last = drawn[0], drawn[positive[-1]]
    decades = np.log10(first / last) if first > 0 else -np.inf
    expected = (
        "vanishing" if decades < -rules.VERDICT_DECADES else "exploding" if decades > rules.VERDICT_DECADES else "holds"
    )
    assert found.label == expected, (decades, found)
    if found.label == "vanishing":
        assert first < last
    if found.label == "exploding":
        assert first > last
    if config.cell == "rnn" and compute.spectral(config).bound_rate < 1:
        assert found.label != "exploding"  # Pascanu's sufficient condition, on the same curve


@pytest.mark.parametrize("T", [100, 400, 1000])
@pytest.mark.parametrize("rho", [0.9, 0.95])
@pytest.mark.parametrize("init", ["orthogonal", "spectral"])
def test_growth_and_horizon_follow_the_linear_rnn_law(T, rho, init):
    """A linear RNN with spectral radius rho: x rho per step and ln(1e-3)/ln(rho) steps, at every T
    (the curve is sampled at spread lags; the summaries use the real ones)."""
    config = RunConfig(cell="rnn", activation="linear", T=T, init=init, scale=rho, hidden_size=16)
    jp = compute.jacobians(config)
    summary = rules.jacobian_summary(jp)
    assert np.exp(summary.rate) == pytest.approx(rho, rel=2e-3)
    law = np.log(1e-3) / np.log(rho)
    if law < jp.lags[-1]:
        assert summary.horizon == pytest.approx(law, abs=3)  # a non-normal W_hh adds a short transient
        assert rules.horizon_text(summary, jp) == f"{summary.horizon} steps"
    else:
        assert summary.horizon is None and rules.horizon_text(summary, jp) == f"> {T - 1} steps"


@pytest.mark.parametrize(
    "config", [c for c in random_settings(40, seed=2, max_T=300) if c.cell == "rnn"], ids=lambda c: c.key()
)
def test_the_spectral_norm_curve_stays_under_the_pascanu_bound(config):
    """The caption says the spectral-norm curve never rises above (γσ_max)^lag: checked on the figure."""
    panel = panels.jacobian(config, compute.jacobians(config), compute.spectral(config))
    spectral, bound = trace(panel.figure, "spectral"), trace(panel.figure, "bound")
    ok = np.isfinite(spectral) & np.isfinite(bound)
    assert np.all(spectral[ok] <= bound[ok] + 1e-9)


def test_the_pascanu_sentence_compares_correctly_at_the_boundary():
    orthogonal = compute.spectral(RunConfig(init="orthogonal", scale=1.0))
    sentence = rules.pascanu_sentence(orthogonal, 29)
    assert "on the boundary" in sentence and "1 > 1" not in sentence
    small = rules.pascanu_sentence(compute.spectral(RunConfig(init="orthogonal", scale=0.5)), 10)
    assert "< 1" in small and "sufficient" not in small.split(":")[0]
    assert "necessary" in rules.pascanu_sentence(compute.spectral(RunConfig(init="orthogonal", scale=2.0)), 10)


@pytest.mark.parametrize("config", random_settings(20, seed=3, max_T=400), ids=lambda c: c.key())
def test_memory_captions_say_what_their_data_show(config):
    runs = memory.strategy_runs(config)
    caption = panels.memory_timelines(config, runs).caption
    full, sqrt = runs["full storage"], runs["checkpoint sqrt(T)"]
    assert f"{sqrt.stored_bytes / full.stored_bytes:.0%} of full storage" in caption
    front = panels.pareto(config, memory.pareto_front(config))
    on_front = front.data[~panels.dominated(front.data)]
    for strategy in front.data["strategy"].unique():
        named_on_it = strategy in front.caption.split(";")[0]
        assert named_on_it == (on_front["strategy"] == strategy).any(), strategy


@pytest.mark.parametrize("config", random_settings(24, seed=5, max_T=400), ids=lambda c: c.key())
def test_gradient_flow_captions_say_what_their_data_show(config):
    """Eigenvalues, cell comparison and truncation study: each caption's numbers and verdicts, recomputed
    from the figure's data (or the weights) independently of the caption code."""
    P = compute.preset_params(config)
    W = P[f"weight_hh_l{config.num_layers - 1}"]
    H = config.hidden_size
    blocks = [W[k * H : (k + 1) * H] for k in range(W.shape[0] // H)]
    rho = max(np.abs(np.linalg.eigvals(b)).max() for b in blocks)
    sigma = max(np.linalg.svd(b, compute_uv=False)[0] for b in blocks)
    caption = panels.eigenvalues(config, compute.spectral(config)).caption
    assert f"ρ = {rho:.3g}" in caption and f"σ_max = {sigma:.3g}" in caption
    assert ("non-normal" in caption) == (rho < 1 < sigma)
    assert ("every step shrinks every vector" in caption) == (sigma < 1)

    comparison = panels.comparison(config, compute.cell_comparison(config))
    kept = {c: p["grad_norm"].iloc[0] / p["grad_norm"].iloc[-1] for c, p in comparison.data.groupby("cell", sort=False)}
    if config.T > 1 and np.isfinite(list(kept.values())).all():
        assert f"the {max(kept, key=kept.get).upper()} carries the most" in comparison.caption

    if not config.bidirectional:
        study = panels.truncation(config, compute.truncation(config))
        below = study.data[study.data["relative_error"] < 0.01]
        if below.empty:
            assert "no k drawn brings the error below 1%" in study.caption
        else:
            assert f"falls below 1% at k = {int(below['k'].min())}" in study.caption


@pytest.mark.parametrize("config", random_settings(20, seed=6, max_T=400), ids=lambda c: c.key())
def test_the_flow_matrix_is_the_same_for_either_reduction(config):
    """The caption says ||∂l_t/∂h_k|| does not depend on the reduction: l_t is step t's own mean loss."""
    _, mean = compute.flow(config.replace(reduction="mean"))
    _, total = compute.flow(config.replace(reduction="sum"))
    finite = np.isfinite(mean) & np.isfinite(total)
    np.testing.assert_allclose(mean[finite], total[finite], rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("seed", range(20))
def test_the_phase_caption_brackets_each_cells_flip(seed):
    rng = np.random.default_rng(seed)
    config = RunConfig(
        activation=str(rng.choice(["tanh", "relu", "sigmoid", "linear"])),
        hidden_size=int(rng.integers(2, 17)),
        forget_bias=float(rng.uniform(-2, 2)),
        seed=seed,
    )
    panel = panels.phase(config, compute.phase_diagram(config, n=12, max_length=int(rng.integers(20, 200))))
    at_longest = panel.data[panel.data["T"] == panel.data["T"].max()]
    for cell, part in at_longest.groupby("cell"):
        part = part.sort_values("radius")
        up = part["log10_ratio"].to_numpy() >= 0
        name = str(cell).upper()
        if not up.any():
            assert f"{name} never" in panel.caption
        elif up[0]:
            assert f"{name} already at" in panel.caption
        else:
            i = int(np.argmax(up))
            lo, hi = part["radius"].iloc[i - 1], part["radius"].iloc[i]
            assert f"{name} between ρ = {lo:.2f} and {hi:.2f}" in panel.caption
            assert not up[:i].any()  # below the bracket every radius vanishes


@pytest.mark.parametrize("config", random_settings(20, seed=7, max_T=150), ids=lambda c: c.key())
def test_loss_page_totals_and_laws_are_the_engines(config):
    """The annotated L_mean and L_sum are the engine's L under each reduction, L_sum = (valid tokens / B) L_mean
    and the same factor links the gradients; the growth exponents are read off the figure's data."""
    built = lessons.loss_panels(config)
    steps = built["step_losses"]
    p = compute.problem(config)
    runs = {
        red: bc.bptt(p.spec, p.params, p.x, p.y, loss=config.loss, reduction=red, mask=p.mask)
        for red in ("mean", "sum")
    }
    assert f"L_mean = {runs['mean'].loss:.4g}" in steps.caption and f"L_sum = {runs['sum'].loss:.4g}" in steps.caption
    factor = (p.mask.sum() if p.mask is not None else config.T * config.batch_size) / config.batch_size
    if np.isfinite(runs["mean"].loss):
        assert runs["sum"].loss == pytest.approx(factor * runs["mean"].loss, rel=1e-9)
        for k, g in runs["mean"].grads.items():
            np.testing.assert_allclose(runs["sum"].grads[k], factor * g, rtol=1e-7, atol=1e-12)
    drawn = [s for s in steps.figure.layout.shapes if s.line.dash == "dash"]
    assert drawn and drawn[0].y0 == pytest.approx(runs["mean"].loss)

    scale = built["scale_vs_length"]
    Ts = np.sort(scale.data["T"].unique())
    for red in ("sum", "mean"):
        g = scale.data[scale.data["reduction"] == red].set_index("T")["grad_norm"]
        if g[Ts[0]] > 0 and np.isfinite([g[Ts[0]], g[Ts[-1]]]).all():
            slope = np.log(g[Ts[-1]] / g[Ts[0]]) / np.log(Ts[-1] / Ts[0])
            assert f"||∇L_{red}|| {'grows ' if red == 'sum' else ''}like T^{slope:.2f}" in scale.caption

    heat = built["token_losses"].figure
    padded = p.mask == 0 if p.mask is not None else np.zeros((config.T, config.batch_size), bool)
    if padded.any():
        overlay = np.asarray(heat.data[1].z, float)
        assert np.array_equal(np.isfinite(overlay), padded)  # grey exactly on the masked tokens
        assert np.all(np.isnan(np.asarray(heat.data[0].z, float)[padded]))  # never a shade of the loss scale
    else:
        assert len(heat.data) == 1


@pytest.mark.parametrize("seed", range(20))
def test_stochastic_caption_reads_its_figure(seed):
    """Variance ratios and the noise verdicts follow the plotted bias/variance data, whichever way they go."""
    rng = np.random.default_rng(seed)
    kind = str(rng.choice(["bernoulli", "categorical"]))
    n = int(rng.choice([500, 2000]))
    panel = lessons.estimator_panels(
        kind, float(rng.uniform(-4, 4)), float(rng.uniform(0, 1)), np.geomspace(0.05, 2.0, 8), n, 0.5, seed=seed
    )["estimator_bias_variance"]
    med = panel.data.groupby("estimator")[["bias", "variance"]].median()
    ratio = med.loc["reinforce_baseline", "variance"] / med.loc["reinforce", "variance"]
    assert f"a baseline makes that variance ×{ratio:.2g}" in panel.caption
    st = med.loc["straight_through"]
    noisy = st["bias"] <= lessons.NOISE_SE * np.sqrt(st["variance"] / n)
    part = panel.caption.split("Straight-through:")[1].split(")")[0]
    assert ("within sampling noise" in part) == noisy
    names = {t.name for t in panel.figure.data}
    assert names == {"REINFORCE", "REINFORCE + baseline", "straight-through", "Gumbel-softmax"}
    colors = {}
    for t in panel.figure.data:  # one colour per estimator in both subplots
        colors.setdefault(t.name, set()).add(t.line.color)
    assert all(len(c) == 1 for c in colors.values()) and len({c.pop() for c in colors.values()}) == 4


@pytest.mark.parametrize("config", random_settings(20, seed=8, max_T=300), ids=lambda c: c.key())
def test_memory_page_captions_read_their_figures(config):
    """Growth exponents of memory against T, the fixed buffers and the peak, and float32 halving every bar."""
    built = catalog.page_panels("memory", config)
    scaling = built["memory_vs_length"]
    Ts = np.sort(scaling.data["T"].unique())
    if len(Ts) >= 2:
        a, b = Ts[-2], Ts[-1]
        for name in ("full storage", "checkpoint sqrt(T)"):
            rows = scaling.data[scaling.data["strategy"] == name].set_index("T")["bytes"]
            slope = np.log(rows[b] / rows[a]) / np.log(b / a)
            assert f"{name} grows like T^{slope:.2f}" in scaling.caption
    assert ("Truncation caps memory" in scaling.caption) == (not config.bidirectional)
    res = compute.run(config)
    stack = built["memory_by_tensor"]
    assert f"The peak, {human_bytes(res.memory_bytes)}" in stack.caption
    assert f"({human_bytes(res.memory_bytes - res.stored_bytes)}:" in stack.caption
    bars = built["memory_budget"].data.pivot(index="item", columns="dtype", values="bytes")
    assert "float32 halves every bar" in built["memory_budget"].caption
    np.testing.assert_array_equal(bars["float32"] * 2, bars["float64"])


def test_step_contributions_caption_sum_is_consistent_with_its_bars():
    """'dW_hh is the sum of these per-step terms': the gradient's norm is at most the sum of the bars
    (triangle inequality), and equals it for T = 1."""
    for config in random_settings(20, seed=9, max_T=200):
        res = compute.run(config)
        bars = panels.contributions(config, res).data["weight_hh"].to_numpy()
        g = np.linalg.norm(res.grads["weight_hh_l0"])
        if np.isfinite(bars).all() and np.isfinite(g) and config.num_layers == 1 and not config.bidirectional:
            assert g <= bars.sum() * (1 + 1e-9) + 1e-300


#: Each figure, the caption under it, and the tests that check that caption on the figure's own data
#: (``module:function``); () for a descriptive caption, which says how to read the figure and states no law,
#: comparison or threshold.
CAPTION_CHECKS = {
    "unroll_animation": ("dashboard.figures.test_figures:test_unroll_caption_states_the_frame_stride",),
    "unroll_diagram": (),
    "unroll_grid": ("dashboard.catalog.test_depth:test_grid_animation_frames_light_the_nodes_visited_so_far",),
    "unroll_grid_diagram": (),
    "gradient_norms": (
        "dashboard.catalog.test_claims:test_the_verdict_never_contradicts_the_curve_it_is_computed_from",
    ),
    "flow_matrix": ("dashboard.catalog.test_claims:test_the_flow_matrix_is_the_same_for_either_reduction",),
    "jacobian_vs_lag": (
        "dashboard.catalog.test_claims:test_the_spectral_norm_curve_stays_under_the_pascanu_bound",
        "dashboard.catalog.test_claims:test_growth_and_horizon_follow_the_linear_rnn_law",
    ),
    "eigenvalues": ("dashboard.catalog.test_claims:test_gradient_flow_captions_say_what_their_data_show",),
    "step_contributions": (
        "dashboard.catalog.test_claims:test_step_contributions_caption_sum_is_consistent_with_its_bars",
    ),
    "gradient_itemised": ("dashboard.catalog.test_claims:test_itemised_bars_add_up_to_the_engines_gradient_norm",),
    "cell_comparison": ("dashboard.catalog.test_claims:test_gradient_flow_captions_say_what_their_data_show",),
    "phase_diagram": ("dashboard.catalog.test_claims:test_the_phase_caption_brackets_each_cells_flip",),
    "truncation_study": ("dashboard.catalog.test_claims:test_gradient_flow_captions_say_what_their_data_show",),
    "layer_time": ("dashboard.catalog.test_depth:test_captions_over_depth_are_read_off_their_figures",),
    "layer_jacobians": ("dashboard.catalog.test_depth:test_captions_over_depth_are_read_off_their_figures",),
    "layer_memory": ("dashboard.catalog.test_depth:test_captions_over_depth_are_read_off_their_figures",),
    "memory_by_tensor": ("dashboard.catalog.test_claims:test_memory_page_captions_read_their_figures",),
    "memory_timelines": ("dashboard.catalog.test_claims:test_memory_captions_say_what_their_data_show",),
    "memory_vs_length": ("dashboard.catalog.test_claims:test_memory_page_captions_read_their_figures",),
    "memory_budget": ("dashboard.catalog.test_claims:test_memory_page_captions_read_their_figures",),
    "pareto_front": (
        "dashboard.catalog.test_claims:test_memory_captions_say_what_their_data_show",
        "dashboard.catalog.test_depth:test_pareto_caption_for_a_stack_bounds_the_engine",
    ),
    "step_losses": ("dashboard.catalog.test_claims:test_loss_page_totals_and_laws_are_the_engines",),
    "scale_vs_length": ("dashboard.catalog.test_claims:test_loss_page_totals_and_laws_are_the_engines",),
    "token_losses": ("dashboard.catalog.test_claims:test_loss_page_totals_and_laws_are_the_engines",),
    "estimator_bias_variance": ("dashboard.catalog.test_claims:test_stochastic_caption_reads_its_figure",),
    "estimator_spread": (),
    "training_curves": ("dashboard.learning.test_lessons:test_training_captions_read_their_runs",),
    "training_heatmap": (),
    **{
        name: ("dashboard.diagnose.test_diagnose:test_diagnose_captions_read_their_figures",)
        for name in diagnose.PANEL_NAMES
    },
    **{f"fix_{rule.name}": ("dashboard.diagnose.test_fixes:test_the_fix_caption_reads_its_figure",) for rule in RULES},
}


def test_every_figure_has_its_caption_check():
    """Adding a figure means adding its caption's check here (or saying the caption states nothing)."""
    names = set()
    for config in (RunConfig(), RunConfig(num_layers=2, bidirectional=True, T=12)):
        names |= {p.name for p in catalog.all_panels(config)}
        names |= {p.name for p in catalog.page_panels("overview", config).values()}
    names |= set(lessons.loss_panels(RunConfig(T=8)))
    names |= set(lessons.estimator_panels("bernoulli", 0.3, 0.2, np.geomspace(0.05, 2, 3), 200, 0.5))
    names |= {"training_curves", "training_heatmap"}  # lessons.training_panels (needs a training run)
    names |= set(diagnose.PANEL_NAMES)  # the Diagnose page (needs a model: tests/dashboard/diagnose/test_diagnose.py)
    names |= {f"fix_{rule.name}" for rule in RULES}  # its "try it" runs (dashboard.diagnose.fixes.fix_panel)
    assert names == set(CAPTION_CHECKS), names ^ set(CAPTION_CHECKS)
    for check in (c for checks in CAPTION_CHECKS.values() for c in checks):
        module, function = check.split(":")
        assert callable(getattr(importlib.import_module(f"tests.{module}"), function, None)), check


@pytest.mark.parametrize("config", random_settings(20, seed=10, max_T=150), ids=lambda c: c.key())
def test_itemised_bars_add_up_to_the_engines_gradient_norm(config):
    """'All bars add up to ||dW_hh||': the panel's terms summed, against the engine's own gradient."""
    panel = panels.itemised(config, compute.contributions(config))
    G = compute.run(config).grads[f"weight_hh_l{config.num_layers - 1}"]
    norm = np.linalg.norm(G)
    if np.isfinite(norm) and np.isfinite(panel.data["share"]).all():
        assert panel.data["share"].sum() == pytest.approx(norm, rel=1e-8, abs=1e-300)
        assert f"||dW_hh|| = {panel.data['share'].sum():.4g}" in panel.caption
    bars = sum(np.asarray(t.y, float).sum() for t in panel.figure.data if t.type == "bar")
    assert bars == pytest.approx(panel.data["share"].sum(), rel=1e-9, abs=1e-300)
