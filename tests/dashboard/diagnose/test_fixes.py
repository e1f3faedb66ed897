"""Try the fix: each rule's change, two fine-tuning runs on the same batches, a verdict with a margin (a fix that
does not help is said not to), a stop that cuts both runs alike, weights under the user's own names."""

from __future__ import annotations

import io

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.lab.train import TrainHistory
from dashboard.diagnose import fixes
from dashboard.diagnose.advice import Recommendation
from dashboard.diagnose.demos import builtin_sequences
from dashboard.diagnose.model_files import read_model, state_dict_bytes
from dashboard.diagnose.sequence_files import read_sequences

from .uploads import npz


def _model(cell="rnn", layers=1, rho=None, seed=0, I=2, O=1, prefix="rnn", extra=None):
    spec = bc.RNNSpec(cell, I, 6, O, num_layers=layers)
    params = bc.init_params(spec, seed=seed)
    if rho is not None:
        params["weight_hh_l0"] = rho * bc.orthogonal(6, np.random.default_rng(seed))
    arrays = {f"{prefix}.{k}": v.astype(np.float32) for k, v in params.items() if not k.endswith("_out")}
    arrays |= {
        "head.weight": params["weight_out"].astype(np.float32),
        "head.bias": params["bias_out"].astype(np.float32),
    }
    arrays |= extra or {}
    data = npz(**arrays)
    return read_model(data), data


def _run(losses: np.ndarray, held: np.ndarray) -> fixes.Run:
    history = TrainHistory(losses, np.ones_like(losses), np.ones_like(losses), np.zeros((losses.size, 2)), {})
    return fixes.Run(history, bc.RNNSpec("rnn", 1, 1, 1), np.arange(held.shape[0]), held)


@pytest.mark.parametrize(
    ("change", "verdict"),
    [(-0.3, "helped"), (+0.3, "hurt"), (-0.01, "no clear difference"), (0.0, "no clear difference")],
)
def test_the_verdict_needs_a_margin_and_twice_the_standard_error(change, verdict):
    rng = np.random.default_rng(0)
    base = 1.0 + 0.1 * rng.standard_normal((10, 16))
    asis = _run(np.ones(20), base)
    changed = _run(np.ones(20), base + change + 0.02 * rng.standard_normal((10, 16)))
    said, sentence, numbers = fixes.verdict(asis, changed)
    assert said == verdict and numbers["units"] == 16
    assert numbers["relative_change"] == pytest.approx(numbers["mean_difference"] / numbers["as_is"])
    assert ("did not help" in sentence) == (verdict == "no clear difference")


def test_a_big_but_noisy_difference_is_no_clear_difference_and_divergence_decides():
    rng = np.random.default_rng(1)
    base = np.ones((10, 4))
    noisy = base + np.array([-1.5, 1.2, -1.4, 0.9])  # -20 % on average, but the units disagree
    said, _, numbers = fixes.verdict(_run(np.ones(5), base), _run(np.ones(5), noisy + 0 * rng.random()))
    assert said == "no clear difference" and abs(numbers["relative_change"]) > fixes.MARGIN
    diverged = _run(np.array([1.0, np.nan]), base[:1])
    assert fixes.verdict(diverged, _run(np.ones(5), base))[0] == "helped"
    assert fixes.verdict(_run(np.ones(5), base), diverged)[0] == "hurt"
    assert fixes.verdict(diverged, diverged)[0] == "neither converged"


def _seqs(model, T=20, B=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, model.spec.input_size))
    y = np.cumsum(x[..., :1], axis=0) / 4
    return read_sequences(npz(inputs=x, targets=y), "d.npz", model, batch_first=False)


