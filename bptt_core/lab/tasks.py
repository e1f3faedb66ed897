"""Toy sequence tasks that stress memory, as (x, y, mask, loss) batches.

* ``adding``: the adding problem (Hochreiter & Schmidhuber 1997). Input 2 channels:
  a random value in [0, 1] and a marker that is 1 at two steps (one in each half);
  the target at the last step is the sum of the two marked values. Predicting the
  mean scores mse 1/6; solving it means carrying two numbers across T steps.
* ``recall``: delayed recall of one-hot symbols, ``delay`` steps later (cross-entropy).
* ``sine``: predict the next value of a sine of random frequency and phase (mse).
* ``chars``: next-character prediction on the opening of *Alice's Adventures in
  Wonderland* (Lewis Carroll, 1865; public domain), shipped in ``data/alice.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .. import limits
from .. import validate as v
from ..limits import array_bytes

TASKS = ("adding", "recall", "sine", "chars")
RECALL_SYMBOLS = 8


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
    v.check_choice("task", task, TASKS)
    return {
        "adding": (2, 1),
        "recall": (RECALL_SYMBOLS, RECALL_SYMBOLS),
        "sine": (1, 1),
        "chars": (len(corpus()[1]), len(corpus()[1])),
    }[task]


def make_batch(task: str, T: int, B: int, rng: np.random.Generator, *, delay: int = 5) -> Batch:
    """A fresh batch of ``task`` with sequence length ``T`` and batch size ``B``.

    Parameters
    ----------
    task : {"adding", "recall", "sine", "chars"}
    T, B : int
        ``T >= 2`` for the adding problem (one marker in each half).
    rng : numpy.random.Generator
    delay : int
        Steps between a symbol and its recall (``recall`` only).
    """
    I, _ = task_sizes(task)
    T, B, rng = v.check_positive_int("T", T), v.check_positive_int("B", B), v.check_generator("rng", rng)
    delay = v.check_int("delay", delay, 0)
    limits.check(3 * array_bytes(T + 1, B, I), f"a {task} batch of {B} x {T} steps", "lower T or B", per_call=False)
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
        d = min(delay, T - 1)
        y = np.zeros((T, B), dtype=np.int64)
        y[d:] = symbols[: T - d]
        mask = np.zeros((T, B))
        mask[d:] = 1
        return Batch(x, y, mask, "cross_entropy")
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
