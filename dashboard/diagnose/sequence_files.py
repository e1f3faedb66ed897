"""A user's sequences for the diagnosis, read from untrusted bytes.

``.npy``/``.npz`` arrays of features (T, B, I) or token ids (T, B) (batch-first with a switch; an ``.npz``
may carry ``targets``, ``lengths`` or a prefix ``mask``), ``.csv`` time series, or text with an alphabet;
targets per step, one per sequence, or the next token; or a built-in task when the user brings none.
Every refusal is an :class:`~dashboard.diagnose.model_files.UploadError` saying what to change.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np

from dashboard.diagnose.model_files import UPLOAD_LIMITS, Model, UploadError

#: Names the inputs, targets and lengths may have inside an .npz.
NPZ_KEYS = {
    "inputs": ("inputs", "input", "x", "X"),
    "targets": ("targets", "target", "y", "Y"),
    "lengths": ("lengths", "length"),
    "mask": ("mask",),
}


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
