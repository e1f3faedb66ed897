"""Weight initialisation presets, seeded and pure."""

from __future__ import annotations

import math

import numpy as np

from . import limits
from . import validate as v
from .cells import CELLS
from .cells.dense import MATRIX_COPIES, orthogonal, spectral_radius
from .cells.protocol import InitPreset
from .limits import array_bytes
from .spec import RNNSpec, check_spec, describe, param_key

INITS = ("uniform", "normal", "orthogonal", "identity", "spectral")

__all__ = ["INITS", "init_params", "orthogonal", "spectral_radius"]


def init_params(
    spec: RNNSpec,
    seed: int = 0,
    *,
    init: str = "uniform",
    scale: float = 1.0,
    forget_bias: float = 0.0,
    memory_budget: int | None = None,
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
    memory_budget : int, optional
        Bytes this call may allocate (default :data:`bptt_core.limits.DEFAULT_BUDGET`).
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
    check_spec(spec)
    v.check_choice("init", init, INITS)
    scale = v.check_number("scale", scale, 0.0)
    forget_bias = v.check_number("forget_bias", forget_bias)
    cell = CELLS[spec.cell]
    preset = InitPreset(init, scale, forget_bias, cell.check_init_options(options))
    rng = np.random.default_rng(v.check_seed(seed))
    _check_init_budget(spec, init, v.check_budget("memory_budget", memory_budget))
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


def _check_init_budget(spec: RNNSpec, init: str, memory_budget: int | None) -> None:
    """Refuse parameters (and the temporaries of making a layer's largest array or one H x H block) over the
    memory budget, and QR or eigenvalues of ``weight_hh``'s blocks over the work budget, before drawing any."""
    cell, H = CELLS[spec.cell], spec.hidden_size
    largest = max(
        math.prod(shape)
        for l in range(spec.num_layers)
        for shape in cell.param_shapes(H, spec.layer_input_size(l)).values()
    )
    what = f"parameters for {describe(spec)}"
    needed = array_bytes(spec.n_params()) + MATRIX_COPIES * array_bytes(H, H) + array_bytes(largest)
    limits.check(needed, what, "lower hidden_size or num_layers", memory_budget)
    blocks = spec.gates * spec.num_layers * spec.directions if cell.init_presets else 0
    per_block = 10 * H**3 if init in ("orthogonal", "spectral") else H * H
    limits.check_work(blocks * per_block + spec.n_params(), what, "lower hidden_size or num_layers")
