"""Input signals and delayed-recall targets for the dashboard's runs."""

from __future__ import annotations

import numpy as np

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
    if kind not in SIGNALS:
        raise ValueError(f"signal must be one of {SIGNALS}, got {kind!r}")
    rng = np.random.default_rng(seed)
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
    T, B, I = x.shape
    recalled = np.zeros((T, B, output_size))
    d = min(max(int(delay), 0), T)
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
    rng = np.random.default_rng(seed + 1)
    lengths = rng.integers((T + 1) // 2, T + 1, B)
    lengths[0] = T
    return (np.arange(T)[:, None] < lengths[None, :]).astype(np.float64)
