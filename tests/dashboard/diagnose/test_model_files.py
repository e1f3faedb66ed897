"""The diagnosis's readers: untrusted model and sequence files, refused with what to change, or read."""

from __future__ import annotations

import io

import numpy as np
import pytest

import bptt_core as bc
from dashboard.diagnose import command as diagnose
from dashboard.diagnose.measurements import diagnose as run_diagnosis
from dashboard.diagnose.model_files import UPLOAD_LIMITS, UploadError, demo_model, read_model
from dashboard.diagnose.sequence_files import builtin_sequences, read_sequences

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
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_model_files_are_refused_with_what_to_do(case):
    data, message = _bad_cases()[case]
    if data is None:
        buf = io.BytesIO()
        np.savez(buf, w=np.array([{"a": 1}], dtype=object))
        data = buf.getvalue()
    with pytest.raises(UploadError, match=message):
        read_model(data)


SEQ_CASES = {
    "wrong shapes": (lambda: npy(np.zeros((2, 3, 4, 5))), {}, "shape"),
    "mismatched I": (lambda: npy(np.zeros((10, 2, 7))), {}, "the model reads I = 3"),
    "NaN inputs": (lambda: npy(np.full((10, 2, 3), np.nan)), {}, "NaN"),
    "too long": (lambda: npy(np.zeros((UPLOAD_LIMITS["T"] + 1, 1, 3))), {}, "at most T"),
    "too many sequences": (lambda: npy(np.zeros((5, UPLOAD_LIMITS["B"] + 1, 3))), {}, "B = "),
    "text outside the alphabet": (lambda: b"abcz!", {"alphabet": "abc"}, "outside the alphabet: '!', 'z'"),
    "text without an alphabet": (lambda: b"abc", {}, "needs its alphabet"),
    "ids outside the one-hot": (lambda: npy(np.array([[0, 5]])), {}, "token id 5"),
    "targets of the wrong shape": (
        lambda: npz(inputs=np.zeros((10, 2, 3)), targets=np.zeros((9, 2, 2))),
        {},
        "expected",
    ),
    "class ids outside the read-out": (
        lambda: npz(inputs=np.zeros((4, 2, 3)), targets=np.full((4, 2), 7)),
        {},
        "class id 7",
    ),
    "lengths out of range": (lambda: npz(inputs=np.zeros((4, 2, 3)), lengths=np.array([4, 9])), {}, "lengths must"),
    "a mask with holes": (
        lambda: npz(inputs=np.zeros((4, 1, 3)), mask=np.array([[1], [0], [1], [0]])),
        {},
        "1s then 0s",
    ),
    "no inputs in the npz": (lambda: npz(data=np.zeros((4, 1, 3))), {}, "no inputs"),
    "an empty file": (lambda: b"", {}, "must hold something"),
}


@pytest.mark.parametrize("case", list(SEQ_CASES))
def test_bad_sequence_files_are_refused_with_what_to_change(case):
    make, options, message = SEQ_CASES[case]
    model = read_model(demo_model("vanishing"))
    name = "seq.txt" if case.startswith("text") else "seq.npy"
    with pytest.raises(UploadError, match=message.replace("(", r"\(")):
        read_sequences(make(), name, model, **options)


def test_text_is_read_with_its_alphabet_and_shaded_by_influence():
    """Lines are sequences (padded, with lengths); next-character targets drop the last input."""
    model = read_model(demo_model("vanishing"))
    seqs = read_sequences(b"abca\nbc\n", "text.txt", model, alphabet="abc", next_token=False)
    assert seqs.tokens.T.tolist() == [[0, 1, 2, 0], [1, 2, 0, 0]] and seqs.lengths.tolist() == [4, 2]
    np.testing.assert_array_equal(seqs.x[1, 0], np.eye(3)[1])
    report = run_diagnosis(model, seqs)
    panel = diagnose.connectivity_panel(report, seqs)
    assert list(panel.data["token"]) == ["a", "b", "c", "a"]
    assert list(panel.figure.data[0].text[0]) == ["a", "b", "c", "a"]


def test_one_target_per_sequence_reads_each_sequences_last_step():
    model = read_model(demo_model("healthy"))
    x, y = np.random.default_rng(0).standard_normal((10, 3, 3)), np.ones((3, 2))
    seqs = read_sequences(npz(inputs=x, targets=y, lengths=np.array([10, 7, 4])), "d.npz", model)
    np.testing.assert_array_equal(seqs.mask.sum(axis=0), [1, 1, 1])
    np.testing.assert_array_equal(np.argmax(seqs.mask, axis=0), [9, 6, 3])


def test_builtin_sequences_fit_the_model():
    model = read_model(demo_model("healthy"))
    seqs = builtin_sequences(model, "random", 20, 3)
    assert seqs.x.shape == (20, 3, 3) and seqs.y is None
    with pytest.raises(UploadError, match="does not fit"):
        builtin_sequences(model, "chars", 20, 3)
