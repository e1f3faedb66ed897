"""The LRU and minGRU against PyTorch autograd on their equations written again in torch, in every option.

Each cell runs 48 random configurations: sizes, layers, directions, masks, truncation, every
checkpoint mode, clipping, float32, both losses and reductions, the scan and the loop,
return_sequences=False and input_grad.
"""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc

torch = pytest.importorskip("torch")
from .torch_modern import torch_bptt  # noqa: E402

CELLS = ("lru", "mingru")
CONFIGS = 48
CHECKPOINTS = (None, "sqrt", 2, 3, "binomial")


def random_config(cell: str, seed: int) -> dict:
    """One random configuration (the seed fixes it): sizes, structure and every option."""
    rng = np.random.default_rng(seed)
    T, B = int(rng.integers(1, 13)), int(rng.integers(1, 4))
    bidirectional = bool(rng.random() < 0.4)
    spec = bc.RNNSpec(
        cell, int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 4)),
        num_layers=int(rng.integers(1, 4)), bidirectional=bidirectional,
    )  # fmt: skip
    masking = rng.choice(["none", "suffix", "random"]) if not bidirectional else rng.choice(["none", "suffix"])
    mask = None
    if masking != "none":
        lengths = rng.integers(1, T + 1, B)
        mask = (np.arange(T)[:, None] < lengths[None, :]).astype(float)
        if masking == "random":
            mask = (rng.random((T, B)) < 0.7).astype(float)
    checkpoint = CHECKPOINTS[rng.integers(len(CHECKPOINTS))]
    return {
        "spec": spec,
        "T": T,
        "B": B,
        "loss": str(rng.choice(["mse", "cross_entropy"])),
        "reduction": str(rng.choice(["mean", "sum"])),
        "mask": mask,
        "truncation": int(rng.integers(1, T + 1)) if not bidirectional and rng.random() < 0.4 else None,
        "checkpoint": checkpoint,
        "checkpoint_slots": int(rng.integers(1, 4)) if checkpoint == "binomial" else None,
        "clip": float(rng.uniform(0.01, 0.5)) if rng.random() < 0.3 else None,
        "dtype": "float32" if rng.random() < 0.2 else "float64",
        "scan": bool(rng.random() < 0.5),
        "return_sequences": bool(rng.random() < 0.7),
        "h0": rng.random() < 0.5,
        "init": {"r_min": 0.0, "r_max": 1.0, "max_phase": 2 * np.pi}
        if "max_phase" in bc.CELLS[cell].init_options and rng.random() < 0.3
        else {},
    }


def engine_and_torch(cell: str, seed: int) -> tuple:
    c = random_config(cell, seed)
    spec, T, B = c["spec"], c["T"], c["B"]
    rng = np.random.default_rng(1000 + seed)
    params = bc.init_params(spec, seed=seed, **c["init"])
    params = {
        k: v * rng.uniform(0.8, 1.5) if k.startswith(("weight", "B_", "C_", "D")) else v for k, v in params.items()
    }
    x = rng.standard_normal((T, B, spec.input_size))
    O = spec.output_size
    y = rng.integers(0, O, (T, B)) if c["loss"] == "cross_entropy" else rng.standard_normal((T, B, O))
    n = spec.num_layers * spec.directions
    h0 = 0.5 * rng.standard_normal((n, B, spec.hidden_size)) if c["h0"] else None
    options = {k: c[k] for k in ("loss", "reduction", "mask", "truncation", "checkpoint", "checkpoint_slots", "clip")}
    res = bc.bptt(
        spec, params, x, y, **options, h0=h0, dtype=c["dtype"], scan=c["scan"],
        return_sequences=c["return_sequences"], input_grad=True,
    )  # fmt: skip
    ref = torch_bptt(spec, params, x, y, c["loss"], c["reduction"], c["mask"], c["truncation"], h0)
    return c, res, ref


def clipped(grads: dict, clip: float | None) -> dict:
    norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    return {k: g * (clip / norm) for k, g in grads.items()} if clip is not None and norm > clip else grads


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seed", range(CONFIGS))
def test_engine_equals_torch_autograd(cell, seed):
    c, res, (loss, grads, dh0, dx) = engine_and_torch(cell, seed)
    rtol = 2e-4 if c["dtype"] == "float32" else 1e-9
    assert res.loss == pytest.approx(loss, rel=rtol, abs=1e-12)
    grads = clipped(grads, c["clip"])
    scale = max(float(np.max(np.abs(g))) for g in grads.values()) or 1.0
    for key, g in grads.items():
        np.testing.assert_allclose(res.grads[key], g, rtol=rtol, atol=rtol * scale, err_msg=key)
    np.testing.assert_allclose(res.dx, dx, rtol=rtol, atol=rtol * (float(np.max(np.abs(dx))) or 1.0))
    np.testing.assert_allclose(res.dh0, dh0, rtol=rtol, atol=rtol * (float(np.max(np.abs(dh0))) or 1.0))
    if "h" not in bc.CELLS[cell].jacobian_parts:  # the LRU: y_{-1} feeds nothing
        assert np.all(res.dh0 == 0)
    assert (res.h is None) == (not c["return_sequences"]) and res.finite


def test_the_configurations_cover_every_option():
    """The random configurations above reach every option at least once, per cell."""
    for cell in CELLS:
        configs = [random_config(cell, s) for s in range(CONFIGS)]

        def seen(f, configs=configs) -> set:
            return {f(c) for c in configs}

        assert seen(lambda c: c["checkpoint"]) == set(CHECKPOINTS)
        assert seen(lambda c: (c["loss"], c["reduction"])) == {
            (a, b) for a in ("mse", "cross_entropy") for b in ("mean", "sum")
        }
        assert seen(lambda c: c["spec"].bidirectional) == {False, True}
        assert seen(lambda c: c["spec"].num_layers) == {1, 2, 3}
        assert seen(lambda c: (c["mask"] is not None, c["spec"].bidirectional)) == {
            (m, b) for m in (False, True) for b in (False, True)
        }
        for key in ("truncation", "clip"):
            assert seen(lambda c, key=key: c[key] is not None) == {False, True}
        for key in ("scan", "return_sequences", "h0"):
            assert seen(lambda c, key=key: c[key]) == {False, True}
        assert seen(lambda c: c["dtype"]) == {"float32", "float64"}
