"""Parity with PyTorch autograd on torch.nn.RNN/LSTM/GRU state dicts (skipped without torch)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import bptt_core as bc

torch = pytest.importorskip("torch")
from .torch_reference import MODULES, torch_bptt, torch_module  # noqa: E402

TOL = 1e-8
CASES = [
    (cell, act, L, bid)
    for cell, act in [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
    for L, bid in itertools.product((1, 2, 3), (False, True))
]


def problem(spec: bc.RNNSpec, loss: str, seed: int, T: int = 7, B: int = 3):
    rng = np.random.default_rng(seed)
    params = bc.init_params(spec, seed=seed)
    x = rng.standard_normal((T, B, spec.input_size))
    y = rng.standard_normal((T, B, spec.output_size)) if loss == "mse" else rng.integers(0, spec.output_size, (T, B))
    n = spec.num_layers * spec.directions
    h0 = 0.5 * rng.standard_normal((n, B, spec.hidden_size))
    c0 = 0.5 * rng.standard_normal((n, B, spec.hidden_size)) if spec.has_cell_state else None
    return params, x, y, h0, c0


def assert_matches(res: bc.BPTTResult, ref: tuple, spec: bc.RNNSpec) -> None:
    loss, grads, dh0, dc0 = ref
    assert bc.relative_error(res.loss, loss) < TOL
    assert set(res.grads) == set(grads)
    for key in grads:
        assert bc.relative_error(res.grads[key], grads[key]) < TOL, key
    assert bc.relative_error(res.dh0, dh0) < TOL
    if spec.has_cell_state:
        assert bc.relative_error(res.dc0, dc0) < TOL


@pytest.mark.parametrize(("cell", "activation", "layers", "bidirectional"), CASES)
@pytest.mark.parametrize(("loss", "reduction"), [("mse", "mean"), ("cross_entropy", "sum")])
@pytest.mark.parametrize("masked", [False, True])
def test_loss_gradients_and_initial_states_match_torch(
    cell, activation, layers, bidirectional, loss, reduction, masked
):
    """Every parameter and dh0/dc0 in every memory mode; a padded batch runs as packed sequences in torch."""
    spec = bc.RNNSpec(cell, 3, 4, 3, activation, layers, bidirectional)
    params, x, y, h0, c0 = problem(spec, loss, seed=layers + 10 * bidirectional)
    mask = (np.arange(7)[:, None] < np.array([7, 4, 2])[None]).astype(float) if masked else None
    ref = torch_bptt(spec, params, x, y, loss, reduction, mask, h0=h0, c0=c0)
    for mode in ({}, {"checkpoint": "sqrt"}, {"checkpoint": "binomial", "checkpoint_slots": 2}):
        assert_matches(bc.bptt(spec, params, x, y, loss, reduction, mask, h0=h0, c0=c0, **mode), ref, spec)


@pytest.mark.parametrize(("cell", "activation", "layers", "bidirectional"), CASES[::3])
@pytest.mark.parametrize("masked", [False, True])
def test_input_gradient_matches_torch(cell, activation, layers, bidirectional, masked):
    """``input_grad=True`` returns dL/dx: torch's ``x.grad``, with and without padding, in every memory mode."""
    spec = bc.RNNSpec(cell, 3, 4, 3, activation, layers, bidirectional)
    params, x, y, h0, c0 = problem(spec, "mse", seed=layers)
    mask = (np.arange(7)[:, None] < np.array([7, 4, 2])[None]).astype(float) if masked else None
    dx = []
    torch_bptt(spec, params, x, y, "mse", "mean", mask, h0=h0, c0=c0, dx=dx)
    for mode in ({}, {"checkpoint": "sqrt"}, {"return_sequences": False}):
        res = bc.bptt(spec, params, x, y, "mse", "mean", mask, h0=h0, c0=c0, input_grad=True, **mode)
        assert bc.relative_error(res.dx, dx[0]) < TOL
    assert bc.bptt(spec, params, x, y).dx is None


