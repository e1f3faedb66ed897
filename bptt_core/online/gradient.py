"""One entry point for every way of computing the gradient: online or through time.

``online_gradient(spec, params, x, y, method=...)`` returns the same :class:`OnlineResult` for
RTRL, UORO, SnAp-1, the exact diagonal case, truncated BPTT and BPTT (with checkpointing), so
figures can set them side by side: loss, gradients keyed like :func:`bptt_core.bptt`'s, the
memory ledger and the FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import check_loss, check_options, prepare
from ..bptt import bptt
from ..cells import CELLS
from ..ledger import MemoryLedger
from ..norms import global_norm
from ..spec import RNNSpec
from ..workspace import Workspace
from .costs import ONLINE, flop_counts, online_bytes, online_work
from .rtrl import RTRL
from .snap import SnAp1
from .stream import INFLUENCE, open_stream, run
from .uoro import UORO

#: Every method, in the order a figure lists them.
METHODS = ("rtrl", "uoro", "snap1", "diagonal", "tbptt", "bptt")
#: Methods defined here for one recurrent layer.
SINGLE_LAYER = ("uoro", "snap1", "diagonal")


@dataclass(frozen=True)
class OnlineResult:
    """What one gradient computation returns, whatever the method.

    Attributes
    ----------
    method : str
    loss : float
        The reduced loss ``L`` (as :func:`bptt_core.bptt` reduces it).
    grads : dict of ndarray
        ``dL/dparam`` (exact, estimated or truncated) for every parameter key.
    grad_norm : float
        Global L2 norm of ``grads``.
    memory_bytes : int
        Peak bytes the call holds beyond the caller's inputs and parameters.
    memory_by_tensor : dict of str to int
        That peak by ledger group; the values sum to ``memory_bytes``.
    stored_bytes : int
        What the method keeps to form its gradient: BPTT's tape, checkpoints and layer outputs; an
        online method's influence (it does not grow with T).
    flops : int
        Counted floating-point operations (:mod:`bptt_core.online.costs`).
    flops_by_phase : dict of str to int
    finite : bool
        False when the run overflowed (loss or gradients hold inf/nan).
    """

    method: str
    loss: float
    grads: dict
    grad_norm: float
    memory_bytes: int
    memory_by_tensor: dict
    stored_bytes: int
    flops: int
    flops_by_phase: dict
    finite: bool
    ledger: MemoryLedger = field(default_factory=MemoryLedger, repr=False)


def online_gradient(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    method: str = "rtrl",
    loss: str = "mse",
    reduction: str = "mean",
    mask: np.ndarray | None = None,
    *,
    seed: int | np.random.Generator | None = None,
    truncation: int | None = None,
    checkpoint: int | str | None = None,
    checkpoint_slots: int | None = None,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    dtype: str = "float64",
    memory_budget: int | None = None,
) -> OnlineResult:
    """The gradient of the loss by one method, with its memory and FLOPs.

    Parameters
    ----------
    spec, params, x, y, loss, reduction, mask, h0, c0, dtype, memory_budget
        As in :func:`bptt_core.bptt`.
    method : {"rtrl", "uoro", "snap1", "diagonal", "tbptt", "bptt"}
        ``rtrl``: exact influence carried forward (Williams & Zipser 1989), stacks included;
        ``uoro``: its unbiased rank-one estimate (Tallec & Ollivier 2018); ``snap1``: the influence
        kept on each parameter's own unit (Menick et al. 2020); ``diagonal``: SnAp-1 where it is exact,
        for recurrences whose step Jacobian couples no two units (Zucchet et al. 2023), refused
        otherwise; ``tbptt`` and ``bptt``: :func:`bptt_core.bptt` with ``truncation`` or ``checkpoint``.
    seed : int or numpy.random.Generator, optional
        UORO's random signs (ignored by the deterministic methods).
    truncation : int
        Required by ``tbptt`` (and only there).
    checkpoint, checkpoint_slots
        ``bptt``/``tbptt`` only, as in :func:`bptt_core.bptt`.

    Raises
    ------
    ValueError
        For a bad argument, naming it; for a bidirectional network with an online method (it cannot
        read the future); for a stack with UORO, SnAp-1 or ``diagonal``; for ``diagonal`` when the
        recurrence is not diagonal.

    Returns
    -------
    OnlineResult
    """
    v.check_choice("method", method, METHODS)
    rng = seed if isinstance(seed, np.random.Generator) else None
    options = check_options(
        spec,
        reduction=reduction,
        truncation=truncation,
        clip=None,
        clip_value=None,
        checkpoint=checkpoint,
        slots=checkpoint_slots,
        random_truncation=None,
        seed=None if rng is not None else seed,
        workspace=None,
        return_sequences=False,
    )
    _check_method_options(spec, method, options)
    loss, memory_budget = check_loss(loss), v.check_budget("memory_budget", memory_budget)
    if method not in ONLINE:
        return _through_time(spec, params, x, y, method, loss, mask, options, h0, c0, dtype, memory_budget)

    def need(T: int, B: int, copies: int) -> None:
        what = budget.sized(f"method={method!r}", T, B)
        needed = copies + online_bytes(spec, B, method, np.dtype(v.check_dtype(dtype)).name)
        advice = "lower the hidden size or the batch" + (", or choose uoro or snap1" if method == "rtrl" else "")
        budget.check(needed, what, advice, memory_budget)
        budget.check_work(online_work(spec, T, B, method), what, "shorten T, or lower the hidden size or the batch")

    args = prepare(spec, params, x, y, loss, mask, h0, c0, dtype, need)
    rng = rng or np.random.default_rng(options["seed"])
    with np.errstate(all="ignore"), Workspace(output_bytes=0).use() as work:
        cell, checked_mask = CELLS[spec.cell], None if mask is None else args.mask  # None: nothing of size T kept
        stream = open_stream(
            spec, cell, args.P, args.x, args.y, loss, options["reduction"], checked_mask, args.states, work
        )
        if method == "rtrl":
            tracker = RTRL(stream)
        elif method == "uoro":
            tracker = UORO(stream, rng)
        else:
            tracker = SnAp1(stream, exact=method == "diagonal")
        run(stream, tracker)
        return _package(method, stream.total, stream.grads, stream.ledger, spec, args.x.shape, None)


def _check_method_options(spec: RNNSpec, method: str, options: dict) -> None:
    """Options that go with some methods only, and the networks an online method cannot run."""
    if method == "tbptt" and options["truncation"] is None:
        raise ValueError("truncation is required for method='tbptt' (the window length k >= 1)")
    if method != "tbptt" and options["truncation"] is not None:
        raise ValueError(f"truncation applies to method='tbptt' only, not {method!r}")
    if method in ONLINE and options["checkpoint"] is not None:
        raise ValueError(f"checkpoint applies to method='bptt' or 'tbptt' only: {method!r} keeps no past to checkpoint")
    if method in ONLINE and spec.bidirectional:
        raise ValueError(
            f"method={method!r} refuses bidirectional=True: an online method runs forward in time and cannot "
            "read the future, which the reverse direction needs from its first step; use method='bptt'"
        )
    if method in SINGLE_LAYER and spec.num_layers > 1:
        raise ValueError(
            f"method={method!r} is defined here for one recurrent layer (its estimate follows one layer's "
            f"state), got num_layers={spec.num_layers}; use 'rtrl' (exact for stacks), 'tbptt' or 'bptt'"
        )


def _through_time(spec, params, x, y, method, loss, mask, options, h0, c0, dtype, memory_budget) -> OnlineResult:
    """BPTT or truncated BPTT, as :func:`bptt_core.bptt` computes them (checks and budgets included), in the
    common result."""
    res = bptt(
        spec,
        params,
        x,
        y,
        loss,
        options["reduction"],
        mask,
        truncation=options["truncation"],
        checkpoint=options["checkpoint"],
        checkpoint_slots=options["slots"],
        h0=h0,
        c0=c0,
        dtype=dtype,
        memory_budget=memory_budget,
        return_sequences=False,
    )
    return _package(method, res.loss, res.grads, res.ledger, spec, np.shape(x), res)


def _package(method, loss, grads, ledger, spec, shape, res) -> OnlineResult:
    """The common result; ``res`` is the BPTT result for the methods through time."""
    T, B = shape[:2]
    flops = flop_counts(spec, T, B, method, None if res is None else res.forward_steps)
    grad_norm = global_norm(grads)
    return OnlineResult(
        method=method,
        loss=float(loss),
        grads=grads,
        grad_norm=grad_norm,
        memory_bytes=ledger.peak,
        memory_by_tensor=ledger.peak_by_group,
        stored_bytes=ledger.peak_by_group.get(INFLUENCE, 0) if res is None else res.stored_bytes,
        flops=int(sum(flops.values())),
        flops_by_phase=flops,
        finite=bool(np.isfinite(loss) and np.isfinite(grad_norm)),
        ledger=ledger,
    )
