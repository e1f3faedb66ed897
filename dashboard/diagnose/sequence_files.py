"""A user's sequences for the diagnosis, read from untrusted bytes.

``.npy``/``.npz`` arrays of features (T, B, I) or token ids (T, B), time-first or batch-first (an ``.npz``
may carry ``targets``, ``lengths`` or a prefix ``mask``, in the same layout), ``.csv`` time series, or
text with an alphabet; targets per step, one per sequence, or the next token; or a built-in task when
the user brings none. A layout is never guessed: arrays that read as sequences both ways raise
:class:`LayoutError` unless the caller chose one. Every refusal is an
:class:`~dashboard.diagnose.model_files.UploadError` that names the file and says what to change.
"""

from __future__ import annotations

import io
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from dashboard.diagnose.model_files import CONTENTS, UPLOAD_LIMITS, Model, UploadError, content_kind

#: Names the inputs, targets and lengths may have inside an .npz.
NPZ_KEYS = {
    "inputs": ("inputs", "input", "x", "X"),
    "targets": ("targets", "target", "y", "Y"),
    "lengths": ("lengths", "length"),
    "mask": ("mask",),
}
#: The two layouts, as the command line names them and as shapes.
LAYOUTS = {False: ("--time-first", "(T, B, ...)"), True: ("--batch-first", "(B, T, ...)")}


class LayoutError(UploadError):
    """Arrays that read as sequences both time-first and batch-first: the user must say which.

    Attributes
    ----------
    readings : dict of bool to str
        What each layout would read (keyed by ``batch_first``), e.g. "50 sequences of 16 steps".
    """

    def __init__(self, message: str, readings: dict):
        super().__init__(message)
        self.readings = readings


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


@contextmanager
def _about(name: str):
    """Name the file in every refusal raised inside (once: a refusal that already names its file keeps it)."""
    try:
        yield
    except UploadError as err:
        if isinstance(err, LayoutError) or getattr(err, "named", False):
            raise
        named = UploadError(f"{name}: {err}")
        named.named = True
        raise named from None


def _load_npy(data: bytes) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        raise UploadError(f"the .npy could not be read ({err}); save a plain numeric array") from None


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


def _load_csv(data: bytes) -> np.ndarray:
    """One row per step, one column per feature; a header line is skipped."""
    lines = [ln for ln in _decode(data).splitlines() if ln.strip()]
    if lines and not re.match(r"^\s*[-+.\d]", lines[0]):
        lines = lines[1:]
    try:
        table = np.array([[float(v) for v in ln.split(",")] for ln in lines], dtype=np.float64)
    except ValueError as err:
        raise UploadError(f"the .csv holds a value that is not a number ({err})") from None
    if table.ndim != 2 or table.size == 0:
        raise UploadError("the .csv must have one row per step and the same number of columns in each")
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
    check_size(T, B)
    tokens, mask = np.zeros((T, B), dtype=np.int64), np.zeros((T, B))
    for b, ln in enumerate(lines):
        tokens[: len(ln), b] = [index[c] for c in ln]
        mask[: len(ln), b] = 1.0
    return tokens, mask, lines


def check_size(T: int, B: int) -> None:
    if T > UPLOAD_LIMITS["T"] or B > UPLOAD_LIMITS["B"]:
        raise UploadError(
            f"the sequences are T = {T} steps x B = {B}; the diagnosis reads at most T = {UPLOAD_LIMITS['T']} "
            f"and B = {UPLOAD_LIMITS['B']}: send fewer or shorter sequences"
        )


def file_kind(data: bytes, name: str) -> str:
    """ "npy", "npz", "csv" or "txt", by content; a file whose name promises another kind is refused."""
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    found = content_kind(data)
    if suffix in ("npy", "npz") and found != suffix:
        saver = "np.save" if suffix == "npy" else "np.savez"
        raise UploadError(f"not a .{suffix} file: it holds {CONTENTS[found]} (save arrays with {saver})")
    if found in ("npy", "npz"):
        return found
    if found == "binary data":
        raise UploadError(f"not a sequence file: it holds {CONTENTS[found]}, not .npy, .npz, .csv or text")
    return "csv" if suffix == "csv" else "txt"


def _embed(tokens: np.ndarray, model: Model) -> np.ndarray:
    """Token ids (T, B) to inputs (T, B, I): the embedding's rows, or one-hot codes of size I."""
    table = model.embedding if model.embedding is not None else np.eye(model.spec.input_size)
    bad = (tokens < 0) | (tokens >= table.shape[0])
    if bad.any():
        what = "embedding rows" if model.embedding is not None else f"one-hot inputs (I = {model.spec.input_size})"
        raise UploadError(f"token id {int(tokens[bad][0])} is outside the model's {table.shape[0]} {what}")
    return table[tokens]


def _raw_inputs(data: bytes, kind: str, alphabet: str | None) -> tuple:
    """(array as stored, npz extras or {}, text lines or None); text and csv are already time-first."""
    if kind == "npz":
        extras = _load_npz(data)
        return extras["inputs"], extras, None
    if kind == "npy":
        return _load_npy(data), {}, None
    if kind == "csv":
        return _load_csv(data)[:, None, :], {}, None  # one sequence
    tokens, mask, lines = _text_tokens(data, alphabet)
    return tokens, {"mask": mask}, lines


