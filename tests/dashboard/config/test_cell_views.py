"""The Unroll page's backward equations name every path the engine's backward step takes (issue 24, item 20).

An independent forward pass by PyTorch's documented cell equations (nn.RNN, nn.LSTM, nn.GRU) perturbs h_t
only where one path starts, and central differences of the loss give that path's share of dL/dh_t: the
loss at t through the read-out, and step t + 1 through each part of its state. The numbers the equations
show must equal those shares, and the term written "from step t + 1" must carry every part of the state
(an LSTM's h_t reaches c_{t+1}, whose own future ∂L/∂h_{t+1}·∂h_{t+1}/∂h_t leaves out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import bptt_core as bc
from dashboard.catalog import compute
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS, jacobian_shapes, number


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


ACTIVATIONS = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0), "sigmoid": _sigmoid, "linear": lambda a: a}


def _rnn(gi, gh, state, activation):
    return {"h": ACTIVATIONS[activation](gi + gh)}


def _lstm(gi, gh, state, activation):
    i, f, g, o = np.split(gi + gh, 4, axis=-1)
    c = _sigmoid(f) * state["c"] + _sigmoid(i) * np.tanh(g)
    return {"h": _sigmoid(o) * np.tanh(c), "c": c}


def _gru(gi, gh, state, activation):
    (i_r, i_z, i_n), (h_r, h_z, h_n) = np.split(gi, 3, axis=-1), np.split(gh, 3, axis=-1)
    r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)
    return {"h": (1 - z) * n + z * state["h"]}


#: PyTorch's documented cell equations, by its module's name (the registry's ``torch_module``).
TORCH_EQUATIONS = {"RNN": _rnn, "LSTM": _lstm, "GRU": _gru}


def torch_step(cell: str, W: dict, x: np.ndarray, state: dict, activation: str) -> dict:
    """One step by PyTorch's documented equations; ``state`` maps each part ("h", "c") to (B, H)."""
    gi = x @ W["weight_ih"].T + W["bias_ih"]
    gh = state["h"] @ W["weight_hh"].T + W["bias_hh"]
    return TORCH_EQUATIONS[bc.CELLS[cell].torch_module](gi, gh, state, activation)


@dataclass(frozen=True)
class Nudge:
    """Add ``delta`` to h_t of ``layer`` where it feeds the layer above or the read-out at t (``above``)
    and/or where it feeds step t + 1, for the state parts in ``through`` only."""

    layer: int
    t: int
    delta: np.ndarray
    above: bool
    through: tuple[str, ...]


