"""A user's trained model, read from untrusted bytes for the diagnosis (its sequences: :mod:`.sequence_io`).

The model is a ``torch.nn.RNN/LSTM/GRU`` state dict (``.pt`` read with ``weights_only=True``,
``.safetensors`` or ``.npz``) under any module prefix, optionally with a read-out
``nn.Linear`` and an ``nn.Embedding``: the architecture is read off the shapes, the roles of
the extra matrices can be corrected, and what cannot be run is refused with what to export.
Every refusal is a :class:`UploadError` whose message says what to change.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass, field

import numpy as np

import bptt_core as bc
from dashboard.config.cell_views import VIEWS, cell_name
from dashboard.io.weights import LAYER_NAMES, WeightsError, detect_settings, map_names, read_arrays

#: Limits of what a diagnosis reads (the dashboard's own network has the sidebar's LIMITS).
UPLOAD_LIMITS = {
    "hidden_size": 512,
    "num_layers": 8,
    "input_size": 4096,
    "output_size": 4096,
    "T": 2000,
    "B": 256,
    "sequence MiB": 64,
}
_RECURRENT = re.compile(r"^(.*?)\.?((?:" + "|".join(map(re.escape, LAYER_NAMES)) + r")_l\d+(?:_reverse)?)$")


class UploadError(WeightsError):
    """A model or sequence file that cannot be diagnosed, with a message for the user."""


#: What a file's first bytes say it holds (:func:`content_kind`).
CONTENTS = {
    "npy": "a .npy array",
    "npz": "a zip archive (an .npz or a PyTorch file)",
    "text": "text",
    "binary data": "binary data",
}


def content_kind(data: bytes) -> str:
    """ "npy", "npz" (any zip), "text" (UTF-8) or "binary data", from the bytes alone."""
    if data[:6] == b"\x93NUMPY":
        return "npy"
    if data[:4] == b"PK\x03\x04":
        return "npz"
    window = data[:4096]
    if b"\x00" in window:
        return "binary data"
    try:
        window.decode("utf-8")
    except UnicodeDecodeError as err:
        if len(data) <= len(window) or err.start < len(window) - 4:  # a character cut by the window is still text
            return "binary data"
    return "text"


@dataclass(frozen=True)
class Model:
    """A recognised network.

    Attributes
    ----------
    spec : RNNSpec
    params : dict of float64 ndarray
        The engine's keys (PyTorch's recurrent names, ``weight_out``/``bias_out``).
    embedding : ndarray of shape (V, I) or None
    roles : dict of str to str
        Which file key became the read-out's weight and the embedding ("none" when absent).
    candidates : dict of str to list of str
        The keys that could play each role (for the user to correct the mapping).
    prefix : str
        The recurrent module's name in the file ("rnn" for ``rnn.weight_ih_l0``; "" without one).
    notes : list of str
        What was recognised, renamed, filled in or assumed.
    """

    spec: bc.RNNSpec
    params: dict
    embedding: np.ndarray | None
    roles: dict
    candidates: dict
    prefix: str = ""
    notes: list = field(default_factory=list)


def _matrices(arrays: dict) -> dict[str, np.ndarray]:
    """The 2-D ``<module>.weight`` arrays outside the recurrent module."""
    return {k: v for k, v in arrays.items() if k.endswith("weight") and np.ndim(v) == 2 and not _RECURRENT.match(k)}


def _check_arrays(arrays: dict) -> str:
    """Refuse what cannot be run; the recurrent module's prefix."""
    for key, arr in arrays.items():
        if not np.issubdtype(arr.dtype, np.floating):
            raise UploadError(f"{key} has dtype {arr.dtype}; weights must be floating point")
        if not np.all(np.isfinite(arr)):
            raise UploadError(f"{key} holds NaN or inf values: diagnose a checkpoint saved before the weights diverged")
    hr = [k for k in arrays if re.search(r"weight_hr_l\d+", k)]
    if hr:
        raise UploadError(
            f"{hr[0]} is an LSTM projection (proj_size > 0), which is not supported: export an LSTM without proj_size"
        )
    prefixes = {m.group(1) for k in arrays if (m := _RECURRENT.match(k))}
    if not prefixes:
        raise UploadError(
            "no recurrent layer found: expected a torch.nn.RNN/LSTM/GRU state dict with keys like "
            "rnn.weight_ih_l0 (save model.state_dict())"
        )
    if len(prefixes) > 1:
        shown = ", ".join(sorted(p or "(no prefix)" for p in prefixes))
        raise UploadError(f"the file holds {len(prefixes)} recurrent modules ({shown}): export one of them")
    return prefixes.pop()


