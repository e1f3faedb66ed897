"""How gradients flow through time, as three published results state it, recomputed by the engine.

Each study is a pure function of its sizes and seeds returning plain arrays; the Papers page and
``python -m bench papers`` state the published numbers beside them and judge the agreement
(:mod:`bptt_core.lab.paper_methods` holds the other three).

* :func:`pascanu_study`: Pascanu, Mikolov & Bengio (2013), section 2.1: ``||J_t|| <= gamma sigma_max``, so
  ``gamma sigma_max < 1`` is sufficient for vanishing and ``> 1`` necessary for exploding.
* :func:`chaos_study`: random tanh networks, ``W ~ N(0, g^2 / N)``: the leading Lyapunov exponent crosses 0 near
  ``g = 1`` (Sompolinsky, Crisanti & Sommers 1988; discrete time: Molgedey, Schuchhardt & Schuster 1992), the
  spectrum's shape does not depend on N (Engelken, Wolf & Abbott 2023), gradients grow at the leading rate.
* :func:`error_flow_study`: Hochreiter (1991), Bengio, Simard & Frasconi (1994): exponential decay of the
  error signal in a vanilla RNN; the LSTM's constant error carousel (Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..activations import DERIVATIVE_BOUND
from ..analysis.jacobians import iter_local_jacobians, jacobian_products
from ..analysis.lyapunov import lyapunov_spectrum
from ..analysis.saturation import gate_saturation
from ..analysis.summaries import growth_rate
from ..bptt import bptt
from ..cells import CELLS
from ..init import init_params
from ..norms import scaled_norm
from ..spec import RNNSpec


def random_sequences(T: int, B: int, I: int, O: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, B, I) and targets (T, B, O) drawn from N(0, 1), by ``seed``."""
    rng = np.random.default_rng([seed, 7])
    return rng.standard_normal((T, B, I)), rng.standard_normal((T, B, O))


# ---- Pascanu, Mikolov & Bengio (2013) -----------------------------------------------------------------------


@dataclass(frozen=True)
class PascanuStudy:
    """Jacobian products of vanilla RNNs against the bound ``(gamma sigma_max)^lag``, one row per setting.

    Attributes
    ----------
    activation : ndarray of shape (K,), str
    rate : ndarray of shape (K,)
        ``gamma sigma_max(W_hh)``, set by rescaling a random normal ``W_hh``.
    seed : ndarray of shape (K,), int
    excess : ndarray of shape (K,)
        The largest ``log10 ||dh_t/dh_0||_2 - lag log10(rate)`` over sequences and lags >= 1: <= 0 where the bound
        holds (lag 0 is the identity, equal to the bound).
    last_lowest, last_highest : ndarray of shape (K,)
        log10 of the lowest and highest sequence's product norm at the last lag.
    growth : ndarray of shape (K,)
        The highest sequence's mean factor per step, ``||dh_{T-1}/dh_0||_2^(1 / (T - 1))``: at most ``rate`` where
        the bound holds.
    """

    activation: np.ndarray
    rate: np.ndarray
    seed: np.ndarray
    excess: np.ndarray
    last_lowest: np.ndarray
    last_highest: np.ndarray
    growth: np.ndarray


def pascanu_weights(spec: RNNSpec, rate: float, seed: int) -> dict[str, np.ndarray]:
    """A vanilla RNN's parameters with ``W_hh`` a random normal matrix rescaled so that ``gamma sigma_max = rate``."""
    params = init_params(spec, seed=seed, init="normal")
    w = params["weight_hh_l0"]
    params["weight_hh_l0"] = w * (rate / DERIVATIVE_BOUND[spec.activation] / np.linalg.norm(w, 2))
    return params


def pascanu_study(
    rates: list[float],
    activations: tuple[str, ...] = ("tanh", "sigmoid"),
    *,
    n_seeds: int = 3,
    T: int = 100,
    H: int = 16,
    B: int = 2,
) -> PascanuStudy:
    """Measure ``||dh_t/dh_0||_2`` at every lag for each activation, rate and seed (inputs N(0, 1), I = 3)."""
    rows = []
    for activation in activations:
        spec = RNNSpec("rnn", 3, H, 1, activation)
        for rate in rates:
            for seed in range(n_seeds):
                x, _ = random_sequences(T, B, 3, 1, seed)
                prod = jacobian_products(iter_local_jacobians(spec, pascanu_weights(spec, rate, seed), x), H)
                bound = prod.lags * np.log10(rate)
                last = prod.log10_spectral[:, -1]
                growth = 10 ** (last.max() / (T - 1))
                rows.append(
                    (
                        activation,
                        rate,
                        seed,
                        np.max((prod.log10_spectral - bound)[:, 1:]),
                        last.min(),
                        last.max(),
                        growth,
                    )
                )
    columns = list(zip(*rows))
    return PascanuStudy(*(np.array(c) for c in columns))


