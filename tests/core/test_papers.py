"""The six reproductions of bptt_core.lab.paper_laws and paper_methods at small scale: each law holds with margins,
on robust statistics over seeds (never on one draw of a chaotic computation), and the helpers are exact where they
can be."""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.activations import DERIVATIVE_BOUND
from bptt_core.analysis.jacobians import iter_local_jacobians, jacobian_products
from bptt_core.checkpoint import plan
from bptt_core.lab import paper_laws as L
from bptt_core.lab import paper_methods as M
from bptt_core.lab.tasks import COPY_LENGTH, copy_baseline, make_batch, sequence_length


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
def test_pascanu_weights_set_gamma_sigma_max_and_the_bound_holds_at_random_rates(activation):
    rng = np.random.default_rng(5)
    rates = sorted(rng.uniform(0.3, 6.0, 4))
    spec = bc.RNNSpec("rnn", 3, 8, 1, activation)
    for rate in rates:
        w = L.pascanu_weights(spec, rate, seed=2)["weight_hh_l0"]
        assert DERIVATIVE_BOUND[activation] * np.linalg.norm(w, 2) == pytest.approx(rate, rel=1e-12)
    study = L.pascanu_study(rates, (activation,), n_seeds=2, T=40, H=8, B=3)
    assert study.excess.shape == (8,) and np.all(study.excess <= 1e-9)  # never above (γσ_max)^t
    assert np.all(study.growth <= study.rate * (1 + 1e-9))  # hence the mean factor per step neither
    below = study.rate < 0.8
    assert np.all(study.last_highest[below] < 40 * np.log10(0.8) + 1e-9)  # sufficient: vanishes at least that fast


def test_a_linear_rnn_with_an_orthogonal_weight_attains_the_bound():
    spec = bc.RNNSpec("rnn", 3, 6, 1, "linear")
    params = bc.init_params(spec, seed=0, init="orthogonal", scale=0.9)
    x = np.random.default_rng(0).standard_normal((30, 2, 3))
    prod = jacobian_products(iter_local_jacobians(spec, params, x), 6)
    np.testing.assert_allclose(prod.log10_spectral[:, 1:], np.tile(prod.lags[1:] * np.log10(0.9), (2, 1)), atol=1e-9)


def test_the_random_network_has_no_input_no_bias_and_couplings_of_variance_g_squared_over_n():
    spec, params = L.random_tanh_network(200, 1.5, seed=3)
    assert (spec.cell, spec.activation, spec.hidden_size) == ("rnn", "tanh", 200)
    assert not params["weight_ih_l0"].any() and not params["bias_ih_l0"].any() and not params["bias_hh_l0"].any()
    w = params["weight_hh_l0"]
    assert np.var(w) * 200 == pytest.approx(1.5**2, rel=0.02)  # 40000 draws: a 2 % margin is 3 standard errors


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([-0.3, -0.1, 0.1, 0.2], 1.5),  # halfway between the gains 1 and 2
        ([0.0, 0.1, 0.2, 0.3], 0.0),  # starts at the level: the first gain
        ([-0.3, -0.2, -0.1, -0.05], np.nan),  # never reaches it
        ([-0.3, 0.2, -0.1, 0.3], 0.6),  # the first rise counts, not a later one
    ],
)
def test_zero_crossing_interpolates_the_first_rise(values, expected):
    got = L.zero_crossing(np.arange(4.0), np.array(values))
    assert np.isnan(got) if np.isnan(expected) else got == pytest.approx(expected)


def test_zero_crossing_at_a_level_and_of_random_lines():
    rng = np.random.default_rng(0)
    for _ in range(20):
        root, slope = rng.uniform(0.8, 1.4), rng.uniform(0.5, 3.0)
        gains = np.linspace(0.5, 2.0, 13)
        assert L.zero_crossing(gains, slope * (gains - root)) == pytest.approx(root)
        assert L.zero_crossing(gains, slope * (gains - root), level=-0.01) == pytest.approx(root - 0.01 / slope)


def test_the_gradient_of_a_linear_orthogonal_network_grows_at_exactly_ln_rho():
    spec = bc.RNNSpec("rnn", 1, 8, 1, "linear")
    params = bc.init_params(spec, seed=1, init="orthogonal", scale=1.1)
    params["weight_ih_l0"][:] = 0
    rate = L.gradient_rate(spec, params, np.ones((1, 8)), 60, 5)
    assert rate == pytest.approx(np.log(1.1), abs=1e-9)


def test_discarding_the_alignment_steps_changes_no_constant_rate_and_is_validated():
    J = np.broadcast_to(np.diag([0.5, 2.0, 1.0]), (1, 3, 3))
    lam = bc.lyapunov_from_jacobians([J] * 50, discard=20)
    np.testing.assert_allclose(lam[0], np.log([2.0, 1.0, 0.5]), atol=1e-9)
    with pytest.raises(ValueError, match="discard must be an integer >= 0"):
        bc.lyapunov_from_jacobians([J], discard=-1)
    with pytest.raises(ValueError, match="at least 4 step"):
        bc.lyapunov_from_jacobians([J] * 3, discard=3)


