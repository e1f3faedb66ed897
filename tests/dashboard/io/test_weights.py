"""Weights in and out: round trip, PyTorch import, and untrusted uploads."""

from __future__ import annotations

import io

import numpy as np
import pytest

import bptt_core as bc
from dashboard.catalog import compute
from dashboard.config import RunConfig
from dashboard.io import weights
from tests.apptest import assert_clean, chart_specs, open_app

CONFIG = RunConfig(cell="lstm", T=15, hidden_size=5, input_size=3, output_size=2)


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_download_upload_round_trip_gives_identical_results():
    params = compute.preset_params(CONFIG.replace(init="orthogonal", seed=4))
    loaded, notes = weights.load_weights(weights.to_npz(params), CONFIG.spec)
    assert notes == []
    for k in params:
        np.testing.assert_array_equal(loaded[k], params[k])
    assert compute.run(CONFIG, loaded).loss == compute.run(CONFIG, params).loss


def test_safetensors_upload():
    from safetensors.numpy import save

    params = compute.preset_params(CONFIG)
    loaded, _ = weights.load_weights(save({k: v.astype(np.float32) for k, v in params.items()}), CONFIG.spec)
    np.testing.assert_allclose(loaded["weight_hh_l0"], params["weight_hh_l0"], rtol=1e-6)


def test_pytorch_names_are_mapped_and_deeper_layers_named_in_the_message():
    params = compute.preset_params(CONFIG)
    arrays = {
        "rnn.weight_ih_l0": params["weight_ih_l0"],
        "rnn.weight_hh_l0": params["weight_hh_l0"],
        "rnn.bias_ih_l0": params["bias_ih_l0"],
        "rnn.bias_hh_l0": params["bias_hh_l0"],
        "fc.weight": params["weight_out"],
        "fc.bias": params["bias_out"],
    }
    loaded, notes = weights.load_weights(npz(**arrays), CONFIG.spec)
    np.testing.assert_array_equal(loaded["weight_out"], params["weight_out"])
    assert "rnn.weight_hh_l0 → weight_hh_l0" in notes
    deeper = arrays | {"rnn.weight_ih_l1": np.zeros((20, 5))}
    with pytest.raises(weights.WeightsError, match=r"weight_ih_l1.*layers=2"):
        weights.load_weights(npz(**deeper), CONFIG.spec)


def test_the_unsuffixed_names_of_earlier_versions_still_load_with_a_note():
    params = compute.preset_params(CONFIG)
    old = {k.removesuffix("_l0"): v for k, v in params.items()}
    loaded, notes = weights.load_weights(npz(**old), CONFIG.spec)
    assert set(loaded) == set(params)
    assert any("earlier versions" in n for n in notes)


def test_torch_lstm_state_dict_imports_and_matches_torch_loss():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lstm, fc = torch.nn.LSTM(3, 5).double(), torch.nn.Linear(5, 2).double()
    state = {**lstm.state_dict(), **{f"fc.{k}": v for k, v in fc.state_dict().items()}}
    buf = io.BytesIO()
    torch.save(state, buf)
    loaded, _ = weights.load_weights(buf.getvalue(), CONFIG.spec)
    p = compute.problem(CONFIG, loaded)
    ours = bc.bptt(p.spec, loaded, p.x, p.y).loss
    out, _ = lstm(torch.from_numpy(p.x))
    theirs = ((fc(out) - torch.from_numpy(p.y)) ** 2).mean().item()
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_torch_file_with_arbitrary_pickle_is_refused():
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"weight_hh_l0": torch.zeros(3), "evil": io.BytesIO}, buf)  # a class object: not weights-only
    with pytest.raises(weights.WeightsError, match="refused"):
        weights.load_weights(buf.getvalue(), CONFIG.spec)


class _Huge(bytes):
    def __len__(self):  # a 1 GiB upload, without allocating it
        return 2**30


BAD_UPLOADS = {
    "pickle inside npz": (npz(weight_hh=np.array([{"a": 1}], dtype=object)), "pickled"),
    "wrong shape": (npz(**{**compute.preset_params(CONFIG), "weight_hh_l0": np.zeros((20, 4))}), "weight_hh_l0"),
    "NaN": (npz(**{**compute.preset_params(CONFIG), "bias_ih_l0": np.full(20, np.nan)}), "bias_ih_l0"),
    "integer dtype": (npz(**{**compute.preset_params(CONFIG), "bias_hh_l0": np.zeros(20, dtype=int)}), "bias_hh_l0"),
    "another cell": (
        weights.to_npz(compute.preset_params(RunConfig(cell="gru", hidden_size=5, input_size=3))),
        "cell=gru",
    ),
    "missing key": (npz(weight_ih=np.zeros((20, 3))), "missing"),
    "1 GiB file": (_Huge(b"PK\x03\x04"), "limit"),
    "random bytes": (np.random.default_rng(0).bytes(4096), "not an .npz"),
    "empty": (b"", "empty"),
    "truncated zip": (weights.to_npz(compute.preset_params(CONFIG))[:300], "damaged"),
}


@pytest.mark.parametrize("name", list(BAD_UPLOADS))
def test_bad_upload_gets_a_clear_message(name):
    data, match = BAD_UPLOADS[name]
    with pytest.raises(weights.WeightsError, match=match):
        weights.load_weights(data, CONFIG.spec, fallback=compute.preset_params(CONFIG))


QUERY = {k: v for k, v in CONFIG.to_query().items()}


def test_upload_through_the_page_changes_the_figures_and_bad_files_leave_it_usable():
    at = open_app("pages/weights.py", QUERY)
    assert_clean(at)
    before = chart_specs(at)
    bad = BAD_UPLOADS["pickle inside npz"][0]
    at.file_uploader(key="weights_upload").upload("evil.npz", bad).run()
    assert not at.exception and "pickled" in at.error[0].value
    good = compute.preset_params(CONFIG.replace(init="orthogonal", scale=1.3))
    at.file_uploader(key="weights_upload").upload("mine.npz", weights.to_npz(good)).run()
    assert_clean(at)
    assert at.session_state["run_config"].weights == weights.fingerprint(good)
    after = chart_specs(at)
    assert before[0]["data"] != after[0]["data"]  # eigenvalues moved
    at.switch_page("pages/gradient_flow.py").run()  # every page now uses them
    assert_clean(at)


def test_editing_one_cell_of_a_gate_block():
    params = compute.preset_params(RunConfig(cell="gru", hidden_size=3))
    new = weights.apply_edits(params, 2, {1: {"0": 5.0, "2": float("nan")}, 0: {"1": None}})
    changed = np.argwhere(new["weight_hh_l0"] != params["weight_hh_l0"])
    assert changed.tolist() == [[2 * 3 + 1, 0]] and new["weight_hh_l0"][7, 0] == 5.0
    assert params["weight_hh_l0"][7, 0] != 5.0  # the original is untouched


@pytest.mark.parametrize(("hidden", "editor"), [(3, True), (40, False)])
def test_w_hh_editor_only_for_small_hidden_sizes(hidden, editor):
    at = open_app("pages/weights.py", {"hidden_size": str(hidden)})
    assert_clean(at)
    assert len(at.get("data_editor")) == int(editor)
    assert any("Direct editing" in i.value for i in at.info) == (not editor)


def test_preset_buttons_switch_back_from_own_weights():
    at = open_app("pages/weights.py", {"hidden_size": "4"})
    orth = next(b for b in at.button if b.label == "Orthogonal")
    orth.click().run()
    assert_clean(at)
    assert at.session_state["run_config"].init == "orthogonal"