@pytest.mark.parametrize(("cell", "activation", "layers"), [c[:3] for c in CASES if not c[3]])
@pytest.mark.parametrize("k", [2, 3])
def test_truncation_matches_detach_every_k_steps(cell, activation, layers, k):
    spec = bc.RNNSpec(cell, 3, 4, 3, activation, layers)
    params, x, y, h0, c0 = problem(spec, "mse", seed=k)
    dx = []
    ref = torch_bptt(spec, params, x, y, truncation=k, h0=h0, c0=c0, dx=dx)
    for mode in ({}, {"checkpoint": 2}, {"checkpoint": "binomial", "checkpoint_slots": 1}):
        res = bc.bptt(spec, params, x, y, truncation=k, h0=h0, c0=c0, input_grad=True, **mode)
        assert_matches(res, ref, spec)
        assert bc.relative_error(res.dx, dx[0]) < TOL  # each window hands its inputs' gradient down


def test_truncation_is_refused_for_bidirectional_networks():
    spec = bc.RNNSpec("gru", 2, 3, 1, bidirectional=True)
    params, x, y, *_ = problem(spec, "mse", seed=0)
    with pytest.raises(ValueError, match=r"truncation.*bidirectional"):
        bc.bptt(spec, params, x, y, truncation=3)


@pytest.mark.parametrize(("cell", "layers", "bidirectional"), [("lstm", 3, True), ("gru", 2, False), ("rnn", 3, True)])
def test_dh_layers_match_torch_cells_unrolled_by_hand(cell, layers, bidirectional):
    """``dh_layers[l, d, t]`` is the total dL/dh_t of layer l, direction d (through its own recurrence and
    the layers above): torch's gradient at h_t when torch's own cells are unrolled step by step, so that
    h_t is one tensor read by the next step and by the layer above."""
    spec = bc.RNNSpec(cell, 3, 4, 2, "tanh", layers, bidirectional)
    params, x, y, h0, c0 = problem(spec, "mse", seed=5)
    res = bc.bptt(spec, params, x, y, h0=h0, c0=c0)
    T, D = x.shape[0], spec.directions
    inputs, states = torch.tensor(x), {}
    for l in range(layers):
        outs = []
        for d in range(D):
            module = getattr(torch.nn, bc.CELLS[cell].torch_cell)(spec.layer_input_size(l), 4).double()
            w = {
                k: torch.tensor(params[bc.param_key(k, l, d)], requires_grad=True)
                for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            }
            k = l * D + d
            state = (torch.tensor(h0[k]), torch.tensor(c0[k])) if spec.has_cell_state else torch.tensor(h0[k])
            seq = [None] * T
            for t in range(T) if d == 0 else reversed(range(T)):
                state = torch.func.functional_call(module, w, (inputs[t], state))
                h = state[0] if isinstance(state, tuple) else state
                h.retain_grad()
                seq[t] = states[l, d, t] = h
            outs.append(torch.stack(seq))
        inputs = torch.cat(outs, dim=-1)
    yhat = inputs @ torch.tensor(params["weight_out"]).T + torch.tensor(params["bias_out"])
    ((yhat - torch.tensor(y)) ** 2).mean(-1).mean().backward()
    for (l, d, t), h in states.items():
        np.testing.assert_allclose(res.dh_layers[l, d, t], h.grad.numpy(), rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(res.h_layers[l, d, t], h.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_torch_state_dict_goes_in_unchanged():
    """The keys and shapes of init_params are exactly torch's state dict (plus the read-out)."""
    for cell, layers, bid in itertools.product(MODULES, (1, 3), (False, True)):  # the cells torch has
        spec = bc.RNNSpec(cell, 5, 6, 2, num_layers=layers, bidirectional=bid)
        expected = {k: tuple(v.shape) for k, v in torch_module(spec).state_dict().items()}
        shapes = spec.param_shapes()
        assert {k: v for k, v in shapes.items() if not k.endswith("_out")} == expected
        assert {k: v.shape for k, v in bc.init_params(spec).items()} == shapes


def test_float32_matches_torch_in_float32():
    spec = bc.RNNSpec("lstm", 3, 8, 2, num_layers=2, bidirectional=True)
    params, x, y, h0, c0 = problem(spec, "mse", seed=9, T=20)
    ref = torch_bptt(spec, params, x, y, h0=h0, c0=c0)
    res = bc.bptt(spec, params, x, y, h0=h0, c0=c0, dtype="float32")
    for key in ref[1]:
        assert bc.relative_error(res.grads[key], ref[1][key]) < 1e-4, key
