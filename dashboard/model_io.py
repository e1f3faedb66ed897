"""A user's trained model and sequences, read from untrusted bytes for the diagnosis.

The model is a ``torch.nn.RNN/LSTM/GRU`` state dict (``.pt`` read with ``weights_only=True``,
``.safetensors`` or ``.npz``) under any module prefix, optionally with a read-out
``nn.Linear`` and an ``nn.Embedding``: the architecture is read off the shapes, the roles of
the extra matrices can be corrected, and what cannot be run is refused with what to export.
Sequences are ``.npy``/``.npz`` arrays, ``.csv`` time series or text with an alphabet. Every
refusal is a :class:`UploadError` whose message says what to change.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np

import bptt_core as bc

from .weights import WeightsError, detect_settings, map_names, read_arrays

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
#: Names the inputs, targets and lengths may have inside an .npz.
NPZ_KEYS = {
    "inputs": ("inputs", "input", "x", "X"),
    "targets": ("targets", "target", "y", "Y"),
    "lengths": ("lengths", "length"),
    "mask": ("mask",),
}
_RECURRENT = re.compile(r"^(.*?)\.?((?:weight|bias)_(?:ih|hh)_l\d+(?:_reverse)?)$")


class UploadError(WeightsError):
    """A model or sequence file that cannot be diagnosed, with a message for the user."""


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
    data: bytes, *, readout: str | None = None, embedding: str | None = None, nonlinearity: str = "tanh"
) -> Model:
    """Recognise a trained network in an upload.

    Parameters
    ----------
    data : bytes
        The file's content (untrusted; pickles are refused).
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
        raise UploadError(str(err)) from None
    prefix = _check_arrays(arrays)
    mapped, _ = map_names({k: v for k, v in arrays.items() if _RECURRENT.match(k)})
    settings = _settings(mapped, nonlinearity)
    spec = bc.RNNSpec(
        settings["cell"], settings["input_size"], settings["hidden_size"], 1, settings["activation"],
        settings["num_layers"], settings["bidirectional"],
    )  # fmt: skip
    notes = [f"recognised {describe(spec)}"]
    if spec.cell == "rnn":
        notes.append(f"nn.RNN's non-linearity is not in a state dict: {spec.activation} assumed (change it if not)")
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
    name = spec.cell.upper() if spec.cell != "rnn" else f"RNN ({spec.activation})"
    text = f"{depth}{direction}{name} (I = {spec.input_size}, H = {spec.hidden_size})"
    return ("an " if text[0] in "AEIOUR" else "a ") + text


@dataclass(frozen=True)
class Sequences:
    """Sequences ready for the engine.

    Attributes
    ----------
    x : ndarray of shape (T, B, I)
        The network's inputs (token ids already looked up in the embedding or one-hot coded).
    tokens : ndarray of shape (T, B) of int, or None
        Token ids, when the input was ids or text.
    y : ndarray of shape (T, B, O) (mse) or (T, B) of int (cross-entropy), or None
    loss : str or None
        "mse" or "cross_entropy" (None without targets).
    mask : ndarray of shape (T, B)
        Which steps' losses count, as the engine's ``mask``: the valid steps of each sequence
        (a prefix, its length), or only the last one with one target per sequence.
    lengths : ndarray of shape (B,) of int
        Valid steps of each sequence.
    text : list of str or None
        The characters of each sequence, for text.
    notes : list of str
    """

    x: np.ndarray
    tokens: np.ndarray | None
    y: np.ndarray | None
    loss: str | None
    mask: np.ndarray
    lengths: np.ndarray
    text: list | None = None
    notes: list = field(default_factory=list)


