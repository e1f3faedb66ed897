"""What every online method shares: one pass forward in time that keeps no past.

At step t every layer runs its forward step from the state it holds, and the cell's own
``backward_step``, applied to the rows of the identity, reads the step's Jacobians off
(:func:`bptt_core.analysis.jacobians.step_jacobians`): ``J_t = d s_t / d s_{t-1}`` and the
pre-activation Jacobians from which the parameter and input Jacobians follow. The method
updates its influence (``d s_t / d theta``, exact or estimated); the read-out turns the top
layer's state into the step's loss and ``dl_t / dh_t``, and the influence turns that into the
step's share of the parameter gradient at once. Nothing of size T is held.

The memory ledger counts what a call holds, by group: the method's ``influence``, the ``step
Jacobians``, the ``state and step cache`` (one step's forward cache per layer), ``scratch`` and the
``gradients`` buffers (the read-out's included), as :mod:`bptt_core.ledger` does for BPTT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.jacobians import identity_seeds, step_jacobians
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
        ``"x"`` (B, I_l): the layer's input; ``"h_prev"`` (B, H): the hidden state entering the step.
    h : ndarray of shape (B, H)
        The hidden state the step produced.
    jacobian : ndarray of shape (B, S, S)
        ``J_t[b, j, k] = d s_t[j] / d s_{t-1}[k]``.
    pre : dict of ndarray of shape (S, B, G*H)
        ``"d_xw"``, ``"d_hw"``: row j of ``d s_t / d(xw_t)`` and ``d s_t / d(hw_t)``.
    """

    params: dict
    cache: dict
    inputs: dict
    h: np.ndarray
    jacobian: np.ndarray
    pre: dict


@dataclass
class Stream:
    """One online pass: the checked arguments, the running loss, the gradients and the ledger."""

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
    seeds: tuple
    fixed: dict  # bytes held per ledger group outside the workspace
    total: float = 0.0
    grown: int = -1

    @property
    def sizes(self) -> tuple[int, int, int]:
        """``(B, H, S)``: batch, hidden size and state size (all state parts)."""
        H = self.spec.hidden_size
        return self.x.shape[1], H, len(self.cell.state_parts) * H


def open_stream(
    spec: RNNSpec, cell: Cell, P: dict, x: np.ndarray, y: np.ndarray, loss: str, reduction: str, mask, states, work
) -> Stream:
    """Set up a pass: gradient buffers, one step's tape per layer (holding its initial state).

    ``mask`` is the checked (T, B) mask or None when every token counts (then nothing of size T is kept).
    """
    B, H = x.shape[1], spec.hidden_size
    ledger = MemoryLedger()
    grads = {k: np.zeros_like(p) for k, p in P.items()}
    ledger.hold("gradients", sum(g.nbytes for g in grads.values()))
    divisor = weight_divisor(np.ones((x.shape[0], B)) if mask is None else mask, reduction)
    tapes, w1 = [], []
    for l in range(spec.num_layers):
        tape = Tape.new(cell, 0, 1, B, H, x.dtype, work, name=f"online{l}_", activation=spec.activation)
        for part, src in zip(cell.state_parts, states[l]):
            tape.buffers[part][0] = src
        tapes.append(tape)
        w1.append(projection_matrix(cell, layer_params(P, l)))
    seeds, _ = identity_seeds(cell, B, H, x.dtype)
    # held beside the workspace: the projection matrices, and the identity the seeds view
    fixed = {"scratch": sum(w.nbytes for w in w1), "step Jacobians": seeds[0].shape[0] ** 2 * x.dtype.itemsize}
    for group, nbytes in fixed.items():
        ledger.hold(group, nbytes)
    return Stream(spec, cell, P, x, y, loss, mask, divisor, grads, work, ledger, tapes, w1, seeds, fixed)


def layer_steps(stream: Stream, t: int) -> list[LayerStep]:
    """Run step t of every layer, bottom-up, and read its Jacobians off the cell's backward step."""
    cell, work, spec = stream.cell, stream.work, stream.spec
    B, H, S = stream.sizes
    GH, dt = cell.gates * H, stream.x.dtype
    steps, below = [], stream.x[t]
    for l, tape in enumerate(stream.tapes):
        if t > 0:  # the state produced at step t - 1 now enters step t
            for part in cell.state_parts:
                np.copyto(tape.buffers[part][0], tape.buffers[part][1])
        p = layer_params(stream.P, l)
        xw = tape.projection_target()
        project([below[None]], stream.w1[l], 0, 1, xw, work)
        cell.forward_step(p, xw[0], tape.state_in(0), spec.activation, out=tape.outputs(0), work=work)
        cache = tape.cache(0)
        out = {
            "jacobian": work.get(f"jac_{l}_J", (B, S, S), dt),
            "d_xw": work.get(f"jac_{l}_dxw", (S, B, GH), dt),
            "d_hw": work.get(f"jac_{l}_dhw", (S, B, GH), dt),
        }
        jac, d_xw, d_hw = step_jacobians(cell, p, cache, stream.seeds, out, work)
        h = tape.state_in(1)[0]
        inputs = {"x": below, "h_prev": tape.state_in(0)[0]}
        steps.append(LayerStep(p, cache, inputs, h, jac, {"d_xw": d_xw, "d_hw": d_hw}))
        below = h
    return steps


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


def run(stream: Stream, method) -> None:
    """The online loop: for each step, every layer forward, the method's update, the read-out and the
    gradient. ``method`` has ``update(stream, steps)`` and ``add_gradient(stream, dh)``."""
    for t in range(stream.x.shape[0]):
        steps = layer_steps(stream, t)
        method.update(stream, steps)
        method.add_gradient(stream, read_out(stream, t, steps[-1].h))
        count_workspace(stream)
