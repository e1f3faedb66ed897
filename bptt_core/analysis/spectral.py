"""Spectral diagnostics of ``W_hh`` and the Pascanu, Mikolov & Bengio (2013) conditions.

For a vanilla RNN ``J_t = diag(phi'(z_t)) W_hh`` with ``|phi'| <= gamma``, so
``||d h_t / d h_k|| <= (gamma * sigma_max)^(t - k)``:

* ``gamma * sigma_max < 1`` is *sufficient* for vanishing gradients;
* ``gamma * sigma_max > 1`` is *necessary* (not sufficient) for exploding ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import validate as v
from ..activations import DERIVATIVE_BOUND
from ..cells import CELLS
from ..spec import RNNSpec, check_spec, describe, param_key


@dataclass(frozen=True)
class SpectralReport:
    """What the recurrent weights say about gradient flow.

    Attributes
    ----------
    eigenvalues : dict of str to ndarray of shape (H,), complex
        Eigenvalues of each H x H gate block of ``W_hh`` (key "a" for the vanilla RNN).
    spectral_radius : dict of str to float
        ``max |lambda|`` per block.
    sigma_max : dict of str to float
        Largest singular value per block.
    gamma : float or None
        Bound on ``|phi'|`` (tanh 1, sigmoid 1/4, relu 1, linear 1); None for gated cells.
    bound_rate : float or None
        ``gamma * sigma_max`` of the vanilla RNN: the per-step factor of the Pascanu bound.
    verdict : str
        "vanishing" (sufficient condition met), "may explode" (necessary condition met),
        "boundary" (rate exactly 1), or "gated" for LSTM/GRU.
    """

    eigenvalues: dict
    spectral_radius: dict
    sigma_max: dict
    gamma: float | None
    bound_rate: float | None
    verdict: str


def spectral_report(spec: RNNSpec, params: dict[str, np.ndarray], layer: int = 0, direction: int = 0) -> SpectralReport:
    """Eigenvalues, spectral radius and largest singular value of every ``W_hh`` block of one layer.

    Parameters
    ----------
    spec : RNNSpec
    params : dict of ndarray
        Only ``weight_hh_l{layer}`` (``_reverse`` for direction 1) of shape (G*H, H) is read.
    layer, direction : int

    Returns
    -------
    SpectralReport
    """
    H = check_spec(spec).hidden_size
    layer = v.check_int("layer", layer, 0, spec.num_layers - 1)
    key = param_key("weight_hh", layer, v.check_int("direction", direction, 0, spec.directions - 1))
    if key not in v.check_dict("params", params):
        raise ValueError(f"params is missing key {key!r} for {describe(spec)}")
    w = v.check_array(f"params[{key!r}]", params[key], (spec.gates * H, H), np.float64)
    eig, rho, sig = {}, {}, {}
    for g, name in enumerate(CELLS[spec.cell].gate_names):
        block = w[g * H : (g + 1) * H]
        eig[name] = np.linalg.eigvals(block)
        rho[name] = float(np.max(np.abs(eig[name])))
        sig[name] = float(np.linalg.norm(block, 2))
    cell = CELLS[spec.cell]
    if not cell.pascanu_bound:
        return SpectralReport(eig, rho, sig, None, None, "gated")
    gamma = DERIVATIVE_BOUND[spec.activation]
    rate = gamma * sig[cell.gate_names[0]]
    verdict = "vanishing" if rate < 1 else ("may explode" if rate > 1 else "boundary")
    return SpectralReport(eig, rho, sig, gamma, rate, verdict)


def pascanu_bound(lags: np.ndarray, rate: float) -> np.ndarray:
    """log10 of the bound ``(gamma * sigma_max)^lag`` on ``||d h_t / d h_k||``.

    Parameters
    ----------
    lags : ndarray of shape (L,)
    rate : float
        ``gamma * sigma_max`` from :func:`spectral_report`.

    Returns
    -------
    ndarray of shape (L,)
        In log10, so that long lags neither overflow nor underflow.
    """
    lags = v.check_vector("lags", lags, 0.0)
    rate = v.check_number("rate", rate, 0.0)
    with np.errstate(all="ignore"):
        return np.where(lags == 0, 0.0, lags * np.log10(rate))  # rate^0 = 1, also for rate = 0
