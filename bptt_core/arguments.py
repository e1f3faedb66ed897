"""The arguments of :func:`bptt_core.bptt` and the analyses, checked and cast (a ValueError names the first
bad one).

:func:`prepare` checks in two rounds: first what can be read without allocating (types, shapes, dtypes),
then, after the caller's budget check (``need``), the values (finiteness, classes, the mask) and the
casts. A call over its budget is refused before it allocates anything of its size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import validate as v
from .cells import CELLS
from .ledger import array_header
from .losses import LOSSES, REDUCTIONS
from .spec import RNNSpec, check_spec, param_arrays
from .workspace import Workspace


@dataclass(frozen=True)
class Prepared:
    """Checked arguments, cast to the call's dtype.

    Attributes
    ----------
    P : dict of ndarray
        The parameters, contiguous, of the call's dtype.
    x : ndarray of shape (T, B, I)
    y : ndarray of shape (T, B, O) (mse) or integer (T, B) (cross-entropy)
    mask : ndarray of shape (T, B), float64
        1 for a valid token (all ones when no mask was given).
    states : list of tuple of ndarray of shape (B, w*H)
        ``states[k]`` holds the initial value of every state part of layer-direction k (``(h,)``,
        ``(h, c)``, ...; a part without an argument, the LRU's ``x``, starts at 0).
    copied : int
        Bytes of the arrays made here rather than taken as given: casts, converted lists, the default
        mask and initial states. They are held by the call, so its ledger counts them.
    state_ndim : dict of str to int
        How ``h0``/``c0`` were given: 2 for a single (B, H) array, else 3 (``dh0``/``dc0`` come back alike).
    """

    P: dict
    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    states: list
    copied: int
    state_ndim: dict


def prepare(
    spec: RNNSpec,
    params: dict,
    x: object,
    y: object,
    loss: str | None,
    mask: object,
    h0: object,
    c0: object,
    dtype: object,
    need: Callable[[int, int, int], None] | None = None,
) -> Prepared:
    """Validate the arguments shared by :func:`bptt` and the analyses and cast them to ``dtype``.

    ``loss=None`` stands for targets the caller does not need (``y`` is not read, nothing is made for it).
    ``need(T, B, copies)`` is called after the shape checks, before any array of the call's size exists,
    with the bytes the casts will make: it refuses a call over its budget.
    """
    dt = np.dtype(v.check_dtype(dtype))
    raw_x = inputs(check_spec(spec), x)
    T, B, _ = raw_x.shape
    raw_y = None if loss is None else targets(spec, y, loss, T, B)
    raw_mask = v.check_mask(mask, T, B)
    raw_P = param_arrays(spec, params)
    n, H, cell = spec.num_layers * spec.directions, spec.hidden_size, CELLS[spec.cell]
    if c0 is not None and not spec.has_cell_state:
        raise ValueError(f"c0 applies to cells with a cell state (lstm) only, not {spec.cell!r}")
    given = {"h": h0, "c": c0}  # the state parts an argument sets; the others (the LRU's x) start at 0
    raw_states = {p: state(f"{p}0", given[p], n, B, H) if given.get(p) is not None else None for p in cell.state_parts}
    made = made_bytes(raw_x, x, dt) + sum(made_bytes(a, params[k], dt, contiguous=True) for k, a in raw_P.items())
    made += made_bytes(raw_y, y, dt if loss == "mse" else None) + made_bytes(raw_mask, mask, np.dtype(np.float64))
    made += sum(
        made_bytes(a, given[p], dt) if a is not None else n * B * cell.tape[p] * H * dt.itemsize + array_header(3)
        for p, a in raw_states.items()
    )
    made += 0 if raw_mask is not None else T * B * 8 + array_header(2)
    if need is not None:
        need(T, B, made)
    values = {
        "x": raw_x,
        "y": raw_y,
        **{f"{p}0": a for p, a in raw_states.items()},
        **{f"params[{k!r}]": a for k, a in raw_P.items()},
    }
    for name, arr in values.items():
        if arr is not None:
            v.check_finite(name, arr)
    if raw_mask is not None and spec.bidirectional:
        v.check_prefix_mask(raw_mask)
    parts = [
        np.zeros((n, B, cell.tape[p] * H), dt) if a is None else a.astype(dt, copy=False) for p, a in raw_states.items()
    ]
    return Prepared(
        P={k: np.ascontiguousarray(a, dtype=dt) for k, a in raw_P.items()},
        x=raw_x.astype(dt, copy=False),
        y=raw_y if raw_y is None or loss != "mse" else raw_y.astype(dt, copy=False),
        mask=np.ones((T, B)) if raw_mask is None else raw_mask.astype(np.float64, copy=False),
        states=[tuple([part[i] for part in parts]) for i in range(n)],
        copied=made,
        state_ndim={f"{p}0": 2 if np.ndim(a) == 2 else 3 for p, a in given.items()},
    )


def made_bytes(raw: np.ndarray | None, given: object, dtype: np.dtype | None, contiguous: bool = False) -> int:
    """Bytes the cast of ``raw`` (read from the caller's ``given``) to ``dtype`` makes: 0 when it stays the
    caller's own array (an array of that dtype, contiguous if asked); None ``dtype``: never cast."""
    if raw is None:
        return 0
    kept = isinstance(given, np.ndarray) and (dtype is None or raw.dtype == dtype)
    if kept and (not contiguous or raw.flags.c_contiguous):
        return 0
    return raw.size * (raw.dtype.itemsize if dtype is None else dtype.itemsize) + array_header(raw.ndim)


def inputs(spec: RNNSpec, x: object) -> np.ndarray:
    """``x`` of shape (T, B, I) with T, B >= 1 (not cast)."""
    x = v.check_shape("x", v.as_array("x", x), (None, None, spec.input_size))
    if x.shape[0] < 1:
        raise ValueError("x has T = 0 time steps; a sequence needs at least one step")
    if x.shape[1] < 1:
        raise ValueError("x has batch size B = 0; give at least one sequence")
    return x


def targets(spec: RNNSpec, y: object, loss: str, T: int, B: int) -> np.ndarray:
    """mse: real targets (T, B, O); cross-entropy: integer classes (T, B) in [0, O) (not cast)."""
    v.check_choice("loss", loss, LOSSES)
    if loss == "mse":
        return v.check_shape("y", v.as_array("y", y), (T, B, spec.output_size))
    arr = v.as_array("y", y)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class indices for loss='cross_entropy', got dtype {arr.dtype}")
    if arr.shape != (T, B):
        raise ValueError(f"y has shape {arr.shape}, expected (T, B) = {(T, B)} class indices")
    if arr.size and (arr.min() < 0 or arr.max() >= spec.output_size):
        raise ValueError(f"y holds classes outside [0, output_size) = [0, {spec.output_size})")
    return arr


def state(name: str, value: object, n: int, B: int, H: int) -> np.ndarray:
    """An initial state of shape (n, B, H) (n = layers x directions, PyTorch's layout), not cast; a single
    (B, H) array is accepted when n = 1."""
    arr = v.as_array(name, value)
    if n == 1 and arr.ndim == 2:
        return v.check_shape(name, arr, (B, H))[None]
    return v.check_shape(name, arr, (n, B, H))


def check_options(
    spec,
    reduction,
    truncation,
    clip,
    clip_value,
    checkpoint,
    slots,
    random_truncation,
    seed,
    workspace,
    return_sequences,
    input_grad=False,
    scan=False,
) -> dict:
    """The scalar options, checked (a ValueError names the first bad one)."""
    check_spec(spec)
    options = {
        "reduction": check_reduction(reduction),
        "truncation": v.check_positive_int("truncation", truncation, allow_none=True),
        "clip": v.check_positive_float("clip", clip),
        "clip_value": v.check_positive_float("clip_value", clip_value),
        "checkpoint": check_checkpoint(checkpoint),
        "slots": v.check_positive_int("checkpoint_slots", slots, allow_none=True),
        "random_truncation": v.check_probability("random_truncation", random_truncation),
        "seed": v.check_seed(seed),
        "return_sequences": v.check_bool("return_sequences", return_sequences),
        "input_grad": v.check_bool("input_grad", input_grad),
        "scan": v.check_bool("scan", scan),
    }
    if options["scan"] and CELLS[spec.cell].forward_scan is None:
        linear = tuple(name for name, cell in CELLS.items() if cell.forward_scan is not None)
        raise ValueError(f"scan=True applies to cells with a linear recurrence {linear}, not {spec.cell!r}")
    if (options["checkpoint"] == "binomial") != (options["slots"] is not None):
        raise ValueError("checkpoint_slots goes with checkpoint='binomial' (and that needs checkpoint_slots >= 1)")
    if spec.bidirectional and (options["truncation"] or options["random_truncation"]):
        raise ValueError(
            "truncation and random_truncation are refused for bidirectional networks: the reverse "
            "direction reads the whole sequence, so no window of steps stands on its own"
        )
    if workspace is not None and not isinstance(workspace, Workspace):
        raise ValueError(f"workspace must be a bptt_core.Workspace or None, got {type(workspace).__name__}")
    return options


def check_loss(loss: object) -> str:
    """One of "mse", "cross_entropy" (checked before :func:`prepare`, where None means "no targets")."""
    return v.check_choice("loss", loss, LOSSES)


def check_reduction(reduction: object) -> str:
    """One of "mean", "sum"."""
    return v.check_choice("reduction", reduction, REDUCTIONS)


def check_checkpoint(value: object) -> int | str | None:
    """None, "sqrt", "binomial" or a segment length >= 1."""
    if value is None or (isinstance(value, str) and value in ("sqrt", "binomial")):
        return value
    if isinstance(value, str):
        raise ValueError(f"checkpoint must be None, 'sqrt', 'binomial' or a positive integer, got {value!r}")
    return v.check_positive_int("checkpoint", value, allow_none=True)
