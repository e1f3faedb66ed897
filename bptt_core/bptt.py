"""The BPTT driver: windows of steps, layers bottom-up forward, top-down backward.

For each truncation window (the whole sequence without truncation) every layer and
direction sweeps forward (:func:`bptt_core.passes.sweep`), the read-out turns the top
layer's outputs into losses, and backward runs the layers top-down
(:func:`bptt_core.passes.run_actions`), each carrying its state's gradient back in time
and handing the gradient of its inputs to the layer below. Truncation, random
truncation, clipping and checkpointing are options of this one driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from . import budget
from . import validate as v
from .arguments import Prepared, check_loss, check_options, prepare
from .cells import CELLS, Cell
from .checkpoint import Plan, gradient_chunk, plan
from .ledger import MemoryLedger, held_bytes, object_bytes
from .losses import token_weights
from .passes import OBJECTS, SPENT, Pass, free_tape, run_actions, sweep
from .readout import readout
from .result import BPTTResult, result_of
from .spec import RNNSpec, layer_params, param_key
from .tape import projection_matrix
from .workspace import Workspace

#: Workspace names the ledger counts under their own groups rather than as scratch.
_COUNTED_APART = ("tape_", "hseq_", "dout_")


def bptt(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    loss: str = "mse",
    reduction: str = "mean",
    mask: np.ndarray | None = None,
    truncation: int | None = None,
    clip: float | None = None,
    checkpoint: int | str | None = None,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    random_truncation: float | None = None,
    clip_value: float | None = None,
    seed: int | None = None,
    dtype: str = "float64",
    step_contributions: bool = False,
    memory_budget: int | None = None,
    checkpoint_slots: int | None = None,
    workspace: Workspace | None = None,
    return_sequences: bool = True,
    input_grad: bool = False,
    scan: bool = False,
) -> BPTTResult:
    """Exact backpropagation through time for one sequence batch.

    Parameters
    ----------
    spec : RNNSpec
    params : dict of ndarray
        PyTorch's state-dict layout plus the read-out, see :mod:`bptt_core.spec`.
    x : ndarray of shape (T, B, I)
    y : ndarray of shape (T, B, O) for mse, integer (T, B) for cross-entropy
    loss : {"mse", "cross_entropy"}
    reduction : {"mean", "sum"}
        See :mod:`bptt_core.losses`.
    mask : ndarray of shape (T, B), optional
        0 for padding tokens. The reverse direction of a bidirectional layer starts each
        sequence at its last valid step (as PyTorch's packed sequences do).
    truncation : int, optional
        Cut every layer's recurrent state every ``k`` steps (``h.detach()``); windows of
        ``k`` steps run forward then backward in turn, so only one window's tape is held.
        Refused for bidirectional networks.
    clip : float, optional
        Global L2-norm clipping threshold (Pascanu et al. 2013).
    checkpoint : None, "sqrt", int or "binomial"
        Keep only some states in forward and recompute in backward, per layer and
        direction; "binomial" keeps at most ``checkpoint_slots`` states at once and
        recomputes the fewest steps that allows (Griewank & Walther 2000, revolve).
    h0, c0 : ndarray of shape (L*D, B, H), optional
        Initial states (zeros by default), in PyTorch's order; their gradients are ``dh0``/``dc0``.
    random_truncation : float in [0, 1), optional
        Probability of cutting each link, with 1/(1-p) re-weighting (unbiased; Tallec & Ollivier 2017).
    clip_value : float, optional
        Element-wise clipping of every gradient to ``[-v, v]`` (min-char-rnn).
    seed : int, optional
        Seed of the random truncation draws.
    dtype : {"float64", "float32"}
    step_contributions : bool
        Also return the norm of each step's term of the gradient of every parameter the cell names in
        ``term_params`` (``weight_hh_*`` and ``weight_ih_*`` for RNN, LSTM and GRU).
    memory_budget : int, optional
        Bytes this call may allocate (default :data:`bptt_core.budget.DEFAULT_BUDGET`).
    checkpoint_slots : int, optional
        With ``checkpoint="binomial"``: states kept at once per window (>= 1, its first state included).
    workspace : Workspace, optional
        Buffers to reuse: pass the same one to repeated calls (a training loop). One per thread.
    return_sequences : bool
        Return ``h``, ``h_layers``, ``dh``, ``dh_layers`` and ``yhat``; with False nothing of size
        T x B x H is allocated beyond what the memory mode stores.
    input_grad : bool
        Also return ``dx = dL/dx`` (T, B, I), as the layers above hand their inputs' gradient down.
    scan : bool
        Run the steps by the associative scan of :mod:`bptt_core.scan` (cells with a linear recurrence:
        lru, mingru), forward and backward, in runs between restarts, kept checkpoints and random cuts;
        the results equal the loop's up to rounding. The loop (False) is the reference, and runs where a
        window's plan tapes one step at a time (``"binomial"``), leaving nothing to scan.

    Raises
    ------
    ValueError
        For a bad argument, naming it.
    MemoryBudgetError
        (a ValueError) when the estimate exceeds the budget, before allocating anything.

    Returns
    -------
    BPTTResult
        Overflow is not an error: ``finite`` is False and arrays carry inf/nan.
    """
    options = check_options(
        spec,
        reduction,
        truncation,
        clip,
        clip_value,
        checkpoint,
        checkpoint_slots,
        random_truncation,
        seed,
        workspace,
        return_sequences,
        input_grad,
        scan,
    )
    options["step_contributions"] = v.check_bool("step_contributions", step_contributions)
    loss = check_loss(loss)
    memory_budget = v.check_budget("memory_budget", memory_budget)

    def need(T: int, B: int, copies: int) -> None:
        budget.check_bptt(spec, T, B, options, dtype, memory_budget, copies)

    args = prepare(spec, params, x, y, loss, mask, h0, c0, dtype, need)
    T, window = args.x.shape[0], options["truncation"] or args.x.shape[0]
    with np.errstate(all="ignore"), (workspace or Workspace(output_bytes=0)).use() as work:
        call = _Call.new(spec, args, loss, options, work, own_work=workspace is None)
        states, d_states = args.states, None
        for wa in range(0, T, window):
            states, d_window = _window(call, wa, min(wa + window, T), states)
            d_states = d_states or d_window  # what reached the initial states
        return result_of(call, d_states, options, args.state_ndim, call.work.requested_bytes(skip=_COUNTED_APART))


@dataclass
class _Call:
    """What one call shares across its windows, layers and directions."""

    spec: RNNSpec
    cell: Cell
    P: dict
    grads: dict
    x: np.ndarray
    y: np.ndarray
    loss: str
    mask: np.ndarray  # (T, B): 1 for a valid token
    weights: np.ndarray  # (T, B): weight of each token loss in L
    tok: np.ndarray  # (T, B): token losses
    work: Workspace
    ledger: MemoryLedger
    checkpoint: object
    slots: int | None
    chunk: int
    seq: np.ndarray | None  # (L, T + 2, B, D, H) outputs at rows 1..T; the initial states at row 0 (forward)
    #                                 and row T + 1 (reverse), so each direction reads its own order as a view
    dseq: np.ndarray | None  # (L, T, B, D, H) dL/dh
    dh: np.ndarray | None  # (T, B, 2H) the read-out's gradient (bidirectional only)
    dx: np.ndarray | None  # (T, B, I) dL/dx, with input_grad
    yhat: np.ndarray | None
    resets: np.ndarray | None  # (T, B) in the reverse direction's order
    links: np.ndarray | None  # (T,) factor on each link (random truncation)
    terms: dict | None
    inits: list
    scan: bool = False
    plans: dict = field(default_factory=dict)
    recomputed: int = 0
    forward_steps: int = 0
    overflow: int | None = None
    window_held: list = field(default_factory=list)  # (name, group, bytes, owner) of the window's buffers
    own_work: bool = False  # the workspace is the call's own: buffers done with are freed, not kept for reuse
    spent: dict = field(default_factory=dict)  # per (layer, direction): its tape buffers' bytes holding no live row
    _grown: int = -1

    @classmethod
    def new(cls, spec: RNNSpec, args: Prepared, loss: str, options: dict, work: Workspace, own_work: bool) -> _Call:
        x, mask = args.x, args.mask
        T, B, _ = x.shape
        L, D, H, O = spec.num_layers, spec.directions, spec.hidden_size, spec.output_size
        ledger = MemoryLedger()
        ledger.hold("input copies", args.copied)  # casts, the default mask and initial states, made by prepare
        grads = {k: np.zeros_like(p) for k, p in args.P.items()}  # gradient buffers, allocated once
        ledger.hold("gradients", held_bytes(*grads.values()))
        keep = options["return_sequences"]
        seq = work.outputs.empty((L, T + 2, B, D, H), x.dtype) if keep else None
        dseq = work.outputs.empty((L, T, B, D, H), x.dtype) if keep else None
        yhat = work.outputs.empty((T, B, O), x.dtype) if keep else None
        dh = work.outputs.empty((T, B, 2 * H), x.dtype) if keep and D == 2 else None
        dx = np.zeros_like(x) if options["input_grad"] else None
        ledger.hold("returned sequences", held_bytes(seq, dseq, yhat, dh, dx))
        weights = token_weights(mask, options["reduction"]).astype(x.dtype)
        tok = np.zeros((T, B), x.dtype)
        ledger.hold("losses", held_bytes(weights, tok) + 17 * T)  # and at the end step_losses, counts, a test
        terms = None
        if options["step_contributions"]:
            names = CELLS[spec.cell].term_params
            terms = {param_key(n, l, d): np.zeros(T) for l, d in spec.layers() for n in names}
            ledger.hold("losses", held_bytes(*terms.values()))
        resets, links = _restarts_and_cuts(D, mask, options, ledger)
        call = cls(
            spec,
            CELLS[spec.cell],
            args.P,
            grads,
            x,
            args.y,
            loss,
            mask,
            weights,
            tok,
            work,
            ledger,
            options["checkpoint"],
            options["slots"],
            gradient_chunk(B),  # back() never takes more steps at once than are taped
            seq,
            dseq,
            dh,
            dx,
            yhat,
            resets,
            links,
            terms,
            args.states,
            scan=options["scan"],
            own_work=own_work,
        )
        ledger.hold(OBJECTS, object_bytes(call, args))
        return call

    def plan(self, n: int) -> Plan:
        """The checkpoint plan of a window of ``n`` steps (the same for every layer and direction)."""
        if n not in self.plans:
            self.plans[n] = made = plan(n, self.checkpoint, self.slots)
            self.ledger.hold("schedule", held_bytes(made.actions, made.stored) + object_bytes(made))
            made.recomputed_steps, made.forward_steps, made.longest_tape  # noqa: B018  (now, while little is held)
        return self.plans[n]

    def tick(self, phase: str | None, t: int = -1) -> None:
        """One step done: scratch newly asked of the workspace joins the count, then the ledger records
        (``phase`` None: the count only, no timeline row)."""
        if self.work.grown != self._grown:
            self._grown = self.work.grown
            self.ledger.set("scratch", self.work.requested_bytes(skip=_COUNTED_APART))
        if phase is not None:
            self.ledger.tick(phase, t)


def _restarts_and_cuts(D: int, mask: np.ndarray, options: dict, ledger: MemoryLedger) -> tuple:
    """Where the reverse direction restarts (padded sequences), (T, B) in its order, and the factor on each
    link (random truncation), (T,); None when there is none. The ledger counts them as schedule."""
    T, B = mask.shape
    resets = links = None
    if D == 2 and not mask.all():
        resets = np.zeros((T, B), dtype=bool)
        resets[1:] = mask[::-1][:-1] == 0  # reverse order: restart where the later step is padding
        ledger.hold("schedule", held_bytes(resets))
    if options["random_truncation"]:
        links = np.random.default_rng(options["seed"]).random(T) >= options["random_truncation"]
        links = links / (1.0 - options["random_truncation"])
        ledger.hold("schedule", held_bytes(links))
    return resets, links


def _window(call: _Call, wa: int, wb: int, states: list) -> tuple[list, list]:
    """Forward every layer over steps wa..wb-1 from ``states``, then backward top-down.

    Returns the states after the window (detached) and ``dL/d(states)`` at its start.
    """
    spec, n = call.spec, wb - wa
    L, D, H, B = spec.num_layers, spec.directions, spec.hidden_size, call.x.shape[1]
    d_outs = [
        [_window_buffer(call, f"dout_{l}_{d}", (n, B, H), "layer gradients", zero=True) for d in range(D)]
        if l < L - 1 or D == 2
        else None
        for l in range(L)
    ]
    inputs, passes = [call.x[wa:wb]], {}
    for l in range(L):
        outputs = []
        for d in range(D):
            ps = passes[l, d] = _make_pass(call, l, d, wa, wb, inputs, d_outs)
            states[l * D + d] = sweep(ps, states[l * D + d])
            if ps.overflow is not None:
                t = wa + (ps.overflow if d == 0 else n - 1 - ps.overflow)
                call.overflow = t if call.overflow is None else min(call.overflow, t)
            outputs.append(_in_time_order(ps.h_seq[1:], d) if ps.h_seq is not None else None)
        inputs = outputs
    if D == 2:  # the read-out needs both directions at each step: the window's steps, a chunk at a time
        for c in range(0, n, call.chunk):
            e = min(n, c + call.chunk)
            readout(call, [part[c:e] for part in inputs], wa + c, [out[c:e] for out in d_outs[L - 1]])
        if call.dh is not None:
            np.concatenate(d_outs[L - 1], axis=-1, out=call.dh[wa:wb])
    d_states = [None] * (L * D)
    del inputs, outputs  # a pass done is dropped with its views of the outputs, so the memory is freed
    for l in reversed(range(L)):
        for d in range(D):
            ps = passes.pop((l, d))
            d_states[l * D + d] = run_actions(ps)
            call.recomputed += ps.plan.recomputed_steps
            call.forward_steps += ps.plan.forward_steps
            if wb == call.x.shape[0]:
                free_tape(ps)
            call.ledger.release(OBJECTS, ps.objects)
            del ps
            _release_window_buffers(call, wb, (l, d))  # its outputs: the layer above is done with them too
    _release_window_buffers(call, wb)  # the window's other buffers are free for the next one
    return states, d_states


def _release_window_buffers(call: _Call, wb: int, owner: tuple | None = None) -> None:
    """Stop counting the window buffers of ``owner`` (every one left when None). After the last window a
    workspace of the call's own frees them, and the owner's tape: the process holds what the ledger counts."""
    keep, free = [], call.own_work and wb == call.x.shape[0]
    for name, group, nbytes, held_by in call.window_held:
        if owner is None or held_by == owner:
            call.ledger.release(group, nbytes, held_by)
            call.ledger.release(SPENT, call.work.held_bytes(name) - nbytes)
            if free:
                call.work.discard(name)
        else:
            keep.append((name, group, nbytes, held_by))
    call.window_held[:] = keep
    if free and owner is not None:
        call.work.discard(f"tape_{owner[0]}_{owner[1]}_")


def _make_pass(call: _Call, l: int, d: int, wa: int, wb: int, inputs: list, d_outs: list) -> Pass:
    """Layer l, direction d over the window, with views in the direction's own step order."""
    spec, n, B, H = call.spec, wb - wa, call.x.shape[1], call.spec.hidden_size
    p = layer_params(call.P, l, d)
    top = l == spec.num_layers - 1
    if call.seq is not None:  # the window's rows, the entering state first (in this direction's order)
        h_seq = call.seq[l, wa : wb + 1, :, d] if d == 0 else call.seq[l, wa + 1 : wb + 2, :, d][::-1]
    elif not top or spec.directions == 2:
        h_seq = _window_buffer(call, f"hseq_{l}_{d}", (n + 1, B, H), "layer outputs", owner=(l, d))
    else:
        h_seq = None
    terms = None
    if call.terms is not None:
        terms = {k: _in_time_order(call.terms[param_key(k, l, d)][wa:wb], d) for k in call.cell.term_params}
    made = Pass(
        name=f"{l}_{d}",
        owner=(l, d),
        cell=call.cell,
        activation=spec.activation,
        params=p,
        grads=layer_params(call.grads, l, d),
        w1=projection_matrix(
            call.cell,
            p,
            call.work.get(f"w1_{l}_{d}", (spec.layer_input_size(l) + 1, call.cell.width * H), call.x.dtype),
        ),
        inputs=[_in_time_order(part, d) for part in inputs],
        plan=call.plan(n),
        work=call.work,
        ledger=call.ledger,
        chunk=call.chunk,
        init=call.inits[l * spec.directions + d],
        h_seq=h_seq,
        d_out=_in_time_order(d_outs[l][d], d) if d_outs[l] is not None else None,
        readout=partial(_readout_chunk, call, wa) if d_outs[l] is None else None,
        d_in=[_in_time_order(part, d) for part in (d_outs[l - 1] if l > 0 else [call.dx[wa:wb]])]
        if l > 0 or call.dx is not None
        else None,
        resets=call.resets if d == 1 else None,
        links=call.links[wa:wb] if call.links is not None else None,
        dh_out=_in_time_order(call.dseq[l, wa:wb, :, d], d) if call.dseq is not None else None,
        terms=terms,
        tick=call.tick,
        scan=call.scan and call.plan(n).longest_tape > 1,  # binomial's one-step tapes leave nothing to scan
        spent=call.spent,
    )
    made.objects = object_bytes(made)
    call.ledger.hold(OBJECTS, made.objects)
    return made


def _readout_chunk(call: _Call, wa: int, h_rows: np.ndarray, c: int, out: np.ndarray) -> None:
    """:func:`bptt_core.readout.readout` for a unidirectional top layer, a chunk of its steps at a time
    (from its tape)."""
    readout(call, [h_rows], wa + c, [out])


def _window_buffer(
    call: _Call, name: str, shape: tuple, group: str, zero: bool = False, owner: tuple | None = None
) -> np.ndarray:
    """A per-window buffer from the workspace, counted under ``group`` (and ``owner``) until the window ends;
    the rows of a larger buffer it is a view of (a shorter last window) count as :data:`SPENT`."""
    a = call.work.get(name, shape, call.x.dtype)
    if zero:
        a.fill(0.0)
    call.ledger.hold(group, a.nbytes, owner)
    call.ledger.hold(SPENT, call.work.held_bytes(name) - a.nbytes)
    call.window_held.append((name, group, a.nbytes, owner))
    return a


def _in_time_order(a: np.ndarray | None, direction: int) -> np.ndarray | None:
    """A sequence in the other order (a view): the reverse direction's steps run from T - 1 to 0."""
    return a if a is None or direction == 0 else a[::-1]
