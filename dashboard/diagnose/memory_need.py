"""Does the task need memory the model does not have? A held-out probe of the model's errors.

A short horizon is harmless when the task needs no more (a model that predicts the sum of the last
three inputs needs three steps, whatever T is). Memory advice therefore asks the data: the model's
residuals (``y - yhat`` for mse, ``onehot(y) - softmax(yhat)`` for classes, the gradient of the loss
with respect to the read-out) are regressed, by ridge regression with a held-out split of the
sequences, on the inputs the model cannot reach (further back than its reach ``h``), on top of the
inputs it can reach. The gain in held-out R² says how much of the model's error the distant inputs
explain; times the residuals' energy over the targets' (the error of always predicting their mean or
their class frequencies), it is the share of the task's error that more memory could remove.

Inputs enter as per-step features ``phi(x) = [x, x_i x_j]`` (``[x, x^2]`` for wide inputs), summed
over lag windows: each lag on its own and growing windows of lags (so one input far back, or a sum
over many, are both found). The same statistic with residuals shuffled across sequences is the
noise floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Inputs wider than this keep only ``[x, x^2]`` as features; wider than ``PROJECTED`` are randomly projected to
#: that many dimensions first.
FULL_QUADRATIC = 6
PROJECTED = 8
#: Residuals with more components than this are randomly projected to this many.
RESIDUAL_DIMS = 8
#: At most this many target steps are read (a fixed random subset beyond).
MAX_SAMPLES = 3000
#: Fewer target steps than this: no held-out estimate.
MIN_SAMPLES = 32
#: Single lags tried beyond the reach, at most (evenly spread).
SINGLE_LAGS = 64
#: Ridge penalty per sample, on standardised features.
RIDGE = 1e-2
#: Shuffles of the residuals for the noise floor.
SHUFFLES = 2


@dataclass(frozen=True)
class MemoryNeed:
    """What the inputs beyond the model's reach explain of its errors (held out).

    Attributes
    ----------
    reach : int
        Lags ``<= reach`` count as within the model's reach.
    samples : int
        Target steps read.
    gain_r2 : float
        The largest held-out R² gain of the residuals from a window of distant inputs, in [0, 1].
    window : tuple of int or None
        That window's lags ``(first, last)``; negative lags look into the future (bidirectional models).
    share : float
        ``gain_r2`` times the residuals' energy over the targets': the share of the task's error that
        the distant inputs predict.
    floor : float
        The same share with the residuals shuffled across target steps (the noise floor).
    near_share : float
        The share of the task's error that the inputs within reach explain (held out, at least 0): what the
        model fails at although it can see it.
    """

    reach: int
    samples: int
    gain_r2: float
    window: tuple[int, int] | None
    share: float
    floor: float
    near_share: float


def step_features(x: np.ndarray) -> np.ndarray:
    """``phi(x_t)`` of every step: (T, B, F), linear and quadratic terms of each step's inputs."""
    I = x.shape[-1]
    if I > PROJECTED:
        x = x @ np.random.default_rng(0).standard_normal((I, PROJECTED)) / np.sqrt(PROJECTED)
        I = PROJECTED
    if I <= FULL_QUADRATIC:
        i, j = np.triu_indices(I)
        return np.concatenate([x, x[..., i] * x[..., j]], axis=-1)
    return np.concatenate([x, x**2], axis=-1)


def window_sums(phi: np.ndarray, first: int, last: int) -> np.ndarray:
    """``sum_{k = first}^{last} phi[t - k]`` for every step t (0 outside the sequence): (T, B, F)."""
    T, B = phi.shape[:2]
    t, b = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    return lag_sums(cumulative(phi), t, b, first, last)


def cumulative(phi: np.ndarray) -> np.ndarray:
    """``cum[s] = phi[0] + ... + phi[s - 1]``: (T + 1, B, F)."""
    return np.concatenate([np.zeros_like(phi[:1]), np.cumsum(phi, axis=0)])


def lag_sums(cum: np.ndarray, t: np.ndarray, b: np.ndarray, first: int, last: int) -> np.ndarray:
    """``sum_{k = first}^{last} phi[t - k, b]`` at the given steps and sequences, from :func:`cumulative`."""
    T = cum.shape[0] - 1
    start, stop = np.clip(t - last, 0, T), np.clip(t - first + 1, 0, T)
    return cum[np.maximum(start, stop), b] - cum[start, b]


def windows(reach: int, T: int) -> tuple[list, list]:
    """(within reach, beyond reach) lag windows ``(first, last)`` for sequences of T steps."""
    near = [(k, k) for k in range(min(reach, 3) + 1)] + ([(4, reach)] if reach >= 4 else [])
    far = []
    if reach + 1 <= T - 1:
        singles = np.unique(np.linspace(reach + 1, T - 1, min(T - 1 - reach, SINGLE_LAGS)).round().astype(int))
        far += [(int(k), int(k)) for k in singles]
        first, width = reach + 1, 2
        while first <= T - 1:
            far.append((first, min(T - 1, first + width - 1)))
            first, width = first + width, width * 2
        far.append((reach + 1, T - 1))
    return near, far


