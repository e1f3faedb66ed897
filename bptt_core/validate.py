"""Argument checks shared by every public function: one clear ``ValueError`` per mistake, naming the argument.

The habits of :func:`bptt_core.bptt`, everywhere: types, shapes, finiteness and ranges are checked; an
integer must be an integer (``2.5``, ``2.0`` and ``True`` are not), a boolean is not a number, complex
numbers are refused (the engine is real-valued), and array-likes (nested lists) are read as NumPy reads
them, ragged ones refused. Each message is one line that says what to change. The array checks that read
values (:func:`check_finite`) are separate from the shape checks, so a caller can check its memory budget
in between, before anything large is allocated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DTYPES = {"float64": np.float64, "float32": np.float32}
#: Array kinds read as numbers: float, signed and unsigned integer, boolean (complex, text, objects refused).
NUMERIC_KINDS = "fiub"


def show(value: object) -> str:
    """A short description of ``value`` for a message: arrays by shape and dtype, other values by a clipped repr."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_integer(value: object) -> bool:
    """True for Python and NumPy integers, False for booleans, floats (even 2.0) and everything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """True for real numbers (integers and floats, Python or NumPy), False for booleans, complex and the rest."""
    return is_integer(value) or isinstance(value, (float, np.floating))


def check_choice(name: str, value: object, choices: tuple) -> str:
    """``value`` if it is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {show(value)}")
    return value


def check_dtype(dtype: object) -> type:
    """The NumPy float type for ``dtype`` ("float64", "float32" or the NumPy type)."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    if isinstance(dtype, (type, np.dtype)) and np.dtype(dtype).type in DTYPES.values():
        return np.dtype(dtype).type
    raise ValueError(f"dtype must be 'float64' or 'float32', got {show(dtype)}")


def check_bool(name: str, value: object) -> bool:
    """True or False (NumPy booleans included; 0 and 1 are numbers, not booleans)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {show(value)}")
    return bool(value)


def check_int(
    name: str, value: object, lo: int | None = None, hi: int | None = None, *, allow_none: bool = False
) -> int | None:
    """An integer in ``[lo, hi]`` (either bound may be open-ended), or None when allowed."""
    if value is None and allow_none:
        return None
    if not is_integer(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo == 1 and hi is None:
            what = "a positive integer"
        elif hi is None:
            what = "an integer" if lo is None else f"an integer >= {lo}"
        else:
            what = f"an integer in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {'None or ' if allow_none else ''}{what}, got {show(value)}")
    return int(value)


def check_positive_int(name: str, value: object, *, allow_none: bool = False) -> int | None:
    """An integer >= 1 (or None when allowed)."""
    return check_int(name, value, 1, allow_none=allow_none)


