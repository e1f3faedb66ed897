"""Input signals and delayed-recall targets for the dashboard's runs."""

from __future__ import annotations

import numpy as np

from .. import limits
from .. import validate as v
from ..limits import array_bytes

SIGNALS = ("random", "sine", "tokens", "impulse")


def make_inputs(kind: str, T: int, B: int, I: int, seed: int = 0) -> np.ndarray:
    """An input sequence batch.

    Parameters
    ----------
    kind : {"random", "sine", "tokens", "impulse"}
        Standard normal noise; sines of random frequency and phase per unit and
        sequence; one-hot tokens drawn uniformly from ``I`` symbols; or a unit
        impulse at t = 0 (then silence), the cleanest way to watch one input's
        influence travel through time.
    T, B, I : int
    seed : int

    Returns
    -------
    ndarray of shape (T, B, I)
    """
    v.check_choice("kind", kind, SIGNALS)
    T, B, I = (v.check_positive_int(name, n) for name, n in (("T", T), ("B", B), ("I", I)))
    limits.check(3 * array_bytes(T, B, I), f"inputs of shape {(T, B, I)}", "lower T, B or I", per_call=False)
    rng = np.random.default_rng(v.check_int("seed", seed, 0))
    if kind == "random":
        return rng.standard_normal((T, B, I))
    if kind == "sine":
        freq = rng.uniform(0.05, 0.3, (1, B, I))
        phase = rng.uniform(0, 2 * np.pi, (1, B, I))
        return np.sin(2 * np.pi * freq * np.arange(T)[:, None, None] + phase)
    if kind == "tokens":
        return np.eye(I)[rng.integers(0, I, (T, B))]
    x = np.zeros((T, B, I))
    x[0] = 1.0
    return x


def delayed_targets(x: np.ndarray, output_size: int, delay: int, loss: str) -> np.ndarray:
    """Targets that recall the input ``delay`` steps back (zero before that).

    Parameters
    ----------
    x : ndarray of shape (T, B, I)
    output_size : int
        ``O``; mse targets are the first ``O`` input units (zero-padded).
    delay : int >= 0
    loss : {"mse", "cross_entropy"}
        Cross-entropy targets are the class ``argmax`` of those units (0 before the delay).

    Returns
    -------
    ndarray of shape (T, B, O) (mse) or integer (T, B) (cross-entropy)
    """
    T, B, I = v.check_shape("x", v.check_finite("x", v.as_array("x", x)), (None, None, None)).shape
    output_size, delay = v.check_positive_int("output_size", output_size), v.check_int("delay", delay, 0)
    v.check_choice("loss", loss, ("mse", "cross_entropy"))
    limits.check(2 * array_bytes(T, B, output_size), "these targets", "lower T, B or output_size", per_call=False)
    recalled = np.zeros((T, B, output_size))
    d = min(delay, T)
    n = min(I, output_size)
    recalled[d:, :, :n] = x[: T - d, :, :n]
    if loss == "cross_entropy":
        return np.argmax(recalled, axis=-1).astype(np.int64)
    return recalled


def ragged_mask(T: int, B: int, seed: int = 0) -> np.ndarray:
    """A padding mask for sequences of random lengths in [ceil(T/2), T]; the first one is full.

    Returns
    -------
    ndarray of shape (T, B)
        1 for real tokens, 0 for padding.
    """
    T, B = v.check_positive_int("T", T), v.check_positive_int("B", B)
    limits.check(3 * array_bytes(T, B), f"a mask of shape {(T, B)}", "lower T or B", per_call=False)
    rng = np.random.default_rng(v.check_int("seed", seed, 0) + 1)
    lengths = rng.integers((T + 1) // 2, T + 1, B)
    lengths[0] = T
    return (np.arange(T)[:, None] < lengths[None, :]).astype(np.float64)
