"""Forward over every step of one layer, keeping every cache: what the analyses push adjoints through."""

from __future__ import annotations

import numpy as np

from .cells import CELLS
from .spec import RNNSpec, layer_params
from .tape import Tape, project, projection_matrix
from .workspace import Workspace


def unroll(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    state: tuple[np.ndarray, ...],
    layer: int = 0,
    direction: int = 0,
) -> tuple[list[dict], np.ndarray]:
    """Run one layer-direction over all steps of its inputs, keeping every cache.

    Parameters
    ----------
    params : dict of ndarray
        The network's parameters (state-dict keys).
    x : ndarray of shape (T, B, I_layer)
        The layer's inputs, in its own step order.
    state : tuple of ndarray of shape (B, w*H)
        The initial value of every state part (``(h0,)``, ``(h0, c0)``, ...).

    Returns
    -------
    caches : list of T dicts
        The per-step caches the cell's ``backward_step`` reads (views of one tape).
    h : ndarray of shape (T, B, H)
    """
    cell, p = CELLS[spec.cell], layer_params(params, layer, direction)
    T, B = x.shape[:2]
    work = Workspace(output_bytes=0)
    tape = Tape.new(cell, 0, T, B, spec.hidden_size, x.dtype, work, activation=spec.activation)
    for part, src in zip(cell.state_parts, state):
        tape.buffers[part][0] = src
    w1 = projection_matrix(cell, p)
    xw = tape.projection_target() if tape.holds_projection else np.empty((T, B, w1.shape[1]), x.dtype)
    project([x], w1, 0, T, xw, work)
    for t in range(T):
        cell.forward_step(p, xw[t], tape.state_in(t), spec.activation, out=tape.outputs(t), work=work)
    return [tape.cache(t) for t in range(T)], tape.h_rows(0, T)


def layer_inputs(spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, states: list, layer: int) -> np.ndarray:
    """The inputs of ``layer`` in time order: ``x`` for layer 0, else the outputs of the layer below.

    Parameters
    ----------
    x : ndarray of shape (T, B, I)
    states : list of tuple of ndarray of shape (B, H)
        Initial states of every layer-direction, PyTorch's order.

    Returns
    -------
    ndarray of shape (T, B, I or D*H)
    """
    D = spec.directions
    for l in range(layer):
        outs = []
        for d in range(D):
            _, h = unroll(spec, params, x if d == 0 else x[::-1], states[l * D + d], layer=l, direction=d)
            outs.append(h if d == 0 else h[::-1])
        x = np.concatenate(outs, axis=-1) if D == 2 else outs[0]
    return x
