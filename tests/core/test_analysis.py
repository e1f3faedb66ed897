"""Gradient-flow analysis: Jacobians, spectral conditions, summaries, sweeps, truncation."""

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.jacobians import jacobian_products, local_jacobians
from bptt_core.analysis.spectral import pascanu_bound, spectral_report
from bptt_core.analysis.summaries import first_overflow, growth_rate, memory_horizon
from bptt_core.analysis.sweeps import gradient_ratio_sweep
from bptt_core.analysis.truncation_study import random_truncation_study, truncation_study
from bptt_core.unroll import unroll

from .problems import make_problem


def state_map(spec, params, x_t, state):
    """s_{t-1} -> s_t as one flat function, for finite differences."""
    from bptt_core.tape import projection_matrix

    cell, layer = bc.CELLS[spec.cell], bc.layer_params(params)
    xw = np.concatenate([x_t, np.ones((*x_t.shape[:-1], 1))], axis=-1) @ projection_matrix(cell, layer)
    new, _ = cell.forward_step(layer, xw, state, spec.activation)
    return np.concatenate(new, axis=-1)


@pytest.mark.parametrize(
    ("cell", "activation"), [("rnn", a) for a in bc.ACTIVATIONS] + [("lstm", "tanh"), ("gru", "tanh")]
)
def test_local_jacobian_matches_finite_differences(cell, activation):
    p = make_problem(cell, activation, T=4, B=2, seed=1)
    J = local_jacobians(p.spec, p.params, p.x)
    parts = bc.CELLS[cell].state_parts  # ("h",) or ("h", "c")
    caches, _ = unroll(p.spec, p.params, p.x, tuple(np.zeros((2, 4)) for _ in parts))
    t = 2
    prev = [caches[t][f"{part}_prev"] for part in parts]
    s = np.concatenate(prev, axis=-1)
    H, S = 4, s.shape[-1]
    eps = 1e-6
    for j in range(S):
        up, down = s.copy(), s.copy()
        up[:, j] += eps
        down[:, j] -= eps
        split = lambda v: tuple(v[:, i * H : (i + 1) * H] for i in range(S // H))  # noqa: E731
        col = state_map(p.spec, p.params, p.x[t], split(up)) - state_map(p.spec, p.params, p.x[t], split(down))
        np.testing.assert_allclose(J[t, :, :, j], col / (2 * eps), atol=1e-8)


@pytest.mark.parametrize("rho", [0.5, 0.9, 1.0, 1.3])
def test_linear_rnn_with_scaled_orthogonal_weights_has_jacobian_norm_rho_to_the_lag(rho):
    spec = bc.RNNSpec("rnn", 2, 6, 1, "linear")
    params = bc.init_params(spec, seed=3, init="orthogonal", scale=rho)
    x = np.random.default_rng(3).standard_normal((60, 2, 2))
    jp = jacobian_products(local_jacobians(spec, params, x), 6)
    expected = rho**jp.lags
    np.testing.assert_allclose(10**jp.log10_spectral, np.broadcast_to(expected, (2, 60)), rtol=1e-10)
    np.testing.assert_allclose(10**jp.log10_frobenius, np.broadcast_to(np.sqrt(6) * expected, (2, 60)), rtol=1e-10)
    np.testing.assert_allclose(jp.step_singular_values[1:], rho, rtol=1e-10)


def test_log_norms_stay_finite_past_float64_overflow():
    spec = bc.RNNSpec("rnn", 1, 3, 1, "linear")
    params = bc.init_params(spec, init="orthogonal", scale=1e3)
    jp = jacobian_products(local_jacobians(spec, params, np.zeros((200, 1, 1))), 3)
    np.testing.assert_allclose(jp.log10_spectral[0], 3.0 * np.arange(200), rtol=1e-9)  # up to 1e597


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("seed", range(4))
def test_pascanu_bound_holds_on_random_nets(activation, seed):
    spec = bc.RNNSpec("rnn", 3, 8, 1, activation)
    params = bc.init_params(spec, seed=seed, init="normal", scale=0.5 + seed)
    x = np.random.default_rng(seed).standard_normal((40, 3, 3))
    report = spectral_report(spec, params)
    jp = jacobian_products(local_jacobians(spec, params, x), 8)
    bound = pascanu_bound(jp.lags, report.bound_rate)
    assert np.all(jp.log10_spectral <= bound + 1e-9)
    assert report.gamma == (1.0 if activation == "tanh" else 0.25)


def test_spectral_report_verdicts():
    spec = bc.RNNSpec("rnn", 1, 5, 1, "sigmoid")
    small = spectral_report(spec, bc.init_params(spec, init="orthogonal", scale=3.9))
    large = spectral_report(spec, bc.init_params(spec, init="orthogonal", scale=4.1))
    assert small.verdict == "vanishing" and large.verdict == "may explode"
    assert small.sigma_max["a"] == pytest.approx(3.9) and small.spectral_radius["a"] == pytest.approx(3.9)
    gated = spectral_report(bc.RNNSpec("lstm", 1, 5, 1), bc.init_params(bc.RNNSpec("lstm", 1, 5, 1)))
    assert gated.verdict == "gated" and set(gated.eigenvalues) == {"i", "f", "g", "o"}


def test_identity_relu_with_zero_input_keeps_gradient_norm_constant():
    spec = bc.RNNSpec("rnn", 2, 6, 1, "relu")
    params = bc.init_params(spec, init="identity")
    T = 50
    mask = np.zeros((T, 1))
    mask[-1] = 1  # loss at the last step only
    h0 = np.random.default_rng(0).uniform(0.5, 1.5, (1, 6))
    res = bc.bptt(spec, params, np.zeros((T, 1, 2)), np.ones((T, 1, 1)), mask=mask, h0=h0)
    norms = np.linalg.norm(res.dh[:, 0], axis=1)
    np.testing.assert_allclose(norms, norms[-1], rtol=1e-12)
    assert norms[-1] > 0


@pytest.mark.parametrize("cell", [name for name, c in bc.CELLS.items() if c.init_presets])
def test_orthogonal_init_has_unit_singular_values(cell):
    spec = bc.RNNSpec(cell, 2, 7, 1)
    params = bc.init_params(spec, seed=4, init="orthogonal")
    for g in range(spec.gates):
        np.testing.assert_allclose(
            np.linalg.svd(params["weight_hh_l0"][g * 7 : (g + 1) * 7], compute_uv=False), 1.0, rtol=1e-12
        )


def test_spectral_init_hits_the_target_radius():
    spec = bc.RNNSpec("gru", 1, 9, 1)
    report = spectral_report(spec, bc.init_params(spec, init="spectral", scale=1.7))
    assert all(r == pytest.approx(1.7, rel=1e-12) for r in report.spectral_radius.values())


def test_summaries():
    y = np.log10(0.5) * np.arange(30)  # halves every step
    assert growth_rate(y) == pytest.approx(np.log(0.5))
    assert memory_horizon(y, 1e-3) == 10  # 2^-10 < 1e-3 < 2^-9
    assert memory_horizon(np.zeros(5)) is None
    assert first_overflow(np.array([[1.0], [2.0], [np.inf], [np.nan]])) == 2
    assert first_overflow(np.ones((3, 2))) is None
    assert np.isnan(growth_rate(np.array([np.nan, 1.0])))


def test_phase_diagram_rnn_vanishes_below_one_and_explodes_above():
    radii = np.array([0.3, 0.6, 2.0, 3.0])
    out = gradient_ratio_sweep("rnn", radii, np.array([50, 200]), hidden_size=32)
    assert np.all(out[:2] < -3) and np.all(out[2:] > 1)
    assert out[0, 1] < out[0, 0]  # longer sequences vanish more


def test_lstm_keeps_gradients_alive_far_longer_than_rnn():
    radii, lengths = np.array([0.3, 0.6, 0.9]), np.array([25, 50, 100, 200])
    rnn = gradient_ratio_sweep("rnn", radii, lengths, hidden_size=32)
    lstm = gradient_ratio_sweep("lstm", radii, lengths, hidden_size=32, forget_bias=1.0)
    gru = gradient_ratio_sweep("gru", radii, lengths, hidden_size=32)
    assert np.all(lstm > rnn)  # more gradient everywhere in the vanishing regime
    assert np.all(lstm[:, -1] - rnn[:, -1] > 5)  # and at least five decades more at T = 200
    assert np.all(gru[:2] > rnn[:2])
    wide_open = gradient_ratio_sweep("lstm", radii, lengths, hidden_size=32, forget_bias=3.0)
    assert np.all(wide_open > lstm)  # a more open forget gate carries gradient further


def test_truncation_study_converges_to_full_gradient():
    p = make_problem("rnn", T=12, seed=5, scale=1.2)
    study = truncation_study(p.spec, p.params, p.x, p.y, [1, 2, 4, 8, 12, 20])
    assert np.all(np.diff(study.relative_error) <= 1e-12)  # more steps, less error
    assert study.relative_error[-1] == 0 and study.cosine[-1] == pytest.approx(1.0)
    assert study.relative_error[0] > 0.01


def test_random_truncation_study_bias_is_within_sampling_error():
    p = make_problem("gru", T=8, seed=6)
    st = random_truncation_study(p.spec, p.params, p.x, p.y, [0.0, 0.2, 0.5], n_draws=300)
    assert st.relative_bias[0] < 1e-14 and st.relative_variance[0] < 1e-28
    assert np.all(st.relative_bias[1:] < 5 * st.standard_error[1:])
    assert st.relative_variance[2] > st.relative_variance[1] > 0


def test_thinned_lags_equal_the_full_curve_at_those_lags():
    from bptt_core.analysis.jacobians import iter_local_jacobians

    p = make_problem("lstm", T=40, B=2, seed=7)
    full = jacobian_products(local_jacobians(p.spec, p.params, p.x), 4)
    thin = jacobian_products(iter_local_jacobians(p.spec, p.params, p.x), 4, max_points=7)
    assert thin.lags.size == 7 and thin.lags[0] == 0 and thin.lags[-1] == 39
    np.testing.assert_allclose(thin.log10_spectral, full.log10_spectral[:, thin.lags], rtol=1e-12)
    np.testing.assert_allclose(thin.step_singular_values, full.step_singular_values[thin.lags], rtol=1e-12)


@pytest.mark.parametrize("cell", list(bc.CELLS))
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, False), (1, True), (2, True)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_itemised_contributions_sum_to_the_weight_gradient(cell, layers, bidirectional, reduction):
    """sum_{s,t} <C[s,t], D> = <dW, D> for random directions D and every parameter the cell itemises (dW_hh
    first): the terms add up to the gradient exactly."""
    spec = bc.RNNSpec(cell, 3, 4, 2, num_layers=layers, bidirectional=bidirectional)
    params = bc.init_params(spec, seed=2, scale=1.2)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 3, 3)), rng.standard_normal((8, 3, 2))
    mask = np.ones((8, 3))
    mask[5:, 1] = 0  # a padded sequence (the reverse direction restarts at its last valid step)
    grads = bc.bptt(spec, params, x, y, reduction=reduction, mask=mask).grads
    for name in bc.CELLS[cell].term_params:
        G = grads[f"{name}_l{layers - 1}"]
        for _ in range(2):
            D = rng.standard_normal(G.shape)
            P = bc.gradient_contributions(spec, params, x, y, reduction=reduction, mask=mask, direction=D, param=name)
            assert P.sum() == pytest.approx(np.sum(G * D), rel=1e-10, abs=1e-14), name
            assert np.all(np.triu(P, 1) == 0)  # a loss never reaches later steps
    unit = bc.gradient_contributions(spec, params, x, y, reduction=reduction, mask=mask)
    first = grads[f"{bc.CELLS[cell].term_params[0]}_l{layers - 1}"]
    assert unit.sum() == pytest.approx(np.linalg.norm(first), rel=1e-10)
    with pytest.raises(ValueError, match="param must be"):
        bc.gradient_contributions(spec, params, x, y, param="weight_out")


