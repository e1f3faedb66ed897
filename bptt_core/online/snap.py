"""SnAp-1 (Menick et al. 2020, arXiv 2006.07232): the influence kept on each parameter's own unit.

Row r of every parameter acts on one unit, ``u = r mod H``, in the step it acts (the cell's
``parameter_factors``); SnAp-1 keeps only the influence on that unit's entries of the state, its n slots
(``h_u``, and ``c_u`` for the LSTM; ``Re x_u`` and ``Im x_u`` for the LRU), and drops the rest after every step:

.. math::

    D_t[p, r] = \\sum_q J_t[(p, u), (q, u)] \\, D_{t-1}[q, r] + \\bar M_t[(p, u), r],

so it needs the diagonal n x n blocks of ``J_t`` and costs ``n^2 P`` per step, about what BPTT pays, with
memory ``B n P``. It is biased: paths through other units are lost.

Diagonal recurrences
--------------------
When the step Jacobian couples no two units (``J_t[(p, u), (q, w)] = 0`` for ``u != w``, and each
parameter's immediate Jacobian stays on its unit) the dropped terms are zero at every step, and
SnAp-1's influence is RTRL's: the exact online gradient of Zucchet et al. (2023, arXiv
2305.15947) for diagonal recurrences such as the LRU (``x_t = lambda x_{t-1} + gamma B u_t``, complex
diagonal: 2 x 2 real blocks) and minGRU (``d h_t / d h_{t-1} = diag(1 - z_t)``), here for any
registered cell whose Jacobians are diagonal (e.g. an RNN with diagonal ``W_hh``). A read-out of the
state that is not recurrent (the LRU's ``y_t = Re(C x_t) + D u_t``) is the adjoint step's, exact too.
``exact=True`` (``method="diagonal"``) checks that at every step and refuses a recurrence that is not.
"""

from __future__ import annotations

import numpy as np

from ..analysis.jacobians import parameter_jacobian
from ..spec import layer_params, param_key
from .stream import INFLUENCE, LayerStep, Stream


class SnAp1:
    """Sparse influence ``D[name]`` of shape (B, R, n, C): per parameter ``[r, c]``, its influence on slot p
    of the unit row r acts on.

    Parameters
    ----------
    stream : Stream
    exact : bool
        Refuse (ValueError) a step whose Jacobians couple two units: the diagonal case, where SnAp-1 is exact.
    """

    def __init__(self, stream: Stream, exact: bool = False) -> None:
        B, H, S = stream.sizes
        n, dt = S // H, stream.x.dtype
        self.D, self.rows, self.unit, self.off_unit = {}, {}, {}, {}
        states = np.arange(S) % H  # the unit of each state entry
        for name, p in layer_params(stream.P, 0).items():
            R, unit = p.shape[0], np.arange(p.shape[0]) % H
            self.unit[name] = unit
            self.rows[name] = np.arange(n)[:, None] * H + unit  # (n, R): the state entry of slot p of row r's unit
            self.off_unit[name] = states[:, None] != unit[None, :]  # (S, R): entries of another unit
            self.D[name] = np.zeros((B, R, n, p.shape[1] if p.ndim == 2 else 1), dt)
        stream.ledger.hold(INFLUENCE, sum(d.nbytes for d in self.D.values()))
        widest = max(d.size for d in self.D.values())
        self.scratch = [stream.work.get(name, (widest,), dt) for name in ("snap_new", "snap_add")]
        self.exact, self.t = exact, 0
        self.coupled = states[:, None] != states[None, :]  # (S, S): entries of J_t between two units
        unit_rows = np.arange(n)[:, None] * H + np.arange(H)  # (n, H)
        self.blocks = (unit_rows.T[:, :, None], unit_rows.T[:, None, :])  # J_t[b, u's slot p, u's slot q]

    def update(self, stream: Stream, steps: list[LayerStep], d_state: np.ndarray, d_input: None = None) -> None:
        """Add ``dl_t/ds_{t-1} D_{t-1}``, then ``D_t`` from ``D_{t-1}`` (module docstring)."""
        (st,) = steps
        self._add_gradient(stream, d_state)
        factors = st.factors(stream.cell)
        if self.exact:
            self._check_diagonal(st, factors)
        self.t += 1
        B = d_state.shape[0]
        blocks = st.jacobian[(slice(None), *self.blocks)]  # (B, H, n, n): each unit's own block
        batch = np.arange(B)[None, :, None]
        for name, D in self.D.items():
            a, m = factors[name]
            R, n, C = D.shape[1:]
            on_unit = a[self.rows[name][:, None, :], batch, np.arange(R)[None, None, :]]  # (n, B, R)
            new, add = self.scratch[0][: D.size].reshape(D.shape), self.scratch[1][: D.size]
            np.matmul(blocks[:, self.unit[name]], D, out=new)
            new += parameter_jacobian((on_unit, m), out=add.reshape(B, n, R, C)).transpose(0, 2, 1, 3)
            D[...] = new

    def _add_gradient(self, stream: Stream, d_state: np.ndarray) -> None:
        """Add ``dl_t/ds_{t-1} D_{t-1}`` (each row's own unit) to every recurrent parameter's gradient."""
        for name, D in self.D.items():
            g = stream.grads[param_key(name, 0, 0)].reshape(D.shape[1], -1)
            g += np.einsum("bnr,brnc->rc", d_state[:, self.rows[name]], D)

    def _check_diagonal(self, st: LayerStep, factors: dict) -> None:
        """ValueError when the step's Jacobians couple two units (SnAp-1 would then not be exact)."""
        off = float(np.max(np.abs(st.jacobian[:, self.coupled]), initial=0.0))
        for name, (a, _) in factors.items():
            off = max(off, float(np.max(np.abs(a.transpose(1, 0, 2)[:, self.off_unit[name]]), initial=0.0)))
        if off > 0 or not np.isfinite(off):
            raise ValueError(
                f"method='diagonal' needs a diagonal recurrence (each unit's state depending on its own past "
                f"only, as in the LRU, minGRU or an RNN with diagonal W_hh); at step {self.t} the Jacobians "
                f"couple units (largest entry between two units {off:.3g}): use 'rtrl' for the exact gradient "
                "or 'snap1' for the approximation"
            )
