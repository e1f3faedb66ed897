"""Float64 central differences for every cell, activation, loss, reduction and option."""

import itertools

import numpy as np
import pytest

import bptt_core as bc

from .problems import CELL_ACTIVATIONS, make_problem

COMBOS = CELL_ACTIVATIONS  # every registered cell, with each activation it accepts
TOL = 1e-6


def loss_of(p, **kw):
    return lambda: bc.bptt(p.spec, p.params, p.x, p.y, loss=p.loss, **kw).loss


def assert_grads_match(p, res, **kw):
    for key, param in p.params.items():
        numeric = bc.numerical_gradient(loss_of(p, **kw), param)
        assert bc.relative_error(res.grads[key], numeric) < TOL, key


@pytest.mark.parametrize(("cell", "activation"), COMBOS)
@pytest.mark.parametrize(("loss", "reduction"), list(itertools.product(bc.LOSSES, bc.REDUCTIONS)))
def test_parameter_gradients(cell, activation, loss, reduction):
    p = make_problem(cell, activation, loss, seed=1)
    res = bc.bptt(p.spec, p.params, p.x, p.y, loss=loss, reduction=reduction)
    assert_grads_match(p, res, reduction=reduction)


@pytest.mark.parametrize(("cell", "activation"), COMBOS)
@pytest.mark.parametrize("reduction", bc.REDUCTIONS)
def test_gradients_with_mask(cell, activation, reduction):
    p = make_problem(cell, activation, "cross_entropy", T=6, B=3, seed=2)
    mask = np.ones((6, 3))
    mask[4:, 0] = 0  # a shorter first sequence
    mask[1:, 2] = 0  # a one-token third sequence
    res = bc.bptt(p.spec, p.params, p.x, p.y, loss=p.loss, reduction=reduction, mask=mask)
    assert_grads_match(p, res, reduction=reduction, mask=mask)


@pytest.mark.parametrize(("cell", "activation"), COMBOS)
def test_initial_state_gradients(cell, activation):
    p = make_problem(cell, activation, seed=3)
    rng = np.random.default_rng(3)
    h0 = rng.standard_normal((2, 4))
    c0 = rng.standard_normal((2, 4)) if p.spec.has_cell_state else None
    res = bc.bptt(p.spec, p.params, p.x, p.y, h0=h0, c0=c0)
    assert bc.relative_error(res.dh0, bc.numerical_gradient(loss_of(p, h0=h0, c0=c0), h0)) < TOL
    if p.spec.has_cell_state:
        assert bc.relative_error(res.dc0, bc.numerical_gradient(loss_of(p, h0=h0, c0=c0), c0)) < TOL
    assert_grads_match(p, res, h0=h0, c0=c0)


def truncated_surrogate(p, k, reduction):
    """Sum of chunk losses, each chunk starting from a state frozen at the current parameters.

    Its central-difference gradient is what truncated BPTT must return, computed
    without the engine's backward pass.
    """
    T, B = p.x.shape[:2]
    base = bc.bptt(p.spec, p.params, p.x, p.y, loss=p.loss)
    starts = {a: base.h[a - 1].copy() for a in range(k, T, k)}
    scale = B / (T * B) if reduction == "mean" else 1.0

    def f():
        total = 0.0
        for a in range(0, T, k):
            b = min(a + k, T)
            total += bc.bptt(p.spec, p.params, p.x[a:b], p.y[a:b], loss=p.loss, reduction="sum", h0=starts.get(a)).loss
        return total * scale

    return f


