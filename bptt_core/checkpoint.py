"""Checkpoint schedules: which states to keep in forward, which to recompute in backward.

A schedule is a list of segments ``(start, stop)`` covering ``range(T)``. Only the
state entering each segment is kept during forward; in backward each segment is
re-run from its checkpoint (Chen et al. 2016, "Training deep nets with sublinear
memory cost") so that at most one segment's caches are held at a time.
"""

from __future__ import annotations

import functools
import math


def segment_length(T: int, checkpoint: int | str | None) -> int:
    """Steps per segment: ``T`` for none or "binomial" (which recurses inside), ``ceil(sqrt(T))`` for "sqrt", else k."""
    if checkpoint is None or checkpoint == "binomial":
        return T
    if checkpoint == "sqrt":
        return max(1, math.ceil(math.sqrt(T)))
    return int(checkpoint)


#: Rows (steps x batch) of pre-activation gradients batched into one weight-gradient product:
#: large enough for an efficient matrix product, small enough to stay a reused buffer.
GRADIENT_ROWS = 1024


def gradient_chunk(B: int) -> int:
    """Steps whose weight-gradient terms are summed by one matrix product (``GRADIENT_ROWS / B``)."""
    return max(1, GRADIENT_ROWS // B)


def checkpoint_schedule(T: int, checkpoint: int | str | None) -> list[tuple[int, int]]:
    """Segments ``(start, stop)`` of at most :func:`segment_length` steps.

    Examples
    --------
    >>> checkpoint_schedule(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    k = segment_length(T, checkpoint)
    return [(a, min(a + k, T)) for a in range(0, T, k)]


def binomial_cost(n: int, slots: int) -> int:
    """Fewest forward step evaluations to reverse ``n`` steps from a stored start state with ``slots``
    more states allowed (Griewank & Walther 2000: ``n + p(n, slots + 1)``, ``p(l, s) = r l - C(s+1+r-1, s+1)``
    with ``C(s+r-1, s) < l <= C(s+r, s)``; with no extra slot, ``n (n + 1) / 2``)."""
    if n <= 1:
        return n
    if slots == 0:
        return n * (n + 1) // 2
    s = slots + 1
    r = 0
    while math.comb(s + r, s) < n:
        r += 1
    return n + r * n - math.comb(s + r, s + 1)


@functools.cache
def binomial_split(n: int, slots: int) -> int:
    """Where to place the next checkpoint when reversing ``n`` steps with ``slots`` free: the ``y`` that
    minimises ``y + cost(n - y, slots - 1) + cost(y, slots)`` (advance y, store, reverse the right part,
    then the left part with the slot free again)."""
    return min(range(1, n), key=lambda y: (y + binomial_cost(n - y, slots - 1) + binomial_cost(y, slots), -y))