# ---- the transition to chaos ---------------------------------------------------------------------------------


def random_tanh_network(N: int, g: float, seed: int) -> tuple[RNNSpec, dict[str, np.ndarray]]:
    """``h_t = tanh(W h_{t-1})`` with ``W_ij ~ N(0, g^2 / N)``: no input, no bias (the input weights are zero)."""
    spec = RNNSpec("rnn", 1, N, 1, "tanh")
    params = init_params(spec, seed=seed, init="normal", scale=g)
    for key in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
        params[key] = np.zeros_like(params[key])
    return spec, params


def settled_state(spec: RNNSpec, params: dict, steps: int, seed: int) -> np.ndarray:
    """The state (1, N) after ``steps`` steps from a random ``h_0 ~ N(0, 1)``: past the transient."""
    h0 = np.random.default_rng([seed, 11]).standard_normal((1, spec.hidden_size))
    quiet = np.zeros((steps, 1, 1))
    return bptt(spec, params, quiet, quiet, h0=h0).h[-1]


@dataclass(frozen=True)
class ChaosStudy:
    """Lyapunov exponents of random tanh networks over gains g and sizes N.

    Attributes
    ----------
    sizes : ndarray of shape (M,)
    gains : ndarray of shape (G,)
    leading : ndarray of shape (M, S, G)
        The leading exponent of each size, seed and gain (natural log per step).
    resolution : float
        ``1 / steps``: the smallest rate a finite-time estimate of ``steps`` steps resolves.
    crossing : ndarray of shape (M, S)
        :func:`zero_crossing` of each seed's curve at the level ``-resolution`` (nan where it never rises).
    spectra : tuple of M ndarrays of shape (N,)
        The full spectrum at ``spectrum_gain``, mean over seeds.
    spectrum_gain : float
    gradient_rate, spectrum_leading : ndarray of shape (M, S)
        At ``spectrum_gain``: the growth per step of ``||dl_T/dh_t||`` against the lag, and the leading exponent of
        the same trajectory.
    """

    sizes: np.ndarray
    gains: np.ndarray
    leading: np.ndarray
    resolution: float
    crossing: np.ndarray
    spectra: tuple
    spectrum_gain: float
    gradient_rate: np.ndarray
    spectrum_leading: np.ndarray


def zero_crossing(gains: np.ndarray, values: np.ndarray, level: float = 0.0) -> float:
    """The gain where ``values`` first rises from below ``level`` to at least ``level``, by linear interpolation
    between the two grid points around it; the first gain when it starts there, nan when it never gets there."""
    gains, values = np.asarray(gains, float), np.asarray(values, float)
    above = values >= level
    if not above.any():
        return float("nan")
    i = int(np.argmax(above))
    if i == 0:
        return float(gains[0])
    g0, g1, v0, v1 = gains[i - 1], gains[i], values[i - 1], values[i]
    return float(g0 + (g1 - g0) * (level - v0) / (v1 - v0))


def gradient_rate(spec: RNNSpec, params: dict, h0: np.ndarray, steps: int, discard: int) -> float:
    """Growth per step (natural log) of ``||dl_T/dh_t||`` against the lag ``T - t`` for a loss at the last step
    only, fitted over the lags from ``discard`` on (the backward vector first aligns)."""
    quiet = np.zeros((steps, 1, 1))
    mask = np.zeros((steps, 1))
    mask[-1] = 1.0
    target = np.ones((steps, 1, 1))
    res = bptt(spec, params, quiet, target, mask=mask, h0=h0)
    log10 = np.log10(scaled_norm(res.dh_layers[0, 0], axis=(1, 2)))[::-1]  # by lag 0, 1, ..., steps - 1
    return growth_rate(log10[discard:], np.arange(discard, steps))


