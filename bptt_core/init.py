"""Weight initialisation presets, seeded and pure."""

from __future__ import annotations

import numpy as np

from .spec import RNNSpec
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
    """Random parameters for ``spec`` in PyTorch's layer-0 layout.

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
        Added to the LSTM forget-gate block of ``bias_ih`` (Gers et al. 2000 suggest 1).

    Returns
    -------
    dict of ndarray
        ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,),
        ``weight_out`` (O, H), ``bias_out`` (O,), float64.
    """
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if not _is_number(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    if not _is_number(forget_bias):
        raise ValueError(f"forget_bias must be a finite number, got {forget_bias!r}")
    rng = np.random.default_rng(check_seed(seed))
    H, G = spec.hidden_size, spec.gates
    k = 1.0 / np.sqrt(H)
    shapes = spec.param_shapes()
    params = {key: rng.uniform(-k, k, shape) for key, shape in shapes.items()}
    params["weight_hh"] = np.concatenate([_recurrent_block(init, H, scale, rng) for _ in range(G)])
    if init == "identity":
        params["weight_ih"] = rng.normal(0.0, 0.001, shapes["weight_ih"])
        params["bias_ih"][:] = 0.0
        params["bias_hh"][:] = 0.0
    if spec.cell == "lstm":
        params["bias_ih"][H : 2 * H] += forget_bias
    return params
