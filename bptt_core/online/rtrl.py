"""Real-time recurrent learning (Williams & Zipser 1989): the exact influence carried forward.

The influence ``M_t = d s_t / d theta`` of every parameter on the state (all its parts, e.g.
``[h, c]`` for the LSTM) obeys the forward recursion

.. math::

    M_t = J_t M_{t-1} + \\bar M_t, \\qquad \\frac{dL}{d\\theta} = \\sum_t \\frac{\\partial l_t}{\\partial s_t} M_t,

with ``J_t = d s_t / d s_{t-1}`` and ``\\bar M_t`` the step's immediate Jacobian. In a stack,
layer l's state also depends on the parameters of the layers below through its input
``h^{l-1}_t`` (same step): ``M^l_t = J^l_t M^l_{t-1} + K^l_t M^{l-1}_t[h] + \\bar M^l_t`` with
``K^l_t = d s^l_t / d h^{l-1}_t``, so layer l carries the influence of the parameters of layers
0..l on its state. The gradient equals BPTT's; the price is memory ``B S N`` (``N`` parameters,
O(H^3) for one layer) and time ``B S^2 N`` per step (O(H^4)), independent of T.
"""

from __future__ import annotations

import math

import numpy as np

from ..analysis.jacobians import PARAMETER_FACTORS, input_jacobian, parameter_jacobian
from ..spec import param_key

LAYER_KEYS = tuple(PARAMETER_FACTORS)  # the dense cells' four arrays (issue 29 generalises the cells; see the report)
from .stream import INFLUENCE, LayerStep, Stream

#: The influence of a parameter block is updated this many column chunks at a time (per layer), so the
#: scratch for ``J_t M_{t-1}`` is about 1/CHUNKS of the influence rather than a second copy of it.
CHUNKS = 8


class RTRL:
    """Exact influence per layer: ``M[l][name, k]`` of shape (B, S, R, C) for the parameters of layers k <= l.

    ``R, C`` are the parameter's rows and columns (C = 1 for a bias), so the influence of a
    parameter contracts with ``dL/ds`` directly into its gradient.
    """

    def __init__(self, stream: Stream) -> None:
        B, _, S = stream.sizes
        spec, dt = stream.spec, stream.x.dtype
        self.M, self.chunks, widest = [], {}, 1
        for l in range(spec.num_layers):
            blocks = [(name, k) for k in range(l + 1) for name in LAYER_KEYS]
            self.M.append({b: np.zeros((B, S, *_rows_cols(stream.P[param_key(*b, 0)])), dt) for b in blocks})
            width = math.ceil(sum(m[0, 0].size for m in self.M[l].values()) / CHUNKS)
            for b, m in self.M[l].items():
                R, C = m.shape[2:]
                step = max(1, width // C)
                self.chunks[l, b] = [(r, min(r + step, R)) for r in range(0, R, step)]
                widest = max(widest, min(step, R) * C)
        stream.ledger.hold(INFLUENCE, sum(m.nbytes for layer in self.M for m in layer.values()))
        self.scratch = [stream.work.get(name, (B * S * widest,), dt) for name in ("rtrl_new", "rtrl_add")]

    def update(self, stream: Stream, steps: list[LayerStep]) -> None:
        """``M^l_t`` from ``M^l_{t-1}``, bottom-up (layer l reads the layer below's new influence)."""
        H = stream.spec.hidden_size
        for l, st in enumerate(steps):
            K = None
            if l > 0:  # d s^l_t / d h^{l-1}_t, (B, S, H)
                d_xw, I = st.pre["d_xw"], st.params["weight_ih"].shape[1]
                K = input_jacobian(st.params, d_xw, out=stream.work.get(f"jac_{l}_K", (*d_xw.shape[:2], I), d_xw.dtype))
                K = K.transpose(1, 0, 2)
            for (name, k), M in self.M[l].items():
                below = None if k == l else self.M[l - 1][name, k][:, :H]
                for r0, r1 in self.chunks[l, (name, k)]:
                    self._advance(st, name, M, r0, r1, K, below)

    def _advance(self, st: LayerStep, name: str, M: np.ndarray, r0: int, r1: int, K, below) -> None:
        """Rows r0..r1 of one parameter's influence: ``M <- J M + K M_below[h]`` (a lower layer's
        parameter, ``below`` given) or ``M <- J M + immediate`` (the layer's own)."""
        B, S = M.shape[:2]
        rows = M[:, :, r0:r1]
        new, add = (a[: rows.size].reshape(B, S, -1) for a in self.scratch)
        np.copyto(add, rows.reshape(B, S, -1))  # rows r0..r1 with their columns, contiguous for the product
        np.matmul(st.jacobian, add, out=new)
        if below is not None:
            new += np.matmul(K, below[:, :, r0:r1].reshape(B, below.shape[1], -1), out=add)
        else:
            new += parameter_jacobian(name, st.pre, st.inputs, slice(r0, r1), out=add.reshape(rows.shape)).reshape(
                new.shape
            )
        rows[...] = new.reshape(rows.shape)

    def add_gradient(self, stream: Stream, dh: np.ndarray) -> None:
        """Add ``dl_t/dh_t M_t[h]`` of the top layer to every recurrent parameter's gradient."""
        H = stream.spec.hidden_size
        for (name, k), M in self.M[-1].items():
            g = stream.grads[param_key(name, k, 0)].reshape(-1)
            for b in range(dh.shape[0]):  # M[b, :H] is contiguous: no copy of the influence
                g += dh[b] @ M[b, :H].reshape(H, -1)


def _rows_cols(p: np.ndarray) -> tuple[int, int]:
    """A parameter as rows and columns: (R, C), C = 1 for a vector."""
    return (p.shape[0], p.shape[1]) if p.ndim == 2 else (p.shape[0], 1)