def _two_layouts(raw: np.ndarray, kind: str) -> bool:
    """Whether the stored array has a sequence axis and a batch axis to tell apart (ids (A, C), features (A, C, I))."""
    if kind not in ("npy", "npz"):
        return False
    integer = np.issubdtype(raw.dtype, np.integer)
    return raw.ndim == (2 if integer else 3)


def _time_major_inputs(raw: np.ndarray, kind: str, batch_first: bool) -> np.ndarray:
    if kind not in ("npy", "npz"):
        return raw
    integer = np.issubdtype(raw.dtype, np.integer)
    if not (integer or np.issubdtype(raw.dtype, np.floating)) or raw.ndim not in ((1, 2) if integer else (2, 3)):
        raise UploadError(
            f"the inputs have shape {raw.shape} and dtype {raw.dtype}: give features (T, B, I) or (B, T, I) as "
            "floats, or token ids (T, B) or (B, T) as integers"
        )
    if raw.ndim == 1 or (not integer and raw.ndim == 2):
        return raw[:, None]  # one sequence
    return np.swapaxes(raw, 0, 1) if batch_first else raw


def _mask(extras: dict, T: int, B: int, batch_first: bool) -> np.ndarray:
    """The valid steps: from ``lengths`` (B,) or a prefix ``mask`` in the inputs' layout; all steps without."""
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
    stored = (B, T) if batch_first else (T, B)
    mask = np.asarray(extras["mask"], dtype=np.float64)
    mask = mask.T if batch_first and mask.shape == stored else mask
    lengths = mask.sum(axis=0).astype(int) if mask.shape == (T, B) else None
    if lengths is None or not np.array_equal(mask, np.arange(T)[:, None] < lengths[None]) or lengths.min() < 1:
        name = "(B, T)" if batch_first else "(T, B)"
        raise UploadError(f"the mask must be {name} = {stored} of 1s then 0s along time in each sequence (>= 1 step)")
    return mask


def _targets(raw: np.ndarray, T: int, B: int, O: int, batch_first: bool) -> tuple[np.ndarray, str, bool]:
    """(y, loss, one per sequence): class ids (T, B) or values (T, B, O), stored in the inputs' layout."""
    step = (B, T) if batch_first else (T, B)
    layout = f"{LAYOUTS[batch_first][1][:-6]}) inputs of T = {T} steps and B = {B} sequences"

    def per_step(y: np.ndarray) -> np.ndarray:
        return np.swapaxes(y, 0, 1) if batch_first else y

    if np.issubdtype(raw.dtype, np.integer):
        if raw.shape == (B,) and not (B == 1 and raw.shape == (T,)):
            return np.broadcast_to(raw[None], (T, B)).copy(), "cross_entropy", True
        if not (raw.shape == step or (B == 1 and raw.shape == (T,))):
            raise UploadError(f"class-id targets have shape {raw.shape}; with {layout} they must be {step} or ({B},)")
        y = per_step(raw.reshape(step))
        if y.min() < 0 or y.max() >= O:
            raise UploadError(
                f"class id {int(y.max() if y.max() >= O else y.min())} is outside the read-out's {O} classes"
            )
        return y.astype(np.int64), "cross_entropy", False
    if not np.issubdtype(raw.dtype, np.floating) or not np.all(np.isfinite(raw)):
        raise UploadError("targets must be finite floats (regression) or integers (class ids)")
    steps = {step + (O,)} | ({step} if O == 1 else set()) | ({(T, O)} if B == 1 else set())
    sequences = {(B, O)} | ({(B,)} if O == 1 else set())
    fits = (raw.shape in steps, raw.shape in sequences)
    if all(fits):
        raise UploadError(
            f"targets of shape {raw.shape} fit both per step and one per sequence: save them as {step + (O,)}"
        )
    if fits[1]:
        return np.broadcast_to(raw.reshape(B, O)[None], (T, B, O)).copy(), "mse", True
    if not fits[0]:
        raise UploadError(
            f"regression targets have shape {raw.shape}; with {layout} they must be {step + (O,)} or ({B}, {O})"
        )
    return per_step(raw.reshape(step + (O,))).astype(np.float64), "mse", False


