"""Every registered cell on its own: its backward step is the vector-Jacobian product of its forward step.

Parametrised from ``bc.CELLS``, so a new cell is checked the moment it is registered
(HIPS/autograd's ``check_vjp``: central differences along random directions, random shapes).
"""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc

from .problems import CELL_ACTIVATIONS


def forward(cell: bc.Cell, params: dict, xw: np.ndarray, state: tuple, activation: str) -> tuple:
    new, _ = cell.forward_step(params, xw, tuple(s.copy() for s in state), activation)
    return new


@pytest.mark.parametrize(("name", "activation"), CELL_ACTIVATIONS)
@pytest.mark.parametrize("seed", range(4))
def test_backward_step_is_the_vjp_of_forward_step(name, activation, seed):
    rng = np.random.default_rng(seed)
    cell = bc.CELLS[name]
    B, H = rng.integers(1, 5), rng.integers(1, 6)
    GH = cell.gates * H
    params = {
        "weight_hh": rng.standard_normal((GH, H)),
        "bias_hh": rng.standard_normal(GH),
        "weight_ih": rng.standard_normal((GH, 2)),
        "bias_ih": rng.standard_normal(GH),
    }
    xw = rng.standard_normal((B, GH))
    state = tuple(rng.standard_normal((B, H)) for _ in cell.state_parts)
    if activation == "relu":  # keep away from the kink, where the derivative is not defined
        xw += np.sign(xw) * 0.5
    new, cache = cell.forward_step(params, xw, tuple(s.copy() for s in state), activation)
    seeds = tuple(rng.standard_normal(s.shape) for s in new)  # the cotangent of the output state
    d_state, d_xw, d_hw = cell.backward_step(params, seeds, cache)

    def along(fn, arg_direction) -> float:  # central difference of <seeds, new_state> along one direction
        eps = 1e-6
        f = lambda sign: sum(float(np.sum(u * v)) for u, v in zip(seeds, fn(sign * eps)))  # noqa: E731
        return (f(1) - f(-1)) / (2 * eps)

    u = tuple(rng.standard_normal(s.shape) for s in state)
    numeric = along(lambda e: forward(cell, params, xw, tuple(s + e * v for s, v in zip(state, u)), activation), u)
    assert numeric == pytest.approx(sum(float(np.sum(d * v)) for d, v in zip(d_state, u)), rel=1e-6, abs=1e-9)
    v = rng.standard_normal(xw.shape)
    numeric = along(lambda e: forward(cell, params, xw + e * v, state, activation), v)
    assert numeric == pytest.approx(float(np.sum(d_xw * v)), rel=1e-6, abs=1e-9)
    # d_hw is the gradient of the recurrent term W_hh h_prev: moving W_hh by e M moves it by e h_prev M^T
    m = rng.standard_normal((GH, H))

    def shifted(e):
        return forward(
            cell,
            {**params, "weight_hh": params["weight_hh"] + e * m},
            xw,
            state,
            activation,
        )

    numeric = along(shifted, m)
    assert numeric == pytest.approx(float(np.sum(d_hw * (state[0] @ m.T))), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", list(bc.CELLS))
def test_a_cell_declares_what_the_engine_needs(name):
    cell = bc.CELLS[name]
    assert cell.name == name and cell.gates == len(cell.gate_names) >= 1
    assert cell.state_parts[0] == "h" and set(cell.state_parts) <= set(cell.tape)
    assert "tanh" in cell.activations or cell.activations
    assert all(cell.group(entry) for entry in cell.tape)
