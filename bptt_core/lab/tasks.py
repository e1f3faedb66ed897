"""Toy sequence tasks that stress memory, as (x, y, mask, loss) batches.

* ``adding``: the adding problem (Hochreiter & Schmidhuber 1997). Input 2 channels:
  a random value in [0, 1] and a marker that is 1 at two steps (one in each half);
  the target at the last step is the sum of the two marked values. Predicting the
  mean scores mse 1/6; solving it means carrying two numbers across T steps.
* ``recall``: delayed recall of one-hot symbols, ``delay`` steps later (cross-entropy).
* ``sine``: predict the next value of a sine of random frequency and phase (mse).
* ``chars``: next-character prediction on the opening of *Alice's Adventures in
  Wonderland* (Lewis Carroll, 1865; public domain), shipped in ``data/alice.txt``.
* ``copy``: the copy memory problem of Arjovsky, Shah & Bengio (2016), as in their section 4.1.
  Ten symbols drawn from 8, then ``T - 1`` blanks, a delimiter and 10 more blanks: ``T + 20``
  steps of one-hot inputs over 10 classes (blank 0, symbols 1-8, delimiter 9). The target is
  blank for ``T + 10`` steps, then the ten symbols in order; cross-entropy over every step. A
  model that remembers nothing of the symbols at best predicts blank where the output is blank
  and a uniform guess over the 8 symbols after the delimiter: :func:`copy_baseline`,
  ``10 ln 8 / (T + 20)``. Here ``T`` is the paper's lag, not the sequence length.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

TASKS = ("adding", "recall", "sine", "chars", "copy")
RECALL_SYMBOLS = 8
#: The copy task: symbols to copy, their alphabet, and its classes (blank, 8 symbols, delimiter).
COPY_LENGTH, COPY_SYMBOLS, COPY_CLASSES = 10, 8, 10


@dataclass(frozen=True)
class Batch:
    """One training batch: inputs (T, B, I), targets, mask (T, B) of the steps that count, and the loss."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    loss: str


@cache
def corpus() -> tuple[str, str]:
    """The shipped text and its sorted character vocabulary."""
    text = (Path(__file__).parents[1] / "data" / "alice.txt").read_text(encoding="utf-8")
    return text, "".join(sorted(set(text)))


def task_sizes(task: str) -> tuple[int, int]:
    """``(input_size, output_size)`` of a task."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return {
        "adding": (2, 1),
        "recall": (RECALL_SYMBOLS, RECALL_SYMBOLS),
        "sine": (1, 1),
        "chars": (len(corpus()[1]), len(corpus()[1])),
        "copy": (COPY_CLASSES, COPY_CLASSES),
    }[task]


def sequence_length(task: str, T: int) -> int:
    """The number of steps a batch of ``task`` at ``T`` has: ``T``, or ``T + 20`` for the copy task (``T`` its lag)."""
    task_sizes(task)
    return T + 2 * COPY_LENGTH if task == "copy" else T


def copy_baseline(T: int) -> float:
    """The copy task's memoryless cross-entropy, ``10 ln 8 / (T + 20)`` (Arjovsky et al. 2016): blank predicted
    with certainty where the target is blank, a uniform guess over the 8 symbols at the 10 output steps."""
    return COPY_LENGTH * np.log(COPY_SYMBOLS) / sequence_length("copy", T)


def make_batch(task: str, T: int, B: int, rng: np.random.Generator, *, delay: int = 5) -> Batch:
    """A fresh batch of ``task`` with sequence length ``T`` and batch size ``B``.

    Parameters
    ----------
    task : {"adding", "recall", "sine", "chars", "copy"}
    T, B : int
        ``T >= 2`` for the adding problem (one marker in each half); for ``copy`` the lag (``T >= 1``), the
        batch then has :func:`sequence_length` ``T + 20`` steps.
    rng : numpy.random.Generator
    delay : int
        Steps between a symbol and its recall (``recall`` only).
    """
    task_sizes(task)
    if T < 1 or B < 1:
        raise ValueError(f"T and B must be at least 1, got T={T}, B={B}")
    if task == "adding":
        if T < 2:
            raise ValueError("the adding problem needs T >= 2 (one marker in each half)")
        values = rng.uniform(0, 1, (T, B))
        marks = np.zeros((T, B))
        half = T // 2
        marks[rng.integers(0, half, B), np.arange(B)] = 1
        marks[rng.integers(half, T, B), np.arange(B)] = 1
        y = np.zeros((T, B, 1))
        y[-1, :, 0] = (values * marks).sum(axis=0)
        mask = np.zeros((T, B))
        mask[-1] = 1
        return Batch(np.stack([values, marks], axis=-1), y, mask, "mse")
    if task == "recall":
        symbols = rng.integers(0, RECALL_SYMBOLS, (T, B))
        x = np.eye(RECALL_SYMBOLS)[symbols]
        d = min(max(delay, 0), T - 1)
        y = np.zeros((T, B), dtype=np.int64)
        y[d:] = symbols[: T - d]
        mask = np.zeros((T, B))
        mask[d:] = 1
        return Batch(x, y, mask, "cross_entropy")
    if task == "copy":
        return _copy(T, B, rng)
    if task == "sine":
        freq = rng.uniform(0.02, 0.12, (1, B))
        phase = rng.uniform(0, 2 * np.pi, (1, B))
        wave = np.sin(2 * np.pi * freq * np.arange(T + 1)[:, None] + phase)
        return Batch(wave[:-1, :, None], wave[1:, :, None], np.ones((T, B)), "mse")
    text, vocab = corpus()
    index = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    codes = np.searchsorted(np.frombuffer(vocab.encode("utf-32-le"), dtype=np.uint32), index)
    if T + 1 > codes.size:
        raise ValueError(f"T = {T} is longer than the shipped text ({codes.size - 1} characters)")
    starts = rng.integers(0, codes.size - T - 1, B)
    window = codes[starts[None, :] + np.arange(T + 1)[:, None]]  # (T + 1, B)
    return Batch(np.eye(len(vocab))[window[:-1]], window[1:].astype(np.int64), np.ones((T, B)), "cross_entropy")


def _copy(T: int, B: int, rng: np.random.Generator) -> Batch:
    """The copy memory problem at lag ``T`` (module docstring): inputs (T + 20, B, 10), class targets (T + 20, B)."""
    n, steps = COPY_LENGTH, sequence_length("copy", T)
    symbols = rng.integers(1, COPY_SYMBOLS + 1, (n, B))
    inputs = np.zeros((steps, B), dtype=np.int64)  # blank everywhere ...
    inputs[:n] = symbols  # ... but the symbols first
    inputs[T + n - 1] = COPY_CLASSES - 1  # and the delimiter: 10 steps before the end
    y = np.zeros((steps, B), dtype=np.int64)
    y[-n:] = symbols
    return Batch(np.eye(COPY_CLASSES)[inputs], y, np.ones((steps, B)), "cross_entropy")
