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


#: Every registered cell with every activation it accepts: what the generic tests run over.
CELL_ACTIVATIONS = [(name, a) for name, cell in bc.CELLS.items() for a in cell.activations]


def directional_error(spec, params, x, y, seed=0, eps=1e-6, **kwargs) -> float:
    """Relative difference between the gradient along one random direction of all parameters at once
    and the central difference of the loss along it (HIPS/autograd's ``check_grads`` idea)."""
    rng = np.random.default_rng(seed)
    res = bc.bptt(spec, params, x, y, **kwargs)
    direction = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    analytic = sum(float(np.sum(res.grads[k] * u)) for k, u in direction.items())

    def shifted(sign):
        return bc.bptt(
            spec,
            {k: v + sign * eps * direction[k] for k, v in params.items()},
            x,
            y,
            **kwargs,
        ).loss

    numeric = (shifted(1) - shifted(-1)) / (2 * eps)
    return abs(numeric - analytic) / max(abs(numeric), abs(analytic), 1e-8)