def test_each_row_of_the_contributions_is_one_losss_gradient():
    """Row s is the gradient of the loss at step s alone: the engine with only step s unmasked, reweighted."""
    spec = bc.RNNSpec("gru", 2, 3, 2)
    params = bc.init_params(spec, seed=4)
    rng = np.random.default_rng(5)
    T, B = 7, 2
    x, y = rng.standard_normal((T, B, 2)), rng.standard_normal((T, B, 2))
    D = rng.standard_normal((9, 3))
    P = bc.gradient_contributions(spec, params, x, y, direction=D)
    for s in range(T):
        only = np.zeros((T, B))
        only[s] = 1.0
        G_s = bc.bptt(spec, params, x, y, mask=only).grads["weight_hh_l0"] / T  # mean over T*B tokens, B at s
        assert P[s].sum() == pytest.approx(np.sum(G_s * D), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_input_connectivity_matches_central_differences(cell):
    """||d yhat_t / d x_k|| for every k, against central differences of the forward pass on a short sequence."""
    spec = bc.RNNSpec(cell, 4, 5, 3)
    params = bc.init_params(spec, seed=1, scale=1.3)
    x = np.random.default_rng(0).standard_normal((7, 2, 4))
    t = 5
    C = bc.input_connectivity(spec, params, x, t)
    state = tuple(np.zeros((1, 5 * bc.CELLS[cell].tape[part])) for part in bc.CELLS[cell].state_parts)

    def yhat(xx):
        _, h = unroll(spec, params, xx[:, :1], state)
        return h[t, 0] @ params["weight_out"].T + params["bias_out"]

    for k in range(7):
        J = np.zeros((3, 4))
        for i in range(4):
            e = np.zeros_like(x)
            e[k, 0, i] = 1e-6
            J[:, i] = (yhat(x + e) - yhat(x - e)) / 2e-6
        assert C[k] == pytest.approx(np.linalg.norm(J), rel=1e-6, abs=1e-12)
    with pytest.raises(ValueError, match="t must be"):
        bc.input_connectivity(spec, params, x, 7)


@pytest.mark.parametrize(("cell", "layers", "bidirectional"), [("lstm", 2, True), ("gru", 3, False), ("rnn", 2, True)])
def test_output_sensitivity_matches_central_differences_in_stacks(cell, layers, bidirectional):
    """||d yhat_t / d x_k|| (every k: a bidirectional read-out depends on later inputs too) and
    ||d yhat_t / d h_k|| of the bottom layer, against central differences on the whole network."""
    spec = bc.RNNSpec(cell, 3, 4, 2, num_layers=layers, bidirectional=bidirectional)
    params = bc.init_params(spec, seed=2, scale=1.2)
    x = np.random.default_rng(1).standard_normal((6, 2, 3))
    y = np.zeros((6, 2, 2))
    mask = np.ones((6, 2))
    mask[4:, 1] = 0  # the second sequence ends at step 3: its read-out is taken there

    def yhats(xx):
        return bc.bptt(spec, params, xx, y, mask=mask).yhat

    sens = bc.output_sensitivity(spec, params, x, mask=mask)
    np.testing.assert_array_equal(sens.steps, [5, 3])
    for k in range(6):
        total = 0.0
        for b in range(2):
            J = np.zeros((2, 3))
            for i in range(3):
                e = np.zeros_like(x)
                e[k, b, i] = 1e-6
                J[:, i] = (yhats(x + e)[sens.steps[b], b] - yhats(x - e)[sens.steps[b], b]) / 2e-6
            total += np.sum(J * J)
        assert sens.dx[k] == pytest.approx(np.sqrt(total), rel=1e-6, abs=1e-10)
    assert sens.dh.shape == (layers, spec.directions, 6)
    assert np.all(np.isfinite(sens.dh)) and np.all(sens.dh[:, 0, 5] > 0)
    at3 = bc.output_sensitivity(spec, params, x, t=3)
    assert np.all(at3.dh[-1, 0, 4:] == 0)  # the top forward direction's later states never reach yhat_3
    if bidirectional:  # the reverse directions carry later inputs to the read-out at t
        assert np.all(at3.dx[4:] > 0) and np.all(at3.dh[:, 1, 4:] > 0)
    else:
        assert np.all(at3.dx[4:] == 0) and np.all(at3.dh[:, :, 4:] == 0)


def test_lyapunov_spectrum_of_linear_and_diagonal_recurrences():
    """A linear RNN with W_hh = rho Q (Q orthogonal) has every exponent ln rho, with a diagonal W_hh the logs of
    its entries' moduli; a constant Jacobian's exponents converge to the log-moduli of its eigenvalues."""
    spec = bc.RNNSpec("rnn", 2, 6, 1, activation="linear")
    params = bc.init_params(spec, seed=0)
    x = np.random.default_rng(0).standard_normal((40, 3, 2))
    for rho in (0.5, 0.9, 1.3):
        params["weight_hh_l0"] = rho * bc.orthogonal(6, np.random.default_rng(int(10 * rho)))
        lam = bc.lyapunov_spectrum(spec, params, x)
        np.testing.assert_allclose(lam, np.log(rho), atol=1e-6)
    d = np.array([1.2, -0.9, 0.7, 0.5, -0.3, 0.1])
    params["weight_hh_l0"] = np.diag(d)
    np.testing.assert_allclose(
        bc.lyapunov_spectrum(spec, params, x, k=3), np.log(np.abs(d[:3]))[None].repeat(3, 0), atol=1e-6
    )
    rng = np.random.default_rng(3)
    J = rng.standard_normal((1, 4, 4))
    lam = bc.lyapunov_from_jacobians([J] * 400)
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(J[0]))))[::-1]
    np.testing.assert_allclose(lam[0], expected, atol=0.02)  # converges like 1/T
    with pytest.raises(ValueError, match="k must be"):
        bc.lyapunov_from_jacobians([J], k=5)


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_lyapunov_spectrum_reads_every_layer_and_direction(cell):
    """Every (layer, direction) has its S = H (or 2H with a cell state, or the LRU's complex state) exponents,
    sorted; contracting small weights give a negative leading exponent."""
    spec = bc.RNNSpec(cell, 3, 4, 2, num_layers=2, bidirectional=True)
    params = bc.init_params(spec, seed=4, scale=0.3)
    x = np.random.default_rng(2).standard_normal((30, 2, 3))
    S = spec.jacobian_width
    for layer, direction in spec.layers():
        lam = bc.lyapunov_spectrum(spec, params, x, layer=layer, direction=direction)
        assert lam.shape == (2, S) and np.all(np.diff(lam, axis=1) <= 1e-12)
        assert np.all(lam[:, 0] < 0)
    with pytest.raises(ValueError, match="layer must be"):
        bc.lyapunov_spectrum(spec, params, x, layer=2)