def _read(stored: tuple, names: tuple, model: Model, batch_first: bool, options: dict) -> Sequences:
    """The sequences in one layout (targets, lengths and mask read in the same layout)."""
    (raw, extras, lines, kind), (name, targets_name) = stored, names
    with _about(name):
        raw = _time_major_inputs(raw, kind, batch_first)
        T, B = raw.shape[:2]
        check_size(T, B)
        mask = _mask(extras, T, B, batch_first)
        tokens = raw if np.issubdtype(raw.dtype, np.integer) else None
        if tokens is not None:
            x = _embed(tokens, model)
        elif not np.all(np.isfinite(raw)):
            raise UploadError("the inputs hold NaN or inf values")
        elif raw.shape[-1] != model.spec.input_size:
            raise UploadError(
                f"the inputs have {raw.shape[-1]} features per step; the model reads I = {model.spec.input_size}"
            )
        else:
            x = raw.astype(np.float64)
    notes = [f"{B} sequence(s) of up to {T} steps"]
    y, loss, per_sequence = None, None, False
    with _about(targets_name or name):
        if options["next_token"]:
            if tokens is None or T < 2:
                raise UploadError("next-token targets need token ids or text of at least two steps")
            x, y, mask, tokens, loss = x[:-1], tokens[1:], mask[1:], tokens[:-1], "cross_entropy"
            if y.max() >= model.spec.output_size:
                raise UploadError(f"token id {int(y.max())} is outside the read-out's {model.spec.output_size} classes")
            notes.append("targets: the next token at each step")
        elif extras.get("targets") is not None:
            y, loss, per_sequence = _targets(np.asarray(extras["targets"]), T, B, model.spec.output_size, batch_first)
        lengths = mask.sum(axis=0).astype(int)
        if lengths.min() < 1:
            raise UploadError("a sequence has no step with a target: every sequence needs at least two tokens")
        if per_sequence and model.spec.bidirectional:
            raise UploadError("one target per sequence needs a unidirectional model here: give targets per step")
    if per_sequence:
        mask = (np.arange(mask.shape[0])[:, None] == lengths[None] - 1).astype(np.float64)
        notes.append("one target per sequence: the loss reads each sequence's last step")
    return Sequences(x, tokens, y, loss, mask, lengths, lines, notes)


def _targets_file(targets: bytes, targets_name: str) -> np.ndarray:
    with _about(targets_name or "the targets file"):
        kind = file_kind(targets, targets_name)
        if kind not in ("npy", "csv"):
            raise UploadError(f"targets must be a .npy array or a .csv table, not {kind}")
        return _load_npy(targets) if kind == "npy" else _load_csv(targets)


def read_sequences(
    data: bytes,
    name: str,
    model: Model,
    *,
    batch_first: bool | None = None,
    alphabet: str | None = None,
    targets: bytes | None = None,
    targets_name: str = "",
    next_token: bool = False,
) -> Sequences:
    """Sequences for ``model`` from an upload.

    Parameters
    ----------
    data, name : bytes, str
        The file's content and name (its kind is read from the content; a name that promises another
        kind is refused).
    batch_first : bool or None
        Arrays (and their targets, lengths and mask) are (B, T, ...) rather than (T, B, ...); None: not
        chosen, which is refused with :class:`LayoutError` when both layouts fit the files.
    alphabet : str, optional
        For text: the characters in token-id order.
    targets, targets_name : bytes, str, optional
        A separate targets file (.npy or .csv); an .npz may hold them as ``targets``.
    next_token : bool
        Targets are the next token ids (a character model): the inputs drop their last step.
    """
    with _about(name):
        if not 0 < len(data) <= UPLOAD_LIMITS["sequence MiB"] * 2**20:
            raise UploadError(
                f"the file is {len(data) / 2**20:.1f} MiB; it must hold something and at most "
                f"{UPLOAD_LIMITS['sequence MiB']} MiB"
            )
        kind = file_kind(data, name)
        raw, extras, lines = _raw_inputs(data, kind, alphabet)
    if targets is not None:
        extras = {**extras, "targets": _targets_file(targets, targets_name)}
    stored, names = (raw, extras, lines, kind), (name, targets_name if targets is not None else "")
    options = {"alphabet": alphabet, "next_token": next_token}
    if batch_first is not None or not _two_layouts(raw, kind):
        return _read(stored, names, model, bool(batch_first), options)
    readings, errors = {}, {}
    for layout in (False, True):
        try:
            readings[layout] = _read(stored, names, model, layout, options)
        except UploadError as err:
            errors[layout] = err
    return _one_layout(readings, errors, name, raw.shape)


def _one_layout(readings: dict, errors: dict, name: str, shape: tuple) -> Sequences:
    """The only layout that fits; a :class:`LayoutError` when both do, the refusals when none does."""
    if len(readings) == 2:
        said = {k: f"{s.x.shape[1]} sequence(s) of {s.x.shape[0]} steps" for k, s in readings.items()}
        raise LayoutError(
            f"{name} has shape {shape}, which reads as {said[False]} {LAYOUTS[False][1]} or as {said[True]} "
            f"{LAYOUTS[True][1]}: say which layout it is",
            said,
        )
    errors = {k: str(e).removeprefix(f"{name}: ") for k, e in errors.items()}
    if not readings:
        first, second = errors[False], errors[True]
        raise UploadError(
            f"{name}: {first}"
            if first == second
            else f"{name}: read as {LAYOUTS[False][1]}, {first}; read as {LAYOUTS[True][1]}, {second}"
        )
    layout, seqs = next(iter(readings.items()))
    why = f"read as {LAYOUTS[layout][1]}, the only layout that fits: as {LAYOUTS[not layout][1]}, {errors[not layout]}"
    return replace(seqs, notes=[*seqs.notes, why])