def _load_npy(data: bytes, what: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        raise UploadError(f"the {what} .npy could not be read ({err}); save a plain numeric array") from None


def _load_npz(data: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as err:
        raise UploadError(f"the .npz could not be read ({err}); save plain numeric arrays with np.savez") from None
    found = {role: next((arrays[k] for k in names if k in arrays), None) for role, names in NPZ_KEYS.items()}
    if found["inputs"] is None:
        raise UploadError(f"the .npz has no inputs: name the array one of {NPZ_KEYS['inputs']} (it has {list(arrays)})")
    return found


def _load_csv(data: bytes, what: str) -> np.ndarray:
    """One row per step, one column per feature; a header line is skipped."""
    lines = [ln for ln in _decode(data).splitlines() if ln.strip()]
    if lines and not re.match(r"^\s*[-+.\d]", lines[0]):
        lines = lines[1:]
    try:
        table = np.array([[float(v) for v in ln.split(",")] for ln in lines], dtype=np.float64)
    except ValueError as err:
        raise UploadError(f"the {what} .csv holds a value that is not a number ({err})") from None
    if table.ndim != 2 or table.size == 0:
        raise UploadError(f"the {what} .csv must have one row per step and the same number of columns in each")
    return table


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UploadError(f"the text is not UTF-8 ({err.reason} at byte {err.start})") from None


def _text_tokens(data: bytes, alphabet: str | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One sequence per non-empty line: token ids (T, B), mask (T, B) and the lines."""
    if not alphabet:
        raise UploadError("text needs its alphabet: the characters in token-id order (the i-th character is id i)")
    if len(set(alphabet)) != len(alphabet):
        raise UploadError("the alphabet repeats a character: each character must have one token id")
    lines = [ln for ln in _decode(data).split("\n") if ln]
    index = {c: i for i, c in enumerate(alphabet)}
    outside = sorted({c for ln in lines for c in ln if c not in index})
    if outside:
        shown = ", ".join(repr(c) for c in outside[:8])
        raise UploadError(f"the text has {len(outside)} character(s) outside the alphabet: {shown}")
    if not lines:
        raise UploadError("the text is empty")
    T, B = max(map(len, lines)), len(lines)
    _check_size(T, B)
    tokens, mask = np.zeros((T, B), dtype=np.int64), np.zeros((T, B))
    for b, ln in enumerate(lines):
        tokens[: len(ln), b] = [index[c] for c in ln]
        mask[: len(ln), b] = 1.0
    return tokens, mask, lines


def _check_size(T: int, B: int) -> None:
    if T > UPLOAD_LIMITS["T"] or B > UPLOAD_LIMITS["B"]:
        raise UploadError(
            f"the sequences are T = {T} steps x B = {B}; the diagnosis reads at most T = {UPLOAD_LIMITS['T']} "
            f"and B = {UPLOAD_LIMITS['B']}: send fewer or shorter sequences"
        )


def _time_major(a: np.ndarray, batch_first: bool) -> np.ndarray:
    """(T, B, ...) from (T, B, ...), (B, T, ...) with ``batch_first``, or one sequence (T,) / (T, F)."""
    return np.swapaxes(a, 0, 1) if batch_first and a.ndim >= 2 else a


def _embed(tokens: np.ndarray, model: Model) -> np.ndarray:
    """Token ids (T, B) to inputs (T, B, I): the embedding's rows, or one-hot codes of size I."""
    table = model.embedding if model.embedding is not None else np.eye(model.spec.input_size)
    bad = (tokens < 0) | (tokens >= table.shape[0])
    if bad.any():
        what = "embedding rows" if model.embedding is not None else f"one-hot inputs (I = {model.spec.input_size})"
        raise UploadError(f"token id {int(tokens[bad][0])} is outside the model's {table.shape[0]} {what}")
    return table[tokens]


def _kind(data: bytes, name: str) -> str:
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if data[:6] == b"\x93NUMPY":
        return "npy"
    if data[:4] == b"PK\x03\x04":
        return "npz"
    return "csv" if suffix == "csv" else "txt"


def _inputs(data: bytes, name: str, alphabet: str | None, batch_first: bool) -> tuple:
    """(array, found npz extras or {}, text lines or None): ids (T, B) or features (T, B, F), time-major."""
    kind = _kind(data, name)
    extras, lines = {}, None
    if kind == "npz":
        extras = _load_npz(data)
        raw = extras["inputs"]
    elif kind == "npy":
        raw = _load_npy(data, "inputs")
    elif kind == "csv":
        raw = _load_csv(data, "inputs")[:, None, :]  # one sequence
    else:
        raw, mask, lines = _text_tokens(data, alphabet)
        extras = {"mask": mask}
    if kind in ("npz", "npy"):
        integer = np.issubdtype(raw.dtype, np.integer)
        if not (integer or np.issubdtype(raw.dtype, np.floating)) or raw.ndim not in ((1, 2) if integer else (2, 3)):
            raise UploadError(
                f"the inputs have shape {raw.shape} and dtype {raw.dtype}: give features (T, B, I) as floats, "
                "or token ids (T, B) as integers (batch-first with the switch)"
            )
        raw = raw[:, None] if raw.ndim == 1 or (not integer and raw.ndim == 2) else _time_major(raw, batch_first)
    return raw, extras, lines


def _mask(extras: dict, T: int, B: int) -> np.ndarray:
    """The valid steps: from ``lengths`` (B,) or a prefix ``mask`` (T, B); all steps without either."""
    if extras.get("lengths") is not None:
        lengths = np.asarray(extras["lengths"]).reshape(-1)
        if (
            lengths.shape != (B,)
            or not np.issubdtype(lengths.dtype, np.integer)
            or lengths.min() < 1
            or lengths.max() > T
        ):
            raise UploadError(f"lengths must be B = {B} integers in [1, {T}], got shape {lengths.shape}")
        return (np.arange(T)[:, None] < lengths[None]).astype(np.float64)
    if extras.get("mask") is None:
        return np.ones((T, B))
    mask = np.asarray(extras["mask"], dtype=np.float64)
    lengths = mask.sum(axis=0).astype(int) if mask.shape == (T, B) else None
    if lengths is None or not np.array_equal(mask, np.arange(T)[:, None] < lengths[None]) or lengths.min() < 1:
        raise UploadError(f"the mask must be (T, B) = ({T}, {B}) of 1s then 0s in each column (its length, >= 1)")
    return mask


def _targets(raw: np.ndarray, T: int, B: int, O: int, batch_first: bool) -> tuple[np.ndarray, str, bool]:
    """(y, loss, one per sequence): class ids (T, B) or values (T, B, O), from the shapes people save."""
    if np.issubdtype(raw.dtype, np.integer):
        if raw.ndim == 1 and raw.shape[0] == B and B > 1:
            return np.broadcast_to(raw[None], (T, B)).copy(), "cross_entropy", True
        y = raw[:, None] if raw.ndim == 1 else _time_major(raw, batch_first)
        if y.shape != (T, B):
            raise UploadError(f"class-id targets have shape {raw.shape}; expected (T, B) = ({T}, {B}) or (B,)")
        if y.min() < 0 or y.max() >= O:
            raise UploadError(
                f"class id {int(y.max() if y.max() >= O else y.min())} is outside the read-out's {O} classes"
            )
        return y.astype(np.int64), "cross_entropy", False
    if not np.issubdtype(raw.dtype, np.floating) or not np.all(np.isfinite(raw)):
        raise UploadError("targets must be finite floats (regression) or integers (class ids)")
    if raw.ndim == 2 and raw.shape == (B, O) and B > 1 and T != B:
        return np.broadcast_to(raw[None], (T, B, O)).copy(), "mse", True
    y = _time_major(raw, batch_first) if raw.ndim == 3 else raw
    y = y[:, :, None] if y.ndim == 2 and O == 1 and y.shape == (T, B) else y
    y = y[:, None, :] if y.ndim == 2 and B == 1 else y
    if y.shape != (T, B, O):
        raise UploadError(f"regression targets have shape {raw.shape}; expected (T, B, O) = ({T}, {B}, {O}) or (B, O)")
    return y.astype(np.float64), "mse", False


def read_sequences(
    data: bytes,
    name: str,
    model: Model,
    *,
    batch_first: bool = False,
    alphabet: str | None = None,
    targets: bytes | None = None,
    targets_name: str = "",
    next_token: bool = False,
) -> Sequences:
    """Sequences for ``model`` from an upload.

    Parameters
    ----------
    data, name : bytes, str
        The file's content and name (only its suffix is read: .npy, .npz, .csv, else text).
    batch_first : bool
        Arrays are (B, T, ...) rather than (T, B, ...).
    alphabet : str, optional
        For text: the characters in token-id order.
    targets, targets_name : bytes, str, optional
        A separate targets file (.npy or .csv); an .npz may hold them as ``targets``.
    next_token : bool
        Targets are the next token ids (a character model): the inputs drop their last step.
    """
    if not 0 < len(data) <= UPLOAD_LIMITS["sequence MiB"] * 2**20:
        raise UploadError(
            f"the sequence file is {len(data) / 2**20:.1f} MiB; it must hold something and at most "
            f"{UPLOAD_LIMITS['sequence MiB']} MiB"
        )
    raw, extras, lines = _inputs(data, name, alphabet, batch_first)
    T, B = raw.shape[:2]
    _check_size(T, B)
    mask = _mask(extras, T, B)
    tokens = raw if np.issubdtype(raw.dtype, np.integer) else None
    notes = [f"{B} sequence(s) of up to {T} steps"]
    if tokens is not None:
        x = _embed(tokens, model)
    else:
        if not np.all(np.isfinite(raw)):
            raise UploadError("the inputs hold NaN or inf values")
        if raw.shape[-1] != model.spec.input_size:
            raise UploadError(
                f"the inputs have {raw.shape[-1]} features per step; the model reads I = {model.spec.input_size}"
            )
        x = raw.astype(np.float64)
    y_raw = extras.get("targets")
    if targets is not None:
        y_raw = (
            _load_npy(targets, "targets") if _kind(targets, targets_name) == "npy" else _load_csv(targets, "targets")
        )
    y, loss, per_sequence = None, None, False
    if next_token:
        if tokens is None or T < 2:
            raise UploadError("next-token targets need token ids or text of at least two steps")
        x, y, mask, tokens, loss = x[:-1], tokens[1:], mask[1:], tokens[:-1], "cross_entropy"
        if y.max() >= model.spec.output_size:
            raise UploadError(f"token id {int(y.max())} is outside the read-out's {model.spec.output_size} classes")
        notes.append("targets: the next token at each step")
    elif y_raw is not None:
        y, loss, per_sequence = _targets(np.asarray(y_raw), T, B, model.spec.output_size, batch_first)
    lengths = mask.sum(axis=0).astype(int)
    if lengths.min() < 1:
        raise UploadError("a sequence has no step with a target: every sequence needs at least two tokens")
    if per_sequence:
        if model.spec.bidirectional:
            raise UploadError("one target per sequence needs a unidirectional model here: give targets per step (T, B)")
        mask = (np.arange(mask.shape[0])[:, None] == lengths[None] - 1).astype(np.float64)
        notes.append("one target per sequence: the loss reads each sequence's last step")
    return Sequences(x, tokens, y, loss, mask, lengths, lines, notes)


def builtin_tasks(model: Model) -> list[str]:
    """The built-in tasks whose input and output sizes fit ``model`` (when the user brings no sequences)."""
    from bptt_core.lab.tasks import TASKS, task_sizes

    if model.embedding is not None:
        return []
    return [t for t in TASKS if task_sizes(t) == (model.spec.input_size, model.spec.output_size)]


def builtin_sequences(model: Model, task: str, T: int, B: int, seed: int = 0) -> Sequences:
    """Sequences for ``model`` without an upload: a built-in task that fits it, or "random" inputs (no targets;
    random token ids through an embedding)."""
    rng = np.random.default_rng(seed)
    _check_size(T, B)
    lengths = np.full(B, T)
    if task == "random":
        if model.embedding is not None:
            tokens = rng.integers(0, model.embedding.shape[0], (T, B))
            return Sequences(
                model.embedding[tokens], tokens, None, None, np.ones((T, B)), lengths, None, ["random token ids"]
            )
        x = rng.standard_normal((T, B, model.spec.input_size))
        return Sequences(x, None, None, None, np.ones((T, B)), lengths, None, ["random inputs N(0, 1), no targets"])
    from bptt_core.lab.tasks import make_batch

    if task not in builtin_tasks(model):
        raise UploadError(
            f"the task {task!r} does not fit the model's inputs and outputs: choose one of {builtin_tasks(model)}"
        )
    batch = make_batch(task, T, B, rng)
    if model.spec.bidirectional and not batch.mask.all():
        raise UploadError(f"the {task} task scores only some steps, which a bidirectional model cannot be run on here")
    return Sequences(batch.x, None, batch.y, batch.loss, batch.mask, lengths, None, [f"the built-in {task} task"])


def demo_model(kind: str, seed: int = 0) -> bytes:
    """A small state dict (``.npz``, PyTorch names, a read-out ``fc``) to try the diagnosis without a model of
    one's own: "vanishing" (an RNN with small weights), "exploding" (an RNN with spectral radius 2.5) or
    "healthy" (an LSTM with forget-gate bias 3)."""
    cell = "lstm" if kind == "healthy" else "rnn"
    spec = bc.RNNSpec(cell, 3, 16, 2)
    params = bc.init_params(spec, seed=seed, forget_bias=3.0 if kind == "healthy" else 0.0)
    if kind in ("vanishing", "exploding"):
        rho = 0.3 if kind == "vanishing" else 2.5
        params["weight_hh_l0"] = rho * bc.orthogonal(16, np.random.default_rng(seed))
    elif kind != "healthy":
        raise ValueError(f"kind must be 'vanishing', 'exploding' or 'healthy', got {kind!r}")
    arrays = {f"rnn.{k}": v for k, v in params.items() if not k.endswith("_out")}
    arrays |= {"fc.weight": params["weight_out"], "fc.bias": params["bias_out"]}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