def test_each_rule_changes_what_it_says():
    model, _ = _model(rho=2.0)
    seqs = _seqs(model)
    at = {"layer": 0, "direction": 0}
    change = fixes.change_for(model, seqs, Recommendation("", "", {"median_norm": 2.5}, "clip"))
    assert change.clip == 2.5 and change.params is not model.params
    change = fixes.change_for(model, seqs, Recommendation("", "", {**at, "radius": 2.0}, "rescale"))
    assert bc.spectral_radius(change.params["weight_hh_l0"]) == pytest.approx(0.95)
    change = fixes.change_for(model, seqs, Recommendation("", "", {}, "gated_cell"))
    assert bc.CELLS[change.spec.cell].forget_gate is not None and change.spec.hidden_size == 6
    change = fixes.change_for(model, seqs, Recommendation("", "", at, "orthogonal"))
    np.testing.assert_allclose(change.params["weight_hh_l0"] @ change.params["weight_hh_l0"].T, np.eye(6), atol=1e-12)
    change = fixes.change_for(model, seqs, Recommendation("", "", {"horizon": 7}, "truncate"))
    assert change.truncation == 7
    change = fixes.change_for(model, seqs, Recommendation("", "", {**at, "layer": 0}, "saturation"))
    valid = change.x[seqs.mask > 0]
    np.testing.assert_allclose(valid.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(valid.std(axis=0), 1, atol=1e-9)
    lstm, _ = _model("lstm")
    change = fixes.change_for(
        lstm, _seqs(lstm), Recommendation("", "", {**at, "forget_bias_delta": 2.0}, "forget_bias")
    )
    diff = change.params["bias_ih_l0"] - lstm.params["bias_ih_l0"]
    np.testing.assert_array_equal(diff, np.r_[np.zeros(6), 2 * np.ones(6), np.zeros(12)])  # gates i, f, g, o
    stack, _ = _model("gru", layers=2)
    change = fixes.change_for(stack, _seqs(stack), Recommendation("", "", {"layer": 0}, "bottleneck"))
    changed = [k for k in stack.params if not np.array_equal(stack.params[k], change.params[k])]
    assert changed == ["weight_ih_l1"]
    with pytest.raises(ValueError, match="no change"):
        fixes.change_for(model, seqs, Recommendation("", "", {}, "unknown"))


def test_a_change_that_changes_nothing_gets_the_same_curves_and_is_said_not_to_help():
    """Clipping far above every gradient norm leaves training as it was: both runs, on the same batches with
    the same optimiser, are identical, and the verdict says the fix did not help."""
    model, _ = _model(rho=0.9)
    seqs = _seqs(model, B=16)
    result = fixes.try_fix(model, seqs, Recommendation("", "", {"median_norm": 1e12}, "clip"), steps=30, lr=1e-2)
    asis, changed = result.runs["as is"], result.runs["with the change"]
    np.testing.assert_array_equal(asis.history.loss, changed.history.loss)
    np.testing.assert_array_equal(asis.held_out, changed.held_out)
    assert result.verdict == "no clear difference" and "did not help" in result.sentence
    assert "4 of 16 sequences held out" in result.sentence and asis.checkpoints.tolist() == list(range(0, 31, 3))
    panel = fixes.fix_panel(result)
    names = {t.name for t in panel.figure.data}
    assert {"as is: training loss", "with the change: training loss", "as is: gradient norm",
            "with the change: gradient norm"} <= names  # fmt: skip


def test_a_stop_cuts_both_runs_at_the_same_step_and_clipping_keeps_an_exploding_rnn_finite():
    model = read_model(demo_exploding())
    seqs = builtin_sequences(model, "adding", 40, 32, seed=1)
    rec = Recommendation("", "", {"median_norm": 1.0}, "clip")
    told = []

    def stop_early(fraction, text):
        told.append((fraction, text))
        return not (text.startswith("as is") and "step 30 " in text)

    result = fixes.try_fix(model, seqs, rec, steps=60, lr=1e-1, optimizer="sgd", progress=stop_early)
    assert [len(r.history.loss) for r in result.runs.values()] == [30, 30]
    assert told[0][0] == pytest.approx(6 / 120) and told[-1][1] == "with the change: step 30 of 30"
    assert np.all(np.isfinite(result.runs["with the change"].history.loss))  # steps of at most lr x 1


def demo_exploding() -> bytes:
    from dashboard.diagnose.demos import demo_model

    return demo_model("exploding")


def test_fine_tuned_weights_keep_the_files_names_dtypes_and_other_arrays():
    embedding = np.random.default_rng(3).standard_normal((5, 2)).astype(np.float32)
    model, data = _model("gru", prefix="encoder.rnn", extra={"encoder.emb.weight": embedding})
    params = {k: v + 0.5 for k, v in model.params.items()}
    written, suffix, notes = state_dict_bytes(model, data, model.spec, params)
    assert suffix in (".pt", ".safetensors", ".npz") and notes == []
    again = read_model(written, name=f"fine_tuned{suffix}")
    assert again.roles == model.roles and again.prefix == "encoder.rnn"
    for key in params:
        np.testing.assert_allclose(again.params[key], params[key], rtol=1e-6)
    if suffix == ".pt":
        import torch

        state = torch.load(io.BytesIO(written), weights_only=True)
        assert state["encoder.rnn.weight_hh_l0"].dtype == torch.float32
        np.testing.assert_array_equal(state["encoder.emb.weight"].numpy(), embedding)
        assert set(state) == {*(f"encoder.rnn.{k}" for k in model.spec.param_shapes() if k.endswith("l0")),
                              "head.weight", "head.bias", "encoder.emb.weight"}  # fmt: skip


def test_a_gated_cell_is_written_under_the_same_names_with_a_note():
    model, data = _model("rnn")
    change = fixes.change_for(model, _seqs(model), Recommendation("", "", {}, "gated_cell"))
    written, _, notes = state_dict_bytes(model, data, change.spec, change.params)
    again = read_model(written)
    assert again.spec.cell == change.spec.cell and again.prefix == "rnn" and any("same names" in n for n in notes)


@pytest.mark.parametrize("seed", range(3))
def test_the_fix_caption_reads_its_figure(seed):
    """The verdict under a "Try it" figure states the held-out losses the figure draws: the mean of each run's
    last three checkpoints, and their relative change."""
    model, _ = _model(rho=1.5, seed=seed)
    seqs = _seqs(model, B=16, seed=seed)
    result = fixes.try_fix(model, seqs, Recommendation("", "", {**{"layer": 0, "direction": 0}, "radius": 1.5},
                                                       "rescale"), steps=20, lr=1e-2)  # fmt: skip
    panel = fixes.fix_panel(result)
    held = {t.name.split(":")[0]: np.asarray(t.y, float) for t in panel.figure.data if "held-out" in t.name}
    last = {run: float(np.mean(points[np.isfinite(points)][-3:])) for run, points in held.items()}
    assert f"held-out loss {last['as is']:.4g} as is, {last['with the change']:.4g} with the change" in panel.caption
    assert f"({last['with the change'] / last['as is'] - 1:+.1%};" in panel.caption
