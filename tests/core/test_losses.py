"""Loss reductions through the real loss code."""

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.losses import reduce, step_means, token_loss_and_grad, token_weights

from .problems import make_problem


def test_textbook_example_sum_vs_mean():
    token = np.array([[0.2], [0.5], [0.1], [0.4]])  # T = 4, B = 1
    mask = np.ones_like(token)
    np.testing.assert_allclose(step_means(token, mask), [0.2, 0.5, 0.1, 0.4])
    assert reduce(token, mask, "mean") == pytest.approx(0.3, abs=1e-15)
    assert reduce(token, mask, "sum") == pytest.approx(1.2, abs=1e-15)


def test_textbook_example_through_bptt():
    """A 1-unit linear RNN with zero weights and y_t = sqrt(l_t) has exactly those token losses."""
    spec = bc.RNNSpec("rnn", 1, 1, 1, "linear")
    params = {k: np.zeros(s) for k, s in spec.param_shapes().items()}
    y = np.sqrt([0.2, 0.5, 0.1, 0.4]).reshape(4, 1, 1)
    x = np.zeros((4, 1, 1))
    mean = bc.bptt(spec, params, x, y, reduction="mean")
    total = bc.bptt(spec, params, x, y, reduction="sum")
    np.testing.assert_allclose(mean.step_losses, [0.2, 0.5, 0.1, 0.4], rtol=1e-15)
    assert mean.loss == pytest.approx(0.3, rel=1e-15)
    assert total.loss == pytest.approx(1.2, rel=1e-15)
    assert total.grads["bias_out"][0] == pytest.approx(4 * mean.grads["bias_out"][0], rel=1e-14)


def test_sum_is_mean_times_valid_tokens_over_batch():
    p = make_problem("gru", T=6, B=3, seed=1)
    mask = np.ones((6, 3))
    mask[4:, 0] = 0
    mean = bc.bptt(p.spec, p.params, p.x, p.y, reduction="mean", mask=mask)
    total = bc.bptt(p.spec, p.params, p.x, p.y, reduction="sum", mask=mask)
    assert total.loss == pytest.approx(mean.loss * mask.sum() / 3, rel=1e-13)


def test_masked_tokens_do_not_matter():
    p = make_problem("lstm", T=5, B=2, seed=2)
    mask = np.ones((5, 2))
    mask[3:, 1] = 0
    res = bc.bptt(p.spec, p.params, p.x, p.y, mask=mask)
    y2 = p.y.copy()
    y2[3:, 1] = 1e6  # garbage in padding
    res2 = bc.bptt(p.spec, p.params, p.x, y2, mask=mask)
    assert res.loss == res2.loss
    np.testing.assert_array_equal(res.grads["weight_hh_l0"], res2.grads["weight_hh_l0"])


def test_step_with_no_valid_token_has_zero_loss():
    token = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(step_means(token, mask), [1.5, 0.0])
    np.testing.assert_array_equal(token_weights(mask, "mean"), [[0.5, 0.5], [0.0, 0.0]])


def test_cross_entropy_is_stable_for_huge_logits():
    yhat = np.array([[1000.0, 0.0, -1000.0]])
    l, g = token_loss_and_grad("cross_entropy", yhat, np.array([1]))
    assert l[0] == pytest.approx(1000.0)
    np.testing.assert_allclose(g, [[1.0, -1.0, 0.0]], atol=1e-300)