def chaos_study(
    sizes: list[int],
    gains: list[float],
    *,
    n_seeds: int = 3,
    transient: int = 100,
    discard: int = 100,
    steps: int = 300,
    spectrum_gain: float = 2.0,
) -> ChaosStudy:
    """The leading exponent over ``gains`` for each size and seed (``discard`` steps align the frame, ``steps``
    count), the full spectrum and the gradient's growth at ``spectrum_gain``."""
    leading = np.empty((len(sizes), n_seeds, len(gains)))
    rate, first = np.empty((len(sizes), n_seeds)), np.empty((len(sizes), n_seeds))
    quiet = np.zeros((discard + steps, 1, 1))
    spectra = []
    for m, N in enumerate(sizes):
        for s in range(n_seeds):
            for j, g in enumerate(gains):
                spec, params = random_tanh_network(N, g, s)
                h0 = settled_state(spec, params, transient, s)
                leading[m, s, j] = lyapunov_spectrum(spec, params, quiet, h0=h0, k=1, discard=discard)[0, 0]
        full = []
        for s in range(n_seeds):
            spec, params = random_tanh_network(N, spectrum_gain, s)
            h0 = settled_state(spec, params, transient, s)
            full.append(lyapunov_spectrum(spec, params, quiet, h0=h0, discard=discard)[0])
            first[m, s] = full[-1][0]
            rate[m, s] = gradient_rate(spec, params, h0, discard + steps, discard)
        spectra.append(np.mean(full, axis=0))
    crossing = np.array([[zero_crossing(gains, row, -1.0 / steps) for row in per] for per in leading])
    return ChaosStudy(
        np.array(sizes),
        np.array(gains, float),
        leading,
        1.0 / steps,
        crossing,
        tuple(spectra),
        spectrum_gain,
        rate,
        first,
    )


# ---- Hochreiter (1991), Bengio, Simard & Frasconi (1994) ---------------------------------------------------


@dataclass(frozen=True)
class ErrorFlowStudy:
    """The error signal of a loss at the last step, flowing back, for each case (cell, forget bias) and seed.

    Attributes
    ----------
    cells : ndarray of shape (C,), str
    forget_bias : ndarray of shape (C,)
    log10_error : ndarray of shape (C, S, T)
        log10 ``||dl_T/dh_t||`` by lag ``T - 1 - t`` (lag 0 first).
    measured : ndarray of shape (C, S)
        Its factor per step, ``exp`` of the least-squares slope of ``ln ||.||`` against the lag from ``discard`` on.
    predicted : ndarray of shape (C, S)
        ``exp(lambda_1)``: the leading Lyapunov exponent of the same inputs' step Jacobians, forward in time
        (median over the sequences).
    forget_gate : ndarray of shape (C, S)
        The mean forget gate (nan for a cell without one): the constant error carousel's factor per step.
    """

    cells: np.ndarray
    forget_bias: np.ndarray
    discard: int
    log10_error: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    forget_gate: np.ndarray


def _error_flow(cell: str, forget_bias: float, seed: int, T: int, H: int, B: int, discard: int) -> tuple:
    spec = RNNSpec(cell, 3, H, 2)
    params = init_params(spec, seed=seed, forget_bias=forget_bias)
    x, y = random_sequences(T, B, 3, 2, seed)
    mask = np.zeros((T, B))
    mask[-1] = 1.0
    log10 = np.log10(scaled_norm(bptt(spec, params, x, y, mask=mask).dh_layers[0, 0], axis=(1, 2)))[::-1]
    measured = np.exp(growth_rate(log10[discard:], np.arange(discard, T)))
    predicted = np.exp(np.median(lyapunov_spectrum(spec, params, x, k=1, discard=discard)))
    gate = CELLS[cell].forget_gate
    forget = np.nan if gate is None else gate_saturation(spec, params, x)[0, 0, CELLS[cell].gate_names.index(gate), 2]
    return log10, measured, predicted, forget


def error_flow_study(
    cases: tuple[tuple[str, float], ...] = (("rnn", 0.0), ("lstm", 10.0)),
    *,
    n_seeds: int = 3,
    T: int = 100,
    H: int = 16,
    B: int = 4,
    discard: int = 10,
) -> ErrorFlowStudy:
    """The error signal's decay per step, measured by BPTT and predicted by the forward Lyapunov exponent."""
    rows = [[_error_flow(cell, fb, s, T, H, B, discard) for s in range(n_seeds)] for cell, fb in cases]
    log10, measured, predicted, forget = (np.array([[r[i] for r in row] for row in rows]) for i in range(4))
    return ErrorFlowStudy(
        np.array([c for c, _ in cases]),
        np.array([f for _, f in cases], float),
        discard,
        log10,
        measured,
        predicted,
        forget,
    )
