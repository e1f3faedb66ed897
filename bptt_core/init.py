"""Weight initialisation presets, seeded and pure."""

from __future__ import annotations

import numpy as np

from .cells import CELLS
from .spec import RNNSpec, param_key
from .validate import check_seed

INITS = ("uniform", "normal", "orthogonal", "identity", "spectral")


def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal (n, n) matrix, Haar-distributed (QR with sign fix; Saxe et al. 2013)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spectral_radius(w: np.ndarray) -> float:
    """Largest eigenvalue modulus of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(w))))


def _recurrent_block(init: str, H: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    if init == "uniform":
        return scale * rng.uniform(-1, 1, (H, H)) / np.sqrt(H)
    if init == "normal":
        return scale * rng.standard_normal((H, H)) / np.sqrt(H)
    if init == "orthogonal":
        return scale * orthogonal(H, rng)
    if init == "identity":
        return scale * np.eye(H)
    w = rng.standard_normal((H, H)) / np.sqrt(H)  # "spectral": rescale to radius = scale
    rho = spectral_radius(w)
    return w * (scale / rho) if rho > 0 else w


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number)) and bool(np.isfinite(value))


def init_params(
    spec: RNNSpec, seed: int = 0, *, init: str = "uniform", scale: float = 1.0, forget_bias: float = 0.0
) -> dict[str, np.ndarray]:
    """Random parameters for ``spec`` in PyTorch's layout, layer by layer and direction by direction.

    Parameters
    ----------
    spec : RNNSpec
    seed : int
        Seed of ``np.random.default_rng``; the same seed gives the same weights.
    init : {"uniform", "normal", "orthogonal", "identity", "spectral"}
        Preset for each H x H gate block of ``weight_hh``:

        * ``"uniform"``: U(-k, k), k = 1/sqrt(H), PyTorch's default, times ``scale``;
        * ``"normal"``: N(0, scale^2 / H);
        * ``"orthogonal"``: ``scale`` times a random orthogonal matrix (Saxe et al. 2013);
        * ``"identity"``: ``scale * I`` with zero biases and small input weights
          (IRNN, Le, Jaitly & Hinton 2015; meant for relu);
        * ``"spectral"``: a normal matrix rescaled so its spectral radius is ``scale``.
    scale : float
        Gain of ``weight_hh`` (the target spectral radius for ``"spectral"``).
    forget_bias : float
        Added to the forget-gate block of every ``bias_ih`` (cells with a ``forget_gate``: the LSTM);
        Gers et al. (2000) suggest 1.

    Returns
    -------
    dict of ndarray
        PyTorch's state-dict keys (``weight_ih_l0``, ..., ``_reverse`` for the backward direction)
        plus ``weight_out`` (O, D*H) and ``bias_out`` (O,), float64.
    """
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if not _is_number(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    if not _is_number(forget_bias):
        raise ValueError(f"forget_bias must be a finite number, got {forget_bias!r}")
    rng = np.random.default_rng(check_seed(seed))
    H = spec.hidden_size
    k = 1.0 / np.sqrt(H)
    params = {}
    for l, d in spec.layers():
        params |= _layer(spec, rng, init, scale, forget_bias, spec.layer_input_size(l), param_key("", l, d)[1:])
    O, DH = spec.output_size, spec.directions * H
    params["weight_out"] = rng.uniform(-k, k, (O, DH))
    params["bias_out"] = rng.uniform(-k, k, (O,))
    return params


def _layer(
    spec: RNNSpec, rng: np.random.Generator, init: str, scale: float, forget_bias: float, n_in: int, suffix: str
) -> dict[str, np.ndarray]:
    """One layer-direction's four arrays, keyed ``weight_ih_<suffix>`` and so on."""
    H, G = spec.hidden_size, spec.gates
    k = 1.0 / np.sqrt(H)
    w_ih = rng.normal(0.0, 0.001, (G * H, n_in)) if init == "identity" else rng.uniform(-k, k, (G * H, n_in))
    w_hh = np.concatenate([_recurrent_block(init, H, scale, rng) for _ in range(G)])
    b_ih, b_hh = (
        (np.zeros(G * H), np.zeros(G * H))
        if init == "identity"
        else (rng.uniform(-k, k, G * H), rng.uniform(-k, k, G * H))
    )
    cell = CELLS[spec.cell]
    if cell.forget_gate is not None:
        g = cell.gate_names.index(cell.forget_gate)
        b_ih[g * H : (g + 1) * H] += forget_bias
    return {
        f"weight_ih_{suffix}": w_ih,
        f"weight_hh_{suffix}": w_hh,
        f"bias_ih_{suffix}": b_ih,
        f"bias_hh_{suffix}": b_hh,
    }
