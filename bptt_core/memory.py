"""Bookkeeping of the arrays held for the backward pass.

The ledger counts real arrays: every cache registers the arrays it keeps, an
array shared by two caches (``h_t`` is the ``h_prev`` of step t + 1) is counted
once, and a released cache frees only what no other cache still holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The tensor group each cache entry belongs to in the breakdown.
GROUPS = {
    "x": "inputs x",
    "h": "hidden states h",
    "h_prev": "hidden states h",
    "c": "cell states c",
    "c_prev": "cell states c",
    "gates": "gate activations",
    "n": "gate activations",
    "tanh_c": "pre-activations / tanh(c)",
    "hw_n": "pre-activations / tanh(c)",
    "checkpoint_h": "checkpoints",
    "checkpoint_c": "checkpoints",
}


@dataclass
class MemoryLedger:
    """Live count of bytes held for backward.

    Attributes
    ----------
    timeline : list of (phase, step, bytes)
        Held bytes after every forward, recompute and backward step.
    timeline_by_group : list of dict of str to int
        The same moments, split by tensor group.
    peak : int
        Largest total ever held.
    peak_by_group : dict of str to int
        Bytes per tensor group at the moment of the peak.
    """

    timeline: list = field(default_factory=list)
    timeline_by_group: list = field(default_factory=list)
    peak: int = 0
    _peak_groups: dict = field(default_factory=dict)
    _held: dict = field(default_factory=dict)  # id -> [array, group, refcount]
    _total: int = 0
    _groups: dict = field(default_factory=dict)  # group -> bytes held now

    def hold(self, entries: dict) -> None:
        """Register every array in ``entries`` (a cache or a checkpoint)."""
        held, groups = self._held, self._groups
        for key, arr in entries.items():
            if arr.__class__ is not np.ndarray:
                continue
            slot = held.get(id(arr))
            if slot is None:
                group = GROUPS.get(key, key)
                held[id(arr)] = [arr, group, 1]
                self._total += arr.nbytes
                groups[group] = groups.get(group, 0) + arr.nbytes
            else:
                slot[2] += 1
        if self._total > self.peak:
            self.peak = self._total
            self._peak_groups = groups.copy()

    def release(self, entries: dict) -> None:
        """Drop one reference to every array in ``entries``."""
        held, groups = self._held, self._groups
        for arr in entries.values():
            if arr.__class__ is not np.ndarray:
                continue
            slot = held[id(arr)]
            slot[2] -= 1
            if slot[2] == 0:
                del held[id(arr)]
                self._total -= arr.nbytes
                groups[slot[1]] -= arr.nbytes

    def by_group(self) -> dict[str, int]:
        """Bytes held now, per tensor group."""
        return {g: b for g, b in self._groups.items() if b}

    @property
    def peak_by_group(self) -> dict[str, int]:
        """Bytes per tensor group at the moment of the peak."""
        return {g: b for g, b in self._peak_groups.items() if b}

    def tick(self, phase: str, step: int) -> None:
        """Record the held total after ``phase`` ("forward", "recompute", "backward") of ``step``."""
        self.timeline.append((phase, step, self._total))
        self.timeline_by_group.append(self._groups.copy())

    @property
    def held(self) -> int:
        """Bytes held right now."""
        return self._total
