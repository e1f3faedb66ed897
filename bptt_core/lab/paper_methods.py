"""What training methods buy, as three published results state it, recomputed by the engine.

Pure functions of sizes and seeds returning plain arrays (:mod:`bptt_core.lab.paper_laws` holds the other three):

* :func:`checkpoint_study`: Gruslys et al. (2016): at T = 1000 the binomial schedule keeps 5 % of the memory.
* :func:`truncation_studies`: Tallec & Ollivier (2017): randomized truncation with compensation is unbiased.
* :func:`copy_study`: Arjovsky, Shah & Bengio (2016): the copying problem's memoryless baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.truncation_study import RandomTruncationStudy, random_truncation_study
from ..bptt import bptt
from ..cells import CELLS
from ..checkpoint import plan
from ..init import init_params
from ..spec import RNNSpec
from .paper_laws import random_sequences
from .tasks import COPY_CLASSES, COPY_LENGTH, COPY_SYMBOLS, make_batch, sequence_length
from .train import TrainConfig, train

# ---- Gruslys et al. (2016) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointStudy:
    """The binomial schedule at length T: where it keeps a target share of full storage, and its whole curve.

    Attributes
    ----------
    cells : ndarray of shape (C,), str
    T : int
    slots : ndarray of shape (C,), int
        The most states kept at once that still saves ``target`` of full storage's bytes stored for backward.
    saved : ndarray of shape (C,)
        ``1 - stored / full stored``, both from the engine's ledger (``BPTTResult.stored_bytes``) at ``slots``.
    recomputed : ndarray of shape (C,), int
        The engine's ``recomputed_steps`` there.
    curve_slots : ndarray of shape (K,)
    curve_memory, curve_recomputed : ndarray of shape (C, K)
        Share of full storage kept, and recomputed steps per step, of the engine's binomial plans.
    """

    cells: np.ndarray
    T: int
    target: float
    slots: np.ndarray
    saved: np.ndarray
    recomputed: np.ndarray
    curve_slots: np.ndarray
    curve_memory: np.ndarray
    curve_recomputed: np.ndarray


def time_overhead(recomputed: np.ndarray, T: int, backward_cost: float = 2.0) -> np.ndarray:
    """Extra time over full storage when a forward step costs 1 and a backward step ``backward_cost`` (two matrix
    products for the forward's one): ``recomputed / (T (1 + backward_cost))``."""
    return np.asarray(recomputed, float) / (T * (1.0 + backward_cost))


def _binomial_share(cell: str, T: int, slots: int) -> tuple[float, int]:
    """A binomial plan's share of full storage's stored bytes, and its recomputed steps (per unit of B H)."""
    state, step = CELLS[cell].state_width, CELLS[cell].tape_width
    schedule = plan(T, "binomial", slots)
    return schedule.stored_peak(state, step) / plan(T, None).stored_peak(state, step), schedule.recomputed_steps


def _most_slots(cell: str, T: int, target: float) -> int:
    """The most slots whose plan still saves ``target`` (bisection: the share grows with the slots)."""
    lo, hi = 1, T - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if 1 - _binomial_share(cell, T, mid)[0] >= target else (lo, mid - 1)
    return lo


def checkpoint_study(
    cells: tuple[str, ...] = ("rnn", "gru", "lstm"),
    *,
    T: int = 1000,
    B: int = 2,
    H: int = 8,
    target: float = 0.95,
    curve_slots: tuple[int, ...] = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 999),
) -> CheckpointStudy:
    """For each cell: the schedule that saves ``target`` of the bytes stored for backward, run by the engine and
    measured by its ledger, and the plans' memory/recompute curve over ``curve_slots``."""
    slots, saved, recomputed = [], [], []
    for cell in cells:
        spec = RNNSpec(cell, 2, H, 2)
        params = init_params(spec, seed=0)
        x, y = random_sequences(T, B, 2, 2, 0)
        full = bptt(spec, params, x, y, return_sequences=False)
        s = _most_slots(cell, T, target)
        run = bptt(spec, params, x, y, checkpoint="binomial", checkpoint_slots=s, return_sequences=False)
        slots.append(s)
        saved.append(1 - run.stored_bytes / full.stored_bytes)
        recomputed.append(run.recomputed_steps)
    grid = np.array([s for s in curve_slots if s < T])
    curve = np.array([[_binomial_share(cell, T, int(s)) for s in grid] for cell in cells])  # (C, K, 2)
    return CheckpointStudy(
        np.array(cells),
        T,
        target,
        np.array(slots),
        np.array(saved),
        np.array(recomputed),
        grid,
        curve[..., 0],
        curve[..., 1] / T,
    )