def _settings(mapped: dict, nonlinearity: str) -> dict:
    settings = detect_settings(mapped)
    if settings is None:
        ih, hh = (np.shape(mapped.get(k, ())) for k in ("weight_ih_l0", "weight_hh_l0"))
        gates = ", ".join(f"{name} {c.gates}" for name, c in bc.CELLS.items())
        raise UploadError(f"weight_ih_l0 {ih} and weight_hh_l0 {hh} fit no cell: rows must be gates x H ({gates})")
    for name, limit in UPLOAD_LIMITS.items():
        if settings.get(name, 0) > limit:
            raise UploadError(f"the network's {name} is {settings[name]}; the diagnosis reads at most {limit}")
    if nonlinearity not in bc.CELLS[settings["cell"]].activations:
        nonlinearity = "tanh"
    return {**settings, "activation": nonlinearity}


def _readout(matrices: dict, arrays: dict, width: int, choice: str | None, notes: list) -> tuple:
    """The read-out's (key, weight, bias): the chosen key, else a recognised name, else the only fit."""
    fits = [k for k, v in matrices.items() if v.shape[1] == width]
    if choice == "none" or (choice is None and not fits):
        notes.append(f"no read-out: the outputs are the top layer's {width} features (identity read-out)")
        return "none", np.eye(width), np.zeros(width)
    if choice is None:
        named = [k for k in fits if "weight_out" in map_names({k: matrices[k]})[0]]
        choice = (named or fits)[0]
    if choice not in fits:
        raise UploadError(f"{choice} cannot be the read-out: it must be a ({'O'}, {width}) matrix; candidates: {fits}")
    bias = arrays.get(choice[: -len("weight")] + "bias")
    bias = np.zeros(matrices[choice].shape[0]) if bias is None or np.shape(bias) != matrices[choice].shape[:1] else bias
    notes.append(f"read-out: {choice} {matrices[choice].shape}")
    return choice, matrices[choice], bias


def _embedding(matrices: dict, width: int, choice: str | None, readout: str, notes: list) -> tuple:
    fits = [k for k, v in matrices.items() if v.shape[1] == width and k != readout]
    if choice is None:
        choice = next((k for k in fits if "emb" in k.lower()), "none")
    if choice == "none":
        return "none", None
    if choice not in fits:
        raise UploadError(f"{choice} cannot be the embedding: it must be a (V, {width}) matrix; candidates: {fits}")
    notes.append(f"embedding: {choice} {matrices[choice].shape} (token ids are looked up there)")
    return choice, matrices[choice]


def read_model(
    data: bytes,
    *,
    readout: str | None = None,
    embedding: str | None = None,
    nonlinearity: str = "tanh",
    name: str = "the weights file",
) -> Model:
    """Recognise a trained network in an upload.

    Parameters
    ----------
    data : bytes
        The file's content (untrusted; pickles are refused).
    name : str
        The file's name, for the messages.
    readout, embedding : str, optional
        The file key of the read-out's and the embedding's weight, or "none"; recognised from
        names and shapes when None.
    nonlinearity : {"tanh", "relu"}
        ``nn.RNN``'s non-linearity, which a state dict does not record.

    Raises
    ------
    UploadError
        Saying what cannot be run and what to export instead.
    """
    try:
        arrays = read_arrays(data)
    except WeightsError as err:
        kind = content_kind(data)
        holds = "" if kind == "npz" or len(data) < 8 else f" (it holds {CONTENTS[kind]})"
        raise UploadError(f"{name}: {err}{holds}") from None
    try:
        return _recognise(arrays, readout, embedding, nonlinearity)
    except UploadError as err:
        raise UploadError(f"{name}: {err}") from None


