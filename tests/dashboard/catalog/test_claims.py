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
from dashboard.catalog import compute, memory, memory_panels, panels
from dashboard.catalog import sections as catalog
from dashboard.catalog import verdict as rules
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS
from dashboard.diagnose import command as diagnose
from dashboard.learning import lessons, papers, stochastic
from dashboard.vocabulary.numbers import factor, human_bytes
from dashboard.vocabulary.quantities import label


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
                bidirectional=(bidirectional := bool(rng.random() < 0.25)),
                truncation=0 if bidirectional or rng.random() < 0.7 else int(rng.choice([1, 3, 8, 25])),
                clip=0.0 if rng.random() < 0.7 else float(rng.choice([0.01, 1.0])),
                dtype="float64" if rng.random() < 0.85 else "float32",
            )
        )
    return out


def trace(fig, name_part: str) -> np.ndarray:
    """The y values of the one trace whose name contains ``name_part`` (None where not drawn)."""
    (found,) = [t for t in fig.data if name_part in (t.name or "")]
    return np.array([np.nan if v is None else v for v in found.y], dtype=float)


#: Edge families of the vocabulary's claims: truncation, bidirectional stacks, gated cells with forget bias 0-5,
#: every activation, T in {2, 3, 4, 600, 1000}, degenerate losses, Pascanu's rate exactly 1, float32.
EDGES = [
    RunConfig(T=40, truncation=8),
    RunConfig(T=41, truncation=8, cell="gru"),
    RunConfig(T=9, truncation=8),
    RunConfig(T=40, bidirectional=True, init="orthogonal", scale=0.9),
    RunConfig(T=30, num_layers=3, bidirectional=True, cell="lstm"),
    *(RunConfig(T=100, cell="lstm", forget_bias=b) for b in (0.0, 3.0, 5.0)),
    *(RunConfig(T=T, activation=a) for T in (2, 3, 4) for a in ("tanh", "relu", "sigmoid", "linear")),
    RunConfig(T=600),
    RunConfig(T=1000),
    RunConfig(T=1000, dtype="float32"),
    RunConfig(T=20, loss="cross_entropy", output_size=1),
    RunConfig(T=12, ragged=True, batch_size=3, truncation=4),
    RunConfig(T=50, init="orthogonal", scale=1.0, activation="linear"),
    RunConfig(T=50, init="identity", scale=1.0, activation="relu"),
]

GROWING = [
    RunConfig(cell="rnn", activation="linear", init="orthogonal", scale=1.2, T=40),
    RunConfig(cell="rnn", activation="relu", init="identity", scale=1.3, T=60),
    RunConfig(cell="rnn", activation="linear", init="spectral", scale=3.0, T=1000),
]


