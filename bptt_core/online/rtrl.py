"""Real-time recurrent learning (Williams & Zipser 1989): the exact influence carried forward.

The influence ``M_t = d s_t / d theta`` of every parameter on the state ``s`` (the cell's Jacobian
parts: ``[h, c]`` for the LSTM, the LRU's complex ``x``) obeys the forward recursion

.. math::

    M_t = J_t M_{t-1} + \\bar M_t, \\qquad
    \\frac{dl_t}{d\\theta} = \\Big[\\frac{\\partial l_t}{\\partial \\theta}\\Big]_{s_{t-1}}
        + \\frac{\\partial l_t}{\\partial s_{t-1}} M_{t-1},

with ``J_t = d s_t / d s_{t-1}`` and ``\\bar M_t`` the step's immediate Jacobian (the cell's
``parameter_factors``); the first term of the gradient is the adjoint step's
(:func:`~bptt_core.online.stream.adjoint_step`). In a stack, layer l's state also depends on the
parameters of the layers below through its input ``h^{l-1}_t`` (same step):
``M^l_t = J^l_t M^l_{t-1} + K^l_t O^{l-1}_t + \\bar M^l_t`` with ``K^l_t = d s^l_t / d h^{l-1}_t`` and
``O^{l-1}_t = d h^{l-1}_t / d theta`` the influence on the output below (rows of ``M^{l-1}_t``: the
output's rows are carried beside the state's where the output is not a state part, as the LRU's
``y``), so layer l carries the influence of the parameters of layers 0..l. The gradient equals
BPTT's; the price is memory ``B S N`` (``N`` parameters, O(H^3) for one layer with an H x H weight)
and time ``B S^2 N`` per step (O(H^4)), independent of T.
"""

from __future__ import annotations

import math

import numpy as np

from ..analysis.jacobians import input_jacobian, parameter_jacobian
from ..spec import layer_params, param_key
from .stream import INFLUENCE, LayerStep, Stream

#: The influence of a parameter block is updated this many column chunks at a time (per layer), so the
#: scratch for ``J_t M_{t-1}`` is about 1/CHUNKS of the influence rather than a second copy of it.
CHUNKS = 8


class RTRL:
    """Exact influence per layer: ``M[l][name, k]`` of shape (B, K_l, R, C) for the parameters of layers k <= l.

    ``K_l`` are the layer's influence rows (:attr:`Stream.seeds`: its state's S, and its output's H where a
    layer above reads it and it is not a state part); ``R, C`` are the parameter's rows and columns (C = 1
    for a vector), so the influence of a parameter contracts with ``dl/ds`` directly into its gradient.
    """

    def __init__(self, stream: Stream) -> None:
        B = stream.sizes[0]
        dt = stream.x.dtype
        self.M, self.chunks, widest = [], {}, 1
        for l, seeds in enumerate(stream.seeds):
            K = seeds[0].shape[0]
            blocks = [(name, k) for k in range(l + 1) for name in layer_params(stream.P, k)]
            self.M.append({b: np.zeros((B, K, *_rows_cols(stream.P[param_key(*b, 0)])), dt) for b in blocks})
            width = math.ceil(sum(m[0, 0].size for m in self.M[l].values()) / CHUNKS)
            for b, m in self.M[l].items():
                R, C = m.shape[2:]
                step = max(1, width // C)
                self.chunks[l, b] = [(r, min(r + step, R)) for r in range(0, R, step)]
                widest = max(widest, K * min(step, R) * C)
        stream.ledger.hold(INFLUENCE, sum(m.nbytes for layer in self.M for m in layer.values()))
        self.scratch = [stream.work.get(name, (B * widest,), dt) for name in ("rtrl_new", "rtrl_add")]

    def update(self, stream: Stream, steps: list[LayerStep], d_state: np.ndarray, d_input: np.ndarray | None) -> None:
        """The layers below the top advance to ``M_t`` (bottom-up: layer l reads the layer below's new
        influence), the top layer's gradient is added from its ``M_{t-1}``, then the top advances."""
        for l, st in enumerate(steps[:-1]):
            self._advance_layer(stream, l, st)
        self._add_gradient(stream, d_state, d_input)
        self._advance_layer(stream, len(steps) - 1, steps[-1])

    def _advance_layer(self, stream: Stream, l: int, st: LayerStep) -> None:
        """``M^l_t`` from ``M^l_{t-1}``, block by block, rows r0..r1 at a time."""
        K, factors = None, st.factors(stream.cell)
        if l > 0:  # d r^l_t / d h^{l-1}_t, (B, K_l, H)
            d_xw, I = st.pre["d_xw"], stream.w1[l].shape[0] - 1
            K = input_jacobian(stream.w1[l], d_xw, out=stream.work.get(f"jac_{l}_K", (*d_xw.shape[:2], I), d_xw.dtype))
            K = K.transpose(1, 0, 2)
        for (name, k), M in self.M[l].items():
            below = None if k == l else self.M[l - 1][name, k][:, stream.h_rows[l - 1]]
            for r0, r1 in self.chunks[l, (name, k)]:
                self._advance(st, factors.get(name) if k == l else None, M, r0, r1, K, below)

    def _advance(self, st: LayerStep, factor, M: np.ndarray, r0: int, r1: int, K, below) -> None:
        """Rows r0..r1 of one parameter's influence: ``M <- J M + K O_below`` (a lower layer's parameter,
        ``below`` given) or ``M <- J M + immediate`` (the layer's own, ``factor`` given)."""
        B, rows_out = M.shape[:2]
        S = st.jacobian.shape[-1]
        rows = M[:, :, r0:r1]
        new, add = (a[: rows.size].reshape(B, rows_out, -1) for a in self.scratch)
        np.copyto(add.reshape(rows.shape), rows)  # rows r0..r1 with their columns, contiguous for the product
        np.matmul(st.jacobian, add[:, :S], out=new)  # the state's rows of M_{t-1} (the output's are not carried)
        if below is not None:
            new += np.matmul(K, below[:, :, r0:r1].reshape(B, below.shape[1], -1), out=add)
        else:
            new += parameter_jacobian(factor, slice(r0, r1), out=add.reshape(rows.shape)).reshape(new.shape)
        rows[...] = new.reshape(rows.shape)

    def _add_gradient(self, stream: Stream, d_state: np.ndarray, d_input: np.ndarray | None) -> None:
        """Add ``dl_t/ds_{t-1} M_{t-1}`` of the top layer, and in a stack ``dl_t/dh^{L-2}_t O^{L-2}_t``,
        to every recurrent parameter's gradient (the immediate share is the adjoint step's)."""
        top, S = len(self.M) - 1, d_state.shape[1]
        for (name, k), M in self.M[top].items():
            g = stream.grads[param_key(name, k, 0)].reshape(-1)
            for b in range(d_state.shape[0]):  # M[b, :S] is contiguous: no copy of the influence
                g += d_state[b] @ M[b, :S].reshape(S, -1)
            if k < top:
                below = self.M[top - 1][name, k]
                for b in range(d_input.shape[0]):
                    g += d_input[b] @ below[b, stream.h_rows[top - 1]].reshape(d_input.shape[1], -1)


def _rows_cols(p: np.ndarray) -> tuple[int, int]:
    """A parameter as rows and columns: (R, C), C = 1 for a vector."""
    return (p.shape[0], p.shape[1]) if p.ndim == 2 else (p.shape[0], 1)