@pytest.mark.parametrize(("cell", "activation"), [("rnn", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("reduction", bc.REDUCTIONS)
def test_truncation_equals_gradient_of_detached_surrogate(cell, activation, k, reduction):
    p = make_problem(cell, activation, T=7, seed=4)
    res = bc.bptt(p.spec, p.params, p.x, p.y, reduction=reduction, truncation=k)
    for key, param in p.params.items():
        numeric = bc.numerical_gradient(truncated_surrogate(p, k, reduction), param)
        assert bc.relative_error(res.grads[key], numeric) < TOL, key


def test_truncation_longer_than_sequence_is_full_bptt():
    p = make_problem("lstm", seed=5)
    full = bc.bptt(p.spec, p.params, p.x, p.y)
    cut = bc.bptt(p.spec, p.params, p.x, p.y, truncation=50)
    for key in full.grads:
        np.testing.assert_array_equal(full.grads[key], cut.grads[key])


def test_lstm_truncation_cuts_both_h_and_c():
    p = make_problem("lstm", T=6, seed=6)
    res = bc.bptt(p.spec, p.params, p.x, p.y, truncation=3)
    # nothing from steps 3.. reaches h_0..h_2, neither through h nor through c: the first
    # chunk's dh is that of BPTT on the chunk alone (weights 1/12 here, 1/2 with reduction="sum" there)
    head = bc.bptt(p.spec, p.params, p.x[:3], p.y[:3], reduction="sum")
    np.testing.assert_allclose(res.dh[:3] * 6, head.dh, rtol=1e-12)


@pytest.mark.parametrize("cell", bc.CELLS)
def test_global_norm_clipping(cell):
    p = make_problem(cell, seed=7)
    full = bc.bptt(p.spec, p.params, p.x, p.y)
    clip = full.grad_norm / 3
    res = bc.bptt(p.spec, p.params, p.x, p.y, clip=clip)
    assert res.grad_norm == pytest.approx(full.grad_norm, rel=1e-14)
    assert bc.global_norm(res.grads) == pytest.approx(clip, rel=1e-12)
    for key in full.grads:
        np.testing.assert_allclose(res.grads[key], full.grads[key] / 3, rtol=1e-12)
    untouched = bc.bptt(p.spec, p.params, p.x, p.y, clip=full.grad_norm * 2)
    assert untouched.clip_coef == 1.0
    for key in full.grads:
        np.testing.assert_array_equal(untouched.grads[key], full.grads[key])


def test_value_clipping():
    p = make_problem("rnn", seed=8, scale=2.0)
    full = bc.bptt(p.spec, p.params, p.x, p.y)
    res = bc.bptt(p.spec, p.params, p.x, p.y, clip_value=0.01)
    for key in full.grads:
        np.testing.assert_array_equal(res.grads[key], np.clip(full.grads[key], -0.01, 0.01))


@pytest.mark.parametrize(("cell", "activation"), [c for c in COMBOS if bc.CELLS[c[0]].hidden_parts == ("h",)])
def test_flow_matrix_matches_single_origin_bptt(cell, activation):
    """F[t, k] is ||dh[k]|| of a BPTT whose loss is only l_t (mask keeps row t), where the state is the output."""
    p = make_problem(cell, activation, T=6, B=3, seed=9)
    mask = np.ones((6, 3))
    mask[3:, 1] = 0
    F = bc.flow_matrix(p.spec, p.params, p.x, p.y, mask=mask)
    for t in range(6):
        only_t = np.zeros_like(mask)
        only_t[t] = mask[t]
        res = bc.bptt(p.spec, p.params, p.x, p.y, mask=only_t)
        expected = np.linalg.norm(res.dh.reshape(6, -1), axis=1)
        expected[t + 1 :] = 0
        np.testing.assert_allclose(F[t], expected, rtol=1e-10, atol=1e-300)
    assert np.all(np.triu(F, 1) == 0)


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_flow_matrix_by_central_differences_of_the_state(cell):
    """F[t, k] for k < t against central differences of l_t with respect to the hidden state entering step k + 1
    (every unit of the cell's hidden parts, the steps k + 1..t re-run by the cell), for every cell; F[t, t] is the
    norm of the read-out's gradient carried into the hidden state (the LRU: through y_t = Re(C x_t) + D u_t)."""
    p = make_problem(cell, T=6, B=2, seed=13)
    spec, c = p.spec, bc.CELLS[cell]
    F = bc.flow_matrix(spec, p.params, p.x, p.y)
    layer = bc.layer_params(p.params)
    w1 = c.projection(layer)
    xw = np.concatenate([p.x, np.ones((6, 2, 1))], axis=-1) @ w1
    zeros = tuple(np.zeros((2, 4 * c.tape[part])) for part in c.state_parts)
    states = [zeros]
    for t in range(6):
        states.append(c.forward_step(layer, xw[t], tuple(s.copy() for s in states[-1]), spec.activation)[0])

    def l_t(t, k, part, flat):  # the step mean loss at t from a state entering step k + 1
        state = tuple(flat.reshape(s.shape) if name == part else s for name, s in zip(c.state_parts, states[k + 1]))
        for s in range(k + 1, t + 1):
            state = c.forward_step(layer, xw[s], tuple(a.copy() for a in state), spec.activation)[0]
        yhat = state[0] @ p.params["weight_out"].T + p.params["bias_out"]
        return float(np.mean(np.mean((yhat - p.y[t]) ** 2, axis=-1)))

    for t, k in ((5, 0), (5, 3), (4, 2), (3, 2)):
        squares = 0.0
        for part in c.hidden_parts:
            base = states[k + 1][c.state_parts.index(part)].ravel()
            for i in range(base.size):
                e = np.zeros_like(base)
                e[i] = 1e-6
                squares += ((l_t(t, k, part, base + e) - l_t(t, k, part, base - e)) / 2e-6) ** 2
        assert F[t, k] == pytest.approx(np.sqrt(squares), rel=1e-6), (t, k)
    residual = states[3][0] @ p.params["weight_out"].T + p.params["bias_out"] - p.y[2]
    g = 2 * residual / (spec.output_size * p.x.shape[1])  # d l_2 / d yhat_2: the mean over units and sequences
    seed = (g @ p.params["weight_out"], *(np.zeros_like(s) for s in zeros[1:]))
    assert F[2, 2] == pytest.approx(np.linalg.norm(c.hidden_grad(layer, seed)), rel=1e-10)


def test_flow_matrix_first_column_by_central_differences():
    """F[t, 0] against finite differences of l_t with respect to h_0 (the initial state)."""
    p = make_problem("lstm", T=5, B=2, seed=10)
    h0 = np.random.default_rng(10).standard_normal((2, 4))
    F = bc.flow_matrix(p.spec, p.params, p.x, p.y, h0=h0)
    for t in range(5):
        mask = np.zeros((5, 2))
        mask[t] = 1

        def l_t(mask=mask, t=t):
            return bc.bptt(p.spec, p.params, p.x, p.y, mask=mask, h0=h0).step_losses[t]

        res = bc.bptt(p.spec, p.params, p.x, p.y, mask=mask, h0=h0)
        assert F[t, 0] == pytest.approx(np.linalg.norm(res.dh[0]), rel=1e-12)
        assert bc.relative_error(res.dh0, bc.numerical_gradient(l_t, h0)) < TOL


@pytest.mark.parametrize("cell", bc.CELLS)
def test_float32_is_close_to_float64(cell):
    p = make_problem(cell, seed=11)
    r64 = bc.bptt(p.spec, p.params, p.x, p.y)
    r32 = bc.bptt(p.spec, p.params, p.x, p.y, dtype="float32")
    assert r32.dh.dtype == np.float32 and all(g.dtype == np.float32 for g in r32.grads.values())
    cell = bc.CELLS[cell]
    tape = {cell.group(entry) for entry in cell.tape}
    for group in tape:  # every stored array halves
        assert r32.memory_by_tensor.get(group, 0) * 2 == r64.memory_by_tensor.get(group, 0), group
    for key in r64.grads:
        assert bc.relative_error(r32.grads[key], r64.grads[key]) < 1e-4


def test_flow_matrix_origins_select_rows():
    p = make_problem("gru", T=9, B=2, seed=12)
    full = bc.flow_matrix(p.spec, p.params, p.x, p.y)
    rows = bc.flow_matrix(p.spec, p.params, p.x, p.y, origins=[8, 2, 5, 5])
    np.testing.assert_array_equal(rows, full[[2, 5, 8]])
    with pytest.raises(ValueError, match="origins"):
        bc.flow_matrix(p.spec, p.params, p.x, p.y, origins=[9])