@pytest.mark.parametrize("cell", [name for name, c in bc.CELLS.items() if c.gates])
def test_gate_saturation_counts_units_near_their_limits(cell):
    """Small weights keep every gate away from its limits; large inputs pin them there; the shares are read off
    the gate values the cell caches, against a direct count."""
    spec = bc.RNNSpec(cell, 3, 5, 2, num_layers=2, bidirectional=True)
    params = bc.init_params(spec, seed=1, scale=0.1)
    x = np.random.default_rng(0).standard_normal((12, 3, 3))
    calm = bc.gate_saturation(spec, params, x)
    G = bc.CELLS[cell].gates
    assert calm.shape == (2, 2, G, 3) and np.nanmax(calm[..., :2]) == 0.0
    loud = bc.gate_saturation(spec, params, 500.0 * x)
    assert np.nanmax(np.nansum(loud[0, :, :, :2], axis=-1)) > 0.9  # the first layer reads the loud inputs directly
    zeros = tuple(np.zeros((3, 5 * bc.CELLS[cell].tape[part])) for part in bc.CELLS[cell].state_parts)
    caches, _ = unroll(spec, params, 500.0 * x, zeros)
    values = np.stack([c[bc.CELLS[cell].gate_entry] for c in caches])[..., :5]
    lo = -1.0 if (bc.CELLS[cell].gate_kinds or ("tanh",))[0] == "tanh" else 0.0
    assert loud[0, 0, 0, 0] == pytest.approx(np.mean(values <= lo + 0.01))
    assert loud[0, 0, 0, 1] == pytest.approx(np.mean(values >= 0.99))
    assert loud[0, 0, 0, 2] == pytest.approx(np.mean(values))
    with pytest.raises(ValueError, match="tol"):
        bc.gate_saturation(spec, params, x, tol=2)


def test_relu_saturation_is_the_share_of_dead_units():
    spec = bc.RNNSpec("rnn", 2, 6, 1, activation="relu")
    params = bc.init_params(spec, seed=0)
    x = np.random.default_rng(1).standard_normal((9, 4, 2))
    share = bc.gate_saturation(spec, params, x)[0, 0, 0]
    _, h = unroll(spec, params, x, (np.zeros((4, 6)),))
    assert share[0] == pytest.approx(np.mean(h <= 0)) and np.isnan(share[1]) and share[2] == pytest.approx(h.mean())