@pytest.mark.parametrize("config", random_settings(32, seed=1) + GROWING + EDGES, ids=lambda c: c.key())
def test_the_verdict_never_contradicts_the_curve_it_is_computed_from(config):
    """The label follows the stated rule on the blue curve exactly as the figure draws it: from the last loss's
    own step back to the earliest step it can reach (the last truncation window), read in log space."""
    res = compute.run(config)
    curve = compute.last_loss_gradient(config)
    found = rules.verdict(config, curve, compute.spectral(config), res)
    panel = panels.gradient_norms(config, res, curve)
    drawn = panel.data["last_loss_gradient"].to_numpy()  # the figure's data (a log axis leaves out exact zeros)
    shown = trace(panel.figure, label("last_loss_gradient"))
    assert np.array_equal(np.isnan(shown), ~(drawn > 0) | ~np.isfinite(drawn))
    ok = (drawn > 0) & np.isfinite(drawn)
    np.testing.assert_allclose(shown[ok], drawn[ok], rtol=1e-6)
    if found.label == "overflow":
        assert not res.finite or not np.all(np.isfinite(curve))
        return
    if found.label == "no gradient":
        assert not np.any(drawn)
        return
    end = int(np.flatnonzero(drawn)[-1])
    start = compute.window_start(config, end)
    assert not np.any(drawn[:start])  # truncation: the last loss does not reach past the last cut
    if found.label == "too short":
        assert end == start
        return
    representable = drawn[start : end + 1] > 0
    decades = np.log10(drawn[start] / drawn[end]) if representable.all() else -np.inf
    expected = (
        "vanishing" if decades < -rules.VERDICT_DECADES else "exploding" if decades > rules.VERDICT_DECADES else "holds"
    )
    assert found.label == expected, (decades, found)
    first = start + int(np.flatnonzero(~representable)[-1]) + 1 if not representable.all() else start
    per_step = 10 ** ((np.log10(drawn[first]) - np.log10(drawn[end])) / (end - first)) if end > first else np.nan
    if np.isfinite(per_step) and per_step > 0:
        assert found.per_step == pytest.approx(per_step, rel=1e-6)
        assert factor(found.per_step) in found.detail
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
    """Issue 24, item 14: γσ_max ≤ 1 bounds every product by 1 (nothing can grow); only > 1 is necessary for
    exploding; the number shown always compares with 1 as the rate does (never "1 > 1")."""
    orthogonal = compute.spectral(RunConfig(init="orthogonal", scale=1.0))
    sentence = rules.pascanu_sentence(orthogonal, 29)
    assert "cannot grow" in sentence and "possible" not in sentence and "1 > 1" not in sentence
    small = rules.pascanu_sentence(compute.spectral(RunConfig(init="orthogonal", scale=0.5)), 10)
    assert "< 1" in small and "sufficient condition for vanishing" in small
    assert "necessary" in rules.pascanu_sentence(compute.spectral(RunConfig(init="orthogonal", scale=2.0)), 10)
    for rate in (1 + 1e-6, 1 - 1e-6, 1.00004, 0.99996, 1 + 1e-11):
        shown = rules.shown_against_one(rate)
        assert (float(shown) > 1) == (rate > 1) and float(shown) != 1.0, (rate, shown)
    relu = compute.spectral(RunConfig(activation="relu", init="identity", scale=1.0))
    assert "= 1 (to rounding)" in rules.pascanu_sentence(relu, 10)


@pytest.mark.parametrize("config", random_settings(20, seed=3, max_T=400), ids=lambda c: c.key())
def test_memory_captions_say_what_their_data_show(config):
    runs = memory.strategy_runs(config)
    caption = memory_panels.memory_timelines(config, runs).caption
    full, sqrt = runs["full storage"], runs["checkpoint sqrt(T)"]
    assert f"stores {sqrt.stored_bytes / full.stored_bytes:.0%} of what full storage stores" in caption
    front = memory_panels.pareto(config, memory.pareto_front(config))
    on_front = front.data[~memory_panels.dominated(front.data)]
    for strategy in front.data["strategy"].unique():
        named_on_it = strategy in front.caption.split(";")[0]
        assert named_on_it == (on_front["strategy"] == strategy).any(), strategy


@pytest.mark.parametrize("config", random_settings(24, seed=5, max_T=400), ids=lambda c: c.key())
def test_gradient_flow_captions_say_what_their_data_show(config):
    """Eigenvalues, cell comparison and truncation study: each caption's numbers and verdicts, recomputed
    from the figure's data (or the weights) independently of the caption code."""
    P = compute.preset_params(config)
    layer = bc.layer_params(P, config.num_layers - 1)
    blocks = list(bc.CELLS[config.cell].recurrence(layer).values())  # W_hh's gate blocks, the LRU's diag(λ)
    caption = panels.eigenvalues(config, compute.spectral(config)).caption
    if not blocks:  # minGRU: no recurrent weight matrix
        assert "no recurrent weight matrix" in caption
    else:
        rho = max(np.abs(np.linalg.eigvals(b)).max() for b in blocks)
        sigma = max(np.linalg.svd(b, compute_uv=False)[0] for b in blocks)
        assert f"{label('spectral_radius')} = {rho:.3g}" in caption and f"{label('sigma_max')} = {sigma:.3g}" in caption
        gated = bc.CELLS[config.cell].gamma is None and bc.CELLS[config.cell].gates > 1
        assert ("do not set the long run" in caption) == gated  # a gated cell's gates decide, not W_hh's blocks
        assert ("non-normal" in caption) == (rho < 1 < sigma and not gated)
        assert ("every multiplication by W_hh shrinks every vector" in caption) == (sigma < 1 and not gated)

    comparison = panels.comparison(config, compute.cell_comparison(config))
    reach = {}
    for cell, part in comparison.data.groupby("cell", sort=False):
        g = part["last_loss_gradient"].to_numpy()
        if np.all(np.isfinite(g)) and g[-1] > 0:
            reach[cell] = np.log10(g[0]) - np.log10(g[-1]) if g[0] > 0 else -np.inf
        else:
            assert f"{VIEWS[cell].label} overflowed" in comparison.caption
    if config.T > 1 and reach:
        assert f"the {VIEWS[max(reach, key=reach.get)].label} carries the most" in comparison.caption

    if not config.bidirectional:
        study = panels.truncation(config, compute.truncation(config))
        assert_truncation_caption_reads(study)