def test_the_leading_exponent_crosses_zero_near_one_and_is_ln_g_below():
    """Robust: medians over six networks per gain; a margin of 0.15 for N = 48 (ρ(W) of one draw strays by ~0.1, and a
    small network may settle on a fixed point a little above g = 1)."""
    s = L.chaos_study([48], [0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 2.0], n_seeds=6, transient=60, discard=60, steps=200)
    median = np.median(s.leading[0], axis=0)
    assert median[0] == pytest.approx(np.log(0.6), abs=0.1)  # the origin attracts: λ₁ = ln ρ(W), ρ about g
    assert median[1] < -0.05 and median[-1] > 0.05  # order below, chaos at g = 2
    assert abs(np.nanmedian(s.crossing[0]) - 1.0) < 0.15
    assert len(s.spectra[0]) == 48 and np.all(np.diff(s.spectra[0]) <= 1e-12)  # largest first
    assert np.median(np.abs(s.gradient_rate - s.spectrum_leading)) < 0.03  # the gradient grows at λ₁


def test_the_binomial_schedule_saves_the_target_with_the_most_slots_and_its_shares_ignore_b_and_h():
    small = M.checkpoint_study(("rnn", "lstm"), T=200, B=1, H=3, curve_slots=(2, 10, 199, 200, 500))
    large = M.checkpoint_study(("rnn", "lstm"), T=200, B=3, H=7, curve_slots=(2, 10, 199))
    np.testing.assert_array_equal(small.slots, large.slots)
    np.testing.assert_allclose(small.saved, large.saved, rtol=1e-12)
    assert np.all(small.saved >= 0.95)
    for cell, slots, recomputed in zip(small.cells, small.slots, small.recomputed):
        assert recomputed == plan(200, "binomial", int(slots)).recomputed_steps  # the ledger's count is the plan's
        assert 1 - M._binomial_share(str(cell), 200, int(slots) + 1)[0] < 0.95  # one more slot would not save 95 %
    assert list(small.curve_slots) == [2, 10, 199] and small.curve_recomputed[0, -1] == 0  # S >= T left out
    assert np.all(np.diff(small.curve_memory, axis=1) > 0) and np.all(np.diff(small.curve_recomputed, axis=1) < 0)
    assert M.time_overhead(np.array([300, 0]), 100).tolist() == [1.0, 0.0]


def test_randomized_truncation_is_unbiased_and_its_variance_rises_with_p():
    studies = M.truncation_studies(("rnn", "gru"), (0.05, 0.2, 0.5), n_draws=80, T=20, B=2, H=5)
    for st in studies.values():
        assert np.all(st.relative_bias <= 4 * st.standard_error)  # 4 standard errors: a margin over the page's 3
        assert st.relative_variance[-1] > 3 * st.relative_variance[0]


def test_the_copy_task_is_the_papers_and_the_memoryless_strategy_scores_the_baseline():
    for lag in (1, 10, 57):
        batch = make_batch("copy", lag, 4, np.random.default_rng(lag))
        steps = sequence_length("copy", lag)
        symbols = batch.x[:COPY_LENGTH].argmax(-1)
        assert batch.x.shape == (lag + 20, 4, 10) and np.all((symbols >= 1) & (symbols <= 8))
        assert np.all(batch.x[lag + COPY_LENGTH - 1].argmax(-1) == 9)  # the delimiter, ten steps before the end
        np.testing.assert_array_equal(batch.y[steps - COPY_LENGTH :], symbols)  # recalled in order
        assert not batch.y[: steps - COPY_LENGTH].any() and batch.mask.all()
        assert M.memoryless_loss(lag, 8) == pytest.approx(10 * np.log(8) / (lag + 20), rel=1e-12)
        assert copy_baseline(lag) == pytest.approx(10 * np.log(8) / (lag + 20), rel=1e-15)


def test_training_on_the_copy_task_falls_from_chance_to_near_the_baseline():
    s = M.copy_study(("rnn", "lstm"), T=5, n_seeds=2, iterations=120, H=12, B=16, lr=0.02)
    assert s.losses.shape == (2, 2, 120) and np.all(np.isfinite(s.losses))
    assert np.all(s.losses[..., 0] > 1.5)  # about ln 10 at first
    assert np.median(s.final) < 1.3 * copy_baseline(5)  # median over cells and seeds


def test_the_error_signal_decays_at_the_lyapunov_rate_and_the_carousel_keeps_it():
    s = L.error_flow_study((("rnn", 0.0), ("gru", 0.0), ("lstm", 10.0)), n_seeds=3, T=60, H=8, B=3, discard=8)
    rate, predicted = np.log(s.measured), np.log(s.predicted)
    assert np.median(np.abs(rate[:2] - predicted[:2])) < 0.05 and np.all(s.measured[:2] < 0.95)
    assert np.all(np.isnan(s.forget_gate[:2])) and np.all(s.forget_gate[2] > 0.9999)
    assert abs(np.median(rate[2] - np.log(s.forget_gate[2]))) < 0.05  # a factor about 1 per step
    assert s.log10_error.shape == (3, 3, 60)
