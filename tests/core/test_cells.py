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


def random_step(cell: bc.Cell, rng: np.random.Generator, activation: str) -> tuple:
    """Random parameters (the cell's own shapes), sizes, inputs and state for one step."""
    B, H, I = rng.integers(1, 5), rng.integers(1, 6), rng.integers(1, 4)
    params = {k: rng.standard_normal(s) for k, s in cell.param_shapes(H, I).items()}
    x = rng.standard_normal((B, I))
    state = tuple(rng.standard_normal((B, cell.tape[p] * H)) for p in cell.state_parts)
    if activation == "relu":  # keep away from the kink, where the derivative is not defined
        params = {k: v + np.sign(v) * 0.5 for k, v in params.items()}
    return params, x, state


def projected(cell: bc.Cell, params: dict, x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=-1) @ cell.projection(params)


def inner(seeds: tuple, values: tuple) -> float:
    return sum(float(np.sum(u * v)) for u, v in zip(seeds, values))


def central(fn, eps: float = 1e-6) -> float:
    return (fn(eps) - fn(-eps)) / (2 * eps)


@pytest.mark.parametrize(("name", "activation"), CELL_ACTIVATIONS)
@pytest.mark.parametrize("seed", range(4))
def test_backward_step_is_the_vjp_of_forward_step(name, activation, seed):
    """The state's and the projection's gradients against central differences along random directions."""
    rng = np.random.default_rng(seed)
    cell = bc.CELLS[name]
    params, x, state = random_step(cell, rng, activation)
    xw = projected(cell, params, x)
    new, cache = cell.forward_step(params, xw, tuple(s.copy() for s in state), activation)
    seeds = tuple(rng.standard_normal(s.shape) for s in new)  # the cotangent of the output state
    d_state, d_xw, _ = cell.backward_step(params, seeds, cache)
    u = tuple(rng.standard_normal(s.shape) for s in state)
    numeric = central(
        lambda e: inner(seeds, forward(cell, params, xw, tuple(s + e * v for s, v in zip(state, u)), activation))
    )
    assert numeric == pytest.approx(inner(d_state, u), rel=1e-6, abs=1e-9)
    v = rng.standard_normal(xw.shape)
    numeric = central(lambda e: inner(seeds, forward(cell, params, xw + e * v, state, activation)))
    assert numeric == pytest.approx(float(np.sum(d_xw * v)), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("name", "activation"), CELL_ACTIVATIONS)
@pytest.mark.parametrize("seed", range(3))
def test_accumulate_is_the_parameter_vjp_of_one_step(name, activation, seed):
    """Every parameter's gradient from ``accumulate`` (through the projection and the step) against central
    differences of ``<seeds, new state>`` along a random direction of that parameter alone; the input gradient
    through the projection too."""
    rng = np.random.default_rng(100 + seed)
    cell = bc.CELLS[name]
    params, x, state = random_step(cell, rng, activation)

    def new_state(p: dict, inputs: np.ndarray) -> tuple:
        return forward(cell, p, projected(cell, p, inputs), state, activation)

    new, cache = cell.forward_step(params, projected(cell, params, x), tuple(s.copy() for s in state), activation)
    seeds = tuple(rng.standard_normal(s.shape) for s in new)
    _, d_xw, d_hw = cell.backward_step(params, seeds, cache)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    rows = {
        **{p: s[None] for p, s in zip(cell.state_parts, new)},
        **{k: v[None] for k, v in cache.items() if k != "activation"},
    }
    terms = {k: np.zeros(1) for k in cell.term_params}
    cell.accumulate(params, grads, d_xw[None], d_hw[None], x[None], rows, terms)
    for key, value in params.items():
        m = rng.standard_normal(value.shape)
        numeric = central(lambda e, key=key, m=m: inner(seeds, new_state({**params, key: params[key] + e * m}, x)))
        assert numeric == pytest.approx(float(np.sum(grads[key] * m)), rel=1e-5, abs=1e-8), key
    assert all(np.isfinite(t).all() and t[0] >= 0 for t in terms.values())
    v = rng.standard_normal(x.shape)
    numeric = central(lambda e: inner(seeds, new_state(params, x + e * v)))
    assert numeric == pytest.approx(float(np.sum((d_xw @ cell.projection(params)[:-1].T) * v)), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", list(bc.CELLS))
def test_a_cell_declares_what_the_engine_needs(name):
    cell = bc.CELLS[name]
    assert cell.name == name and cell.gates == len(cell.gate_names)
    assert cell.state_parts[0] == "h" and set(cell.state_parts) <= set(cell.tape) and cell.tape["h"] == 1
    assert "tanh" in cell.activations or cell.activations
    assert all(cell.group(entry) for entry in cell.tape)
    assert set(cell.hidden_parts) <= set(cell.state_parts) and set(cell.jacobian_parts) <= set(cell.state_parts)
    shapes = cell.param_shapes(5, 3)
    assert cell.sizes(shapes) == (5, 3) and set(cell.term_params) <= set(shapes)
    layer = cell.init_layer(np.random.default_rng(0), 5, 3, bc.cells.protocol.InitPreset(options=cell.init_options))
    assert {k: v.shape for k, v in layer.items()} == shapes and list(layer) == list(shapes)
    assert cell.projection(layer).shape == (4, cell.width * 5)
    assert all(block.ndim == 2 and block.shape[0] == block.shape[1] for block in cell.recurrence(layer).values())
    assert (cell.forward_scan is None) == (cell.backward_scan is None)
