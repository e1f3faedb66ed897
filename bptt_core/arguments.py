"""The arguments of :func:`bptt_core.bptt` and the analyses, checked and cast (a ValueError names the first
bad one)."""

from __future__ import annotations

from . import validate as v
from .spec import check_params
from .workspace import Workspace


def prepare(spec, params, x, y, loss, mask, h0, c0, dtype) -> tuple:
    """Validate the arguments shared by :func:`bptt` and the analyses and cast them to ``dtype``.

    Returns
    -------
    params, x, y, mask, states
        Checked arrays; ``states[k]`` is the initial ``(h,)`` or ``(h, c)`` of layer-direction k.
    """
    dtype_ = v.check_dtype(dtype)
    x = v.check_inputs(spec, x, dtype_)
    T, B, _ = x.shape
    y = v.check_targets(spec, y, loss, T, B, dtype_)
    mask = v.check_mask(mask, T, B)
    P = check_params(spec, params, dtype_)
    n = spec.num_layers * spec.directions
    h = v.check_state("h0", h0, n, B, spec.hidden_size, dtype_)
    if spec.has_cell_state:
        parts = (h, v.check_state("c0", c0, n, B, spec.hidden_size, dtype_))
    elif c0 is not None:
        raise ValueError(f"c0 applies to cells with a cell state (lstm) only, not {spec.cell!r}")
    else:
        parts = (h,)
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
    }
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
