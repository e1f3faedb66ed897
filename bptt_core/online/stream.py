"""What every online method shares: one pass forward in time that keeps no past.

At step t every layer runs its forward step from the state it holds, and the cell's own
``backward_step``, applied to the rows of the identity, reads the step's Jacobians off
(:func:`bptt_core.analysis.jacobians.step_jacobians`): ``J_t = d s_t / d s_{t-1}`` over the cell's
Jacobian parts ``s`` (``S`` wide: ``[h, c]`` for the LSTM, the LRU's complex ``x`` as ``[Re, Im]``) and
the pre-activation Jacobians from which the parameter and input Jacobians follow (the cell's
``parameter_factors`` and projection). The read-out turns the top layer's output into the step's
loss and ``dl_t / dh_t``; one more backward step of the top layer with that adjoint gives the
step's immediate share of the gradient (the cell's ``accumulate``) and the gradient reaching the
state the step started from, ``dl_t / ds_{t-1}`` (and, in a stack, its input ``h^{L-2}_t``). The
method turns those into the rest of the step's share through the influence it holds,
``dl_t / ds_{t-1} . d s_{t-1} / d theta``, and then advances its influence to ``d s_t / d theta``.
The output ``h_t`` need not be recurrent (the LRU's ``y_t = Re(C x_t) + D u_t``): only ``s`` is
carried. Nothing of size T is held.

The memory ledger counts what a call holds, by group: the method's ``influence``, the ``step
Jacobians``, the ``state and step cache`` (one step's forward cache per layer), ``scratch`` and the
``gradients`` buffers (the read-out's included), as :mod:`bptt_core.ledger` does for BPTT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.jacobians import identity_seeds, input_jacobian, part_columns, state_gradient, step_jacobians
from ..cells import Cell
from ..ledger import MemoryLedger
from ..losses import token_loss_and_grad, weight_divisor
from ..spec import RNNSpec, layer_params
from ..tape import Tape, project, projection_matrix
from ..workspace import Workspace

#: Ledger group of the bytes a method keeps to form its gradient (the counterpart of BPTT's tape).
INFLUENCE = "influence"
#: Workspace name prefixes counted under their own ledger groups; everything else is scratch.
_GROUPS = {"jac_": "step Jacobians", "tape_": "state and step cache"}


@dataclass
class LayerStep:
    """One layer at one step: what an online method reads.

    Attributes
    ----------
    params : dict of ndarray
        The layer's parameters under the cells' short names.
    cache : dict
        The cell's forward cache of the step.
    inputs : dict of ndarray
        ``"x"`` (B, I_l): the layer's input.
    h : ndarray of shape (B, H)
        The layer's output at the step.
    jacobian : ndarray of shape (B, K, S)
        ``J_t[b, j, k] = d r_t[j] / d s_{t-1}[k]``, rows ``r`` the layer's influence rows (:attr:`Stream.seeds`):
        the Jacobian parts ``s`` (K = S), and the output ``h`` after them where a layer above reads it and
        it is not a Jacobian part.
    pre : dict of ndarray of shape (K, B, width*H)
        ``"d_xw"``, ``"d_hw"``: row j of ``d r_t / d(xw_t)`` and ``d r_t / d(hw_t)``.
    """

    params: dict
    cache: dict
    inputs: dict
    h: np.ndarray
    jacobian: np.ndarray
    pre: dict

    def factors(self, cell: Cell) -> dict:
        """Each parameter's immediate Jacobian per row, as the cell's ``parameter_factors`` gives it."""
        return cell.parameter_factors(self.params, self.pre["d_xw"], self.pre["d_hw"], self.inputs["x"], self.cache)


@dataclass
class Stream:
    """One online pass: the checked arguments, the running loss, the gradients and the ledger.

    ``seeds[l]`` are layer l's identity rows (:func:`~bptt_core.analysis.jacobians.identity_seeds`) and
    ``h_rows[l]`` where its output's rows sit among them (None at the top, whose output only the read-out reads).
    """

    spec: RNNSpec
    cell: Cell
    P: dict
    x: np.ndarray
    y: np.ndarray
    loss: str
    mask: np.ndarray | None  # (T, B), None when every token counts
    divisor: float
    grads: dict
    work: Workspace
    ledger: MemoryLedger
    tapes: list
    w1: list
    seeds: list
    h_rows: list
    fixed: dict  # bytes held per ledger group outside the workspace
    total: float = 0.0
    grown: int = -1

    @property
    def sizes(self) -> tuple[int, int, int]:
        """``(B, H, S)``: batch, hidden size and the width of the Jacobian parts."""
        H = self.spec.hidden_size
        return self.x.shape[1], H, self.cell.part_width(self.cell.jacobian_parts) * H


def _influence_rows(cell: Cell, B: int, H: int, dtype, top: bool) -> tuple[tuple, slice | None]:
    """A layer's identity seeds and where its output's rows sit among them: the Jacobian parts, and the
    output ``h`` after them where it is not one of them and a layer above reads it."""
    seeds, _ = identity_seeds(cell, B, H, dtype, extra=() if top else ("h",))
    if top:
        return seeds, None
    columns = part_columns(cell, H)
    S = cell.part_width(cell.jacobian_parts) * H
    return seeds, columns.get("h", slice(S, S + H))


def open_stream(
    spec: RNNSpec, cell: Cell, P: dict, x: np.ndarray, y: np.ndarray, loss: str, reduction: str, mask, states, work
) -> Stream:
    """Set up a pass: gradient buffers, one step's tape per layer (holding its initial state).

    ``mask`` is the checked (T, B) mask or None when every token counts (then nothing of size T is kept).
    """
    B, H, L = x.shape[1], spec.hidden_size, spec.num_layers
    ledger = MemoryLedger()
    grads = {k: np.zeros_like(p) for k, p in P.items()}
    ledger.hold("gradients", sum(g.nbytes for g in grads.values()))
    divisor = weight_divisor(np.ones((x.shape[0], B)) if mask is None else mask, reduction)
    tapes, w1 = [], []
    for l in range(L):
        tape = Tape.new(cell, 0, 1, B, H, x.dtype, work, name=f"online{l}_", activation=spec.activation)
        for part, src in zip(cell.state_parts, states[l]):
            tape.buffers[part][0] = src
        tapes.append(tape)
        w1.append(projection_matrix(cell, layer_params(P, l)))
    rows = [_influence_rows(cell, B, H, x.dtype, l == L - 1) for l in range(L)]
    identities = {id(s[0].base): s[0].shape[0] ** 2 for s, _ in rows}  # one identity per distinct row count
    # held beside the workspace: the projection matrices, and the identities the seeds view
    fixed = {"scratch": sum(w.nbytes for w in w1), "step Jacobians": sum(identities.values()) * x.dtype.itemsize}
    for group, nbytes in fixed.items():
        ledger.hold(group, nbytes)
    seeds, h_rows = [s for s, _ in rows], [r for _, r in rows]
    return Stream(spec, cell, P, x, y, loss, mask, divisor, grads, work, ledger, tapes, w1, seeds, h_rows, fixed)


def layer_steps(stream: Stream, t: int) -> list[LayerStep]:
    """Run step t of every layer, bottom-up, and read its Jacobians off the cell's backward step."""
    cell, work, spec = stream.cell, stream.work, stream.spec
    B, H, S = stream.sizes
    W, dt = cell.width * H, stream.x.dtype
    columns = [i for i, part in enumerate(cell.state_parts) if part in cell.jacobian_parts]
    steps, below = [], stream.x[t]
    for l, tape in enumerate(stream.tapes):
        if t > 0:  # the state produced at step t - 1 now enters step t
            for part in cell.state_parts:
                np.copyto(tape.buffers[part][0], tape.buffers[part][1])
        p = layer_params(stream.P, l)
        xw = tape.projection_target() if tape.holds_projection else work.get(f"online{l}_xw", (1, B, W), dt)
        project([below[None]], stream.w1[l], 0, 1, xw, work)
        cell.forward_step(p, xw[0], tape.state_in(0), spec.activation, out=tape.outputs(0), work=work)
        cache = tape.cache(0)
        K = stream.seeds[l][0].shape[0]
        out = {"jacobian": work.get(f"jac_{l}_J", (B, K, S), dt), **pre_buffers(stream, f"jac_{l}_", K)}
        jac, d_xw, d_hw = step_jacobians(cell, p, cache, stream.seeds[l], out, work, parts=columns)
        # NumPy buffers the broadcast seeds and strided slices of the K adjoints: up to three operands at a time
        work.note(f"jac_{l}_iterator", 3 * min(np.getbufsize(), K * B * W) * dt.itemsize)
        h = tape.state_in(1)[0]
        steps.append(LayerStep(p, cache, {"x": below}, h, jac, {"d_xw": d_xw, "d_hw": d_hw}))
        below = h
    return steps