def torch_loss(config: RunConfig, p: compute.Problem, nudge: Nudge | None = None) -> float:
    """The mean-squared-error loss averaged over the T x B tokens (the engine's "mean" reduction)."""
    parts = bc.CELLS[config.cell].state_parts
    inputs = p.x
    for layer in range(config.num_layers):
        W = {k: p.params[f"{k}_l{layer}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        state = {part: np.zeros((config.batch_size, config.hidden_size)) for part in parts}
        outputs = []
        for t in range(config.T):
            previous, state = state, torch_step(config.cell, W, inputs[t], state, config.activation)
            if nudge and nudge.layer == layer and nudge.t == t - 1 and nudge.through:
                moved = torch_step(
                    config.cell, W, inputs[t], {**previous, "h": previous["h"] + nudge.delta}, config.activation
                )
                state = {part: moved[part] if part in nudge.through else state[part] for part in parts}
            outputs.append(
                state["h"] + (nudge.delta if nudge and nudge.layer == layer and nudge.t == t and nudge.above else 0)
            )
        inputs = np.stack(outputs)
    yhat = inputs @ p.params["weight_out"].T + p.params["bias_out"]
    return float(np.mean((yhat - p.y) ** 2))


def path_share(config: RunConfig, layer: int, t: int, j: int, above: bool, through: tuple[str, ...]) -> float:
    """Central difference of the loss in h_t[0, j] of ``layer``, moved only along the paths named."""
    p = compute.problem(config)
    eps = 1e-6
    delta = np.zeros((config.batch_size, config.hidden_size))
    delta[0, j] = eps
    up = torch_loss(config, p, Nudge(layer, t, delta, above, through))
    down = torch_loss(config, p, Nudge(layer, t, -delta, above, through))
    return (up - down) / (2 * eps)


SINGLE = [
    RunConfig(cell="rnn", activation=act, T=8, hidden_size=5, batch_size=2, seed=seed)
    for seed, act in enumerate(("tanh", "relu", "sigmoid", "linear"))
] + [
    *(
        RunConfig(cell="lstm", T=8, hidden_size=5, batch_size=2, forget_bias=fb, seed=3 + i)
        for i, fb in enumerate((0.0, 1.0, 3.0))
    ),
    *(RunConfig(cell="gru", T=8, hidden_size=5, batch_size=2, seed=s) for s in (1, 7)),
]


@pytest.mark.parametrize("config", SINGLE, ids=lambda c: f"{c.cell}-{c.activation}-fb{c.forget_bias:g}-s{c.seed}")
@pytest.mark.parametrize("t", [2, 5])
def test_each_number_of_the_backward_equation_is_its_paths_share(config, t):
    j, top = 1, config.num_layers - 1
    v = compute.step_equation(config, t, j)
    parts = bc.CELLS[config.cell].state_parts
    carried = VIEWS[config.cell].carried
    assert set(carried.through) == set(parts)  # the written term names every part of the next state
    total = path_share(config, top, t, j, above=True, through=parts)
    direct = path_share(config, top, t, j, above=True, through=())
    written = path_share(config, top, t, j, above=False, through=carried.through)
    assert v["dh"] == pytest.approx(total, rel=1e-5, abs=1e-9)
    assert v["dh_direct"] == pytest.approx(direct, rel=1e-5, abs=1e-9)
    assert v["dh_carried"] == pytest.approx(written, rel=1e-5, abs=1e-9)
    lines = " ".join(VIEWS[config.cell].backward(t, j, v, config.activation))
    assert number(v["dh_carried"]) in lines and number(v["dh"]) in lines
    assert all(f"{part}_{{t+1}}" in lines.split(r"\text{ via }")[1] for part in carried.through)


def test_the_lstm_path_through_the_next_cell_state_is_a_real_share():
    """What ∂L/∂h_{t+1}·∂h_{t+1}/∂h_t (h_{t+1} alone) would show differs from the engine's number: the
    path through c_{t+1} carries a share of it at every forget bias."""
    shares = []
    for config in (c for c in SINGLE if "c" in bc.CELLS[c.cell].state_parts):
        v = compute.step_equation(config, 2, 1)
        h_only = path_share(config, 0, 2, 1, above=False, through=("h",))
        shares.append(abs(v["dh_carried"] - h_only) / abs(v["dh_carried"]))
    assert min(shares) > 0.01 and max(shares) > 0.1


#: The cells whose step PyTorch documents (its four layer arrays): the independent equations above cover them.
TORCH_CELLS = [c for c in VIEWS if "weight_hh" in bc.CELLS[c].param_shapes(2, 2)]


@pytest.mark.parametrize("cell", TORCH_CELLS)
def test_a_lower_layer_total_comes_from_the_layer_above_and_the_next_step(cell):
    config = RunConfig(cell=cell, num_layers=2, T=7, hidden_size=4, batch_size=2, seed=5)
    parts = bc.CELLS[cell].state_parts
    v = compute.step_equation(config, 3, 2, layer=0)
    assert v["dh"] == pytest.approx(path_share(config, 0, 3, 2, above=True, through=parts), rel=1e-5, abs=1e-9)
    lines = VIEWS[cell].backward(3, 2, v, config.activation)
    assert r"W_{ih}^{\uparrow\top}" in lines[0] and "dh_direct" not in v


@pytest.mark.parametrize("cell", list(VIEWS))
def test_the_chain_rule_table_writes_the_same_term(cell):
    rows = {q: e for q, e, _ in jacobian_shapes(bc.RNNSpec(cell, 3, 5, 2, num_layers=2), T=7, B=4)}
    assert VIEWS[cell].carried.text in rows["∂L/∂h_t"]
    assert "∂h_{t+1}/∂h_t" not in rows["∂L/∂h_t"] + rows["∂L/∂h_t⁽ˡ⁾, l below the top"]


def test_the_modern_cells_write_what_flows_back_from_the_next_step():
    """minGRU: h_t reaches h_{t+1} only through (1 - z_{t+1}); the LRU's output y_t does not recur at all."""
    config = RunConfig(cell="mingru", T=8, hidden_size=5, batch_size=2, seed=2)
    t, j = 3, 1
    v, after = compute.step_equation(config, t, j), compute.step_equation(config, t + 1, j)
    assert v["dh_carried"] == pytest.approx((1 - after["z"]) * after["dh"], rel=1e-9, abs=1e-15)
    assert number(v["dh_carried"]) in " ".join(VIEWS["mingru"].backward(t, j, v, config.activation))
    lru = RunConfig(cell="lru", T=8, hidden_size=5, batch_size=2, seed=2)
    v = compute.step_equation(lru, t, j)
    assert v["dh_carried"] == pytest.approx(0.0, abs=1e-15) and v["dh"] == pytest.approx(v["dh_direct"], rel=1e-12)
