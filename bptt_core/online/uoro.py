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
(``rho_1`` is even in it), ``E[s~_t theta~_t^T] = M_t``, and the gradient, the adjoint step's
immediate share plus ``sum_t (dl_t/ds_{t-1} . s~_{t-1}) theta~_{t-1}``, is unbiased. Memory
``B (S + P)``; the estimate's randomness comes from the generator passed in, nowhere else.
"""

from __future__ import annotations

import numpy as np

from ..analysis.jacobians import parameter_jacobian, part_columns, state_gradient
from ..spec import layer_params, param_key
from .stream import INFLUENCE, LayerStep, Stream, pre_buffers

#: Tallec & Ollivier's guard against a zero norm in the scalings (it keeps them finite at the first step).
EPSILON = 1e-7


class UORO:
    """The rank-one influence ``s~ theta~^T`` of one layer: ``s`` (B, S) and ``theta[name]`` (B, R, C)."""

    def __init__(self, stream: Stream, rng: np.random.Generator) -> None:
        B, H, S = stream.sizes
        dt = stream.x.dtype
        self.rng = rng
        self.s = np.zeros((B, S), dt)
        self.theta = {}
        for name, p in layer_params(stream.P, 0).items():
            self.theta[name] = np.zeros((B, p.shape[0], p.shape[1] if p.ndim == 2 else 1), dt)
        stream.ledger.hold(INFLUENCE, self.s.nbytes + sum(t.nbytes for t in self.theta.values()))
        self.columns = part_columns(stream.cell, H)

    def update(self, stream: Stream, steps: list[LayerStep], d_state: np.ndarray, d_input: None = None) -> None:
        """Add ``(dl_t/ds_{t-1} . s~_{t-1}) theta~_{t-1}``, then one step of the recursion (module docstring),
        for every sequence of the batch at once."""
        (st,) = steps
        a = np.einsum("bj,bj->b", d_state, self.s)
        for name, theta in self.theta.items():
            g = stream.grads[param_key(name, 0, 0)].reshape(-1)
            g += a @ theta.reshape(a.shape[0], -1)
        B, _, S = stream.sizes
        nu = self.rng.integers(0, 2, size=(B, S)).astype(self.s.dtype) * 2.0 - 1.0
        js = np.einsum("bjk,bk->bj", st.jacobian, self.s)  # J_t s~_{t-1}
        nu_m = self._projected_immediate(stream, st, nu)
        rho0 = np.sqrt((_norms(self.theta) + EPSILON) / (np.linalg.norm(js, axis=1) + EPSILON))
        rho1 = np.sqrt((_norms(nu_m) + EPSILON) / (np.sqrt(S) + EPSILON))
        np.multiply(js, rho0[:, None], out=self.s)
        self.s += rho1[:, None] * nu
        for name, theta in self.theta.items():
            for b in range(B):  # scalar factors, no broadcast
                theta[b] /= rho0[b]
                nu_m[name][b] /= rho1[b]
            theta += nu_m[name]

    def _projected_immediate(self, stream: Stream, st: LayerStep, nu: np.ndarray) -> dict[str, np.ndarray]:
        """``nu^T bar M_t`` per parameter, (B, R, C): one backward step with ``nu`` on the state's Jacobian parts."""
        cell, work, dt = stream.cell, stream.work, nu.dtype
        B, H, _ = stream.sizes
        seeds = state_gradient(cell, {part: nu[None, :, cols] for part, cols in self.columns.items()}, 1, B, H, dt)
        _, d_xw, d_hw = cell.backward_step(st.params, seeds, st.cache, out=pre_buffers(stream, "uoro_", 1), work=work)
        factors = cell.parameter_factors(st.params, d_xw, d_hw, st.inputs["x"], st.cache)
        return {  # (B, R, C)
            name: parameter_jacobian(factors[name], out=work.get(f"uoro_term_{name}", (B, 1, *t.shape[1:]), dt))[:, 0]
            for name, t in self.theta.items()
        }


def _norms(parts: dict[str, np.ndarray]) -> np.ndarray:
    """Per sequence, the L2 norm of all the (B, R, C) arrays taken together, (B,)."""
    return np.sqrt(sum(np.einsum("brc,brc->b", a, a) for a in parts.values()))
