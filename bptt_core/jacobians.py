"""Step Jacobians ``d s_t / d s_{t-1}`` and their products over lags.

The state ``s_t`` is ``h_t`` (rnn, gru) or ``[h_t, c_t]`` (lstm, S = 2H). Local
Jacobians are read off the cells' own ``backward_step``: pushing the rows of the
identity through it returns the rows of ``J_t`` (a vector-Jacobian product per
row), so no derivative formula is written twice.

For the vanilla RNN, ``J_t = diag(phi'(z_t)) W_hh`` (Pascanu, Mikolov & Bengio 2013).
Products ``d h_t / d h_k = J_t ... J_{k+1}`` are accumulated with renormalisation,
so their norms are returned as log10 and stay finite when the values overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bptt import prepare
from .spec import RNNSpec
from .unroll import CELL_STEPS, unroll


def local_jacobians(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> np.ndarray:
    """``J[t, b] = d s_t / d s_{t-1}`` for every step and batch element.

    Parameters
    ----------
    spec, params : as in :func:`bptt_core.bptt`
    x : ndarray of shape (T, B, I)
    h0, c0 : ndarray of shape (B, H), optional

    Returns
    -------
    J : ndarray of shape (T, B, S, S)
        ``S = H`` (rnn, gru) or ``2H`` (lstm, state ``[h, c]``). Memory is
        ``T * B * S^2`` numbers: pass a few batch elements for large sizes.
    """
    y = np.zeros((x.shape[0], x.shape[1], spec.output_size)) if np.ndim(x) == 3 else None
    P, x, _, _, state = prepare(spec, params, x, y, "mse", None, h0, c0, "float64")
    T, B, _ = x.shape
    H, n_parts = spec.hidden_size, len(state)
    S = n_parts * H
    cell = CELL_STEPS[spec.cell]
    # seeds[j] is the j-th row of the identity, split into the state's parts, each (S, B, H)
    eye = np.eye(S)
    seeds = tuple(np.broadcast_to(eye[:, None, p * H : (p + 1) * H], (S, B, H)) for p in range(n_parts))
    J = np.empty((T, B, S, S))
    with np.errstate(all="ignore"):
        caches, _ = unroll(spec, P, x, state)
        for t in range(T):
            rows, _, _ = cell.backward_step(P, seeds, caches[t])  # each (S, B, H): row j of J_t
            J[t] = np.concatenate(rows, axis=-1).transpose(1, 0, 2)
    return J


@dataclass(frozen=True)
class JacobianProducts:
    """Norms of ``d h_t / d h_k`` against the lag ``d = t - k``, from ``k = 0``.

    Attributes
    ----------
    lags : ndarray of shape (T,)
        ``0, 1, ..., T-1``.
    log10_spectral, log10_frobenius : ndarray of shape (B, T)
        log10 of the spectral and Frobenius norms of the h-block of the product,
        per batch element (finite even where the norm itself overflows float64).
    log10_spectral_mean, log10_frobenius_mean : ndarray of shape (T,)
        log10 of the batch mean of each norm.
    step_singular_values : ndarray of shape (T, B, S)
        Singular values of each local Jacobian ``J_t``, largest first.
    """

    lags: np.ndarray
    log10_spectral: np.ndarray
    log10_frobenius: np.ndarray
    log10_spectral_mean: np.ndarray
    log10_frobenius_mean: np.ndarray
    step_singular_values: np.ndarray


def _log10_mean(log10_values: np.ndarray) -> np.ndarray:
    """log10 of the mean over axis 0 of ``10**log10_values``, without overflow."""
    top = np.max(log10_values, axis=0)
    finite_top = np.where(np.isfinite(top), top, 0.0)
    return finite_top + np.log10(np.mean(10.0 ** (log10_values - finite_top), axis=0))


def jacobian_products(J: np.ndarray, hidden_size: int) -> JacobianProducts:
    """Accumulate ``P_t = J_t P_{t-1}`` (``P_0 = I``) and report the norms of its h-block.

    Parameters
    ----------
    J : ndarray of shape (T, B, S, S)
        From :func:`local_jacobians`; ``J[0]`` (the step out of the initial state) is not used.
    hidden_size : int
        ``H``; the h-block is ``P[:H, :H]``.

    Returns
    -------
    JacobianProducts
    """
    T, B, S, _ = J.shape
    H = hidden_size
    spec_log = np.empty((B, T))
    frob_log = np.empty((B, T))
    prod = np.broadcast_to(np.eye(S), (B, S, S)).copy()
    log_scale = np.zeros(B)  # the true product is prod * 10**log_scale
    with np.errstate(all="ignore"):
        for t in range(T):
            if t > 0:
                prod = J[t] @ prod
                size = np.max(np.abs(prod), axis=(1, 2))
                size = np.where(np.isfinite(size) & (size > 0), size, 1.0)
                prod /= size[:, None, None]
                log_scale += np.log10(size)
            block = prod[:, :H, :H]
            ok = np.all(np.isfinite(block), axis=(1, 2))
            sv = np.zeros((B, 1))
            if ok.any():
                sv = np.full((B, 1), np.nan)
                sv[ok] = np.linalg.svd(block[ok], compute_uv=False)[:, :1]
            spec_log[:, t] = np.where(ok, np.log10(sv[:, 0]) + log_scale, np.nan)
            frob_log[:, t] = np.where(ok, np.log10(np.linalg.norm(block, axis=(1, 2))) + log_scale, np.nan)
        finite = np.all(np.isfinite(J), axis=(2, 3))
        step_sv = np.full((T, B, S), np.nan)
        step_sv[finite] = np.linalg.svd(J[finite], compute_uv=False)
    return JacobianProducts(
        lags=np.arange(T),
        log10_spectral=spec_log,
        log10_frobenius=frob_log,
        log10_spectral_mean=_log10_mean(spec_log),
        log10_frobenius_mean=_log10_mean(frob_log),
        step_singular_values=step_sv,
    )
