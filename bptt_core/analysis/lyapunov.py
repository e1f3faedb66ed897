"""Finite-time Lyapunov exponents of the input-driven step Jacobians (the QR method).

The product ``J_T ... J_2 J_1`` of a trained network's step Jacobians grows or shrinks
along a few directions at rates ``lambda_1 >= lambda_2 >= ...`` per step. Carrying an
orthonormal frame ``Q`` through the steps and re-orthonormalising it each time
(``J_t Q_{t-1} = Q_t R_t``) gives ``lambda_i = (1/T) sum_t ln |R_t[i, i]|``
(Benettin et al. 1980; for RNNs Vogt et al. 2020, Engelken et al. 2023, who find the
spectrum predicts trainability better than ``W_hh``'s eigenvalues). A positive
``lambda_1`` means gradients explode along some direction; a very negative one means
they vanish within about ``1 / |lambda_1|`` steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .. import validate as v
from ..arguments import inputs
from ..spec import RNNSpec, check_spec
from .jacobians import budgeted_jacobians, check_step_jacobian, step_iterator


def lyapunov_from_jacobians(jacobians: Iterable[np.ndarray], k: int | None = None, discard: int = 0) -> np.ndarray:
    """The ``k`` leading finite-time Lyapunov exponents of a product of step Jacobians.

    Parameters
    ----------
    jacobians : iterable of ndarray of shape (B, S, S)
        ``J_1, J_2, ...`` in the order they are applied; at least ``discard + 1``.
    k : int, optional
        How many exponents (all ``S`` when None).
    discard : int
        Leading steps that turn the frame without counting its growth: the frame first aligns with the
        leading directions, which removes a bias of about ``ln(cos angle) / steps`` from a short product.

    Returns
    -------
    ndarray of shape (B, k)
        Natural-log growth rates per step, largest first; ``-inf`` where a direction is
        annihilated (a zero Jacobian), ``nan`` where a Jacobian is not finite.
    """
    k = v.check_positive_int("k", k, allow_none=True)
    discard = v.check_int("discard", discard, 0)
    seen, steps, logs, frame, shape = 0, 0, None, None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        for J in step_iterator(jacobians):
            J = check_step_jacobian(J, seen, shape)
            if frame is None:
                shape = J.shape
                B, S = J.shape[:2]
                k = S if k is None else k
                if k > S:
                    raise ValueError(f"k must be an integer in [1, {S}] (the state size), got {k!r}")
                frame = np.broadcast_to(np.eye(S)[:, :k], (B, S, k)).copy()
                logs = np.zeros((B, k))
            bad = ~np.all(np.isfinite(J), axis=(1, 2))
            frame, r = np.linalg.qr(J @ np.where(bad[:, None, None], 0.0, frame))
            seen += 1
            if seen <= discard:
                continue
            logs += np.log(np.abs(np.diagonal(r, axis1=1, axis2=2)))
            logs[bad] = np.nan
            steps += 1
    if frame is None:
        raise ValueError("jacobians must hold at least one step Jacobian, got none")
    if steps == 0:
        raise ValueError(f"jacobians must hold at least {discard + 1} step(s), {discard} of them discarded")
    return np.sort(logs / steps, axis=1)[:, ::-1]


def lyapunov_spectrum(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    layer: int = 0,
    direction: int = 0,
    k: int | None = None,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    memory_budget: int | None = None,
    discard: int = 0,
) -> np.ndarray:
    """Finite-time Lyapunov exponents of one layer-direction, driven by the inputs ``x``.

    Parameters
    ----------
    spec, params, h0, c0, memory_budget : as in :func:`bptt_core.bptt`
    x : ndarray of shape (T, B, I)
        The network's inputs (the layers below run first).
    layer, direction : int
    k : int, optional
        How many exponents (all ``S = spec.jacobian_width`` when None: ``H``, or ``2H`` for the LSTM and the LRU).
    discard : int
        Leading steps that align the frame without counting (:func:`lyapunov_from_jacobians`).

    Returns
    -------
    ndarray of shape (B, k)
        Per sequence, natural-log growth per step, largest first. A linear RNN with
        ``W_hh = rho Q`` (Q orthogonal) has every exponent ``ln rho``; a diagonal ``W_hh``,
        the logs of its entries' magnitudes.
    """
    check_spec(spec)
    S = spec.jacobian_width
    k = v.check_int("k", k, 1, S, allow_none=True)
    discard = v.check_int("discard", discard, 0)
    B = inputs(spec, x).shape[1]
    kept = k or S
    frame = kept * B * (3 * S + kept)  # the frame, its product with J_t and the QR's factors
    jacobians = budgeted_jacobians(
        spec, params, x, h0, c0, layer, direction, memory_budget, "this Lyapunov spectrum", 8 * frame, S * frame
    )
    return lyapunov_from_jacobians(jacobians, k, discard)