def check_number(
    name: str,
    value: object,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """A finite real number in the interval from ``lo`` to ``hi`` (open ends where asked), or None when allowed."""
    if value is None and allow_none:
        return None
    ok = is_real(value) and bool(np.isfinite(value))
    ok = ok and (lo is None or (value > lo if lo_open else value >= lo))
    ok = ok and (hi is None or (value < hi if hi_open else value <= hi))
    if not ok:
        if lo is None and hi is None:
            where = ""
        elif hi is None:
            where = f" {'>' if lo_open else '>='} {lo:g}"
        else:
            where = f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be {'None or ' if allow_none else ''}a finite number{where}, got {show(value)}")
    return float(value)


def check_positive_float(name: str, value: object) -> float | None:
    """None or a finite number > 0."""
    return check_number(name, value, 0.0, lo_open=True, allow_none=True)


def check_probability(name: str, value: object) -> float | None:
    """None or a probability in [0, 1)."""
    return check_number(name, value, 0.0, 1.0, hi_open=True, allow_none=True)


def check_seed(value: object, name: str = "seed") -> int | None:
    """None or a non-negative integer seed."""
    return check_int(name, value, 0, allow_none=True)


def check_budget(name: str, value: object) -> int | None:
    """None (the default budget) or a number of bytes, an integer >= 0."""
    return check_int(name, value, 0, allow_none=True)


def check_callable(name: str, value: object) -> Callable:
    """A function (anything callable)."""
    if not callable(value):
        raise ValueError(f"{name} must be callable, got {show(value)}")
    return value


def check_generator(name: str, value: object) -> np.random.Generator:
    """A ``numpy.random.Generator`` (``np.random.default_rng(seed)``)."""
    if not isinstance(value, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), got {show(value)}")
    return value


def check_dict(name: str, value: object) -> dict:
    """A dict (of arrays, keyed by name)."""
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a dict of arrays, got {type(value).__name__}")
    return value


def as_array(name: str, value: object, kinds: str = NUMERIC_KINDS) -> np.ndarray:
    """``value`` as a NumPy array without copying an array (nested lists are read as NumPy reads them), of a
    dtype of one of ``kinds`` (complex, text and objects refused; ragged lists refused)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(
            f"{name} must be a rectangular numeric array: its nested lists differ in length or hold other things"
        ) from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must be real, got complex dtype {arr.dtype} (pass its .real if that is meant)")
    if arr.dtype.kind not in kinds:
        want = "an integer array" if set(kinds) <= set("iu") else "a numeric array"
        raise ValueError(f"{name} must be {want}, got dtype {arr.dtype} ({show(value)})")
    return arr


def check_shape(name: str, arr: np.ndarray, shape: tuple) -> np.ndarray:
    """``arr`` if it has exactly ``shape`` (None entries are free)."""
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name} has shape {arr.shape}, expected {want}")
    return arr


def all_finite(arr: np.ndarray) -> bool:
    """True when no entry is NaN or infinite, read without a temporary the size of ``arr`` (its min and max)."""
    if arr.size == 0 or arr.dtype.kind != "f":
        return True
    return bool(np.isfinite(np.min(arr)) and np.isfinite(np.max(arr)))


def check_finite(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` if every entry is finite."""
    if not all_finite(arr):
        raise ValueError(f"{name} contains NaN or inf; it must be finite")
    return arr


def check_array(name: str, value: object, shape: tuple, dtype: type, *, finite: bool = True) -> np.ndarray:
    """A real array of exactly ``shape`` (None entries are free), finite when asked, cast to ``dtype``."""
    arr = check_shape(name, as_array(name, value), shape)
    if finite:
        check_finite(name, arr)
    return arr.astype(dtype, copy=False)


def check_index_array(name: str, value: object, size: int, *, ndim: int = 1) -> np.ndarray:
    """An integer array (booleans and floats refused) of ``ndim`` dimensions with entries in ``[0, size)``."""
    arr = as_array(name, value, kinds="iu")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise ValueError(f"{name} must hold integers in [0, {size}), got values from {arr.min()} to {arr.max()}")
    return arr


def check_vector(
    name: str, value: object, lo: float | None = None, hi: float | None = None, *, hi_open: bool = False
) -> np.ndarray:
    """A non-empty 1-d array of finite real numbers in ``[lo, hi]`` (or ``[lo, hi)``), as float64."""
    arr = check_array(name, value, (None,), np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one value")
    if (lo is not None and arr.min() < lo) or (hi is not None and (arr.max() >= hi if hi_open else arr.max() > hi)):
        bounds = f"[{lo:g}, {hi:g}{')' if hi_open else ']'}" if hi is not None else f">= {lo:g}"
        raise ValueError(f"{name} must hold numbers {'in ' if hi is not None else ''}{bounds}, got {show(value)}")
    return arr


def check_int_vector(name: str, value: object, lo: int = 1, *, allow_empty: bool = False) -> np.ndarray:
    """A 1-d integer array (booleans and floats refused), non-empty unless allowed, with entries >= ``lo``."""
    if allow_empty and isinstance(value, (list, tuple, np.ndarray)) and len(value) == 0:
        return np.zeros(0, np.int64)
    arr = as_array(name, value, kinds="iu")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d list of integers, got shape {arr.shape}")
    if arr.min() < lo:
        raise ValueError(f"{name} must hold integers >= {lo}, got {show(value)}")
    return arr.astype(np.int64, copy=False)


def check_mask(mask: object, T: int, B: int) -> np.ndarray | None:
    """A 0/1 mask of shape (T, B), uncast (None stays None: every token counts)."""
    if mask is None:
        return None
    arr = check_shape("mask", as_array("mask", mask), (T, B))
    if arr.dtype.kind != "b" and not np.all((arr == 0) | (arr == 1)):
        raise ValueError("mask must hold only 0/1 (or booleans)")
    return arr


def check_prefix_mask(mask: np.ndarray) -> None:
    """Refuse a mask whose valid steps are not a prefix of each sequence (a gap, or padding in front)."""
    later = np.diff(mask.astype(np.int8), axis=0) > 0  # a 1 after a 0
    if later.any():
        t, b = (int(i[0]) for i in np.nonzero(later))
        raise ValueError(
            f"mask has a gap in sequence {b} (step {t} is padding, step {t + 1} is not): a bidirectional "
            "network reads each sequence as PyTorch's packed sequences do, its valid steps first and then "
            "padding; give each sequence its valid steps as a prefix (run the segments as separate sequences)"
        )
