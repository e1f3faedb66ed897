"""Bookkeeping of the bytes a BPTT call holds, by group, through time.

The driver tells the ledger what it stores and drops (``hold``/``release`` a number
of bytes under a group name); the ledger keeps the running total, its peak and a
compact timeline (one row per forward, recompute and backward step). Bytes held for
one layer and direction of a stack (its tape and checkpoints) also name their
``owner``, ``(layer, direction)``, so the same moments can be split by layer.
"""

from __future__ import annotations

from array import array

PHASES = ("forward", "recompute", "backward")


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
        self._columns: dict[str, array] = {}
        self._owned: dict[tuple, int] = {}
        self._peak_owned: dict[tuple, int] = {}
        self._owner_columns: dict[tuple, array] = {}

    def hold(self, group: str, nbytes: int, owner: tuple | None = None) -> None:
        """Count ``nbytes`` more under ``group`` (and under ``owner``, a (layer, direction), if given)."""
        self._now[group] = self._now.get(group, 0) + nbytes
        self._total += nbytes
        if owner is not None:
            self._owned[owner] = self._owned.get(owner, 0) + nbytes
        if self._total > self.peak:
            self.peak = self._total
            self._peak_groups = dict(self._now)
            self._peak_owned = dict(self._owned)

    def release(self, group: str, nbytes: int, owner: tuple | None = None) -> None:
        """Count ``nbytes`` less under ``group`` (and ``owner``)."""
        self._now[group] -= nbytes
        self._total -= nbytes
        if owner is not None:
            self._owned[owner] -= nbytes

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

    #: The timeline's own bytes are counted ahead, this many rows at a time.
    ROWS_AHEAD = 256

    def tick(self, phase: str, step: int) -> None:
        """Record the held total after ``phase`` ("forward", "recompute", "backward") of ``step``."""
        n = len(self._held)
        if n % self.ROWS_AHEAD == 0:  # the timeline is part of what the call holds
            width = len(self._columns) + len(self._owner_columns) + 1
            self.set("timeline", (n + self.ROWS_AHEAD) * (17 + 8 * width))
        self._phase.append(PHASES.index(phase))
        self._step.append(step)
        self._held.append(self._total)
        columns = self._columns
        if len(columns) != len(self._now):  # a group appeared: its column starts with zeros
            for group in self._now.keys() - columns.keys():
                columns[group] = array("q", bytes(8 * n))
        for group, column in columns.items():
            column.append(self._now.get(group, 0))
        if self._owned:
            self._tick_owners(n)

    def _tick_owners(self, n: int) -> None:
        columns = self._owner_columns
        for owner in self._owned.keys() - columns.keys():
            columns[owner] = array("q", bytes(8 * n))
        for owner, column in columns.items():
            column.append(self._owned[owner])

    @property
    def nbytes(self) -> int:
        """Bytes of the timeline itself (it is part of what a call holds)."""
        arrays = (self._phase, self._step, self._held, *self._columns.values(), *self._owner_columns.values())
        return sum(a.itemsize * a.buffer_info()[1] for a in arrays)

    @property
    def timeline(self) -> list[tuple[str, int, int]]:
        """``(phase, step, bytes held)`` after every step."""
        return [(PHASES[p], s, b) for p, s, b in zip(self._phase, self._step, self._held)]

    def peak_of(self, groups: tuple[str, ...] | set[str]) -> int:
        """Largest total of ``groups`` at any recorded moment (0 before any)."""
        columns = [self._columns[g] for g in groups if g in self._columns]
        return max(map(sum, zip(*columns)), default=0) if columns else 0

    @property
    def timeline_by_group(self) -> list[dict[str, int]]:
        """The same moments, split by group."""
        names = list(self._columns)
        return [dict(zip(names, row)) for row in zip(*self._columns.values())] if names else [{} for _ in self._held]

    @property
    def timeline_by_owner(self) -> dict[tuple, list[int]]:
        """Bytes each (layer, direction) held at every moment of :attr:`timeline`."""
        return {o: c.tolist() for o, c in sorted(self._owner_columns.items())}
