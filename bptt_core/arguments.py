"""The arguments of :func:`bptt_core.bptt` and the analyses, checked and cast (a ValueError names the first
bad one)."""

from __future__ import annotations

import numpy as np

from . import validate as v
from .cells import CELLS
from .spec import check_params
from .workspace import Workspace


def prepare(spec, params, x, y, loss, mask, h0, c0, dtype) -> tuple:
    """Validate the arguments shared by :func:`bptt` and the analyses and cast them to ``dtype``.

    Returns
    -------
    params, x, y, mask, states
        Checked arrays; ``states[k]`` holds the initial value of every state part of layer-direction k
        (``(h,)``, ``(h, c)``, ...).
    """
    dtype_ = v.check_dtype(dtype)
    x = v.check_inputs(spec, x, dtype_)
    T, B, _ = x.shape
    y = v.check_targets(spec, y, loss, T, B, dtype_)
    mask = v.check_mask(mask, T, B)
    P = check_params(spec, params, dtype_)
    n, H = spec.num_layers * spec.directions, spec.hidden_size
    if c0 is not None and not spec.has_cell_state:
        raise ValueError(f"c0 applies to cells with a cell state (lstm) only, not {spec.cell!r}")
    given = {"h": ("h0", h0), "c": ("c0", c0)}
    cell = CELLS[spec.cell]
    parts = [
        v.check_state(*given[p], n, B, H, dtype_) if p in given else np.zeros((n, B, cell.tape[p] * H), dtype_)
        for p in cell.state_parts
    ]  # a part without an argument (the LRU's x) starts at 0
    return P, x, y, mask, [tuple(p[k] for p in parts) for k in range(n)]


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
    options = {
        "reduction": v.check_reduction(reduction),
        "truncation": v.check_positive_int("truncation", truncation),
        "clip": v.check_positive_float("clip", clip),
        "clip_value": v.check_positive_float("clip_value", clip_value),
        "checkpoint": v.check_checkpoint(checkpoint),
        "slots": v.check_positive_int("checkpoint_slots", slots),
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
