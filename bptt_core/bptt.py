"""The BPTT driver: one forward loop, one ``for t in reversed(range(T))`` loop.

Truncation, random truncation, clipping and checkpointing are options of this
one driver. The loop shape is min-char-rnn's: caches keyed by t, the gradient of
the state carried backwards, gradient buffers allocated once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import budget
from . import validate as v
from .checkpoint import binomial_split, checkpoint_schedule, gradient_chunk
from .losses import reduce, step_means, token_loss_and_grad, token_weights
from .memory import MemoryLedger
from .spec import RNNSpec, check_params
from .unroll import CELL_STEPS, project_inputs, tape
from .workspace import Workspace, matmul


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
    dh : ndarray of shape (T, B, H)
        ``dL/dh_t`` through all later steps (as cut by truncation).
    dh0 : ndarray of shape (B, H)
        ``dL/dh_0`` for the initial hidden state.
    dc0 : ndarray of shape (B, H) or None
        ``dL/dc_0`` (LSTM only).
    h : ndarray of shape (T, B, H)
        Hidden states ``h_t``.
    yhat : ndarray of shape (T, B, O)
        Read-outs.
    memory_bytes : int
        Peak bytes held for backward (sum of ``nbytes`` of the stored arrays).
    memory_by_tensor : dict of str to int
        That peak split by tensor group.
    memory_timeline : list of (phase, step, bytes)
        Bytes held after every forward, recompute and backward step.
    memory_timeline_by_tensor : list of dict of str to int
        The same moments split by tensor group.
    param_bytes, grad_bytes : int
        Parameters and gradient buffers (allocated once), reported apart.
    recomputed_steps : int
        Forward steps run again by checkpointing.
    clip_coef : float
        Factor applied by global-norm clipping (1.0 if none).
    finite : bool
        False when the run overflowed: loss or gradients hold inf/nan.
    overflow_step : int or None
        First forward step whose hidden state is not finite.
    step_contributions : dict of str to ndarray of shape (T,), or None
        With ``step_contributions=True``: Frobenius norm of the term that step t
        adds to ``dW_hh`` and ``dW_ih`` (tied weights sum these terms over time).
    """

    loss: float
    step_losses: np.ndarray
    grads: dict
    grad_norm: float
    dh: np.ndarray
    dh0: np.ndarray
    dc0: np.ndarray | None
    h: np.ndarray
    yhat: np.ndarray
    memory_bytes: int
    memory_by_tensor: dict
    memory_timeline: list
    memory_timeline_by_tensor: list
    param_bytes: int
    grad_bytes: int
    recomputed_steps: int
    clip_coef: float
    finite: bool
    overflow_step: int | None
    step_contributions: dict | None = None