def _recognise(arrays: dict, readout: str | None, embedding: str | None, nonlinearity: str) -> Model:
    """The network in a file's arrays (:func:`read_model`)."""
    prefix = _check_arrays(arrays)
    mapped, _ = map_names({k: v for k, v in arrays.items() if _RECURRENT.match(k)})
    settings = _settings(mapped, nonlinearity)
    spec = bc.RNNSpec(
        settings["cell"], settings["input_size"], settings["hidden_size"], 1, settings["activation"],
        settings["num_layers"], settings["bidirectional"],
    )  # fmt: skip
    notes = [f"recognised {describe(spec)}"]
    if bc.CELLS[spec.cell].chooses_activation:
        module = bc.CELLS[spec.cell].torch_module or VIEWS[spec.cell].label
        notes.append(f"nn.{module}'s non-linearity is not in a state dict: {spec.activation} assumed (change if not)")
    for key in spec.param_shapes():
        if key.startswith("bias") and key not in mapped and key.replace("bias", "weight") in mapped:
            mapped[key] = np.zeros(spec.param_shapes()[key])
            notes.append(f"{key} not in the file (bias=False): zeros")
    matrices = _matrices(arrays)
    width = spec.directions * spec.hidden_size
    out_key, w_out, b_out = _readout(matrices, arrays, width, readout, notes)
    emb_key, table = _embedding(matrices, spec.input_size, embedding, out_key, notes)
    spec = dataclasses.replace(spec, output_size=w_out.shape[0])
    try:
        params = bc.spec.check_params(spec, {**mapped, "weight_out": w_out, "bias_out": b_out})
    except ValueError as err:
        raise UploadError(f"{err}: the file's layers do not fit together") from None
    candidates = {
        "readout": [k for k, v in matrices.items() if v.shape[1] == width],
        "embedding": [k for k, v in matrices.items() if v.shape[1] == spec.input_size],
    }
    roles = {"readout": out_key, "embedding": emb_key}
    table = None if table is None else table.astype(np.float64)
    return Model(spec, params, table, roles, candidates, prefix, notes)


def describe(spec: bc.RNNSpec) -> str:
    """ "a 2-layer bidirectional LSTM (I = 8, H = 32)" and the like."""
    depth = f"{spec.num_layers}-layer " if spec.num_layers > 1 else ""
    direction = "bidirectional " if spec.bidirectional else ""
    text = f"{depth}{direction}{cell_name(spec.cell, spec.activation)} (I = {spec.input_size}, H = {spec.hidden_size})"
    return ("an " if text[0] in "AEILORU" else "a ") + text  # an LSTM, an RNN: read letter by letter


def state_dict_bytes(model: Model, original: bytes, spec: bc.RNNSpec, params: dict) -> tuple[bytes, str, list[str]]:
    """Fine-tuned weights under the user's own key names, as the user's file held them.

    The recurrent module keeps its prefix (``rnn.weight_hh_l0``), the read-out its key (``fc.weight``,
    ``fc.bias``), and every other array of the file (an embedding, other modules) is copied unchanged, in
    its dtype. Written with ``torch.save`` when PyTorch is installed (``.pt``), else as ``.safetensors``
    when that package is, else ``.npz``.

    Returns
    -------
    (bytes, suffix, notes)
    """
    arrays, notes = read_arrays(original), []
    prefix = model.prefix + "." if model.prefix else ""
    dtype = next((a.dtype for k, a in arrays.items() if _RECURRENT.match(k)), np.dtype(np.float32))
    out = dict(arrays)
    for key, value in params.items():
        if key in ("weight_out", "bias_out"):
            continue
        if prefix + key not in arrays and key.startswith("bias"):
            notes.append(f"{prefix + key} is new (the file had bias=False): build the module with bias=True")
        out[prefix + key] = value
    stale = [k for k in arrays if _RECURRENT.match(k) and k[len(prefix) :] not in params]
    for key in stale:  # a changed cell has other shapes but the same names; nothing else is dropped
        out.pop(key)
    readout = model.roles["readout"]
    if readout == "none":
        out |= {"weight_out": params["weight_out"], "bias_out": params["bias_out"]}
        notes.append("the file had no read-out: the fine-tuned read-out is saved as weight_out, bias_out")
    else:
        out[readout], out[readout[: -len("weight")] + "bias"] = params["weight_out"], params["bias_out"]
    if spec.cell != model.spec.cell:
        module = bc.CELLS[spec.cell].torch_module or VIEWS[spec.cell].label
        notes.append(f"the recurrent module is now an nn.{module} of the same size, under the same names")
    out = {k: np.ascontiguousarray(v, dtype=arrays[k].dtype if k in arrays else dtype) for k, v in out.items()}
    return (*_serialise(out), notes)


def _serialise(arrays: dict) -> tuple[bytes, str]:
    try:
        import torch

        buf = io.BytesIO()
        torch.save({k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, buf)
        return buf.getvalue(), ".pt"
    except ImportError:
        pass
    try:
        from safetensors.numpy import save

        return save(arrays), ".safetensors"
    except ImportError:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue(), ".npz"