@pytest.mark.parametrize("config", random_settings(20, seed=6, max_T=400), ids=lambda c: c.key())
def test_the_flow_matrix_is_the_same_for_either_reduction(config):
    """The caption says ||∂l_t/∂h_k|| does not depend on the reduction: l_t is step t's own mean loss."""
    _, mean = compute.flow(config.replace(reduction="mean"))
    _, total = compute.flow(config.replace(reduction="sum"))
    finite = np.isfinite(mean) & np.isfinite(total)
    np.testing.assert_allclose(mean[finite], total[finite], rtol=1e-9, atol=1e-300)


def assert_truncation_caption_reads(study) -> None:
    """Every k named below 1 % is below it, the tail named stays below it, and a dip is called one."""
    ks, err = study.data["k"].to_numpy(), study.data["relative_error"].to_numpy()
    ok = err < 0.01
    if not ok.any():
        assert "none brings the error below 1%" in study.caption
        return
    tail = len(ks) - int(np.argmax(~ok[::-1])) if (~ok).any() else 0
    assert f"below 1% for every k ≥ {ks[tail]}" in study.caption and ok[tail:].all()
    assert ("not monotone" in study.caption) == bool(ok[:tail].any())


@pytest.mark.parametrize("seed", range(20))
def test_the_phase_caption_names_every_interval_of_each_row(seed):
    """Issue 24, item 6: rows that flip back are named as intervals, never as one flip."""
    rng = np.random.default_rng(seed)
    config = RunConfig(
        activation=str(rng.choice(["tanh", "relu", "sigmoid", "linear"])),
        hidden_size=int(rng.integers(2, 25)),
        forget_bias=float(rng.uniform(-2, 2)),
        seed=seed,
    )
    panel = panels.phase(config, compute.phase_diagram(config, n=12, max_length=int(rng.integers(20, 200))))
    at_longest = panel.data[panel.data["T"] == panel.data["T"].max()]
    for cell, part in at_longest.groupby("cell"):
        part = part.sort_values("radius")
        v = part["log10_ratio"].to_numpy()
        up, r = np.isnan(v) | (v >= 0), part["radius"].to_numpy()
        name = VIEWS[str(cell)].label
        flips = int(np.sum(np.diff(up.astype(int)) != 0))
        if not up.any():
            assert f"{name} vanishes at every ρ" in panel.caption
        elif up.all():
            assert f"{name} does not vanish at any ρ" in panel.caption
        elif flips == 1 and not up[0]:
            i = int(np.argmax(up))
            assert f"{name} vanishes up to ρ = {r[i - 1]:.2f} and not from ρ = {r[i]:.2f} on" in panel.caption
        else:
            assert f"the row flips {flips} times" in panel.caption


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
    panel = stochastic.estimator_panels(
        kind, float(rng.uniform(-4, 4)), float(rng.uniform(0, 1)), np.geomspace(0.05, 2.0, 8), n, 0.5, seed=seed
    )["estimator_bias_variance"]
    med = panel.data.groupby("estimator")[["bias", "variance"]].median()
    ratio = med.loc["reinforce_baseline", "variance"] / med.loc["reinforce", "variance"]
    assert f"a baseline makes that variance ×{ratio:.2g}" in panel.caption
    st = med.loc["straight_through"]
    noisy = st["bias"] <= stochastic.NOISE_SE * np.sqrt(st["variance"] / n)
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
    res = compute.stored_run(config)  # the training pass: the peak held is the Overview's and the Memory page's
    stack = built["memory_by_tensor"]
    assert f"peak held by the whole pass: {human_bytes(res.memory_bytes)}" in stack.caption
    assert f"{label('stored_for_backward')}: {human_bytes(res.stored_bytes)}" in stack.caption
    assert f"({human_bytes(res.memory_bytes - res.stored_bytes)}:" in stack.caption
    peak = stack.data.groupby("moment")["bytes"].sum().max()
    assert peak == res.memory_bytes  # the figure's stacked areas reach the stated peak
    bars = built["memory_budget"].data.pivot(index="item", columns="dtype", values="bytes")
    assert "float32 halves every bar" in built["memory_budget"].caption
    np.testing.assert_array_equal(bars["float32"] * 2, bars["float64"])


