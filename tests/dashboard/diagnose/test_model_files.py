"""The diagnosis's readers: untrusted model and sequence files, refused with what to change, or read."""

from __future__ import annotations

import io

import numpy as np
import pytest

import bptt_core as bc
from dashboard.diagnose.advice import diagnose as run_diagnosis
from dashboard.diagnose.demos import builtin_sequences, builtin_tasks, demo_model
from dashboard.diagnose.model_files import UPLOAD_LIMITS, UploadError, read_model
from dashboard.diagnose.panels import connectivity_panel
from dashboard.diagnose.sequence_files import LayoutError, read_sequences

from .uploads import npy, npz


def _bad_cases():
    base = bc.init_params(bc.RNNSpec("gru", 3, 4, 2), seed=0)
    named = {f"rnn.{k}": v for k, v in base.items() if not k.endswith("_out")}
    nan = dict(named)
    nan["rnn.weight_hh_l0"] = np.full_like(nan["rnn.weight_hh_l0"], np.nan)
    proj = {**named, "rnn.weight_hr_l0": np.zeros((2, 4))}
    two = {**named, **{k.replace("rnn.", "dec."): v for k, v in named.items()}}
    odd = {**named, "rnn.weight_ih_l0": np.zeros((5, 3))}
    return {
        "wrong file": (b"GIF89a not a state dict", "not an .npz"),
        "pickled npz": (None, "pickled"),
        "NaN weights": (npz(**nan), "NaN"),
        "proj_size": (npz(**proj), "proj_size"),
        "two modules": (npz(**two), "2 recurrent modules"),
        "no recurrent layer": (npz(**{"fc.weight": np.zeros((2, 4))}), "no recurrent layer"),
        "shapes fit no cell": (npz(**odd), "fit no cell"),
        "integer weights": (npz(**{**named, "rnn.weight_hh_l0": np.zeros((12, 4), int)}), "floating point"),
        "a text file named .pt": (b"model = torch.nn.GRU(3, 4)\n", "not an .npz.*it holds text"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_model_files_are_refused_with_what_to_do(case):
    data, message = _bad_cases()[case]
    if data is None:
        buf = io.BytesIO()
        np.savez(buf, w=np.array([{"a": 1}], dtype=object))
        data = buf.getvalue()
    with pytest.raises(UploadError, match=message) as err:
        read_model(data, name="model.pt")
    assert str(err.value).startswith("model.pt: ")


TIME_FIRST = {"batch_first": False}
#: Bad sequence files: (bytes, reading options, the message, the file's name), for the demo RNN (I = 2, O = 1).
SEQ_CASES = {
    "wrong shapes": (lambda: npy(np.zeros((2, 3, 4, 5))), {}, "shape", "seq.npy"),
    "mismatched I": (lambda: npy(np.zeros((10, 2, 7))), {}, "the model reads I = 2", "seq.npy"),
    "NaN inputs": (lambda: npy(np.full((10, 2, 2), np.nan)), TIME_FIRST, "NaN", "seq.npy"),
    "too long": (lambda: npy(np.zeros((UPLOAD_LIMITS["T"] + 1, 1, 2))), TIME_FIRST, "at most T", "seq.npy"),
    "too many sequences": (lambda: npy(np.zeros((5, UPLOAD_LIMITS["B"] + 1, 2))), TIME_FIRST, "B = ", "seq.npy"),
    "text outside the alphabet": (lambda: b"abcz!", {"alphabet": "ab"}, "outside the alphabet: '!', 'c', 'z'",
                                  "seq.txt"),
    "text without an alphabet": (lambda: b"abc", {}, "needs its alphabet", "seq.txt"),
    "text named .npy": (lambda: b"0.1,0.2\n0.3,0.4\n", {}, "seq.npy: not a .npy file: it holds text", "seq.npy"),
    "an .npz named .npy": (lambda: npz(inputs=np.zeros((4, 1, 2))), {}, "not a .npy file: it holds a zip", "seq.npy"),
    "binary data named .csv": (lambda: bytes(range(256)), {}, "seq.csv: not a sequence file: it holds binary",
                               "seq.csv"),
    "ids outside the one-hot": (lambda: npy(np.array([[0, 5]])), {}, "token id 5", "seq.npy"),
    "an ambiguous layout, not chosen": (
        lambda: npy(np.zeros((16, 50, 2))), {}, r"reads as 50 sequence\(s\) of 16 steps", "seq.npy",
    ),
    "targets of the wrong shape": (
        lambda: npz(inputs=np.zeros((10, 2, 2)), targets=np.zeros((9, 2, 1))), TIME_FIRST,
        r"with \(T, B\) inputs of T = 10 steps and B = 2 sequences they must be \(10, 2, 1\)", "seq.npz",
    ),
    "targets in the other layout": (
        lambda: npz(inputs=np.zeros((16, 50, 2)), targets=np.zeros((50, 16, 1))), {"batch_first": True},
        r"with \(B, T\) inputs of T = 50 steps and B = 16 sequences they must be \(16, 50, 1\)", "seq.npz",
    ),
    "class ids outside the read-out": (
        lambda: npz(inputs=np.zeros((4, 2, 2)), targets=np.full((4, 2), 7)), TIME_FIRST, "class id 7", "seq.npz",
    ),
    "lengths out of range": (lambda: npz(inputs=np.zeros((4, 2, 2)), lengths=np.array([4, 9])), TIME_FIRST,
                             "lengths must", "seq.npz"),
    "a mask with holes": (
        lambda: npz(inputs=np.zeros((4, 1, 2)), mask=np.array([[1], [0], [1], [0]])), TIME_FIRST, "1s then 0s",
        "seq.npz",
    ),
    "a mask in the other layout": (
        lambda: npz(inputs=np.zeros((16, 50, 2)), mask=np.ones((40, 16))), {"batch_first": True},
        r"the mask must be \(B, T\) = \(16, 50\)", "seq.npz",
    ),
    "no inputs in the npz": (lambda: npz(data=np.zeros((4, 1, 2))), {}, "no inputs", "seq.npz"),
    "an empty file": (lambda: b"", {}, "must hold something", "seq.npy"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(SEQ_CASES))
def test_bad_sequence_files_are_refused_naming_the_file_and_what_to_change(case):
    make, options, message, name = SEQ_CASES[case]
    model = read_model(demo_model("vanishing"))
    with pytest.raises(UploadError, match=message) as err:
        read_sequences(make(), name, model, **options)
    assert str(err.value).startswith(name + (" has shape" if isinstance(err.value, LayoutError) else ":"))


def test_text_is_read_with_its_alphabet_and_shaded_by_influence():
    """Lines are sequences (padded, with lengths); next-character targets drop the last input."""
    model = read_model(demo_model("vanishing"))
    seqs = read_sequences(b"abba\nba\n", "text.txt", model, alphabet="ab", next_token=False)
    assert seqs.tokens.T.tolist() == [[0, 1, 1, 0], [1, 0, 0, 0]] and seqs.lengths.tolist() == [4, 2]
    np.testing.assert_array_equal(seqs.x[1, 0], np.eye(2)[1])
    report = run_diagnosis(model, seqs)
    panel = connectivity_panel(report, seqs)
    assert list(panel.data["token"]) == ["a", "b", "b", "a"]
    assert list(panel.figure.data[0].text[0]) == ["a", "b", "b", "a"]


def test_one_target_per_sequence_reads_each_sequences_last_step():
    model = read_model(demo_model("healthy"))
    x, y = np.random.default_rng(0).standard_normal((10, 3, 2)), np.ones((3, 1))
    seqs = read_sequences(npz(inputs=x, targets=y, lengths=np.array([10, 7, 4])), "d.npz", model)
    assert any("the only layout that fits" in n for n in seqs.notes)  # (3,) lengths: B = 3, so time-first
    np.testing.assert_array_equal(seqs.mask.sum(axis=0), [1, 1, 1])
    np.testing.assert_array_equal(np.argmax(seqs.mask, axis=0), [9, 6, 3])


def test_builtin_sequences_fit_the_model():
    model = read_model(demo_model("healthy"))
    seqs = builtin_sequences(model, "random", 20, 3)
    assert seqs.x.shape == (20, 3, 2) and seqs.y is None
    assert builtin_tasks(model) == ["adding"] and builtin_sequences(model, "adding", 20, 3).loss == "mse"
    with pytest.raises(UploadError, match="does not fit"):
        builtin_sequences(model, "chars", 20, 3)
