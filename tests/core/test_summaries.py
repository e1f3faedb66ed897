"""Horizon, growth and blow-up of Jacobian-product curves: one definition for decaying, flat and growing
curves, per sequence, with the median and the worst over sequences."""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.jacobians import iter_local_jacobians, jacobian_products
from bptt_core.analysis.summaries import (
    REGIMES,
    blowup_lag,
    curve_regime,
    decay_horizon,
    memory_horizon,
    spread,
    summarise_curve,
)


def _random_decaying(rng: np.random.Generator, n: int) -> np.ndarray:
    """A curve that starts at 0, may rise a little first (non-normal transients), then falls steadily."""
    rise = rng.uniform(0, 1.5) * np.minimum(np.arange(n), rng.integers(1, 5)) / 4
    fall = -rng.uniform(0.05, 0.6) * np.maximum(np.arange(n) - rng.integers(0, 4), 0)
    return rise + fall + rng.normal(0, 0.05, n)


@pytest.mark.parametrize("seed", range(30))
def test_on_decaying_curves_the_horizon_is_the_existing_memory_horizon(seed):
    rng = np.random.default_rng(seed)
    y = _random_decaying(rng, int(rng.integers(5, 200)))
    lags = np.sort(rng.choice(np.arange(1000), y.size, replace=False)) if rng.random() < 0.3 else None
    if lags is not None:
        lags[0] = 0
    assert decay_horizon(y, 1e-3, lags) == memory_horizon(y, 1e-3, lags)
    s = summarise_curve(y, 1e-3, lags)
    if s.regime == "decaying":
        assert s.horizon == memory_horizon(y, 1e-3, lags) and s.blowup is None and s.growth < 0
    else:  # too short a curve to fall that low: flat, never "0"
        assert s.regime == "flat" and memory_horizon(y, 1e-3, lags) is None


def test_a_growing_curve_has_no_horizon_but_a_blowup_lag():
    """The exploding RNN of issue 28: the curve rises to 10^3.86; "below 1e-3 of the peak" gave 0."""
    y = np.linspace(0, 3.86, 60)
    assert memory_horizon(y) == 0  # the old definition, kept for the Gradient flow page's decaying curves
    assert decay_horizon(y) is None
    assert blowup_lag(y) == 46  # 3.86 * 46 / 59 = 3.009 > 3 > 3.86 * 45 / 59
    s = summarise_curve(y)
    assert s == summarise_curve(y, 1e-3, np.arange(60))
    assert (s.regime, s.horizon, s.blowup) == ("growing", None, 46)
    assert s.growth == pytest.approx(3.86 / 59 * np.log(10))


def test_a_flat_curve_neither_decays_nor_blows_up():
    y = 0.4 * np.sin(np.arange(80) / 5)
    s = summarise_curve(y)
    assert (s.regime, s.horizon, s.blowup) == ("flat", None, None)
    assert abs(s.growth) < 0.01


def test_which_crossing_comes_first_decides_the_regime():
    down_then_up = np.concatenate([np.linspace(0, -4, 20), np.linspace(-4, 6, 40)])
    assert curve_regime(down_then_up) == "decaying" and decay_horizon(down_then_up) == 15
    up_then_down = np.concatenate([np.linspace(0, 4, 20), np.linspace(4, -6, 40)])
    assert curve_regime(up_then_down) == "growing" and blowup_lag(up_then_down) == 15
    # falling from the peak it reached, not from the start: 1e-3 below 10^4 is 10^1
    assert decay_horizon(up_then_down) == 20 + int(np.ceil(3 / (10 / 39)))


def test_sampled_lags_place_the_crossing_between_samples():
    lags = np.array([0, 10, 20, 30])
    assert blowup_lag(np.array([0.0, 2.0, 4.0, 6.0]), 1e-3, lags) == 16  # 3 is crossed at lag 15
    assert decay_horizon(np.array([0.0, -2.0, -4.0, -6.0]), 1e-3, lags) == 16
    assert blowup_lag(np.array([0.0, 3.0, 2.5]), 1e-3, np.array([0, 1, 2])) is None  # equal is not above


@pytest.mark.parametrize(
    "y",
    [np.array([]), np.array([0.0]), np.array([np.nan, np.nan]), np.array([np.nan, 5.0, 9.0]), np.full(4, np.inf)],
)
def test_degenerate_curves_are_flat_and_say_so(y):
    s = summarise_curve(y)
    assert s.regime in REGIMES and s.horizon is None and s.blowup is None
    assert np.isnan(s.growth) or y.size >= 2


def test_one_curve_only():
    with pytest.raises(ValueError, match="1-d curve"):
        summarise_curve(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="one lag per point"):
        decay_horizon(np.zeros(5), 1e-3, np.arange(4))


def test_spread_gives_the_median_and_the_worst():
    assert spread(np.array([-0.02, -0.019, 0.15, -0.03, 0.14]), "max") == (pytest.approx(-0.019), 0.15)
    assert spread(np.array([12.0, np.inf, 7.0, np.nan]), "min") == (12.0, 7.0)
    assert all(np.isnan(spread(np.array([np.nan]), "max")))
    with pytest.raises(ValueError, match="worst"):
        spread(np.zeros(3), "mean")


@pytest.mark.parametrize("seed", range(5))
def test_per_sequence_curves_of_an_exploding_rnn_are_not_hidden_by_the_others(seed):
    """Driven by inputs, a vanilla RNN with W_hh = 2.5 Q saturates on most sequences and stays chaotic on
    some: per sequence, growing curves blow up and have no horizon; the median sequence may decay."""
    spec = bc.RNNSpec("rnn", 3, 16, 2)
    params = bc.init_params(spec, seed=seed)
    params["weight_hh_l0"] = 2.5 * bc.orthogonal(16, np.random.default_rng(seed))
    x = np.random.default_rng(seed + 100).standard_normal((60, 8, 3))
    jp = jacobian_products(iter_local_jacobians(spec, params, x), 16)
    per_sequence = [summarise_curve(c, 1e-3, jp.lags) for c in jp.log10_spectral]
    lam = bc.lyapunov_spectrum(spec, params, x, k=1)[:, 0]
    for s, rate in zip(per_sequence, lam):
        assert (s.regime == "growing") == (s.blowup is not None) and (s.horizon is None or s.regime == "decaying")
        if s.regime == "growing":
            assert s.growth > 0 and rate > -0.05  # the products grow along with the leading exponent
    median, worst = spread(lam, "max")
    assert worst >= median and worst == lam.max()
