"""Step Jacobians ``d s_t / d s_{t-1}`` and their products over lags.

The state ``s_t`` is the cell's ``jacobian_parts``: ``h_t`` (rnn, gru, mingru), ``[h_t, c_t]``
(lstm, S = 2H) or the LRU's complex state ``x_t`` as ``[Re x_t, Im x_t]`` (S = 2H). Local
Jacobians are read off the cells' own ``backward_step``: pushing the rows of the
identity through it returns the rows of ``J_t`` (a vector-Jacobian product per
row), so no derivative formula is written twice.

For the vanilla RNN, ``J_t = diag(phi'(z_t)) W_hh`` (Pascanu, Mikolov & Bengio 2013).
Products ``d h_t / d h_k = J_t ... J_{k+1}`` are accumulated with renormalisation,
so their norms are returned as log10 and stay finite when the values overflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..arguments import prepare
from ..cells import CELLS
from ..spec import RNNSpec, layer_params
from ..unroll import layer_inputs, unroll


def iter_local_jacobians(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    layer: int = 0,
    direction: int = 0,
) -> Iterator[np.ndarray]:
    """Yield ``J_t = d s_t / d s_{t-1}`` of shape (B, S, S) for t = 0, 1, ..., T-1 of one layer.

    Parameters
    ----------
    spec, params : as in :func:`bptt_core.bptt`
    x : ndarray of shape (T, B, I)
        The network's inputs (the layers below ``layer`` run first).
    h0, c0 : ndarray of shape (L*D, B, H), optional
    layer, direction : int
        Which layer-direction; the steps are in its own order (T - 1 first for the reverse direction).

    Yields
    ------
    ndarray of shape (B, S, S)
        ``S = spec.jacobian_width``: ``H`` (rnn, gru, mingru), ``2H`` (lstm, state ``[h, c]``; lru,
        ``[Re x, Im x]``).
    """
    y = np.zeros((x.shape[0], x.shape[1], spec.output_size)) if np.ndim(x) == 3 else None
    P, x, _, _, states = prepare(spec, params, x, y, "mse", None, h0, c0, "float64")
    state = states[layer * spec.directions + direction]
    cell, p = CELLS[spec.cell], layer_params(P, layer, direction)
    seeds, parts = _identity_rows(cell, x.shape[1], spec.hidden_size)
    with np.errstate(all="ignore"):
        inputs = layer_inputs(spec, P, x, states, layer)
        caches, _ = unroll(spec, P, inputs[::-1] if direction else inputs, state, layer, direction)
        for cache in caches:
            rows, _, _ = cell.backward_step(p, seeds, cache)  # each (S, B, w*H): row j of J_t
            yield np.concatenate([rows[i] for i in parts], axis=-1).transpose(1, 0, 2)


def _identity_rows(cell, B: int, H: int) -> tuple[tuple[np.ndarray, ...], list[int]]:
    """The rows of the identity over the cell's Jacobian parts as a gradient of every state part (zero on
    the others), each (S, B, w*H), and the indices of the Jacobian parts among the state parts."""
    S = cell.part_width(cell.jacobian_parts) * H
    eye, seeds, col = np.eye(S), [], 0
    for part in cell.state_parts:
        w = cell.tape[part] * H
        if part in cell.jacobian_parts:
            seeds.append(np.broadcast_to(eye[:, None, col : col + w], (S, B, w)))
            col += w
        else:
            seeds.append(np.zeros((S, B, w)))
    return tuple(seeds), [i for i, part in enumerate(cell.state_parts) if part in cell.jacobian_parts]


def local_jacobians(spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, **states) -> np.ndarray:
    """All step Jacobians at once: ndarray of shape (T, B, S, S) (memory ``T B S^2``).

    See :func:`iter_local_jacobians`, which streams them instead.
    """
    return np.stack(list(iter_local_jacobians(spec, params, x, **states)))


@dataclass(frozen=True)
class JacobianProducts:
    """Norms of ``d h_t / d h_k`` against the lag ``d = t - k``, from ``k = 0``.

    Attributes
    ----------
    lags : ndarray of shape (L,)
        The lags evaluated (all of ``0, 1, ..., T-1`` unless thinned).
    log10_spectral, log10_frobenius : ndarray of shape (B, L)
        log10 of the spectral and Frobenius norms of the h-block of the product,
        per batch element (finite even where the norm itself overflows float64).
    log10_spectral_mean, log10_frobenius_mean : ndarray of shape (L,)
        log10 of the batch mean of each norm.
    step_singular_values : ndarray of shape (L, B, S)
        Singular values of the local Jacobian ``J_t`` at each evaluated lag t, largest first.
    """

    lags: np.ndarray
    log10_spectral: np.ndarray
    log10_frobenius: np.ndarray
    log10_spectral_mean: np.ndarray
    log10_frobenius_mean: np.ndarray
    step_singular_values: np.ndarray


def _log10_mean(log10_values: np.ndarray) -> np.ndarray:
    """log10 of the mean over axis 0 of ``10**log10_values``, without overflow (-inf for zeros)."""
    with np.errstate(all="ignore"):
        top = np.max(log10_values, axis=0)
        finite_top = np.where(np.isfinite(top), top, 0.0)
        return finite_top + np.log10(np.mean(10.0 ** (log10_values - finite_top), axis=0))


def jacobian_products(
    jacobians: Iterable[np.ndarray], hidden_size: int, max_points: int | None = None, steps: int | None = None
) -> JacobianProducts:
    """Accumulate ``P_t = J_t P_{t-1}`` (``P_0 = I``) and report the norms of its h-block.

    Parameters
    ----------
    jacobians : iterable of ndarray of shape (B, S, S)
        ``J_0, J_1, ...`` as from :func:`iter_local_jacobians` (or an array (T, B, S, S));
        ``J_0`` (the step out of the initial state) is not used.
    hidden_size : int
        The size of the h-block ``P[:H, :H]``: ``spec.hidden_width`` (``H``; ``2H`` for the LRU, whose
        whole complex state is the block).
    max_points : int, optional
        Evaluate the norms (an SVD each) at most at this many lags, evenly spread;
        every lag when None.
    steps : int, optional
        The number of Jacobians, when ``jacobians`` is a generator: they are then streamed (one
        step in memory at a time) rather than listed.

    Returns
    -------
    JacobianProducts
        ``lags`` lists the lags evaluated.
    """
    if steps is None:
        jacobians = jacobians if isinstance(jacobians, np.ndarray) else list(jacobians)
    T, H = len(jacobians) if steps is None else steps, hidden_size
    lags = (
        np.arange(T)
        if max_points is None or max_points >= T
        else np.unique(np.linspace(0, T - 1, max_points).round().astype(int))
    )
    wanted = np.zeros(T, dtype=bool)
    wanted[lags] = True
    spec_log, frob_log, step_sv, prod = [], [], [], None
    with np.errstate(all="ignore"):
        for t, J in enumerate(jacobians):
            if prod is None:
                B, S = J.shape[:2]
                prod = np.broadcast_to(np.eye(S), (B, S, S)).copy()
                log_scale = np.zeros(B)  # the true product is prod * 10**log_scale
            if t > 0:
                prod = J @ prod
                size = np.max(np.abs(prod), axis=(1, 2))
                size = np.where(np.isfinite(size) & (size > 0), size, 1.0)
                prod /= size[:, None, None]
                log_scale += np.log10(size)
            if not wanted[t]:
                continue
            spec_log.append(_log10_top_singular(prod[:, :H, :H]) + log_scale)
            frob_log.append(np.log10(np.linalg.norm(prod[:, :H, :H], axis=(1, 2))) + log_scale)
            step_sv.append(_singular_values(J))
    spec_log, frob_log = np.array(spec_log).T, np.array(frob_log).T
    return JacobianProducts(
        lags=lags,
        log10_spectral=spec_log,
        log10_frobenius=frob_log,
        log10_spectral_mean=_log10_mean(spec_log),
        log10_frobenius_mean=_log10_mean(frob_log),
        step_singular_values=np.array(step_sv),
    )


def _singular_values(m: np.ndarray) -> np.ndarray:
    """Singular values (B, S) of a stack (B, S, S); nan rows where the matrix is not finite."""
    ok = np.all(np.isfinite(m), axis=(1, 2))
    out = np.full(m.shape[:2], np.nan)
    if ok.any():
        out[ok] = np.linalg.svd(m[ok], compute_uv=False)
    return out


def _log10_top_singular(m: np.ndarray) -> np.ndarray:
    """log10 of the largest singular value of each matrix in a stack (B, H, H)."""
    return np.log10(_singular_values(m)[:, 0])
