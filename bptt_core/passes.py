"""One layer and direction over one window of steps: the forward sweep and the backward actions.

The loop shapes are min-char-rnn's: forward stores what backward needs; backward runs
``for t in reversed(...)``, carries the gradient of the state and adds the gradient
that arrives from outside the recurrence (the loss through the read-out, or the
layer above). What is stored and what is recomputed follows the window's
:class:`~bptt_core.checkpoint.Plan`. Steps are in the pass's own order: for the
reverse direction, step s is time ``T - 1 - s`` (the caller hands reversed views).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from .cells import Cell
from .checkpoint import BACK, STORE, TAPE, Plan
from .ledger import MemoryLedger, object_bytes
from .scan import scan_steps
from .tape import Tape, gather_rows, project
from .workspace import Workspace, contiguous, matmul

#: The ledger's group for the bytes of reused buffers (tapes, a shorter window's) that hold no live row
#: (see :attr:`Pass.spent`).
SPENT = "buffer rows not in use"
#: The ledger's group for the Python objects of the call's bookkeeping (passes, tapes, plans, the call itself).
OBJECTS = "bookkeeping objects"


@dataclass
class Pass:
    """What one layer-direction needs over one window, and what it accumulates.

    Attributes
    ----------
    name : str
        ``"{layer}_{direction}"``: names its tape in the workspace (every pass's tape lives
        until its backward).
    owner : tuple of int
        ``(layer, direction)``: the ledger counts this pass's tape and checkpoints under it.
    params, grads : dict of ndarray
        This layer-direction's parameters and gradient buffers under the cells' short names.
    w1 : ndarray of shape (I + 1, G*H)
        The input projection with the bias row (:func:`bptt_core.tape.projection_matrix`).
    inputs : list of ndarray of shape (n, B, I_k)
        The input parts in this pass's order (x, or the outputs of the layer below).
    h_seq : ndarray of shape (n + 1, B, H) or None
        Where the outputs go when they are kept (row 0: the entering state).
    d_out : ndarray of shape (n, B, H) or None
        Gradient arriving at the outputs from above; None: ``readout`` computes it per chunk.
    d_in : list of ndarray of shape (n, B, H_k), or None
        Where the gradient of the inputs goes (the layer below's ``d_out``).
    resets : ndarray of shape (n, B) of bool, or None
        The state entering step s restarts at ``init`` (reverse direction of padded sequences).
    links : list of float, or None
        Factor on the gradient from step s into step s - 1 (random truncation).
    dh_out : ndarray of shape (n, B, H) or None
        Where the total ``dL/dh`` of every step is written (returned sequences).
    terms : dict of ndarray of shape (n,), or None
        Norm of each step's term of the gradient of the cell's ``term_params``.
    scan : bool
        Run the steps by the cell's associative scan (``forward_scan``/``backward_scan``) in runs between
        restarts, kept states and random cuts; the loop otherwise.
    spent : dict of tuple to int
        Per owner, bytes of its tape buffers holding no live row (rows reversed, or not taped yet): the
        buffers stay allocated until the last window's pass ends, so the ledger counts these bytes as
        :data:`SPENT` (the tape groups count the live rows only). Shared by a call's windows.
    """

    name: str
    owner: tuple
    cell: Cell
    activation: str
    params: dict
    grads: dict
    w1: np.ndarray
    inputs: list
    plan: Plan
    work: Workspace
    ledger: MemoryLedger
    chunk: int
    init: tuple
    h_seq: np.ndarray | None = None
    d_out: np.ndarray | None = None
    readout: Callable | None = None
    d_in: list | None = None
    resets: np.ndarray | None = None
    links: list | None = None
    dh_out: np.ndarray | None = None
    terms: dict | None = None
    tick: Callable | None = None
    scan: bool = False
    spent: dict = field(default_factory=dict)
    objects: int = 0  # bytes of this pass's own Python objects, counted as OBJECTS while it exists
    checkpoints: dict = field(default_factory=dict)
    tape: Tape | None = None
    d_init: list = field(default_factory=list)
    overflow: int | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(B, H, G*H)``."""
        h = self.init[0]
        return h.shape[0], h.shape[1], self.w1.shape[1]


def sweep(ps: Pass, state: tuple) -> tuple:
    """Forward once over the window: keep the plan's states and tape; return the state after the last step."""
    reserve_backward(ps)
    s, n = ps.plan.taped
    state = advance(ps, 0, s, state, keep=ps.plan.stored, phase="forward")
    record_tape(ps, s, n, state, "forward")
    return tuple([part.copy() for part in ps.tape.state_in(n)])


def run_actions(ps: Pass) -> tuple:
    """Backward over the window by the plan's actions; return ``dL/d(state entering step 0)``."""
    d_state = tuple([np.zeros_like(part) for part in ps.init])
    for code, a, s, b in ps.plan.actions:
        if code == BACK:
            d_state = back(ps, int(s), int(b), d_state)
        elif code == TAPE:
            record_tape(
                ps, int(s), int(b), advance(ps, int(a), int(s), ps.checkpoints[a], (), "recompute"), "recompute"
            )
        elif code == STORE:
            advance(ps, int(a), int(s), ps.checkpoints[a], (int(s),), "recompute")
        else:
            free_checkpoint(ps, int(a))
    drop_tape(ps)
    for p in list(ps.checkpoints):
        free_checkpoint(ps, p)
    return tuple([d + extra for d, extra in zip(d_state, ps.d_init)] if ps.d_init else [d.copy() for d in d_state])


def advance(ps: Pass, a: int, b: int, state: tuple, keep: np.ndarray | tuple, phase: str) -> tuple:
    """Run steps a..b-1 without keeping caches (two rolling rows), keeping the states entering the steps
    listed in ``keep``."""
    B, H, _ = ps.shape
    tape = Tape.new(ps.cell, a, b, B, H, ps.w1.dtype, ps.work, ps.h_seq, rolling=True)
    kept = ps.work.get("kept", (b - a + 1,), np.bool_)  # kept[t - a]: keep the state entering t
    kept.fill(False)
    listed = np.asarray(keep, dtype=np.int64)
    kept[listed[(listed >= a) & (listed <= b)] - a] = True
    for c, d, xw in projected_chunks(ps, a, b):
        if ps.scan:
            kept_here = set((c + np.flatnonzero(kept[c - a : d - a])).tolist())
            state = scan_advance(ps, tape, c, d, xw, state, kept_here, phase)
            continue
        for t in range(c, d):
            if kept[t - a]:
                store_checkpoint(ps, t, state)
            state = reset(ps, t, state)
            state, _ = ps.cell.forward_step(
                ps.params, xw[t - c], state, ps.activation, out=tape.outputs(t), work=ps.work
            )
            note_overflow(ps, phase, t, state[0])
            ps.tick(phase, t)
    if kept[b - a]:
        store_checkpoint(ps, b, state)
    return state


def projected_chunks(ps: Pass, a: int, b: int, into: np.ndarray | None = None) -> Iterator[tuple]:
    """``(c, d, xw)`` for runs of steps a..b-1 with their input projection ``xw`` (d - c, B, width*H): one run
    written into ``into`` when given (a tape's first entry), else runs of at most a tape's length in scratch."""
    if into is not None:
        project(ps.inputs, ps.w1, a, b, into, ps.work)
        yield a, b, into
        return
    B, _, width = ps.shape
    step = scan_steps(B, width) if ps.scan else ps.chunk
    step = max(1, min(step, ps.plan.longest_tape))  # the projection's scratch never outgrows the tape
    for c in range(a, b, step):
        d = min(c + step, b)
        xw = ps.work.get("xw_roll", (d - c, B, width), ps.w1.dtype)
        project(ps.inputs, ps.w1, c, d, xw, ps.work)
        yield c, d, xw


def record_tape(ps: Pass, s: int, b: int, state: tuple, phase: str) -> None:
    """Run steps s..b-1 from ``state`` keeping every cache (the tape backward reads)."""
    drop_tape(ps)
    B, H, _ = ps.shape
    tape = ps.tape = Tape.new(
        ps.cell, s, b, B, H, ps.w1.dtype, ps.work, ps.h_seq, name=ps.name + "_", activation=ps.activation
    )
    for part, src in zip(ps.cell.state_parts, state):
        np.copyto(tape.buffers[part][0], src)
    tape.objects = object_bytes(tape)
    ps.ledger.hold(OBJECTS, tape.objects)
    per_step = _counted(ps, tape)
    _spend(ps, ps.work.held_bytes(f"tape_{ps.name}_") - ps.spent.get(ps.owner, 0))  # no row is live yet
    _entering_row(ps, tape, hold=True)
    for c, d, xw in projected_chunks(ps, s, b, tape.projection_target() if tape.holds_projection else None):
        if ps.scan:
            scan_record(ps, tape, c, d, xw, per_step, phase)
            continue
        for t in range(c, d):
            state = reset(ps, t, tape.state_in(t))
            ps.cell.forward_step(ps.params, xw[t - c], state, ps.activation, out=tape.outputs(t), work=ps.work)
            step_taped(ps, t, per_step, phase)
    if phase == "forward" and ps.overflow is None and b > s:  # one pass over the taped outputs, not one a step
        finite = np.isfinite(np.add.reduce(tape.h_rows(s, b), axis=(1, 2)))
        ps.overflow = None if finite.all() else s + int(np.argmin(finite))


def _spend(ps: Pass, nbytes: int) -> None:
    """Count ``nbytes`` more (or fewer) of the pass's tape buffers as holding no live row."""
    ps.spent[ps.owner] = ps.spent.get(ps.owner, 0) + nbytes
    ps.ledger.hold(SPENT, nbytes)


def free_tape(ps: Pass) -> None:
    """The pass's tape buffers are freed (after the last window, as a fresh workspace frees them): stop counting."""
    _spend(ps, -ps.spent.get(ps.owner, 0))


def reserve_backward(ps: Pass) -> None:
    """Take backward's chunk buffers from the workspace now: they coexist with the full tape at the
    peak, so the ledger counts them before the tape fills (and a fresh workspace allocates them here)."""
    B, H, GH = ps.shape
    m, dt = min(ps.chunk, ps.plan.longest_tape), ps.w1.dtype
    for name, width in (("dh_chunk", H), ("d_xw", GH), ("x_rows", ps.w1.shape[0] - 1)):
        ps.work.get(name, (m, B, width), dt)
    if ps.cell.separate_hw_grad:
        ps.work.get("d_hw", (m, B, GH), dt)
    if ps.d_in is not None:
        ps.work.get("d_x", (m, B, ps.w1.shape[0] - 1), dt)


def back(ps: Pass, s: int, b: int, d_state: tuple) -> tuple:
    """Backpropagate through the taped steps b-1, ..., s, a chunk of steps per weight-gradient product."""
    B, H, GH = ps.shape
    tape, dt = ps.tape, ps.w1.dtype
    per_step = _counted(ps, tape)
    for c in reversed(range(s, b, ps.chunk)):
        d = min(c + ps.chunk, b)
        dh = ps.work.get("dh_chunk", (d - c, B, H), dt)  # the gradient arriving from outside the recurrence
        if ps.d_out is not None:
            np.copyto(dh, ps.d_out[c:d])
        else:
            ps.readout(tape.h_rows(c, d), c, dh)
        d_xw = ps.work.get("d_xw", (d - c, B, GH), dt)[: d - c]
        d_hw = ps.work.get("d_hw", (d - c, B, GH), dt)[: d - c] if ps.cell.separate_hw_grad else d_xw
        if ps.scan:
            d_state = scan_back(ps, c, d, dh, d_xw, d_state, per_step)
        else:
            d_state = steps_back(ps, c, d, dh, d_xw, d_hw, d_state, per_step)
        accumulate(ps, c, d, d_xw, d_hw)
    return d_state


def steps_back(
    ps: Pass, c: int, d: int, dh: np.ndarray, d_xw: np.ndarray, d_hw: np.ndarray, d_state: tuple, per_step: list
) -> tuple:
    """Steps d-1, ..., c one at a time (min-char-rnn's loop), ``dh`` the gradient from outside the recurrence."""
    for t in reversed(range(c, d)):
        dh[t - c] += d_state[0]  # total dL/dh_t: from outside plus from step t + 1
        if ps.dh_out is not None:
            ps.dh_out[t] = dh[t - c]
        d_state, _, _ = ps.cell.backward_step(
            ps.params,
            (dh[t - c], *d_state[1:]),
            ps.tape.cache(t),
            out={"d_xw": d_xw[t - c], "d_hw": d_hw[t - c]},
            work=ps.work,
        )
        d_state = into_previous_step(ps, t, d_state)
        step_reversed(ps, t, per_step)
    return d_state


def step_taped(ps: Pass, t: int, per_step: list, phase: str) -> None:
    """Step t is taped: its tape rows are held (no longer rows not in use)."""
    for group, nbytes in per_step:
        ps.ledger.hold(group, nbytes, ps.owner)
    _spend(ps, -sum(nbytes for _, nbytes in per_step))
    ps.tick(phase, t)


def step_reversed(ps: Pass, t: int, per_step: list) -> None:
    """Step t is reversed: its tape rows (and at the tape's start the entering state) are free."""
    for group, nbytes in per_step:
        ps.ledger.release(group, nbytes, ps.owner)
    _spend(ps, sum(nbytes for _, nbytes in per_step))
    if t == ps.tape.s:
        _entering_row(ps, ps.tape, hold=False)
    ps.tick("backward", t)


def accumulate(ps: Pass, a: int, b: int, d_xw: np.ndarray, d_hw: np.ndarray) -> None:
    """Tied weights: the cell turns the gradients of steps a..b-1 into parameter gradients; the inputs' gradient."""
    x = gather_rows(ps.inputs, a, b, ps.work.get("x_rows", (b - a, *d_xw.shape[1:-1], ps.w1.shape[0] - 1), d_xw.dtype))
    terms = None if ps.terms is None else {name: term[a:b] for name, term in ps.terms.items()}
    rows = ps.tape.rows(a, b)
    rows["h_prev"] = contiguous(ps.work, "h_prev_rows", rows["h_prev"])  # a stack's outputs are strided
    ps.cell.accumulate(ps.params, ps.grads, d_xw, d_hw, x, rows, terms)
    if ps.d_in is not None:  # backprop into the layer below through the projection
        dx = matmul(d_xw, ps.w1[:-1].T, out=ps.work.get("d_x", x.shape, x.dtype))
        col = 0
        for part in ps.d_in:
            part[a:b] += dx[..., col : col + part.shape[-1]]
            col += part.shape[-1]


def reset(ps: Pass, t: int, state: tuple) -> tuple:
    """Restart the state of the batch entries flagged at step t at the initial state (in place)."""
    if ps.resets is not None and ps.resets[t].any():
        for part, init in zip(state, ps.init):
            np.copyto(part, init, where=ps.resets[t][:, None])
    return state


def into_previous_step(ps: Pass, t: int, d_state: tuple) -> tuple:
    """What of ``dL/d(state entering t)`` goes on to step t - 1: restarts send it to the initial state."""
    if ps.links is not None and t > 0 and ps.links[t] != 1.0:
        for d in d_state:
            d *= ps.links[t]
    if ps.resets is not None and ps.resets[t].any():
        flagged = ps.resets[t][:, None]
        if not ps.d_init:
            ps.d_init = [np.zeros_like(d) for d in d_state]
        for acc, d in zip(ps.d_init, d_state):
            acc += np.where(flagged, d, 0.0)
            d[np.broadcast_to(flagged, d.shape)] = 0.0
    return d_state


def store_checkpoint(ps: Pass, t: int, state: tuple) -> None:
    """Keep a copy of the state entering step t."""
    ps.checkpoints[t] = tuple([part.copy() for part in state])
    ps.ledger.hold("checkpoints", sum(part.nbytes for part in state), ps.owner)


def free_checkpoint(ps: Pass, t: int) -> None:
    """Drop the state kept at step t."""
    ps.ledger.release("checkpoints", sum(part.nbytes for part in ps.checkpoints.pop(t)), ps.owner)


def drop_tape(ps: Pass) -> None:
    """Forget the current tape (its buffers stay in the workspace for the next one)."""
    if ps.tape is not None:
        _entering_row(ps, ps.tape, hold=False)
        ps.ledger.release(OBJECTS, ps.tape.objects)
        ps.tape = None


def _entering_row(ps: Pass, tape: Tape, hold: bool) -> None:
    """Count (or stop counting) the tape's row 0: the state entering its first step."""
    if tape.entering_held == hold:
        return
    tape.entering_held = hold
    sizes = tape.step_bytes()
    for name in ps.cell.state_parts:
        if name in sizes and not (name == "h" and tape.in_sequence):  # as _counted: h kept elsewhere is not tape
            (ps.ledger.hold if hold else ps.ledger.release)(ps.cell.group(name), sizes[name], ps.owner)
            _spend(ps, -sizes[name] if hold else sizes[name])


def note_overflow(ps: Pass, phase: str, t: int, h: np.ndarray) -> None:
    """Remember the first step of the sweep whose hidden state is not finite."""
    if phase == "forward" and ps.overflow is None and not np.isfinite(np.add.reduce(h, axis=None)):
        ps.overflow = t  # a sum is non-finite when any term is (no (B, H) temporary on every step)


def _counted(ps: Pass, tape: Tape) -> list[tuple[str, int]]:
    """``(ledger group, bytes)`` per step of the tape entries counted as tape (outputs kept elsewhere are not),
    one pair per group."""
    per_group: dict[str, int] = {}
    for k, v in tape.step_bytes().items():
        if not (k == "h" and tape.in_sequence):
            per_group[ps.cell.group(k)] = per_group.get(ps.cell.group(k), 0) + v
    return list(per_group.items())


def runs(ps: Pass, c: int, d: int, cuts: set | None = None, backward: bool = False) -> list[tuple[int, int]]:
    """Steps c..d-1 as runs ``(u, v)`` whose steps after the first are plain recurrence steps: a run starts
    at every restart (and, backward, at every random cut; forward, at every kept state in ``cuts``)."""
    flagged = set(cuts or ())
    if ps.resets is not None:
        flagged |= set((c + np.flatnonzero(ps.resets[c:d].any(axis=1))).tolist())
    if backward and ps.links is not None:
        flagged |= {t for t in range(c, d) if t > 0 and ps.links[t] != 1.0}
    return list(pairwise([c, *sorted(t for t in flagged if c < t < d), d]))


def scan_record(ps: Pass, tape: Tape, c: int, d: int, xw: np.ndarray, per_step: list, phase: str) -> None:
    """:func:`record_tape`'s steps c..d-1 by the cell's scan, a run at a time."""
    for u, v in runs(ps, c, d):
        state = reset(ps, u, tape.state_in(u))
        ps.cell.forward_scan(ps.params, xw[u - c : v - c], state, tape.rows(u, v), ps.work)
        for t in range(u, v):
            step_taped(ps, t, per_step, phase)


def scan_advance(ps: Pass, tape: Tape, c: int, d: int, xw: np.ndarray, state: tuple, keep: set, phase: str) -> tuple:
    """:func:`advance`'s steps c..d-1 by the cell's scan: each run's rows go to scratch (the outputs kept in
    sequence to their place), its last state to the rolling tape."""
    for u, v in runs(ps, c, d, cuts=keep):
        if u in keep:
            store_checkpoint(ps, u, state)
        state = reset(ps, u, state)
        rows = {
            name: tape.rows(u, v)[name]
            if name == "h" and tape.in_sequence
            else ps.work.get("scan_rows_" + name, (v - u, *buf.shape[1:]), buf.dtype)
            for name, buf in tape.buffers.items()
        }
        ps.cell.forward_scan(ps.params, xw[u - c : v - c], state, rows, ps.work)
        last = tape.outputs(v - 1)
        for part in ps.cell.state_parts:
            if last[part] is not rows[part][-1]:
                np.copyto(last[part], rows[part][-1])
        state = tuple(last[part] for part in ps.cell.state_parts)
        if phase == "forward" and ps.overflow is None:
            finite = np.isfinite(np.add.reduce(rows["h"], axis=(1, 2)))
            ps.overflow = None if finite.all() else u + int(np.argmin(finite))
        for t in range(u, v):
            ps.tick(phase, t)
    return state


def scan_back(ps: Pass, c: int, d: int, dh: np.ndarray, d_xw: np.ndarray, d_state: tuple, per_step: list) -> tuple:
    """:func:`back`'s steps d-1..c by the cell's scan, a run at a time (restarts and random cuts between runs)."""
    tape = ps.tape
    for u, v in reversed(runs(ps, c, d, backward=True)):
        dh[v - 1 - c] += d_state[0]  # what step v sends to the output of step v - 1
        d_state = ps.cell.backward_scan(
            ps.params, dh[u - c : v - c], d_state[1:], tape.rows(u, v), d_xw[u - c : v - c], ps.work
        )
        ps.tick(None)  # the run's scratch joins the count while its tape rows are still held
        if ps.dh_out is not None:
            ps.dh_out[u:v] = dh[u - c : v - c]
        d_state = into_previous_step(ps, u, d_state)
        for t in reversed(range(u, v)):
            step_reversed(ps, t, per_step)
    return d_state