# ---- Tallec & Ollivier (2017) ------------------------------------------------------------------------------


def truncation_studies(
    cells: tuple[str, ...] = ("rnn", "lstm"),
    probabilities: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4),
    *,
    n_draws: int = 100,
    T: int = 30,
    B: int = 4,
    H: int = 8,
) -> dict[str, RandomTruncationStudy]:
    """Randomized truncation against the full gradient for each cell: ``n_draws`` seeds per cut probability."""
    out = {}
    for i, cell in enumerate(cells):
        spec = RNNSpec(cell, 3, H, 2)
        x, y = random_sequences(T, B, 3, 2, i)
        out[cell] = random_truncation_study(
            spec, init_params(spec, seed=i), x, y, probabilities, n_draws, seed=1000 * i
        )
    return out


# ---- Arjovsky, Shah & Bengio (2016) ------------------------------------------------------------------------


def memoryless_loss(T: int, B: int, seed: int = 0) -> float:
    """The memoryless strategy's mean cross-entropy on a fresh batch of the copy task at lag ``T``: the blank (class
    0) with certainty until the last ten steps, then each of the eight symbols (classes 1-8) with probability 1/8."""
    batch = make_batch("copy", T, B, np.random.default_rng(seed))
    steps = sequence_length("copy", T)
    probs = np.zeros((steps, COPY_CLASSES))
    probs[: steps - COPY_LENGTH, 0] = 1.0
    probs[steps - COPY_LENGTH :, 1 : COPY_SYMBOLS + 1] = 1.0 / COPY_SYMBOLS
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(np.take_along_axis(probs, batch.y, axis=1))))


@dataclass(frozen=True)
class CopyStudy:
    """Training curves on the copying problem.

    Attributes
    ----------
    cells : ndarray of shape (C,), str
    T, hidden_size, iterations : int
        ``T`` is the lag: a sequence has ``T + 20`` steps.
    losses : ndarray of shape (C, S, iterations)
        Each cell's and seed's training loss (mean cross-entropy per step) at every iteration.
    final : ndarray of shape (C, S)
        The mean of the last tenth of each curve.
    memoryless : float
        :func:`memoryless_loss` measured on a batch of the task.
    """

    cells: np.ndarray
    T: int
    hidden_size: int
    iterations: int
    losses: np.ndarray
    final: np.ndarray
    memoryless: float


def copy_study(
    cells: tuple[str, ...] = ("rnn", "gru", "lstm"),
    *,
    T: int = 10,
    n_seeds: int = 2,
    iterations: int = 150,
    H: int = 16,
    B: int = 16,
    lr: float = 0.01,
) -> CopyStudy:
    """Train each cell (Adam, global-norm clipping at 1, forget bias 1) on the copy task at lag ``T``."""
    losses = np.array(
        [
            [
                train(TrainConfig("copy", cell, T, H, B, iterations, lr, "adam", clip=1.0, seed=s)).loss
                for s in range(n_seeds)
            ]
            for cell in cells
        ]
    )
    tail = max(1, iterations // 10)
    final = losses[..., -tail:].mean(axis=-1)
    return CopyStudy(np.array(cells), T, H, iterations, losses, final, memoryless_loss(T, 256))