def global_norm(arrays: dict[str, np.ndarray]) -> float:
    """L2 norm of all arrays taken together (the norm that global clipping uses)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays.values())))


def flatten_grads(grads: dict[str, np.ndarray]) -> np.ndarray:
    """All gradients as one float64 vector, in a fixed key order."""
    return np.concatenate([np.asarray(grads[k], dtype=np.float64).ravel() for k in sorted(grads)])


def initial_state(spec: RNNSpec, B: int, h0: object, c0: object, dtype: type) -> tuple[np.ndarray, ...]:
    """The state entering step 0: ``(h0,)`` or ``(h0, c0)`` for the LSTM; zeros when not given."""
    h = v.check_state("h0", h0, B, spec.hidden_size, dtype)
    if spec.has_cell_state:
        return h, v.check_state("c0", c0, B, spec.hidden_size, dtype)
    if c0 is not None:
        raise ValueError(f"c0 applies to cell='lstm' only, not {spec.cell!r}")
    return (h,)


def _link_factors(T: int, truncation: int | None, random_truncation: float | None, seed: object) -> np.ndarray:
    """Factor on the gradient from step t back into step t - 1 (index t; entry 0 is unused).

    ``truncation=k`` cuts the link at t = k, 2k, ... (``h = h.detach()`` there); the driver
    also runs each window forward then backward, so these cuts are where windows meet.
    ``random_truncation=p`` cuts each link with probability p and scales the kept
    ones by 1/(1-p), so the estimate is unbiased (Tallec & Ollivier 2017; d2l 9.7).
    """
    factors = np.ones(T)
    if truncation is not None:
        factors[truncation::truncation] = 0.0
    if random_truncation:
        keep = np.random.default_rng(seed).random(T) >= random_truncation
        factors *= keep / (1.0 - random_truncation)
    return factors


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
) -> BPTTResult:
    """Exact backpropagation through time for one sequence batch.

    Parameters
    ----------
    spec : RNNSpec
    params : dict of ndarray
        PyTorch layer-0 layout, see :mod:`bptt_core.spec`.
    x : ndarray of shape (T, B, I)
    y : ndarray of shape (T, B, O) for mse, integer (T, B) for cross-entropy
    loss : {"mse", "cross_entropy"}
    reduction : {"mean", "sum"}
        See :mod:`bptt_core.losses`.
    mask : ndarray of shape (T, B), optional
        0 for padding tokens.
    truncation : int, optional
        Cut the state's gradient every ``k`` steps (truncated BPTT). Windows of ``k``
        steps run forward then backward in turn, so only one window's tape is held.
    clip : float, optional
        Global L2-norm clipping threshold (Pascanu et al. 2013).
    checkpoint : None, "sqrt", int or "binomial"
        Keep only every k-th state in forward and recompute segments in backward; "binomial"
        stores at most ``checkpoint_slots`` states and recomputes as little as that allows
        (Griewank & Walther 2000, revolve).
    h0, c0 : ndarray of shape (B, H), optional
        Initial states (zeros by default); their gradients are ``dh0``/``dc0``.
    random_truncation : float in [0, 1), optional
        Probability of cutting each link, with 1/(1-p) re-weighting (unbiased).
    clip_value : float, optional
        Element-wise clipping of every gradient to ``[-v, v]`` (min-char-rnn).
    seed : int, optional
        Seed of the random truncation draws.
    dtype : {"float64", "float32"}
    step_contributions : bool
        Also return the norm of each step's term of ``dW_hh`` and ``dW_ih``.
    memory_budget : int, optional
        Bytes this call may allocate (default :data:`bptt_core.budget.DEFAULT_BUDGET`).
    checkpoint_slots : int, optional
        With ``checkpoint="binomial"``: states stored at once per window (>= 1, the
        window's first state included); ``recomputed_steps`` is then the binomial optimum.
    workspace : Workspace, optional
        Buffers to reuse: pass the same one to repeated calls (a training loop) and the
        tape and the memory of dropped results are not allocated again. One per thread.

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
    P, x, y, mask, state = prepare(spec, params, x, y, loss, mask, h0, c0, dtype)
    reduction = v.check_reduction(reduction)
    truncation = v.check_positive_int("truncation", truncation)
    clip = v.check_positive_float("clip", clip)
    clip_value = v.check_positive_float("clip_value", clip_value)
    checkpoint = v.check_checkpoint(checkpoint)
    checkpoint_slots = v.check_positive_int("checkpoint_slots", checkpoint_slots)
    if (checkpoint == "binomial") != (checkpoint_slots is not None):
        raise ValueError("checkpoint_slots goes with checkpoint='binomial' (and that needs checkpoint_slots >= 1)")
    random_truncation = v.check_probability("random_truncation", random_truncation)
    seed = v.check_seed(seed)
    budget.check(budget.bptt_bytes(spec, *x.shape[:2], checkpoint=checkpoint, truncation=truncation, dtype=dtype,
                                   slots=checkpoint_slots),
                 "this BPTT run", "shorten T, lower the batch or hidden size, or use checkpointing", memory_budget)
    links = _link_factors(x.shape[0], truncation, random_truncation, seed).tolist()  # floats: cheap to test per step
    if workspace is not None and not isinstance(workspace, Workspace):
        raise ValueError(f"workspace must be a bptt_core.Workspace or None, got {type(workspace).__name__}")
    with np.errstate(all="ignore"), (workspace or Workspace(output_bytes=0)).use() as work:
        return _run(
            spec, P, x, y, loss, reduction, mask, clip, clip_value, checkpoint, checkpoint_slots, truncation, links,
            state, step_contributions, work,
        )


def prepare(spec, params, x, y, loss, mask, h0, c0, dtype) -> tuple:
    """Validate the arguments shared by :func:`bptt` and ``flow_matrix`` and cast them to ``dtype``.

    Returns
    -------
    params, x, y, mask, state
        Checked arrays; ``state`` is ``(h0,)`` or ``(h0, c0)``.
    """
    dtype_ = v.check_dtype(dtype)
    x = v.check_inputs(spec, x, dtype_)
    T, B, _ = x.shape
    y = v.check_targets(spec, y, loss, T, B, dtype_)
    mask = v.check_mask(mask, T, B)
    P = check_params(spec, params, dtype_)
    return P, x, y, mask, initial_state(spec, B, h0, c0, dtype_)


def step_term_norms(d_pre: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """``||d_pre_t^T inputs_t||_F`` for each t without forming the (G*H, N) terms.

    Uses ``||A^T B||_F^2 = sum(A A^T * B B^T)`` over the batch axis.

    Parameters
    ----------
    d_pre : ndarray of shape (L, B, G*H)
    inputs : ndarray of shape (L, B, N)

    Returns
    -------
    ndarray of shape (L,)
    """
    gram_a = d_pre @ np.swapaxes(d_pre, 1, 2)
    gram_b = inputs @ np.swapaxes(inputs, 1, 2)
    return np.sqrt(np.maximum(np.sum(gram_a * gram_b, axis=(1, 2)), 0.0))


def _run(spec, P, x, y, loss, reduction, mask, clip, clip_value, checkpoint, slots, truncation, links, state,
         contributions, work):
    cell, act = CELL_STEPS[spec.cell], spec.activation
    T, B, _ = x.shape
    H, O, GH = spec.hidden_size, spec.output_size, spec.gates * spec.hidden_size
    keep_all = checkpoint is None
    binomial = checkpoint == "binomial"
    ledger = MemoryLedger()
    caches: list = [None] * T
    h_all = work.outputs.empty((T + 1, B, H), x.dtype)  # h_all[t + 1] = h_t, h_all[0] = h0
    h_all[0] = state[0]
    yhat = work.outputs.empty((T, B, O), x.dtype)
    tok = work.get("token_losses", (T, B), x.dtype)
    dh = work.outputs.empty((T, B, H), x.dtype)
    weights = token_weights(mask, reduction).astype(x.dtype)
    grads = {k: np.zeros_like(p) for k, p in P.items()}  # gradient buffers, allocated once
    # truncation windows: no gradient crosses a cut, so each window runs forward then backward
    # and holds only its own tape (truncated BPTT as run in practice); one window without truncation
    windows = checkpoint_schedule(T, truncation)
    plan = [[(wa + a, wa + b) for a, b in checkpoint_schedule(wb - wa, checkpoint)] for wa, wb in windows]
    chunk = 1 if binomial else min(gradient_chunk(B), max(b - a for segments in plan for a, b in segments))
    d_xw_buf = work.get("d_xw", (chunk, B, GH), x.dtype)  # the pre-activation gradients of one chunk of steps
    d_hw_buf = work.get("d_hw", (chunk, B, GH), x.dtype) if cell.SEPARATE_HW_GRAD else d_xw_buf
    projection = next(iter(cell.TAPE))  # the tape entry that receives the input projection
    recomputed = 0
    terms = {"weight_hh": np.zeros(T), "weight_ih": np.zeros(T)} if contributions else None

    def run_segment(a: int, b: int, state: tuple, phase: str, keep: bool) -> tuple:
        # kept: the segment's tape; not kept: two slots used in turn (h always goes to h_all)
        n = b - a
        stored = tape(spec.cell, n if keep else min(n, 2), B, H, x.dtype, h=h_all[a + 1 : b + 1], work=work,
                      prefix="keep_" if keep else "roll_")
        xw = stored[projection] if keep or projection == "h" else work.get("xw", (n, B, GH), x.dtype)
        project_inputs(spec.cell, P, x[a:b], out=xw, work=work)
        fields = stored.items()
        for t in range(a, b):
            i = t - a
            if keep:
                out = {k: v[i] for k, v in fields}
            else:
                out = {k: v[i if k == "h" else i % 2] for k, v in fields}
            state, cache = cell.forward_step(P, xw[i], state, act, out=out, work=work)
            if keep:
                cache["x"] = x[t]
                ledger.hold(cache)
                caches[t] = cache
            ledger.tick(phase, t)
        return state

    def hold_checkpoint(state: tuple) -> tuple[tuple, dict]:
        state = tuple(s.copy() for s in state)  # out of the tape, which later steps overwrite
        entries = {"checkpoint_h": state[0]} | ({"checkpoint_c": state[1]} if len(state) > 1 else {})
        ledger.hold(entries)
        return state, entries

    def back(t: int, d_state: tuple, row: int) -> tuple:
        # dh[t] holds the loss gradient at h_t (through the read-out); add what flows back from later steps
        dh[t] += d_state[0]
        d_state, _, _ = cell.backward_step(P, (dh[t],) + d_state[1:], caches[t],
                                           out={"d_xw": d_xw_buf[row], "d_hw": d_hw_buf[row]}, work=work)
        if t > 0 and links[t] != 1.0:  # truncation: cut or re-weight the link into step t - 1
            for d in d_state:
                d *= links[t]
        ledger.release(caches[t])
        caches[t] = None
        return d_state

    def accumulate(a: int, b: int) -> None:
        # tied weights: the per-step terms of steps a..b-1 summed by one matrix product each
        n = (b - a) * B
        d_xw, d_hw = d_xw_buf[: b - a].reshape(n, GH), d_hw_buf[: b - a].reshape(n, GH)
        grads["weight_ih"] += d_xw.T @ x[a:b].reshape(n, -1)
        grads["weight_hh"] += d_hw.T @ h_all[a:b].reshape(n, H)
        d_bias = d_xw.sum(axis=0)
        grads["bias_ih"] += d_bias
        grads["bias_hh"] += d_hw.sum(axis=0) if cell.SEPARATE_HW_GRAD else d_bias
        if terms is not None:
            terms["weight_hh"][a:b] = step_term_norms(d_hw_buf[: b - a], h_all[a:b])
            terms["weight_ih"][a:b] = step_term_norms(d_xw_buf[: b - a], x[a:b])

    def reverse(a: int, b: int, start: tuple, free: int, d_state: tuple) -> tuple:
        """Backward through steps a..b-1 from the stored state ``start`` with ``free`` more states allowed:
        Griewank's binomial schedule (advance, store, reverse the right part, then the left part)."""
        nonlocal recomputed
        n = b - a
        if n > 1 and free > 0:
            y = binomial_split(n, free)
            mid, entries = hold_checkpoint(run_segment(a, a + y, start, "recompute", False))
            recomputed += y
            d_state = reverse(a + y, b, mid, free - 1, d_state)
            ledger.release(entries)
            return reverse(a, a + y, start, free, d_state)
        for t in reversed(range(a, b)):  # no free slot: recompute each step from the stored start
            state_t = run_segment(a, t, start, "recompute", False)
            run_segment(t, t + 1, state_t, "recompute", True)
            recomputed += t - a + 1
            d_state = back(t, d_state, 0)
            accumulate(t, t + 1)
            ledger.tick("backward", t)
        return d_state

    for (wa, wb), segments in zip(windows, plan):
        # ---- forward through the window, keeping caches (full) or only checkpoints
        checkpoints = []
        if keep_all:
            state = tuple(s.copy() for s in state)  # the last window's tape is about to be reused
        for a, b in segments:
            if not keep_all:
                checkpoints.append(hold_checkpoint(state))
                state = checkpoints[-1][0]
            state = run_segment(a, b, state, "forward", keep_all)

        # ---- loss of the window's steps: read-out, token losses, their weights
        h_w = h_all[wa + 1 : wb + 1]
        yhat[wa:wb] = matmul(h_w, P["weight_out"].T)
        yhat[wa:wb] += P["bias_out"]
        tok[wa:wb], dyhat = token_loss_and_grad(loss, yhat[wa:wb], y[wa:wb])
        dyhat *= weights[wa:wb, :, None]  # dL/dyhat, (window, B, O)
        grads["weight_out"] += dyhat.reshape(-1, O).T @ h_w.reshape(-1, H)
        grads["bias_out"] += dyhat.sum(axis=(0, 1))
        matmul(dyhat, P["weight_out"], out=dh[wa:wb])  # the loss gradient at each h_t, completed in backward

        # ---- backward through time, from the window's end (nothing flows in across a cut)
        d_state = tuple(np.zeros((B, H), dtype=x.dtype) for _ in state)
        for s in reversed(range(len(segments))):
            a, b = segments[s]
            if binomial:
                d_state = reverse(a, b, checkpoints[s][0], slots - 1, d_state)
                ledger.release(checkpoints[s][1])
                ledger.tick("backward", a)
                continue
            if not keep_all:  # re-run the segment from its checkpoint, keeping caches this time
                run_segment(a, b, checkpoints[s][0], "recompute", True)
                recomputed += b - a
            for c, d in reversed(checkpoint_schedule(b - a, chunk)):
                for t in reversed(range(a + c, a + d)):
                    d_state = back(t, d_state, t - a - c)
                    if t == a and not keep_all:  # the segment is done: its checkpoint is free too
                        ledger.release(checkpoints[s][1])
                    ledger.tick("backward", t)
                accumulate(a + c, a + d)
        if wa == 0:
            d_state0 = tuple(d.copy() for d in d_state)  # what reached the initial state (out of the scratch)
    reverse = None  # it refers to itself: without this, the arrays its closure reaches wait for the cyclic GC
    total = reduce(tok, mask, reduction)
    h = h_all[1:]

    grad_norm = global_norm(grads)
    clip_coef = 1.0
    if clip is not None and grad_norm > clip:
        clip_coef = clip / grad_norm
        for g in grads.values():
            g *= clip_coef
    if clip_value is not None:
        for g in grads.values():
            np.clip(g, -clip_value, clip_value, out=g)

    bad_h = ~np.all(np.isfinite(h), axis=(1, 2))
    finite = bool(np.isfinite(total) and np.isfinite(grad_norm) and not bad_h.any())
    return BPTTResult(
        loss=total,
        step_losses=step_means(tok, mask),
        grads=grads,
        grad_norm=grad_norm,
        dh=dh,
        dh0=d_state0[0],
        dc0=d_state0[1] if spec.has_cell_state else None,
        h=h,
        yhat=yhat,
        memory_bytes=ledger.peak,
        memory_by_tensor=ledger.peak_by_group,
        memory_timeline=ledger.timeline,
        memory_timeline_by_tensor=ledger.timeline_by_group,
        param_bytes=sum(p.nbytes for p in P.values()),
        grad_bytes=sum(g.nbytes for g in grads.values()),
        recomputed_steps=recomputed,
        clip_coef=clip_coef,
        finite=finite,
        overflow_step=int(np.argmax(bad_h)) if bad_h.any() else None,
        step_contributions=terms,
    )
