"""Unbiased online recurrent optimisation (Tallec & Ollivier 2018): a rank-one estimate of the influence.

Per sequence, UORO keeps a state-sized vector ``s~`` (S,) and a parameter-sized vector ``theta~``
(P,) whose outer product estimates the influence ``M_t = d s_t / d theta`` without bias. With
fresh random signs ``nu`` in {-1, 1}^S at every step,

.. math::

    \\tilde s_t = \\rho_0 J_t \\tilde s_{t-1} + \\rho_1 \\nu, \\qquad
    \\tilde\\theta_t = \\tilde\\theta_{t-1} / \\rho_0 + \\nu^T \\bar M_t / \\rho_1,

where ``nu^T M_t`` (bar: the step's immediate Jacobian) is one vector-Jacobian product of the step
and ``rho_0 = sqrt((|theta~| + eps) / (|J s~| + eps))``, ``rho_1 = sqrt((|nu^T M| + eps) / (|nu| + eps))``
(eps = 1e-7) give both factors of each term the same norm, the choice that minimises the
variance (their Proposition 1). As ``E[nu nu^T] = I`` and the cross terms are odd in ``nu``
(``rho_1`` is even in it), ``E[s~_t theta~_t^T] = M_t``, and the gradient
``sum_t (dl_t/ds_t . s~_t) theta~_t`` is unbiased. Memory ``B (S + P)``; the estimate's randomness
comes from the generator passed in, nowhere else.
"""

from __future__ import annotations

import numpy as np

from ..analysis.jacobians import PARAMETER_FACTORS, parameter_jacobian
from ..spec import param_key

LAYER_KEYS = tuple(PARAMETER_FACTORS)  # the dense cells' four arrays (issue 29 generalises the cells; see the report)
from .stream import INFLUENCE, LayerStep, Stream

#: Tallec & Ollivier's guard against a zero norm in the scalings (it keeps them finite at the first step).
EPSILON = 1e-7


class UORO:
    """The rank-one influence ``s~ theta~^T`` of one layer: ``s`` (B, S) and ``theta[name]`` (B, R, C)."""

    def __init__(self, stream: Stream, rng: np.random.Generator) -> None:
        B, _, S = stream.sizes
        dt = stream.x.dtype
        self.rng = rng
        self.s = np.zeros((B, S), dt)
        self.theta = {}
        for name in LAYER_KEYS:
            p = stream.P[param_key(name, 0, 0)]
            self.theta[name] = np.zeros((B, p.shape[0], p.shape[1] if p.ndim == 2 else 1), dt)
        stream.ledger.hold(INFLUENCE, self.s.nbytes + sum(t.nbytes for t in self.theta.values()))

    def update(self, stream: Stream, steps: list[LayerStep]) -> None:
        """One step of the recursion (module docstring), for every sequence of the batch at once."""
        (st,) = steps
        B, H, S = stream.sizes
        work, dt = stream.work, self.s.dtype
        nu = self.rng.integers(0, 2, size=(B, S)).astype(dt) * 2.0 - 1.0
        js = np.einsum("bjk,bk->bj", st.jacobian, self.s)  # J_t s~_{t-1}
        seeds = tuple(nu[None, :, q * H : (q + 1) * H] for q in range(S // H))  # one adjoint, (1, B, H) per part
        GH = st.pre["d_xw"].shape[-1]
        out = {"d_xw": work.get("uoro_dxw", (1, B, GH), dt), "d_hw": work.get("uoro_dhw", (1, B, GH), dt)}
        _, d_xw, d_hw = stream.cell.backward_step(st.params, seeds, st.cache, out=out, work=work)
        pre = {"d_xw": d_xw, "d_hw": d_hw}
        nu_m = {  # nu^T M_t, (B, R, C)
            name: parameter_jacobian(name, pre, st.inputs, out=work.get(f"uoro_{name}", (B, 1, *t.shape[1:]), dt))[:, 0]
            for name, t in self.theta.items()
        }
        rho0 = np.sqrt((_norms(self.theta) + EPSILON) / (np.linalg.norm(js, axis=1) + EPSILON))
        rho1 = np.sqrt((_norms(nu_m) + EPSILON) / (np.sqrt(S) + EPSILON))
        np.multiply(js, rho0[:, None], out=self.s)
        self.s += rho1[:, None] * nu
        for name, theta in self.theta.items():
            for b in range(B):  # scalar factors, no broadcast
                theta[b] /= rho0[b]
                nu_m[name][b] /= rho1[b]
            theta += nu_m[name]

    def add_gradient(self, stream: Stream, dh: np.ndarray) -> None:
        """Add ``(dl_t/dh_t . s~_t[h]) theta~_t`` to every recurrent parameter's gradient."""
        H = stream.spec.hidden_size
        a = np.einsum("bh,bh->b", dh, self.s[:, :H])
        for name, theta in self.theta.items():
            g = stream.grads[param_key(name, 0, 0)].reshape(-1)
            g += a @ theta.reshape(a.shape[0], -1)


def _norms(parts: dict[str, np.ndarray]) -> np.ndarray:
    """Per sequence, the L2 norm of all the (B, R, C) arrays taken together, (B,)."""
    return np.sqrt(sum(np.einsum("brc,brc->b", a, a) for a in parts.values()))
