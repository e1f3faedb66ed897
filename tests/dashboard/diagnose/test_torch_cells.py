"""The cells PyTorch has no module for, in torch (dashboard/diagnose/torch_cells.py), against the engine; and the
reproduce script that embeds them, run on a diagnosed LRU and minGRU."""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc
from dashboard.diagnose.advice import diagnose as run_diagnosis
from dashboard.diagnose.model_files import read_model
from dashboard.diagnose.sequence_files import read_sequences

from .uploads import assert_the_script_reproduces, npz

torch = pytest.importorskip("torch")
torch_cells = pytest.importorskip("dashboard.diagnose.torch_cells")

#: The registered cells PyTorch has no module for: each needs a torch module of its own.
MODULELESS = [name for name, c in bc.CELLS.items() if c.torch_module is None]
T, B, I, H = 11, 4, 3, 5


def test_every_cell_without_a_torch_module_has_one_written_in_torch():
    assert set(torch_cells.CELLS) == set(MODULELESS) and MODULELESS


def engine_network(cell: str, seed: int = 0):
    spec = bc.RNNSpec(cell, I, H, 2, num_layers=2, bidirectional=True)
    options = {"r_min": 0.4, "max_phase": np.pi} if "max_phase" in bc.CELLS[cell].init_options else {}
    return spec, bc.init_params(spec, seed=seed, **options)


def recurrent(cell: str, params: dict):
    """The torch stack holding the engine's parameters, loaded by name (a strict load: the names are the engine's)."""
    net = torch_cells.Recurrent(torch_cells.CELLS[cell], I, H, num_layers=2, bidirectional=True).double()
    net.load_state_dict({k: torch.tensor(v) for k, v in params.items() if not k.endswith("_out")})
    return net


@pytest.mark.parametrize("cell", MODULELESS)
def test_the_torch_stack_has_the_engines_keys_and_shapes(cell):
    spec, _ = engine_network(cell)
    net = torch_cells.Recurrent(torch_cells.CELLS[cell], I, H, num_layers=2, bidirectional=True)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {k: v for k, v in spec.param_shapes().items() if not k.endswith("_out")}


@pytest.mark.parametrize("cell", MODULELESS)
@pytest.mark.parametrize("seed", range(3))
def test_the_torch_stack_equals_the_engine_with_ragged_sequences(cell, seed):
    """Loss, every parameter's gradient and dL/dh_t of the top layer: torch autograd through the torch stack
    against the engine's BPTT, bidirectional, two layers, sequences of different lengths (padding mask)."""
    spec, params = engine_network(cell, seed)
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, 2))
    lengths = np.array([T, T - 3, 1, T - 5])
    mask = (np.arange(T)[:, None] < lengths[None, :]).astype(float)
    res = bc.bptt(spec, params, x, y, mask=mask)
    net = recurrent(cell, params)
    out, steps = net(torch.tensor(x), torch.tensor(lengths))
    for hs in steps.values():
        for h in hs:
            h.retain_grad()
    yhat = out @ torch.tensor(params["weight_out"]).T + torch.tensor(params["bias_out"])
    token = ((yhat - torch.tensor(y)) ** 2).mean(-1) * torch.tensor(mask)
    loss = token.sum() / mask.sum()
    loss.backward()
    assert loss.item() == pytest.approx(res.loss, rel=1e-12)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), res.grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
    for d in range(2):
        g = torch.stack([h.grad for h in steps[1, d]])
        g = torch_cells.reverse_within(g, torch.tensor(lengths)) if d else g
        np.testing.assert_allclose(g.numpy() * mask[..., None], res.dh_layers[1, d], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", MODULELESS)
def test_the_torch_cells_initialise_as_the_engine_does(cell):
    """Not the same draws, the same laws: the LRU's |lambda| on its ring and gamma = sqrt(1 - |lambda|^2); minGRU's
    weights within nn.Linear's U(-1/sqrt(I), 1/sqrt(I))."""
    torch.manual_seed(0)
    step = torch_cells.CELLS[cell](I, 64)
    p = {k: v.detach().numpy() for k, v in step.named_parameters()}
    assert set(p) == set(bc.CELLS[cell].param_shapes(64, I))
    if "nu_log" in p:
        modulus = np.exp(-np.exp(p["nu_log"]))
        assert 0.9 <= modulus.min() and modulus.max() <= 0.999
        np.testing.assert_allclose(np.exp(p["gamma_log"]), np.sqrt(1 - modulus**2), rtol=1e-4)  # float32 ν
        assert np.all(np.exp(p["theta_log"]) <= np.pi / 10 + 1e-7)
    else:
        assert np.all(np.abs(p["weight_ih"]) <= I**-0.5) and np.all(np.abs(p["bias_ih"]) <= I**-0.5)


@pytest.mark.parametrize("cell", MODULELESS)
def test_the_reproduce_script_prints_the_diagnosis_numbers(cell, tmp_path):
    """A diagnosed LRU or minGRU (2 layers, bidirectional, ragged sequences): the script, run on its own, prints
    the report's loss, gradient norms and dh_norms."""
    _, params = engine_network(cell, seed=3)
    weights = {f"rnn.{k}": v for k, v in params.items() if not k.endswith("_out")}
    weights |= {"fc.weight": params["weight_out"], "fc.bias": params["bias_out"]}
    model = read_model(npz(**weights))
    assert (model.spec.cell, model.spec.num_layers, model.spec.bidirectional) == (cell, 2, True)
    rng = np.random.default_rng(4)
    data = npz(x=rng.standard_normal((T, B, I)), targets=rng.standard_normal((T, B, 2)), lengths=[T, 7, 2, T - 1])
    seqs = read_sequences(data, "data.npz", model, batch_first=False)
    report = run_diagnosis(model, seqs)
    assert_the_script_reproduces(tmp_path, model, seqs, report, "model.npz", npz(**weights))
