"""Argument checks shared by every entry point: one clear ``ValueError`` per mistake."""

from __future__ import annotations

import numpy as np

from .losses import LOSSES, REDUCTIONS
from .spec import RNNSpec
from .spec import check_positive_int as spec_check_positive_int

DTYPES = {"float64": np.float64, "float32": np.float32}


def check_choice(name: str, value: object, choices: tuple) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming ``name``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_dtype(dtype: object) -> type:
    """The NumPy float type for ``dtype`` ("float64", "float32" or the NumPy type)."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    if isinstance(dtype, (type, np.dtype)) and np.dtype(dtype).type in DTYPES.values():
        return np.dtype(dtype).type
    raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


def check_array(name: str, value: object, shape: tuple, dtype: type, *, finite: bool = True) -> np.ndarray:
    """A float array of exactly ``shape`` (None entries are free), cast to ``dtype``."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {arr.shape}, expected {want}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; inputs must be finite")
    return arr.astype(dtype, copy=False)


def check_inputs(spec: RNNSpec, x: object, dtype: type) -> np.ndarray:
    """``x`` of shape (T, B, I) with T, B >= 1."""
    if not isinstance(spec, RNNSpec):
        raise ValueError(f"spec must be an RNNSpec, got {type(spec).__name__}")
    x = check_array("x", x, (None, None, spec.input_size), dtype)
    if x.shape[0] < 1:
        raise ValueError("x has T = 0 time steps; a sequence needs at least one step")
    if x.shape[1] < 1:
        raise ValueError("x has batch size B = 0; give at least one sequence")
    return x


def check_targets(spec: RNNSpec, y: object, loss: str, T: int, B: int, dtype: type) -> np.ndarray:
    """mse: float targets (T, B, O); cross-entropy: integer classes (T, B) in [0, O)."""
    check_choice("loss", loss, LOSSES)
    if loss == "mse":
        return check_array("y", y, (T, B, spec.output_size), dtype)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class indices for loss='cross_entropy', got dtype {y.dtype}")
    if y.shape != (T, B):
        raise ValueError(f"y has shape {y.shape}, expected (T, B) = {(T, B)} class indices")
    if y.size and (y.min() < 0 or y.max() >= spec.output_size):
        raise ValueError(f"y holds classes outside [0, output_size) = [0, {spec.output_size})")
    return y


def check_mask(mask: object, T: int, B: int) -> np.ndarray:
    """A 0/1 mask of shape (T, B); None means every token counts."""
    if mask is None:
        return np.ones((T, B))
    arr = check_array("mask", mask, (T, B), np.float64)
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError("mask must hold only 0/1 (or booleans)")
    return arr


def check_state(name: str, value: object, n: int, B: int, H: int, dtype: type) -> np.ndarray:
    """Initial states of shape (n, B, H) (n = layers x directions, PyTorch's layout), zeros when None.

    A single (B, H) array is accepted when n = 1.
    """
    if value is None:
        return np.zeros((n, B, H), dtype=dtype)
    if n == 1 and np.ndim(value) == 2:
        return check_array(name, value, (B, H), dtype)[None]
    return check_array(name, value, (n, B, H), dtype)


def check_bool(name: str, value: object) -> bool:
    """True or False (NumPy booleans included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_positive_int(name: str, value: object, *, allow_none: bool = True) -> int | None:
    """None (if allowed) or an integer >= 1."""
    return spec_check_positive_int(name, value, allow_none=allow_none)


def check_positive_float(name: str, value: object) -> float | None:
    """None or a finite number > 0."""
    if value is None:
        return None
    number = not isinstance(value, bool) and isinstance(value, (int, float, np.number))
    if not number or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be None or a finite number > 0, got {value!r}")
    return float(value)


def check_checkpoint(value: object) -> int | str | None:
    """None, "sqrt" or a segment length >= 1."""
    if value is None or (isinstance(value, str) and value in ("sqrt", "binomial")):
        return value
    if isinstance(value, str):
        raise ValueError(f"checkpoint must be None, 'sqrt', 'binomial' or a positive integer, got {value!r}")
    return check_positive_int("checkpoint", value)


def check_probability(name: str, value: object) -> float | None:
    """None or a probability in [0, 1)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be None or a probability in [0, 1), got {value!r}")
    return float(value)


def check_reduction(reduction: object) -> str:
    """One of "mean", "sum"."""
    return check_choice("reduction", reduction, REDUCTIONS)


def check_seed(value: object) -> int | None:
    """None or a non-negative integer seed."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"seed must be None or an integer >= 0, got {value!r}")
    return int(value)
