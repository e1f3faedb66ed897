"""Small random BPTT problems shared by the engine tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bptt_core as bc


@dataclass
class Problem:
    spec: bc.RNNSpec
    params: dict
    x: np.ndarray
    y: np.ndarray
    loss: str


def make_problem(cell="rnn", activation="tanh", loss="mse", T=5, B=2, I=3, H=4, O=3, seed=0, scale=1.0) -> Problem:
    """A seeded problem; the weights are scaled up a little so gradients are not tiny."""
    spec = bc.RNNSpec(cell, I, H, O, activation)
    rng = np.random.default_rng(seed)
    params = bc.init_params(spec, seed=seed, init="normal", scale=scale)
    x = rng.standard_normal((T, B, I))
    y = rng.integers(0, O, (T, B)) if loss == "cross_entropy" else rng.standard_normal((T, B, O))
    return Problem(spec, params, x, y, loss)