def _ridge(X: np.ndarray, R: np.ndarray, n_train: int) -> np.ndarray:
    """Ridge regressions, one per block: ``X`` (n, blocks, F) standardised, with an intercept, fitted on the first
    ``n_train`` rows to ``R`` (n, O); their predictions for every row, (n, blocks, O)."""
    train = X[:n_train]
    mx, sx = train.mean(0), train.std(0) + 1e-12
    A = (X - mx) / sx
    mr = R[:n_train].mean(0)
    blocks = A.transpose(1, 0, 2)  # (blocks, n, F): one matrix product per block, by BLAS
    gram = blocks[:, :n_train].transpose(0, 2, 1) @ blocks[:, :n_train] + RIDGE * n_train * np.eye(X.shape[2])
    W = np.linalg.solve(gram, blocks[:, :n_train].transpose(0, 2, 1) @ (R[:n_train] - mr))
    return (blocks @ W).transpose(1, 0, 2) + mr


def _best_gain(near: np.ndarray, far: np.ndarray, R: np.ndarray, cut: int) -> tuple[float, int | None, float]:
    """(the largest held-out R² a far block adds, which block, the near inputs' held-out R²), each from 0.

    Rows ``[:cut]`` and ``[cut:]`` are the two halves; each is held out in turn. The near inputs (n, F) are fitted
    first (when they help on the held-out half); each far block of ``far`` (n, blocks, F) is then fitted to what
    they leave, and scored on the held-out half by how much of the total it removes."""
    base, gains = [], []
    n = len(R)
    for n_train, order in ((cut, np.arange(n)), (n - cut, np.r_[np.arange(cut, n), np.arange(cut)])):
        Ro, total = R[order], np.sum((R[order][n_train:] - R[order][n_train:].mean(0)) ** 2)
        if total <= 0 or n_train < 2 or n_train > n - 2:
            continue
        left = Ro - _ridge(near[order][:, None], Ro, n_train)[:, 0]
        if np.sum(left[n_train:] ** 2) > total:  # the near inputs do not help on held-out data: leave them out
            left = Ro - Ro[:n_train].mean(0)
        held = np.sum(left[n_train:] ** 2)
        base.append(1.0 - held / total)
        if far.shape[1]:
            rest = left[:, None] - _ridge(far[order], left, n_train)
            gains.append((held - np.sum(rest[n_train:] ** 2, axis=(0, 2))) / total)
    if not base:
        return 0.0, None, 0.0
    if not gains:
        return 0.0, None, max(float(np.mean(base)), 0.0)
    mean = np.mean(gains, axis=0)
    best = int(np.argmax(mean))
    return float(np.clip(mean[best], 0.0, 1.0)), best, max(float(np.mean(base)), 0.0)


def memory_need(
    x: np.ndarray, residuals: np.ndarray, mask: np.ndarray, baseline: float, reach: int, *, both_ways: bool = False
) -> MemoryNeed | None:
    """How much of the model's error the inputs beyond its reach explain (None: too few target steps).

    Parameters
    ----------
    x : ndarray of shape (T, B, I)
        The network's inputs (0 on padding).
    residuals : ndarray of shape (T, B, O)
        The model's errors at each step (read where ``mask`` > 0).
    mask : ndarray of shape (T, B)
        The target steps.
    baseline : float
        The mean squared error of the targets' mean (or the Brier score of the class frequencies) per
        target step: the error of a model that learned nothing.
    reach : int
        Lags up to ``reach`` are within the model's reach (``T - 1``: all of them, and only ``near_share``
        is measured).
    both_ways : bool
        Also look ``reach + 1`` steps and more into the future (a bidirectional model).
    """
    T, B = mask.shape
    steps, seqs = np.nonzero(mask > 0)
    if steps.size < MIN_SAMPLES or baseline <= 0:
        return None
    if steps.size > MAX_SAMPLES:
        keep = np.sort(np.random.default_rng(0).choice(steps.size, MAX_SAMPLES, replace=False))
        steps, seqs = steps[keep], seqs[keep]
    R = residuals[steps, seqs]
    energy = float(np.mean(np.sum(R**2, axis=1)))
    if R.shape[1] > RESIDUAL_DIMS:
        R = R @ np.random.default_rng(1).standard_normal((R.shape[1], RESIDUAL_DIMS))
    # sequences split in two halves (a single sequence in time), the first half's rows first
    fold = seqs % 2 if B >= 4 else (steps >= np.median(steps)).astype(int)
    rows = np.argsort(fold, kind="stable")
    steps, seqs, R, cut = steps[rows], seqs[rows], R[rows], int(np.sum(fold == 0))
    phi = step_features(x)
    near_lags, far_lags = windows(reach, T)
    views = [(cumulative(phi), steps, 1)] + ([(cumulative(phi[::-1]), T - 1 - steps, -1)] if both_ways else [])
    near = np.concatenate([lag_sums(views[0][0], steps, seqs, a, b) for a, b in near_lags], axis=1)
    named = [(sign, a, b) for _, _, sign in views for a, b in far_lags]
    far = np.zeros((len(R), 0, phi.shape[-1]))
    if named:
        far = np.stack([lag_sums(cum, at, seqs, a, b) for cum, at, _ in views for a, b in far_lags], axis=1)
    gain, best, near_r2 = _best_gain(near, far, R, cut)
    shuffle, floor = np.random.default_rng(2), 0.0
    for _ in range(SHUFFLES if named else 0):  # the same search with the residuals given to other target steps
        floor = max(floor, _best_gain(near, far, R[shuffle.permutation(len(R))], cut)[0])
    window = None if best is None else (named[best][0] * named[best][1], named[best][0] * named[best][2])
    ratio = energy / baseline
    return MemoryNeed(reach, int(steps.size), gain, window, gain * ratio, floor * ratio, near_r2 * ratio)
