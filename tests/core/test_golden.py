"""The engine reproduces reference gradients from an independent autodiff engine (tests/data/golden)."""

import json
from pathlib import Path

import numpy as np
import pytest

import bptt_core as bc

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
CASES = json.loads((GOLDEN / "cases.json").read_text())
MODES = [{}, {"checkpoint": "sqrt"}, {"checkpoint": 2}, {"checkpoint": "binomial", "checkpoint_slots": 2}]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
@pytest.mark.parametrize("mode", MODES, ids=["full", "sqrt", "every-2", "binomial"])
def test_golden_case(case, mode):
    data = np.load(GOLDEN / f"{case['name']}.npz", allow_pickle=False)
    params = {k.removeprefix("param."): data[k] for k in data.files if k.startswith("param.")}
    spec = bc.RNNSpec(
        case["cell"],
        input_size=data["x"].shape[2],
        hidden_size=params["weight_hh_l0"].shape[1],
        output_size=params["weight_out"].shape[0],
        activation=case["activation"],
        num_layers=case["num_layers"],
        bidirectional=case["bidirectional"],
    )
    assert set(params) == set(spec.param_shapes())  # PyTorch's state-dict keys, as init_params makes them
    res = bc.bptt(spec, params, data["x"], data["y"], loss=case["loss"], reduction=case["reduction"], **mode)
    assert bc.relative_error(res.loss, data["loss"]) < 1e-10
    assert bc.relative_error(res.step_losses, data["step_losses"]) < 1e-10
    assert bc.relative_error(res.dh, data["dh"]) < 1e-10
    assert set(res.grads) == set(params)
    for key, grad in res.grads.items():
        assert bc.relative_error(grad, data[f"grad.{key}"]) < 1e-10, key
