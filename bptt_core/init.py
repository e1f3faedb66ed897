"""Weight initialisation presets, seeded and pure."""

from __future__ import annotations

import numpy as np

from .cells import CELLS
from .cells.dense import orthogonal, spectral_radius
from .cells.protocol import InitPreset
from .spec import RNNSpec, param_key
from .validate import check_seed

INITS = ("uniform", "normal", "orthogonal", "identity", "spectral")

__all__ = ["INITS", "init_params", "orthogonal", "spectral_radius"]


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number)) and bool(np.isfinite(value))


def init_params(
    spec: RNNSpec,
    seed: int = 0,
    *,
    init: str = "uniform",
    scale: float = 1.0,
    forget_bias: float = 0.0,
    **options: float,
) -> dict[str, np.ndarray]:
    """Random parameters for ``spec`` in its cell's layout, layer by layer and direction by direction.

    Parameters
    ----------
    spec : RNNSpec
    seed : int
        Seed of ``np.random.default_rng``; the same seed gives the same weights.
    init : {"uniform", "normal", "orthogonal", "identity", "spectral"}
        Preset for each H x H gate block of ``weight_hh``; cells without ``weight_hh`` (the LRU, minGRU:
        ``bc.CELLS[cell].init_presets`` is False) draw their own way and read neither ``init`` nor ``scale``:

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
    **options : float
        The cell's own options (``bc.CELLS[cell].init_options``), e.g. the LRU's ``r_min``, ``r_max`` and
        ``max_phase``; another name is a ValueError.

    Returns
    -------
    dict of ndarray
        The keys of ``spec.param_shapes()``: PyTorch's state-dict keys for RNN, LSTM and GRU
        (``weight_ih_l0``, ..., ``_reverse`` for the backward direction) plus ``weight_out`` (O, D*H)
        and ``bias_out`` (O,), float64.
    """
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if not _is_number(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    if not _is_number(forget_bias):
        raise ValueError(f"forget_bias must be a finite number, got {forget_bias!r}")
    cell = CELLS[spec.cell]
    preset = InitPreset(init, float(scale), float(forget_bias), cell.check_init_options(options))
    rng = np.random.default_rng(check_seed(seed))
    H = spec.hidden_size
    params = {}
    for l, d in spec.layers():
        layer = cell.init_layer(rng, H, spec.layer_input_size(l), preset)
        params |= {param_key(name, l, d): value for name, value in layer.items()}
    k = 1.0 / np.sqrt(H)
    O, DH = spec.output_size, spec.directions * H
    params["weight_out"] = rng.uniform(-k, k, (O, DH))
    params["bias_out"] = rng.uniform(-k, k, (O,))
    return params
