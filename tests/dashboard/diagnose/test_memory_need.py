"""The memory probe: errors that depend on one input far back, on a sum over the distant past, on the future,
or on recent inputs only, are told apart; noise is not mistaken for a need (over seeds, with margins)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.diagnose.memory_need import MIN_SAMPLES, memory_need, window_sums, windows


def _case(seed: int, T: int = 50, B: int = 48, I: int = 2):
    rng = np.random.default_rng(seed)
    return rng, rng.standard_normal((T, B, I)), np.ones((T, B))


def test_window_sums_add_the_inputs_at_the_lags_of_a_window():
    phi = np.arange(12.0).reshape(6, 1, 2)
    sums = window_sums(phi, 1, 2)  # phi[t-1] + phi[t-2], 0 before the sequence
    np.testing.assert_array_equal(sums[:, 0, 0], [0, 0, 2, 6, 10, 14])
    near, far = windows(5, 50)
    assert near == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 5)] and far[-1] == (6, 49) and (49, 49) in far
    assert windows(49, 50)[1] == []


@pytest.mark.parametrize("seed", range(3))
def test_an_error_that_is_one_input_far_back_is_found_at_that_lag(seed):
    _, x, mask = _case(seed)
    errors = np.zeros((50, 48, 1))
    errors[30:, :, 0] = x[:-30, :, 0]  # the input 30 steps back, which a model with reach 8 cannot see
    need = memory_need(x, errors, mask, baseline=float(np.mean(errors**2)), reach=8)
    assert need.gain_r2 > 0.8 and need.window[0] <= 30 <= need.window[1] and need.share > 0.8
    assert need.share > 10 * need.floor and need.near_share < 0.05


@pytest.mark.parametrize("seed", range(3))
def test_an_error_that_sums_marked_values_over_the_past_is_found_in_a_pooled_window(seed):
    """The adding problem's error: products of a value and a marker, summed over many lags (one target per
    sequence)."""
    rng = np.random.default_rng(seed)
    T, B = 40, 200
    values, marks = rng.random((T, B)), (rng.random((T, B)) < 0.05).astype(float)
    x = np.stack([values, marks], axis=-1)
    mask = np.zeros((T, B))
    mask[-1] = 1
    errors = np.zeros((T, B, 1))
    errors[-1, :, 0] = (values * marks)[: T - 6].sum(axis=0)  # only what lies beyond the reach of 5
    baseline = float(np.var(errors[-1]))
    need = memory_need(x, errors, mask, baseline, reach=5)
    assert need.share > 0.5 and need.share > 5 * need.floor


@pytest.mark.parametrize("seed", range(3))
def test_noise_and_errors_within_reach_are_not_a_memory_need(seed):
    rng, x, mask = _case(seed)
    noise = rng.standard_normal((50, 48, 1))
    need = memory_need(x, noise, mask, baseline=1.0, reach=6)
    assert need.share < 0.05 and need.near_share < 0.05
    near = 0.5 * (x[..., :1] + np.roll(x[..., :1], 1, axis=0))  # what the model could see and got wrong
    need = memory_need(x, near, mask, baseline=1.0, reach=6)
    assert need.near_share > 0.2 and need.share < 0.05


def test_a_bidirectional_model_is_asked_about_the_future_too():
    _, x, mask = _case(4)
    errors = np.zeros((50, 48, 1))
    errors[:-20, :, 0] = x[20:, :, 0]  # the input 20 steps ahead
    baseline = float(np.mean(errors**2))
    assert memory_need(x, errors, mask, baseline, reach=5).share < 0.1
    both = memory_need(x, errors, mask, baseline, reach=5, both_ways=True)
    assert both.share > 0.5 and both.window[0] <= -20 <= both.window[1]


def test_too_few_target_steps_give_no_estimate():
    rng, x, _ = _case(5, T=10, B=3)
    mask = np.zeros((10, 3))
    mask[-1] = 1
    assert 3 < MIN_SAMPLES and memory_need(x, rng.standard_normal((10, 3, 1)), mask, 1.0, reach=2) is None
