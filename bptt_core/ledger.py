"""Bookkeeping of the bytes a BPTT call holds, by group, through time.

The driver tells the ledger what it stores and drops (``hold``/``release`` a number
of bytes under a group name); the ledger keeps the running total, its peak and a
compact timeline (one row per forward, recompute and backward step). Bytes held for
one layer and direction of a stack (its tape and checkpoints) also name their
``owner``, ``(layer, direction)``, so the same moments can be split by layer.
"""

from __future__ import annotations

import sys
from array import array
from functools import cache

import numpy as np

PHASES = ("forward", "recompute", "backward")


@cache
def array_header(ndim: int) -> int:
    """Bytes of a NumPy array object besides its data (its header, shape and strides), by dimension."""
    return sys.getsizeof(np.empty((0,) * ndim))


def held_bytes(*arrays: np.ndarray | None) -> int:
    """Bytes of arrays as allocated: their data and their array objects (None entries count nothing)."""
    return sum(a.nbytes + array_header(a.ndim) for a in arrays if a is not None)


def object_bytes(*objects: object) -> int:
    """Bytes of the Python objects of a call's bookkeeping: each object, its attribute dict, and the dicts,
    lists and tuples among its attributes with the array views they hold (an array's data is counted under
    its own group, a view has none). An instance's attribute dict is counted as a dict of its own of as many
    entries: CPython shares the keys of instances of one class, so the shared dict's size depends on what
    other instances did before, and the count would differ from call to call."""
    total = 0
    for obj in objects:
        attributes = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
        total += sys.getsizeof(obj) + (sys.getsizeof(dict(vars(obj))) if attributes else 0)
        for value in attributes:
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            total += sys.getsizeof(value) if isinstance(value, (dict, list, tuple)) else 0
            total += sum(sys.getsizeof(a) for a in (value, *items) if isinstance(a, np.ndarray) and a.base is not None)
    return total