def pre_buffers(stream: Stream, prefix: str, K: int) -> dict[str, np.ndarray]:
    """Workspace buffers ``prefix + name`` for a backward step's ``d_xw`` (and ``d_hw``, where the cell keeps it
    apart) with K adjoints, (K, B, width*H)."""
    names = ("d_xw", "d_hw") if stream.cell.separate_hw_grad else ("d_xw",)
    shape = (K, stream.x.shape[1], stream.cell.width * stream.spec.hidden_size)
    return {name: stream.work.get(prefix + name, shape, stream.x.dtype) for name in names}


def read_out(stream: Stream, t: int, h: np.ndarray) -> np.ndarray:
    """Step t's loss and read-out gradients from the top layer's state ``h`` (B, H); returns ``dL/dh_t``
    through the read-out alone (B, H): what the influence turns into the recurrent gradients."""
    W, grads = stream.P["weight_out"], stream.grads
    yhat = h @ W.T + stream.P["bias_out"]
    tok, dyhat = token_loss_and_grad(stream.loss, yhat, stream.y[t])
    w = np.full(h.shape[0], 1.0 / stream.divisor) if stream.mask is None else stream.mask[t] / stream.divisor
    stream.total += float(np.sum(np.where(w > 0, tok, 0.0) * w))  # padding counts for nothing (it may be inf)
    dyhat *= w[:, None].astype(dyhat.dtype)
    grads["weight_out"] += dyhat.T @ h
    grads["bias_out"] += dyhat.sum(axis=0)
    return dyhat @ W


