"""Randomized truncation is an unbiased estimate of the full gradient."""

import numpy as np

import bptt_core as bc

from .problems import make_problem


def test_mean_of_estimates_approaches_full_gradient():
    p = make_problem("rnn", T=8, B=2, H=3, seed=1, scale=1.5)
    full = bc.bptt(p.spec, p.params, p.x, p.y).grads["weight_hh_l0"]
    n = 4000
    draws = np.stack(
        [bc.bptt(p.spec, p.params, p.x, p.y, random_truncation=0.3, seed=s).grads["weight_hh_l0"] for s in range(n)]
    )
    mean, sem = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(n)
    # every entry within 5 standard errors of the truth (a false alarm has odds below 1e-5 per entry)
    assert np.all(np.abs(mean - full) <= 5 * sem + 1e-12)
    # and the draws really vary: the estimator is random, not the full gradient in disguise
    assert np.all(sem > 0)


def test_random_truncation_is_deterministic_for_a_seed_and_zero_means_exact():
    p = make_problem("gru", seed=2)
    a = bc.bptt(p.spec, p.params, p.x, p.y, random_truncation=0.5, seed=7)
    b = bc.bptt(p.spec, p.params, p.x, p.y, random_truncation=0.5, seed=7)
    np.testing.assert_array_equal(a.grads["weight_hh_l0"], b.grads["weight_hh_l0"])
    exact = bc.bptt(p.spec, p.params, p.x, p.y)
    zero = bc.bptt(p.spec, p.params, p.x, p.y, random_truncation=0.0, seed=7)
    np.testing.assert_array_equal(exact.grads["weight_hh_l0"], zero.grads["weight_hh_l0"])
