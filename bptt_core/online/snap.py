"""SnAp-1 (Menick et al. 2020, arXiv 2006.07232): the influence kept on each parameter's own unit.

A parameter in row r of a gate block (``weight_ih``, ``weight_hh``, ``bias_*``) feeds one unit,
``u = r mod H``, in the step it acts; SnAp-1 keeps only the influence on that unit's state parts
(``h_u``, and ``c_u`` for the LSTM) and drops the rest after every step:

.. math::

    D_t[p, r] = \\sum_q J_t[(p, u), (q, u)] \\, D_{t-1}[q, r] + \\bar M_t[(p, u), r],

so it needs the diagonal blocks of ``J_t`` and costs ``n^2 P`` per step (n state parts), about
what BPTT pays, with memory ``B n P``. It is biased: paths through other units are lost.

Diagonal recurrences
--------------------
When the step Jacobian couples no two units (``J_t[(p, u), (q, w)] = 0`` for ``u != w``, and each
parameter's immediate Jacobian stays on its unit) the dropped terms are zero at every step, and
SnAp-1's influence is RTRL's: the exact online gradient of Zucchet et al. (2023, arXiv
2305.15947) for diagonal linear recurrences such as the LRU and minGRU, here for any registered
cell whose Jacobians are diagonal (e.g. an RNN with diagonal ``W_hh``). ``exact=True``
(``method="diagonal"``) checks that at every step and refuses a recurrence that is not.
"""

from __future__ import annotations

import numpy as np

from ..analysis.jacobians import PARAMETER_FACTORS, parameter_jacobian
from ..spec import param_key

LAYER_KEYS = tuple(PARAMETER_FACTORS)  # the dense cells' four arrays (issue 29 generalises the cells; see the report)
from .stream import INFLUENCE, LayerStep, Stream


class SnAp1:
    """Sparse influence ``D[name]`` of shape (B, R, n, C): per parameter ``[r, c]``, its influence on part p
    of the unit row r feeds.

    Parameters
    ----------
    stream : Stream
    exact : bool
        Refuse (ValueError) a step whose Jacobians couple two units: the diagonal case, where SnAp-1 is exact.
    """

    def __init__(self, stream: Stream, exact: bool = False) -> None:
        B, H, S = stream.sizes
        n, dt, GH = S // H, stream.x.dtype, stream.cell.gates * H
        unit = np.arange(GH) % H
        self.rows = np.arange(n)[:, None] * H + unit  # (n, GH): the state entry of part p of row r's unit
        self.D = {}
        for name in LAYER_KEYS:
            p = stream.P[param_key(name, 0, 0)]
            self.D[name] = np.zeros((B, p.shape[0], n, p.shape[1] if p.ndim == 2 else 1), dt)
        stream.ledger.hold(INFLUENCE, sum(d.nbytes for d in self.D.values()))
        widest = max(d.size for d in self.D.values())
        self.scratch = [stream.work.get(name, (widest,), dt) for name in ("snap_new", "snap_add")]
        self.exact, self.t = exact, 0
        states = np.arange(S) % H
        self.coupled = states[:, None] != states[None, :]  # (S, S): entries of J_t between two units
        self.off_unit = states[:, None] != unit[None, :]  # (S, GH): pre-activations of another unit

    def update(self, stream: Stream, steps: list[LayerStep]) -> None:
        """``D_t`` from ``D_{t-1}`` (module docstring)."""
        (st,) = steps
        if self.exact:
            self._check_diagonal(st)
        self.t += 1
        B, rows = st.jacobian.shape[0], self.rows
        # J_t[(p, u_r), (q, u_r)] for every row r: (B, R, n, n)
        blocks = st.jacobian[:, rows.T[:, :, None], rows.T[:, None, :]]
        batch, gate = np.arange(B)[None, :, None], np.arange(rows.shape[1])[None, None, :]
        pre = {k: d[rows[:, None, :], batch, gate] for k, d in st.pre.items()}  # (n, B, GH): on the unit
        for name, D in self.D.items():
            new, add = self.scratch[0][: D.size].reshape(D.shape), self.scratch[1][: D.size]
            np.matmul(blocks, D, out=new)
            R, n, C = D.shape[1:]
            new += parameter_jacobian(name, pre, st.inputs, out=add.reshape(B, n, R, C)).transpose(0, 2, 1, 3)
            D[...] = new

    def add_gradient(self, stream: Stream, dh: np.ndarray) -> None:
        """Add ``dl_t/dh_u D_t[h]`` (each row's own unit, part 0 = h) to every recurrent parameter's gradient."""
        unit = self.rows[0]
        for name, D in self.D.items():
            g = stream.grads[param_key(name, 0, 0)].reshape(D.shape[1], -1)
            for b in range(D.shape[0]):
                g += D[b, :, 0] * dh[b, unit][:, None]

    def _check_diagonal(self, st: LayerStep) -> None:
        """ValueError when the step's Jacobians couple two units (SnAp-1 would then not be exact)."""
        off = float(np.max(np.abs(st.jacobian[:, self.coupled]), initial=0.0))
        for d in st.pre.values():
            off = max(off, float(np.max(np.abs(d.transpose(1, 0, 2)[:, self.off_unit]), initial=0.0)))
        if off > 0 or not np.isfinite(off):
            raise ValueError(
                f"method='diagonal' needs a diagonal recurrence (each unit's state depending on its own past "
                f"only, as in the LRU, minGRU or an RNN with diagonal W_hh); at step {self.t} the Jacobians "
                f"couple units (largest entry between two units {off:.3g}): use 'rtrl' for the exact gradient "
                "or 'snap1' for the approximation"
            )