class MemoryLedger:
    """Live count of bytes held, per group.

    Attributes
    ----------
    peak : int
        Largest total ever held.
    peak_by_group : dict of str to int
        Bytes per group at the moment of the peak.
    peak_by_owner : dict of (int, int) to int
        Bytes each owner (layer, direction) held at the moment of the peak.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._peak_groups: dict[str, int] = {}
        self._now: dict[str, int] = {}
        self._total = 0
        self._phase, self._step, self._held = array("b"), array("q"), array("q")
        self._owned: dict[tuple, int] = {}
        self._peak_owned: dict[tuple, int] = {}
        # the timeline by group and owner, as changes: at row r, column c (a group or an owner) became v
        self._keys: dict[str | tuple, int] = {}
        self._ev_row, self._ev_key, self._ev_value = array("q"), array("i"), array("q")
        self._dirty: set = set()

    def hold(self, group: str, nbytes: int, owner: tuple | None = None) -> None:
        """Count ``nbytes`` more under ``group`` (and under ``owner``, a (layer, direction), if given)."""
        self._now[group] = self._now.get(group, 0) + nbytes
        self._total += nbytes
        self._dirty.add(group)
        if owner is not None:
            self._owned[owner] = self._owned.get(owner, 0) + nbytes
            self._dirty.add(owner)
        if self._total > self.peak:
            self.peak = self._total
            self._peak_groups = dict(self._now)
            self._peak_owned = dict(self._owned)

    def release(self, group: str, nbytes: int, owner: tuple | None = None) -> None:
        """Count ``nbytes`` less under ``group`` (and ``owner``)."""
        self._now[group] -= nbytes
        self._total -= nbytes
        self._dirty.add(group)
        if owner is not None:
            self._owned[owner] -= nbytes
            self._dirty.add(owner)

    def set(self, group: str, nbytes: int) -> None:
        """Count exactly ``nbytes`` under ``group``."""
        self.hold(group, nbytes - self._now.get(group, 0))

    @property
    def held(self) -> int:
        """Bytes held right now."""
        return self._total

    @property
    def peak_by_group(self) -> dict[str, int]:
        """Bytes per group at the moment of the peak (groups holding nothing left out)."""
        return {g: b for g, b in self._peak_groups.items() if b}

    @property
    def peak_by_owner(self) -> dict[tuple, int]:
        """Bytes each (layer, direction) held at the moment of the peak."""
        return {o: self._peak_owned.get(o, 0) for o in sorted(self._owned)}

    def tick(self, phase: str, step: int) -> None:
        """Record the held total after ``phase`` ("forward", "recompute", "backward") of ``step``, and the
        groups and owners that changed since the last record; then count the timeline's own bytes as
        allocated (its arrays grow by reallocation, a few percent at a time)."""
        n = len(self._held)
        self._phase.append(PHASES.index(phase))
        self._step.append(step)
        self._held.append(self._total)
        keys, now, owned = self._keys, self._now, self._owned
        for key in self._dirty:
            self._ev_row.append(n)
            self._ev_key.append(keys.setdefault(key, len(keys)))
            self._ev_value.append(owned[key] if key.__class__ is tuple else now[key])
        self._dirty.clear()
        for _ in range(8):  # counting the timeline's growth may grow it again: a few rounds at most
            allocated = self.nbytes
            if allocated == now.get("timeline"):
                break
            self.set("timeline", allocated)  # into this row too, so the recorded rows reach the peak
            self._held[n] = self._total
            self._ev_row.append(n)
            self._ev_key.append(keys.setdefault("timeline", len(keys)))
            self._ev_value.append(allocated)
            self._dirty.discard("timeline")

    def _column(self, key: str | tuple) -> np.ndarray:
        """The recorded value of a group or owner at every row (each change holds until the next)."""
        rows = len(self._held)
        if key not in self._keys:
            return np.zeros(rows, dtype=np.int64)
        at = np.frombuffer(self._ev_key, dtype=np.int32) == self._keys[key]
        changed = np.frombuffer(self._ev_row, dtype=np.int64)[at]
        values = np.frombuffer(self._ev_value, dtype=np.int64)[at]
        latest = np.searchsorted(changed, np.arange(rows), side="right") - 1
        return np.where(latest >= 0, values[np.maximum(latest, 0)], 0)

    @property
    def nbytes(self) -> int:
        """Bytes of the timeline itself, as allocated, and of the ledger's dicts (part of what a call holds)."""
        arrays = (self._phase, self._step, self._held, self._ev_row, self._ev_key, self._ev_value)
        dicts = (self._now, self._owned, self._keys, self._peak_groups, self._peak_owned, self._dirty)
        return sum(map(sys.getsizeof, arrays)) + sum(map(sys.getsizeof, dicts))

    @property
    def timeline(self) -> list[tuple[str, int, int]]:
        """``(phase, step, bytes held)`` after every step."""
        return [(PHASES[p], s, b) for p, s, b in zip(self._phase, self._step, self._held)]

    def peak_of(self, groups: tuple[str, ...] | set[str]) -> int:
        """Largest total of ``groups`` at any recorded moment (0 before any)."""
        recorded = [g for g in groups if g in self._keys]
        if not recorded or not len(self._held):
            return 0
        return int(max(sum(self._column(g) for g in recorded)))

    @property
    def timeline_by_group(self) -> list[dict[str, int]]:
        """The same moments, split by group."""
        names = [k for k in self._keys if isinstance(k, str)]
        columns = [self._column(g).tolist() for g in names]
        return [dict(zip(names, row)) for row in zip(*columns)] if names else [{} for _ in self._held]

    @property
    def timeline_by_owner(self) -> dict[tuple, list[int]]:
        """Bytes each (layer, direction) held at every moment of :attr:`timeline`."""
        return {o: self._column(o).tolist() for o in sorted(k for k in self._keys if isinstance(k, tuple))}
