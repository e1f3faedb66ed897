"""Weights in and out: .npz, .safetensors and PyTorch state dicts, treated as untrusted input.

Uploads are read from bytes only (no file names become paths), pickle is never
allowed, the size is capped, and every array is checked against the chosen
cell with a message that names the key that is wrong.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import numpy as np

import bptt_core as bc
from dashboard.catalog.compute import preset_params
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
READOUT_MODULES = ("fc", "linear", "out", "head", "decoder", "readout", "output", "proj")
#: A layer's parameter key, with any module prefix: every registered cell's names (``weight_ih_l0``, ``nu_log_l0``).
LAYER_NAMES = sorted({name for c in bc.CELLS.values() for name in c.param_shapes(1, 1)}, key=len, reverse=True)
_STATE_DICT_KEY = re.compile(r"(?:^|\.)((?:" + "|".join(map(re.escape, LAYER_NAMES)) + r")_l\d+(?:_reverse)?)$")
_OLD_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class WeightsError(ValueError):
    """An upload that cannot be used, with a message for the user."""


def to_npz(params: dict[str, np.ndarray]) -> bytes:
    """The parameters as an ``.npz`` (PyTorch state-dict names plus ``weight_out``/``bias_out``)."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in params.items()})
    return buf.getvalue()


def to_safetensors(params: dict[str, np.ndarray]) -> bytes | None:
    """The parameters as ``.safetensors`` (the same names), or None without the safetensors package."""
    try:
        from safetensors.numpy import save
    except ImportError:
        return None
    return save({k: np.ascontiguousarray(v) for k, v in params.items()})


def key_description(cell: str) -> str:
    """What the weight files' keys are for ``cell``: PyTorch's state dict, or the engine's names."""
    c, label = bc.CELLS[cell], VIEWS[cell].label
    names = ", ".join(f"`{n}_l0`" for n in c.param_shapes(1, 1))
    suffixes = f"({names}, then `_l1`, … and `_reverse`) plus the read-out `weight_out`, `bias_out`"
    if c.torch_module is not None:
        return (
            f"Keys are PyTorch's `nn.{c.torch_module}` state dict {suffixes} (or an `nn.Linear` such as `fc.weight`): "
            "a `torch.nn` state dict loads as it is."
        )
    return (
        f"Keys are the engine's {suffixes}. PyTorch has no module for the {label}: the Diagnose page's reproduce "
        f"script holds one with these names (`dashboard/diagnose/torch_cells.py`)."
    )


