"""Checkpoint schedules: which states to keep in forward, which to recompute in backward.

A schedule is a list of segments ``(start, stop)`` covering ``range(T)``. Only the
state entering each segment is kept during forward; in backward each segment is
re-run from its checkpoint (Chen et al. 2016, "Training deep nets with sublinear
memory cost") so that at most one segment's caches are held at a time.
"""

from __future__ import annotations

import math


def segment_length(T: int, checkpoint: int | str | None) -> int:
    """Steps per segment: ``T`` for no checkpointing, ``ceil(sqrt(T))`` for "sqrt", else ``k``."""
    if checkpoint is None:
        return T
    if checkpoint == "sqrt":
        return max(1, math.ceil(math.sqrt(T)))
    return int(checkpoint)


def checkpoint_schedule(T: int, checkpoint: int | str | None) -> list[tuple[int, int]]:
    """Segments ``(start, stop)`` of at most :func:`segment_length` steps.

    Examples
    --------
    >>> checkpoint_schedule(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    k = segment_length(T, checkpoint)
    return [(a, min(a + k, T)) for a in range(0, T, k)]
