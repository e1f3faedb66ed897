"""Spectral diagnostics of the recurrent weights and the Pascanu, Mikolov & Bengio (2013) conditions.

Each cell names its recurrent linear maps (``Cell.recurrence``): the gate blocks of ``W_hh``
for RNN, LSTM and GRU, ``diag(lambda)`` for the LRU, none for minGRU (its recurrence
``diag(1 - z_t)`` is set by the inputs, not by a weight). For a vanilla RNN
``J_t = diag(phi'(z_t)) W_hh`` with ``|phi'| <= gamma``, so
``||d h_t / d h_k|| <= (gamma * sigma_max)^(t - k)``:

* ``gamma * sigma_max < 1`` is *sufficient* for vanishing gradients;
* ``gamma * sigma_max > 1`` is *necessary* (not sufficient) for exploding ones.

The LRU's ``J_t = diag(lambda)`` (gamma = 1) attains the bound: ``||d x_t / d x_k|| = max|lambda|^(t - k)``.
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
        Eigenvalues of each recurrent block (``Cell.recurrence``): the H x H gate blocks of ``W_hh``
        (key "a" for the vanilla RNN), the LRU's ``lambda``; empty for a cell without recurrent weights.
    spectral_radius : dict of str to float
        ``max |lambda|`` per block.
    sigma_max : dict of str to float
        Largest singular value per block.
    gamma : float or None
        Bound on ``|phi'|`` (tanh 1, sigmoid 1/4, relu 1, linear 1; the LRU 1); None for gated cells.
    bound_rate : float or None
        ``gamma * sigma_max``: the per-step factor of the Pascanu bound (vanilla RNN, LRU).
    verdict : str
        "vanishing" (sufficient condition met), "may explode" (necessary condition met),
        "boundary" (rate exactly 1), or "gated" for cells whose gates rescale each step (LSTM, GRU,
        minGRU).
    """

    eigenvalues: dict
    spectral_radius: dict
    sigma_max: dict
    gamma: float | None
    bound_rate: float | None
    verdict: str


def spectral_report(spec: RNNSpec, params: dict[str, np.ndarray], layer: int = 0, direction: int = 0) -> SpectralReport:
    """Eigenvalues, spectral radius and largest singular value of every recurrent block of one layer.

    Parameters
    ----------
    spec : RNNSpec
    params : dict of ndarray
        Only the parameters of layer ``layer`` (direction ``direction``) are read.
    layer, direction : int

    Returns
    -------
    SpectralReport
    """
    check_spec(spec)
    layer = v.check_int("layer", layer, 0, spec.num_layers - 1)
    direction = v.check_int("direction", direction, 0, spec.directions - 1)
    cell, p = CELLS[spec.cell], {}
    for name, shape in cell.param_shapes(spec.hidden_size, spec.layer_input_size(layer)).items():
        key = param_key(name, layer, direction)
        if key not in v.check_dict("params", params):
            raise ValueError(f"params is missing key {key!r} for {describe(spec)}")
        p[name] = v.check_array(f"params[{key!r}]", params[key], shape, np.float64)
    blocks = cell.recurrence(p)
    eig = {name: np.linalg.eigvals(block) for name, block in blocks.items()}
    rho = {name: float(np.max(np.abs(e))) for name, e in eig.items()}
    sig = {name: float(np.linalg.norm(block, 2)) for name, block in blocks.items()}
    if not cell.pascanu_bound:
        return SpectralReport(eig, rho, sig, None, None, "gated")
    gamma = cell.gamma if cell.gamma is not None else DERIVATIVE_BOUND[spec.activation]
    rate = gamma * next(iter(sig.values()))
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