def fingerprint(params: dict[str, np.ndarray]) -> str:
    """A short content hash of a parameter dict (names, shapes, dtypes and values)."""
    h = hashlib.sha1()
    for k in sorted(params):
        a = np.ascontiguousarray(params[k])
        h.update(f"{k}{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:12]


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise WeightsError(
                "the .npz holds pickled Python objects, which are refused for safety; "
                "save plain numeric arrays with np.savez"
            ) from None
        raise WeightsError(f"the .npz could not be read: {err}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise WeightsError(f"the .npz is damaged: {err}") from None


def _read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load
    except ImportError:
        raise WeightsError("reading .safetensors needs the safetensors package (pip install safetensors)") from None
    try:
        return dict(load(data))
    except Exception as err:  # the library raises its own error types for bad headers
        raise WeightsError(f"the .safetensors file could not be read: {err}") from None


def _read_torch(data: bytes) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise WeightsError(
            "this is a PyTorch file and PyTorch is not installed here; export it with "
            "np.savez or safetensors instead, or install torch"
        ) from None
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # weights_only refuses arbitrary pickles with its own error types
        raise WeightsError(f"the PyTorch file was refused (only plain state dicts are loaded): {err}") from None
    if not isinstance(obj, dict):
        raise WeightsError(f"the PyTorch file holds a {type(obj).__name__}, not a state_dict; save module.state_dict()")
    out = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            raise WeightsError(f"state_dict entry {k!r} is a {type(v).__name__}, not a tensor")
        out[str(k)] = v.detach().to(torch.float64).numpy() if v.is_floating_point() else v.numpy()
    return out


def read_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The named arrays in an upload, by content (npz, PyTorch zip or safetensors)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise WeightsError(f"the file is {len(data) / 2**20:.1f} MiB; the limit is {MAX_UPLOAD_BYTES // 2**20} MiB")
    if len(data) < 8:
        raise WeightsError("the file is empty or too short to hold weights")
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise WeightsError(f"the file is a damaged zip archive: {err}") from None
        if any(n.endswith("data.pkl") for n in names):
            return _read_torch(data)
        return _read_npz(data)
    header = int.from_bytes(data[:8], "little")
    if 2 <= header < min(len(data), 100_000_000) and data[8:9] == b"{":
        return _read_safetensors(data)
    raise WeightsError("the file is not an .npz, .safetensors or PyTorch state_dict")


def map_names(arrays: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """PyTorch state-dict names to this project's keys, and notes on what was renamed or ignored.

    ``rnn.weight_ih_l0`` (any module prefix) becomes ``weight_ih_l0``; a read-out ``fc.weight``/``fc.bias``
    (or linear, out, head, ...) becomes ``weight_out``/``bias_out``; the unsuffixed single-layer names of
    earlier versions (``weight_ih``, ...) become ``_l0`` keys, with a note.
    """
    out, notes = {}, []
    for name, arr in arrays.items():
        m = _STATE_DICT_KEY.search(name)
        if name in ("weight_out", "bias_out") or (m and m.group(1) == name):
            out[name] = arr
        elif m:
            out[m.group(1)] = arr
            notes.append(f"{name} → {m.group(1)}")
        elif name in _OLD_NAMES:
            out[f"{name}_l0"] = arr
            notes.append(
                f"{name} → {name}_l0 (the single-layer name of earlier versions; PyTorch's names are used now)"
            )
        elif (
            (parts := name.rsplit(".", 1))
            and len(parts) == 2
            and parts[0].split(".")[-1] in READOUT_MODULES
            and parts[1] in ("weight", "bias")
        ):
            key = f"{parts[1]}_out"
            out[key] = arr
            notes.append(f"{name} → {key}")
        else:
            notes.append(f"{name} ignored (unknown name)")
    return out, notes


def detect_settings(params: dict[str, np.ndarray]) -> dict | None:
    """The sidebar settings a parameter dict's shapes imply: cell, H, I, layers, direction (and O with a
    read-out), or None when its first layer fits no registered cell (each cell reads H and I back off its
    own arrays, and its shapes for those sizes must be the file's)."""
    layer0 = {k[: -len("_l0")]: tuple(np.shape(v)) for k, v in params.items() if k.endswith("_l0")}
    found = None
    for name, c in bc.CELLS.items():
        if set(layer0) != set(c.param_shapes(1, 1)):
            continue
        try:
            h, i = (int(n) for n in c.sizes(layer0))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if h >= 1 and i >= 1 and c.param_shapes(h, i) == layer0:
            found = name, h, i
            break
    if found is None:
        return None
    cell, h, i = found
    settings = {
        "cell": cell,
        "hidden_size": h,
        "input_size": i,
        "num_layers": 1 + max(int(m.group(1)) for k in params if (m := re.search(r"_l(\d+)", k))),
        "bidirectional": any(k.endswith("_reverse") for k in params),
    }
    if "weight_out" in params and np.ndim(params["weight_out"]) == 2:
        settings["output_size"] = int(params["weight_out"].shape[0])
    return settings


def suggest_spec(params: dict[str, np.ndarray]) -> str | None:
    """A hint like "cell=lstm, hidden H=16, inputs I=3, layers=2, bidirectional" read off the shapes."""
    s = detect_settings(params)
    if s is None:
        return None
    hint = f"cell={s['cell']}, hidden H={s['hidden_size']}, inputs I={s['input_size']}, layers={s['num_layers']}"
    if s["bidirectional"]:
        hint += ", bidirectional"
    if "output_size" in s:
        hint += f", outputs O={s['output_size']}"
    return hint


def load_weights(
    data: bytes, spec: bc.RNNSpec, fallback: dict[str, np.ndarray] | None = None
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Parse, map and validate an upload for ``spec``.

    Parameters
    ----------
    data : bytes
        The uploaded file's content (untrusted).
    spec : RNNSpec
        The cell and sizes chosen in the sidebar.
    fallback : dict, optional
        Used for a missing read-out (``weight_out``/``bias_out``), with a note.

    Returns
    -------
    params : dict of float64 ndarray
    notes : list of str
        Renamed, ignored or filled-in keys.

    Raises
    ------
    WeightsError
        Naming the first wrong key and what was expected.
    """
    arrays, notes = map_names(read_arrays(data))
    for key in ("weight_out", "bias_out"):
        if key not in arrays and fallback is not None and any(k.endswith("_l0") for k in arrays):
            arrays[key] = fallback[key]
            notes.append(f"{key} not in the file: kept the current read-out")
    for key, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.floating):
            raise WeightsError(
                f"{key} has dtype {getattr(arr, 'dtype', type(arr).__name__)}; weights must be floating point"
            )
    try:
        params = bc.spec.check_params(spec, arrays)
    except ValueError as err:
        hint = suggest_spec(arrays)
        raise WeightsError(
            str(err) + (f". The file looks like {hint}: set that in the sidebar" if hint else "")
        ) from None
    return {k: v.astype(np.float64) for k, v in params.items()}, notes


def apply_edits(
    params: dict[str, np.ndarray], block: int, edited_rows: dict, key: str = "weight_hh_l0", height: int | None = None
) -> dict[str, np.ndarray]:
    """A copy of ``params`` with entries of one gate block of one parameter replaced.

    Parameters
    ----------
    params : dict of ndarray
    block : int
        Gate block index (0 for a parameter without blocks).
    edited_rows : dict
        ``{row: {column: value}}`` as ``st.data_editor`` reports it, rows within the block; a vector's one
        column may have any name. Non-finite or empty values are ignored.
    key : str
        Which parameter (layer and direction): ``weight_hh_l0``, the LRU's ``nu_log_l0``, ...
    height : int, optional
        Rows per block (H); default: the number of columns (square blocks, as ``weight_hh``'s).
    """
    height = height or params[key].shape[1]
    new = {k: v.copy() for k, v in params.items()}
    for row, cols in edited_rows.items():
        for col, value in cols.items():
            if value is not None and np.isfinite(float(value)):
                at = (block * height + int(row),) + ((int(col),) if new[key].ndim == 2 else ())
                new[key][at] = float(value)
    return new


def load_for(data: bytes, config: RunConfig, fallback: dict[str, np.ndarray] | None = None) -> tuple[dict, list, dict]:
    """Load an upload for ``config``, or for the network its shapes describe.

    A file for another cell, size, depth or direction (a trained ``nn.LSTM(8, 32, num_layers=3,
    bidirectional=True)``, say) is recognised from its shapes: the returned ``changes`` are the
    sidebar settings to apply, and a missing read-out comes from that network's init preset.

    Returns
    -------
    params, notes, changes : dict, list of str, dict
        ``changes`` is empty when the file fits ``config``.

    Raises
    ------
    WeightsError
        When neither fits, saying what the file looks like and what the dashboard accepts.
    """
    try:
        params, notes = load_weights(data, config.spec, fallback)
        return params, notes, {}
    except WeightsError as err:
        settings = detect_settings(map_names(read_arrays(data))[0])
        changes = {k: v for k, v in (settings or {}).items() if getattr(config, k) != v}
        if not changes:
            raise
        if changes.get("bidirectional") and config.truncation:
            changes["truncation"] = 0  # a bidirectional network cannot be truncated
        try:
            target = config.replace(**changes, weights="preset")
        except ValueError as limits:
            raise WeightsError(f"{err}; the dashboard cannot show that network: {limits}") from None
    params, notes = load_weights(data, target.spec, fallback=preset_params(target))
    shown = ", ".join(f"{k} = {v}" for k, v in changes.items())
    return params, [*notes, f"the sidebar now matches the file ({shown})"], changes