def test_step_contributions_caption_sum_is_consistent_with_its_bars():
    """'dW_hh is the sum of these per-step terms' (the cell's shared parameter: W_hh, the LRU's nu_log, minGRU's
    W_ih): the gradient's norm is at most the sum of the bars (triangle inequality), and equals it for T = 1."""
    for config in random_settings(20, seed=9, max_T=200):
        res = compute.run(config)
        shared = bc.CELLS[config.cell].term_params[0]
        bars = panels.contributions(config, res).data[shared].to_numpy()
        g = np.linalg.norm(res.grads[f"{shared}_l0"])
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
    "unroll_code": ("dashboard.catalog.test_code:test_code_caption_states_the_measured_agreement",),
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
    "phase_diagram": ("dashboard.catalog.test_claims:test_the_phase_caption_names_every_interval_of_each_row",),
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
    "paper_pascanu": ("dashboard.learning.test_papers:test_the_pascanu_caption_reads_its_data",),
    "paper_chaos": ("dashboard.learning.test_papers:test_the_chaos_caption_reads_its_data",),
    **{
        f"paper_{key}": (
            "dashboard.learning.test_papers:test_the_checkpoint_truncation_copy_and_error_captions_read_their_data",
        )
        for key in ("checkpoint", "truncation", "copy", "error_flow")
    },
    "training_heatmap": (),
    **{
        name: ("dashboard.diagnose.test_diagnose:test_diagnose_captions_read_their_figures",)
        for name in diagnose.PANEL_NAMES
    },
}


def test_every_figure_has_its_caption_check():
    """Adding a figure means adding its caption's check here (or saying the caption states nothing)."""
    names = set()
    for config in (RunConfig(), RunConfig(num_layers=2, bidirectional=True, T=12)):
        names |= {p.name for p in catalog.all_panels(config)}
        names |= {p.name for p in catalog.page_panels("overview", config).values()}
    names |= set(lessons.loss_panels(RunConfig(T=8)))
    names |= set(stochastic.estimator_panels("bernoulli", 0.3, 0.2, np.geomspace(0.05, 2, 3), 200, 0.5))
    names |= {"training_curves", "training_heatmap"}  # lessons.training_panels (needs a training run)
    names |= {"unroll_code"}  # dashboard.catalog.code: the Unroll page and the exports, one layer
    names |= set(diagnose.PANEL_NAMES)  # the Diagnose page (needs a model: tests/dashboard/diagnose/test_diagnose.py)
    names |= {f"paper_{key}" for key in papers.STUDIES}  # the Papers page (tests/dashboard/learning/test_papers.py)
    assert names == set(CAPTION_CHECKS), names ^ set(CAPTION_CHECKS)
    for check in (c for checks in CAPTION_CHECKS.values() for c in checks):
        module, function = check.split(":")
        assert callable(getattr(importlib.import_module(f"tests.{module}"), function, None)), check


@pytest.mark.parametrize("config", random_settings(20, seed=10, max_T=150), ids=lambda c: c.key())
def test_itemised_bars_add_up_to_the_engines_gradient_norm(config):
    """'All bars add up to ||dθ||' (the cell's shared parameter): the panel's terms summed, against the engine's
    own gradient."""
    run = compute.run(config)  # truncated and clipped as the sidebar says: the bars add up to this run's gradient
    panel = panels.itemised(config, compute.contributions(config), clip_coef=run.clip_coef)
    shared = bc.CELLS[config.cell].term_params[0]
    G = run.grads[f"{shared}_l{config.num_layers - 1}"]
    norm = np.linalg.norm(G)
    if np.isfinite(norm) and np.isfinite(panel.data["share"]).all():
        rel = 1e-8 if config.dtype == "float64" else 1e-4  # float32 sums its terms in float32
        assert panel.data["share"].sum() == pytest.approx(norm, rel=rel, abs=1e-300)
        assert f"{label('itemised_norm')} = {panel.data['share'].sum():.4g}" in panel.caption
    bars = sum(np.asarray(t.y, float).sum() for t in panel.figure.data if t.type == "bar")
    assert bars == pytest.approx(panel.data["share"].sum(), rel=1e-9, abs=1e-300)
