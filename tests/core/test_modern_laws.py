"""The closed-form laws of the modern recurrences, and the LRU's forward normalisation.

LRU: ``d x_t / d x_{t-k} = diag(lambda^k)``, so a gradient travelling back k steps is scaled by
``|lambda|^k`` exactly. minGRU: ``d h_t / d h_k = prod_{s=k+1}^t diag(1 - z_s)``. Both to 1e-12,
through the engine's own analyses (step Jacobians, their products, the flow matrix, Lyapunov
exponents). The LRU's ``gamma = sqrt(1 - |lambda|^2)`` keeps ``E|x_t|^2`` of white-noise inputs at
``E|B u|^2`` whatever ``|lambda|`` is: checked statistically, with a margin of several standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.jacobians import jacobian_products, local_jacobians
from bptt_core.cells.lru import eigenvalues
from bptt_core.scan import linear_recurrence_loop, linear_scan, reverse_linear_scan
from bptt_core.unroll import unroll


def lru_problem(H: int = 5, T: int = 40, B: int = 3, seed: int = 0, **ring):
    spec = bc.RNNSpec("lru", 2, H, 2)
    params = bc.init_params(spec, seed=seed, **ring)
    rng = np.random.default_rng(seed)
    return spec, params, rng.standard_normal((T, B, 2)), rng.standard_normal((T, B, 2))


@pytest.mark.parametrize("seed", range(3))
def test_lru_state_jacobians_are_lambda_to_the_lag(seed):
    """Every step Jacobian is the real form of diag(lambda); the products' norms are max|lambda|^k and
    sqrt(2 sum |lambda|^(2k)), whatever the inputs."""
    spec, params, x, _ = lru_problem(seed=seed, r_min=0.5, r_max=0.99, max_phase=np.pi)
    lam_re, lam_im = eigenvalues(bc.layer_params(params))
    J = local_jacobians(spec, params, x)
    H = spec.hidden_size
    real_form = np.block([[np.diag(lam_re), -np.diag(lam_im)], [np.diag(lam_im), np.diag(lam_re)]])
    np.testing.assert_allclose(J, np.broadcast_to(real_form, J.shape), rtol=0, atol=1e-15)
    jp = jacobian_products(J, spec.hidden_width)
    modulus = np.hypot(lam_re, lam_im)
    k = jp.lags[:, None]
    np.testing.assert_allclose(10**jp.log10_spectral, np.broadcast_to(modulus.max() ** jp.lags, (3, 40)), rtol=1e-12)
    frob = np.sqrt(2 * np.sum(modulus[None] ** (2 * k), axis=1))
    np.testing.assert_allclose(10**jp.log10_frobenius, np.broadcast_to(frob, (3, 40)), rtol=1e-12)
    assert J.shape[-1] == 2 * H == spec.jacobian_width


def test_lru_gradient_of_the_last_loss_follows_lambda_to_the_distance():
    """One complex unit: ||d l_T / d x_t|| = |lambda|^(T - t) ||d l_T / d x_T||, through the flow matrix
    (the engine's batched adjoints), for the scan and the loop alike."""
    spec, params, x, y = lru_problem(H=1, T=60, B=2, seed=4, r_min=0.95, r_max=0.99)
    lam_re, lam_im = eigenvalues(bc.layer_params(params))
    F = bc.flow_matrix(spec, params, x, y, origins=np.array([59]))[0]
    distance = 59 - np.arange(60)
    np.testing.assert_allclose(F, F[-1] * np.hypot(lam_re[0], lam_im[0]) ** distance, rtol=1e-12)
    mask = np.zeros((60, 2))
    mask[-1] = 1.0  # only the last loss: the state's gradient decays exactly as |lambda|^k
    grads = [bc.bptt(spec, params, x, y, mask=mask, scan=s).grads for s in (False, True)]
    for key in grads[0]:
        np.testing.assert_allclose(grads[1][key], grads[0][key], rtol=1e-12, atol=1e-15)


def test_lru_lyapunov_exponents_are_the_log_moduli():
    """The QR method on diag(lambda) returns ln|lambda_n|, each twice (the real and imaginary directions)."""
    spec, params, x, _ = lru_problem(H=4, T=30, seed=2, r_min=0.3, r_max=0.95)
    lam_re, lam_im = eigenvalues(bc.layer_params(params))
    expected = np.sort(np.repeat(np.log(np.hypot(lam_re, lam_im)), 2))[::-1]
    np.testing.assert_allclose(bc.lyapunov_spectrum(spec, params, x), np.broadcast_to(expected, (3, 8)), atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_mingru_state_jacobian_products_are_the_products_of_one_minus_z(seed):
    """d h_t / d h_0 = prod_{s=1}^t diag(1 - z_s): the products' spectral and Frobenius norms, per sequence, equal
    the max and the 2-norm over units of the cumulative products of (1 - z), read off the cached gates."""
    spec = bc.RNNSpec("mingru", 3, 6, 2)
    params = bc.init_params(spec, seed=seed)
    x = np.random.default_rng(seed).standard_normal((50, 2, 3))
    J = local_jacobians(spec, params, x)
    caches, _ = unroll(spec, params, x, (np.zeros((2, 6)),))
    one_minus_z = 1.0 - np.stack([c["gates"][..., :6] for c in caches])  # (T, B, H)
    np.testing.assert_allclose(J, np.einsum("tbh,hk->tbhk", one_minus_z, np.eye(6)), rtol=0, atol=1e-15)
    product = np.cumprod(np.concatenate([np.ones((1, 2, 6)), one_minus_z[1:]]), axis=0)  # lag k: steps 1..k
    jp = jacobian_products(J, spec.hidden_width)
    np.testing.assert_allclose(10**jp.log10_spectral, product.max(axis=2).T, rtol=1e-12)
    np.testing.assert_allclose(10**jp.log10_frobenius, np.linalg.norm(product, axis=2).T, rtol=1e-12)


def test_mingru_gradient_of_one_loss_is_the_product_of_one_minus_z():
    """One unit: ||d l_t / d h_k|| = prod_{s=k+1}^t (1 - z_s) ||d l_t / d h_t|| for every origin t and k <= t."""
    spec = bc.RNNSpec("mingru", 2, 1, 1)
    params = bc.init_params(spec, seed=3)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((25, 1, 2)), rng.standard_normal((25, 1, 1))
    F = bc.flow_matrix(spec, params, x, y)
    caches, _ = unroll(spec, params, x, (np.zeros((1, 1)),))
    one_minus_z = 1.0 - np.array([c["gates"][0, 0] for c in caches])
    for t in range(25):
        for k in range(t + 1):
            assert F[t, k] == pytest.approx(np.prod(one_minus_z[k + 1 : t + 1]) * F[t, t], rel=1e-12, abs=1e-300)


def test_lru_normalisation_keeps_the_state_variance_independent_of_lambda():
    """White-noise inputs u_t ~ N(0, I): with gamma = sqrt(1 - |lambda|^2) the stationary E|x_n|^2 equals
    E|(B u)_n|^2 for |lambda| = 0.3 as for 0.99; without gamma it grows like 1/(1 - |lambda|^2). 4000 sequences:
    the standard error of each mean square is about 2%; the margins are 10% and a factor 5."""
    moduli = np.array([0.3, 0.7, 0.9, 0.97, 0.99])
    H, I, T, B = moduli.size, 3, 700, 4000
    spec = bc.RNNSpec("lru", I, H, 1)
    params = bc.init_params(spec, seed=7, max_phase=np.pi)
    params["nu_log_l0"] = np.log(-np.log(moduli))  # |lambda| = exp(-exp(nu_log))
    params["gamma_log_l0"] = 0.5 * np.log1p(-(moduli**2))  # the initialisation's normalisation
    u = np.random.default_rng(8).standard_normal((T, B, I))
    input_power = np.sum(params["B_re_l0"] ** 2 + params["B_im_l0"] ** 2, axis=1)  # E|(B u)_n|^2
    for gamma_on in (True, False):
        if not gamma_on:
            params["gamma_log_l0"] = np.zeros(H)
        caches, _ = unroll(spec, params, u[:, :, :], (np.zeros((B, H)), np.zeros((B, 2 * H))))
        x = caches[-1]["x"]
        power = np.mean(x[:, :H] ** 2 + x[:, H:] ** 2, axis=0)  # E|x_n|^2 at the last step, over sequences
        ratio = power / input_power
        if gamma_on:
            np.testing.assert_allclose(ratio, 1.0, rtol=0.1)
        else:
            np.testing.assert_allclose(ratio * (1 - moduli**2), 1.0, rtol=0.1)
            assert ratio[-1] > 5 * ratio[0]


@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 17, 64, 1000])
@pytest.mark.parametrize("kind", ["real", "complex shared"])
def test_scan_equals_the_loop_to_rounding(T, kind):
    """The associative scan and its reverse (the adjoint recurrence) against the sequential loop."""
    rng = np.random.default_rng(T)
    if kind == "real":
        a, b, h0 = rng.uniform(0, 1, (T, 3, 4)), rng.standard_normal((T, 3, 4)), rng.standard_normal((3, 4))
    else:
        lam = np.exp(-rng.uniform(0, 0.05, 4) + 1j * rng.uniform(0, np.pi, 4))
        a = np.broadcast_to(lam, (T, 1, 4))
        b = rng.standard_normal((T, 3, 4)) + 1j * rng.standard_normal((T, 3, 4))
        h0 = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    loop = linear_recurrence_loop(a, b, h0)
    np.testing.assert_allclose(linear_scan(a, b, h0), loop, rtol=1e-12, atol=1e-12 * np.max(np.abs(loop)))
    e, g_in = rng.standard_normal(b.shape), rng.standard_normal(b.shape[1:])
    g = np.empty(np.broadcast_shapes(a.shape, e.shape), np.result_type(a, e))
    carry = g_in
    for t in reversed(range(T)):
        carry = g[t] = e[t] + (carry if t == T - 1 else np.conj(a[t + 1]) * carry)
    got = reverse_linear_scan(np.conj(a), e, g_in)
    np.testing.assert_allclose(got, g, rtol=1e-12, atol=1e-12 * np.max(np.abs(g)))
