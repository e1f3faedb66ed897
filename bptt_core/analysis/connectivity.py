"""Input connectivity: how strongly the output at one step depends on each earlier input, ``||d yhat_t / d x_k||``.

Distill's "Visualizing memorization in RNNs" (Madsen 2019) shades each input character by this norm. Here it
is exact: one backward pass from ``yhat_t`` with one adjoint per output component, stacked on a leading axis
(as the flow matrix stacks origins), through the cell's own backward step.
"""

from __future__ import annotations

import numpy as np

from ..arguments import prepare
from ..cells import CELLS
from ..spec import RNNSpec, layer_params
from ..unroll import unroll
from ..workspace import Workspace


def input_connectivity(
    spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, t: int, *, dtype: str = "float64"
) -> np.ndarray:
    """``C[k] = ||d yhat_t / d x_k||_F`` for k = 0 .. T-1 (0 for k > t), of the first sequence.

    Parameters
    ----------
    spec : RNNSpec
        A single-layer, unidirectional network (a stack mixes every input into every layer: not here).
    params : dict of ndarray
    x : ndarray of shape (T, B, I)
        Only the first sequence is read.
    t : int
        The output step, ``0 <= t < T``.

    Returns
    -------
    ndarray of shape (T,)
    """
    if spec.num_layers != 1 or spec.bidirectional:
        raise ValueError("spec must be a single-layer, unidirectional network for input connectivity")
    T = np.shape(x)[0]
    if not 0 <= t < T:
        raise ValueError(f"t must be a step in [0, T) = [0, {T}), got {t!r}")
    y = np.zeros((T, 1, spec.output_size))
    P, x1, _, _, states = prepare(spec, params, np.asarray(x)[:, :1], y, "mse", None, None, None, dtype)
    cell, p = CELLS[spec.cell], layer_params(P)
    caches, _ = unroll(spec, P, x1, states[0])
    O, H, GH = spec.output_size, spec.hidden_size, spec.gates * spec.hidden_size
    adj = [np.zeros((O, 1, H), x1.dtype) for _ in states[0]]
    adj[0][:, 0, :] = P["weight_out"]  # d yhat_t[o] / d h_t: one adjoint per output component
    out = np.zeros(T)
    work = Workspace()
    with np.errstate(all="ignore"):
        for k in range(t, -1, -1):
            buffers = {name: work.get(name, (O, 1, GH), x1.dtype) for name in ("d_xw", "d_hw")}
            back, _, _ = cell.backward_step(p, tuple(adj), caches[k], out=buffers, work=work)
            dx = buffers["d_xw"] @ p["weight_ih"]  # (O, 1, I): d yhat_t / d x_k
            out[k] = np.sqrt(np.sum(np.square(dx, dtype=np.float64)))
            adj = [d.copy() for d in back]
    return out
