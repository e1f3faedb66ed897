"""Weight initialisation presets, seeded and pure."""

from __future__ import annotations

import numpy as np

from . import limits
from . import validate as v
from .cells import CELLS
from .limits import array_bytes
from .spec import RNNSpec, check_spec, describe, param_key

INITS = ("uniform", "normal", "orthogonal", "identity", "spectral")


def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal (n, n) matrix, Haar-distributed (QR with sign fix; Saxe et al. 2013)."""
    n, rng = v.check_positive_int("n", n), v.check_generator("rng", rng)
    limits.check(MATRIX_COPIES * array_bytes(n, n), f"an orthogonal {n} x {n} matrix", "lower n", per_call=False)
    limits.check_work(n**3, f"an orthogonal {n} x {n} matrix", "lower n")
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spectral_radius(w: np.ndarray) -> float:
    """Largest eigenvalue modulus of a square, finite, real matrix (at least 1 x 1)."""
    w = v.check_finite("w", v.as_array("w", w))
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ValueError(f"w must be a square matrix (n, n) with n >= 1, got shape {w.shape}")
    n = w.shape[0]
    what = f"the eigenvalues of a {n} x {n} matrix"
    limits.check(MATRIX_COPIES * array_bytes(n, n), what, "use a smaller matrix", per_call=False)
    limits.check_work(10 * n**3, what, "use a smaller matrix")
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


def init_params(
    spec: RNNSpec,
    seed: int = 0,
    *,
    init: str = "uniform",
    scale: float = 1.0,
    forget_bias: float = 0.0,
    memory_budget: int | None = None,
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
    memory_budget : int, optional
        Bytes this call may allocate (default :data:`bptt_core.limits.DEFAULT_BUDGET`).

    Returns
    -------
    dict of ndarray
        PyTorch's state-dict keys (``weight_ih_l0``, ..., ``_reverse`` for the backward direction)
        plus ``weight_out`` (O, D*H) and ``bias_out`` (O,), float64.
    """
    check_spec(spec)
    v.check_choice("init", init, INITS)
    scale = v.check_number("scale", scale, 0.0)
    forget_bias = v.check_number("forget_bias", forget_bias)
    rng = np.random.default_rng(v.check_seed(seed))
    _check_init_budget(spec, init, v.check_budget("memory_budget", memory_budget))
    H = spec.hidden_size
    k = 1.0 / np.sqrt(H)
    params = {}
    for l, d in spec.layers():
        params |= _layer(spec, rng, init, scale, forget_bias, spec.layer_input_size(l), param_key("", l, d)[1:])
    O, DH = spec.output_size, spec.directions * H
    params["weight_out"] = rng.uniform(-k, k, (O, DH))
    params["bias_out"] = rng.uniform(-k, k, (O,))
    return params


#: Matrices of the size of one H x H block held at once while one is made (the draw, QR's factors, the result).
MATRIX_COPIES = 4


def _check_init_budget(spec: RNNSpec, init: str, memory_budget: int | None) -> None:
    """Refuse parameters (and the temporaries of making one block) over the memory budget, and QR or
    eigenvalues of blocks over the work budget, before drawing any."""
    H, blocks = spec.hidden_size, spec.gates * spec.num_layers * spec.directions
    what = f"parameters for {describe(spec)}"
    needed = array_bytes(spec.n_params()) + MATRIX_COPIES * array_bytes(H, H) + array_bytes(spec.gates * H, H)
    limits.check(needed, what, "lower hidden_size or num_layers", memory_budget)
    per_block = 10 * H**3 if init in ("orthogonal", "spectral") else H * H
    limits.check_work(blocks * per_block + spec.n_params(), what, "lower hidden_size or num_layers")


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
