"""What one BPTT call returns, and how a call's record becomes it (the norms: :mod:`bptt_core.norms`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cells import CELLS
from .ledger import MemoryLedger
from .losses import step_means
from .norms import global_norm

#: The ledger's groups that hold what backward needs (the rest are fixed buffers of the call): the tape,
#: the checkpoints, and in a stack the layer outputs (a layer's h, kept for its backward and as the input
#: of the layer above, whatever the checkpointing).
STORED_GROUPS = frozenset({"checkpoints", "layer outputs"} | {c.group(e) for c in CELLS.values() for e in c.tape})


@dataclass(frozen=True)
class BPTTResult:
    """Everything one BPTT pass computed.

    Attributes
    ----------
    loss : float
        The reduced loss ``L``.
    step_losses : ndarray of shape (T,)
        Mean valid token loss at each step.
    grads : dict of ndarray
        ``dL/dparam`` for every parameter key (after clipping, if asked).
    grad_norm : float
        Global L2 norm of the parameter gradients before clipping.
    dh : ndarray of shape (T, B, D*H) or None
        ``dL/d(top layer's output)``, the tensor the read-out reads. Unidirectional: that is the
        top layer's state ``h_t``, so ``dh`` is its total derivative through all later steps (as
        cut by truncation). Bidirectional: the output ``[h_fwd_t, h_bwd_t]`` is read by the
        read-out only (PyTorch's ``output.grad``); the totals are in ``dh_layers``.
    dh_layers : ndarray of shape (L, D, T, B, H) or None
        ``dL/dh_t`` of every layer and direction, total through the recurrence and the layers above.
    dh0, dc0 : ndarray of shape (L*D, B, H)
        Gradients of the initial states (``dc0`` None unless the cell has a cell state).
    h : ndarray of shape (T, B, D*H) or None
        The top layer's outputs.
    h_layers : ndarray of shape (L, D, T, B, H) or None
        Every layer's outputs (values at padded steps are not meaningful).
    yhat : ndarray of shape (T, B, O) or None
        Read-outs. ``h``, ``h_layers``, ``dh``, ``dh_layers`` and ``yhat`` are None with
        ``return_sequences=False``.
    memory_bytes : int
        Peak bytes the call holds beyond the caller's inputs and parameters, as a fresh
        workspace would: tape, checkpoints, layer outputs and their gradients, scratch
        buffers, gradient buffers, losses and the returned sequences.
    memory_by_tensor : dict of str to int
        That peak split by group; the values sum to ``memory_bytes``.
    memory_timeline, memory_timeline_by_tensor : list
        ``(phase, step, bytes)`` and the same split by group after every forward,
        recompute and backward step.
    memory_timeline_by_layer : dict of (int, int) to list of int
        What each (layer, direction) held for backward at those moments: its tape, its
        checkpoints and its output sequence (kept for the layer above and its own backward).
    param_bytes, grad_bytes : int
        Parameters and gradient buffers.
    recomputed_steps : int
        Forward steps run again by checkpointing (taping one step right before its own
        backward step does not count: revolve's convention).
    forward_steps : int
        Every forward step evaluation, over all layers and directions.
    clip_coef : float
        Factor applied by global-norm clipping (1.0 if none).
    finite : bool
        False when the run overflowed: loss or gradients hold inf/nan.
    overflow_step : int or None
        First time step whose hidden state (in any layer) is not finite.
    step_contributions : dict of str to ndarray of shape (T,), or None
        With ``step_contributions=True``: Frobenius norm of the term step t adds to the gradient of each
        parameter in the cell's ``term_params`` (``weight_hh_*`` and ``weight_ih_*`` for RNN, LSTM and GRU),
        every layer and direction (tied weights sum these terms over time).
    dx : ndarray of shape (T, B, I) or None
        With ``input_grad=True``: ``dL/dx``, the gradient of the inputs (as cut by truncation).
    """

    loss: float
    step_losses: np.ndarray
    grads: dict
    grad_norm: float
    dh: np.ndarray | None
    dh_layers: np.ndarray | None
    dh0: np.ndarray
    dc0: np.ndarray | None
    h: np.ndarray | None
    h_layers: np.ndarray | None
    yhat: np.ndarray | None
    memory_bytes: int
    memory_by_tensor: dict
    param_bytes: int
    grad_bytes: int
    recomputed_steps: int
    forward_steps: int
    clip_coef: float
    finite: bool
    overflow_step: int | None
    step_contributions: dict | None = None
    dx: np.ndarray | None = None
    ledger: MemoryLedger = field(default_factory=MemoryLedger, repr=False)

    @property
    def stored_bytes(self) -> int:
        """Peak of what is kept for backward alone: the tape, the checkpoints and, in a stack, the layer
        outputs (no fixed buffers)."""
        return self.ledger.peak_of(STORED_GROUPS)

    @property
    def memory_timeline(self) -> list[tuple[str, int, int]]:
        """``(phase, step, bytes held)`` after every forward, recompute and backward step."""
        return self.ledger.timeline

    @property
    def memory_timeline_by_tensor(self) -> list[dict[str, int]]:
        """The moments of :attr:`memory_timeline`, split by group."""
        return self.ledger.timeline_by_group

    @property
    def memory_timeline_by_layer(self) -> dict[tuple, list[int]]:
        """The tape, checkpoints and outputs of each (layer, direction) at the moments of :attr:`memory_timeline`."""
        return self.ledger.timeline_by_owner


def flatten_grads(grads: dict[str, np.ndarray]) -> np.ndarray:
    """All gradients as one float64 vector, in a fixed key order."""
    return np.concatenate([np.asarray(grads[k], dtype=np.float64).ravel() for k in sorted(grads)])


def result_of(call, d_states: list, options: dict, state_ndim: dict, scratch: int) -> BPTTResult:
    """Reduce, clip, and package what a :func:`bptt_core.bptt` call computed (its internal call record,
    the gradients of the initial states, its options, how the states were given and its scratch bytes)."""
    spec, grads = call.spec, call.grads
    L, D = spec.num_layers, spec.directions
    np.copyto(call.tok, 0.0, where=call.mask == 0)  # padding counts for nothing (and may hold inf)
    total = float(np.einsum("tb,tb->", call.weights, call.tok, dtype=np.float64))
    h = h_layers = dh = dh_layers = None
    if call.seq is not None:
        T, B = call.x.shape[:2]
        h_layers = call.seq[:, 1 : T + 1].transpose(0, 3, 1, 2, 4)  # (L, D, T, B, H), views
        dh_layers = call.dseq.transpose(0, 3, 1, 2, 4)
        h = call.seq[L - 1, 1 : T + 1].reshape(T, B, D * spec.hidden_size)
        dh = call.dseq[L - 1].reshape(T, B, spec.hidden_size) if D == 1 else call.dh
    grad_norm = global_norm(grads)
    clip_coef = 1.0
    if options["clip"] is not None and grad_norm > options["clip"]:
        clip_coef = options["clip"] / grad_norm
        for g in grads.values():
            g *= clip_coef
    if options["clip_value"] is not None:
        for g in grads.values():
            np.clip(g, -options["clip_value"], options["clip_value"], out=g)
    ledger = call.ledger
    ledger.set("scratch", scratch)
    ledger.set("timeline", ledger.nbytes)
    finite = bool(np.isfinite(total) and np.isfinite(grad_norm) and call.overflow is None)
    return BPTTResult(
        loss=total,
        step_losses=step_means(call.tok, call.mask),  # tok is 0 at padding
        grads=grads,
        grad_norm=grad_norm,
        dh=dh,
        dh_layers=dh_layers,
        dh0=as_given(np.stack([s[0] for s in d_states]), state_ndim["h0"]),
        dc0=as_given(np.stack([s[1] for s in d_states]), state_ndim["c0"]) if spec.has_cell_state else None,
        h=h,
        h_layers=h_layers,
        yhat=call.yhat,
        memory_bytes=ledger.peak,
        memory_by_tensor=ledger.peak_by_group,
        param_bytes=sum(p.nbytes for p in call.P.values()),
        grad_bytes=sum(g.nbytes for g in grads.values()),
        recomputed_steps=call.recomputed,
        forward_steps=call.forward_steps,
        clip_coef=clip_coef,
        finite=finite,
        overflow_step=call.overflow,
        step_contributions=call.terms,
        dx=call.dx,
        ledger=ledger,
    )


def as_given(d_state: np.ndarray, ndim: int) -> np.ndarray:
    """``dh0``/``dc0`` of shape (L*D, B, H) in the shape its initial state was given: (B, H) for a single array."""
    return d_state[0] if ndim == 2 else d_state