def count_workspace(stream: Stream) -> None:
    """Bring the ledger's workspace groups up to what the workspace was asked for (when it grew)."""
    work = stream.work
    if work.grown == stream.grown:
        return
    stream.grown = work.grown
    total, counted = work.requested_bytes(), 0
    for prefix, group in _GROUPS.items():
        part = total - work.requested_bytes(skip=(prefix,))
        stream.ledger.set(group, part + stream.fixed.get(group, 0))
        counted += part
    stream.ledger.set("scratch", total - counted + stream.fixed.get("scratch", 0))


def adjoint_step(stream: Stream, top: LayerStep, dh: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Back through the top layer's step with ``dl_t/dh_t`` (B, H): its immediate share of the gradient is
    added (the cell's ``accumulate``, the parameters' direct effect on this step).

    Returns
    -------
    d_state : ndarray of shape (B, S)
        ``dl_t / ds_{t-1}``: the gradient reaching the Jacobian parts of the state the step started from.
    d_input : ndarray of shape (B, I) or None
        ``dl_t / dh^{L-2}_t``: the gradient reaching the layer's input, in a stack.
    """
    cell, work, dt, L = stream.cell, stream.work, dh.dtype, len(stream.tapes)
    B, H, S = stream.sizes
    seeds = state_gradient(cell, {"h": dh[None]}, 1, B, H, dt)
    d_prev, d_xw, d_hw = cell.backward_step(
        top.params, seeds, top.cache, out=pre_buffers(stream, "adjoint_", 1), work=work
    )
    grads = layer_params(stream.grads, L - 1)
    work.note("adjoint_accumulate", max(g.nbytes for g in grads.values()))  # accumulate's temporaries, one at a time
    cell.accumulate(top.params, grads, d_xw, d_hw, top.inputs["x"][None], stream.tapes[-1].rows(0, 1))
    d_state = work.get("adjoint_ds", (B, S), dt)
    col = 0
    for part, d in zip(cell.state_parts, d_prev):
        if part in cell.jacobian_parts:
            d_state[:, col : col + d.shape[-1]] = d[0]
            col += d.shape[-1]
    if L == 1:
        return d_state, None
    d_input = input_jacobian(stream.w1[-1], d_xw, out=work.get("adjoint_dx", (1, B, stream.w1[-1].shape[0] - 1), dt))
    return d_state, d_input[0]


def run(stream: Stream, method) -> None:
    """The online loop: for each step, every layer forward with its Jacobians, the read-out, the adjoint
    step (the step's immediate share of the gradient) and the method's ``update(stream, steps, d_state,
    d_input)``, which adds the rest of the step's share through its influence and then advances it."""
    for t in range(stream.x.shape[0]):
        steps = layer_steps(stream, t)
        dh = read_out(stream, t, steps[-1].h)
        method.update(stream, steps, *adjoint_step(stream, steps[-1], dh))
        count_workspace(stream)
