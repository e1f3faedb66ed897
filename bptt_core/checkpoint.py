"""Checkpoint schedules: which states the forward sweep keeps, what backward recomputes.

A window of ``n`` steps is reversed by a :class:`Plan`: the forward sweep runs every
step once, keeps the states at ``stored`` and the caches of the steps in ``taped``;
then backward runs ``actions`` in order:

* ``STORE a p``: advance from the state kept at ``a`` to step ``p`` and keep that state;
* ``TAPE a s b``: advance from ``a`` to ``s``, then run steps ``s..b-1`` keeping their caches;
* ``BACK s b``: backpropagate through the taped steps ``b-1, ..., s``;
* ``FREE p``: drop the state kept at ``p``.

Segments (``sqrt``, every-k) follow Chen et al. (2016): keep each segment's first state,
re-run the segment in backward. ``"binomial"`` follows Griewank & Walther (2000, revolve):
with ``S`` states kept at once the number of extra forward steps is the binomial minimum
and the sweep itself places the first checkpoints.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import limits
from . import validate as v


def segment_length(T: int, checkpoint: int | str | None) -> int:
    """Steps per segment: ``T`` for none or "binomial", ``ceil(sqrt(T))`` for "sqrt", else k."""
    if checkpoint is None or checkpoint == "binomial":
        return T
    if checkpoint == "sqrt":
        return max(1, math.ceil(math.sqrt(T)))
    return int(checkpoint)


#: Rows (steps x batch) batched into one weight-gradient product: large enough for an
#: efficient matrix product, small enough to stay a reused buffer.
GRADIENT_ROWS = 1024


def gradient_chunk(B: int) -> int:
    """Steps whose weight-gradient terms are summed by one matrix product (``GRADIENT_ROWS / B``)."""
    return max(1, GRADIENT_ROWS // B)


def checkpoint_schedule(T: int, checkpoint: int | str | None) -> list[tuple[int, int]]:
    """Segments ``(start, stop)`` of at most :func:`segment_length` steps.

    Parameters
    ----------
    T : int
        Steps, >= 1.
    checkpoint : None, "sqrt", "binomial" or int >= 1
        As in :func:`bptt_core.bptt` (None and "binomial": one segment).

    Examples
    --------
    >>> checkpoint_schedule(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    T = v.check_positive_int("T", T)
    if checkpoint is not None and not (isinstance(checkpoint, str) and checkpoint in ("sqrt", "binomial")):
        if isinstance(checkpoint, str):
            raise ValueError(f"checkpoint must be None, 'sqrt', 'binomial' or a positive integer, got {checkpoint!r}")
        checkpoint = v.check_positive_int("checkpoint", checkpoint)
    k = segment_length(T, checkpoint)
    count = -(-T // k)
    limits.check(count * SEGMENT_BYTES, f"a schedule of {count} segments", "use longer segments", per_call=False)
    return [(a, min(a + k, T)) for a in range(0, T, k)]


#: Bytes of one ``(start, stop)`` pair in the returned list (its slot, the tuple and two integers).
SEGMENT_BYTES = 8 + 56 + 2 * 32


@dataclass(frozen=True)
class PlanSize:
    """What a :class:`Plan` of ``n`` steps holds and costs, known without building it (upper bounds where marked).

    Attributes
    ----------
    stored : int
        States the sweep keeps (at most, for "binomial").
    longest_tape : int
    forward_steps : int
        Every forward step evaluation, the sweep's included.
    rows : int
        Action rows (at most, for "binomial").
    """

    stored: int
    longest_tape: int
    forward_steps: int
    rows: int


def plan_size(n: int, checkpoint: int | str | None, slots: int | None = None) -> PlanSize:
    """:class:`PlanSize` of :func:`plan` ``(n, checkpoint, slots)``, in O(1) (a budget reads it before any plan)."""
    if checkpoint == "binomial":
        slots = slots or 1
        rows = 2 * n - 1 + (2 * (n - 1) if slots > 1 else 0)  # BACK and TAPE per step; STORE and FREE per split
        return PlanSize(min(slots, n), 1, binomial_cost(n, slots - 1), rows)
    k = min(segment_length(n, checkpoint), n)
    early = -(-n // k) - 1
    return PlanSize(early, max(n - early * k, k if early else 0), n + early * k, 1 + 3 * early)


#: Action codes of a plan; every action is a row ``(code, a, s, b)`` of one int array.
BACK, TAPE, STORE, FREE = range(4)


@dataclass(frozen=True)
class Plan:
    """How one window of ``n`` steps is reversed (module docstring).

    Attributes
    ----------
    n : int
    stored : ndarray of shape (m,) of int64
        States the forward sweep keeps (the state entering each listed step), ascending.
    taped : tuple (s, n)
        The steps whose caches the sweep keeps.
    actions : ndarray of shape (k, 4) of int64
        What backward runs, in order, one row ``(code, a, s, b)`` each: ``(BACK, s, s, b)``,
        ``(TAPE, a, s, b)``, ``(STORE, a, p, p)``, ``(FREE, p, p, p)``. One compact array,
        because a long binomial plan has thousands of actions.
    """

    n: int
    stored: np.ndarray
    taped: tuple[int, int]
    actions: np.ndarray

    @cached_property
    def recomputed_steps(self) -> int:
        """Forward steps run again after the sweep; taping one step right before its own
        backward does not count (revolve's convention), a re-run segment counts in full."""
        code, a, s, b = self.actions.T
        store = np.sum((s - a)[code == STORE])
        tape = code == TAPE
        return int(store + np.sum((s - a)[tape]) + np.sum(np.where(b - s > 1, b - s, 0)[tape]))

    @cached_property
    def longest_tape(self) -> int:
        """Most steps taped at once (the tape buffer's length)."""
        code, _, s, b = self.actions.T
        return int(max(self.taped[1] - self.taped[0], np.max((b - s)[code == TAPE], initial=0)))

    def stored_peak(self, state_bytes: int, step_bytes: int) -> int:
        """Peak bytes this plan keeps for backward, with ``state_bytes`` per kept state and ``step_bytes``
        per taped step (the entering state's row counted as a state): what the engine's ledger counts
        as checkpoints and tape."""
        states = len(self.stored)
        s, b = self.taped
        tape = (b - s) * step_bytes + state_bytes
        peak = states * state_bytes + tape
        for code, _, s, b in self.actions:
            if code == TAPE:
                tape = (b - s) * step_bytes + state_bytes
            elif code == STORE:
                states += 1
            elif code == FREE:
                states -= 1
            elif code == BACK:
                tape -= (b - s) * step_bytes
                peak = max(peak, states * state_bytes + tape + (b - s) * step_bytes)
            peak = max(peak, states * state_bytes + tape)
        return int(peak)

    @cached_property
    def forward_steps(self) -> int:
        """Every forward step evaluation, the sweep's included."""
        code, a, s, b = self.actions.T
        return int(self.n + np.sum((s - a)[code == STORE]) + np.sum((b - a)[code == TAPE]))


def plan(n: int, checkpoint: int | str | None, slots: int | None = None) -> Plan:
    """The :class:`Plan` for a window of ``n`` steps (built as arrays: a long plan makes no Python tuple per row)."""
    if checkpoint is None:
        return Plan(n, np.zeros(0, np.int64), (0, n), np.array([[BACK, 0, 0, n]], np.int64))
    if checkpoint == "binomial":
        return binomial_plan(n, slots or 1)
    k = segment_length(n, checkpoint)
    starts = np.arange(0, n, k, dtype=np.int64)
    a_last, a = int(starts[-1]), starts[-2::-1]  # the earlier segments, last first: backward re-runs them
    b = a + k
    rows = np.empty((1 + 3 * a.size, 4), np.int64)
    rows[0] = (BACK, a_last, a_last, n)
    body = rows[1:].reshape(-1, 3, 4)  # per segment: TAPE a a b, FREE a a a, BACK a a b
    body[:, :, 0] = (TAPE, FREE, BACK)  # the tape's first row holds the state now, so the state is freed
    body[:, :, 1] = body[:, :, 2] = a[:, None]
    body[:, :, 3] = np.stack([b, a, b], axis=1)
    return Plan(n, starts[:-1], (a_last, n), rows)


def binomial_cost(n: int, slots: int) -> int:
    """Fewest forward step evaluations to reverse ``n`` steps from a stored start state with ``slots``
    more states allowed, each reversed step taped once (Griewank & Walther 2000: ``n + p(n, slots + 1)``,
    ``p(l, s) = r l - C(s + r, s + 1)`` with ``C(s + r - 1, s) < l <= C(s + r, s)``)."""
    if n <= 1:
        return n
    if slots == 0:
        return n * (n + 1) // 2
    s = slots + 1
    r = 0
    while math.comb(s + r, s) < n:
        r += 1
    return n + r * n - math.comb(s + r, s + 1)


def binomial_split(n: int, slots: int) -> int:
    """Where to place the next checkpoint when reversing ``n`` steps with ``slots`` free: the largest ``y``
    that minimises ``y + cost(n - y, slots - 1) + cost(y, slots)`` (advance y, store, reverse the right
    part, then the left part with the slot free again). The cost is convex in y (a sum of convex
    piecewise-linear functions), so a binary search on its differences finds it in O(log n)."""

    def cost(y: int) -> int:
        return y + binomial_cost(n - y, slots - 1) + binomial_cost(y, slots)

    lo, hi = 1, n - 1  # the answer: the largest y with cost(y) <= cost(y - 1), or 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= cost(mid - 1):
            lo = mid
        else:
            hi = mid - 1
    return lo


def binomial_plan(n: int, slots: int) -> Plan:
    """Griewank's binomial schedule for ``n`` steps with ``slots`` states kept at once (the first included).

    The sweep runs forward once, keeping the states of the schedule's first descent and
    the last step's cache; ``recomputed_steps`` is then revolve's minimum,
    ``p(n, slots) - (n - 1)`` (0 when ``slots >= n - 1``). Built with an explicit stack,
    so long windows do not hit Python's recursion limit.
    """
    stored, rows = array("q", [0]), array("q")  # flat rows (code, a, s, b): no tuple kept per row
    todo: list[tuple] = [(0, n, slots - 1, True)]  # (a, b, free slots, on the sweep's spine), or an action row
    while todo:
        task = todo.pop()
        if len(task) == 4 and not isinstance(task[3], bool):
            rows.extend(task)
            continue
        a, b, free, spine = task
        if b - a > 1 and free > 0:
            p = a + binomial_split(b - a, free)
            todo += [(a, p, free, False), (FREE, p, p, p), (p, b, free - 1, spine)]
            if spine:
                stored.append(p)
            else:
                rows.extend((STORE, a, p, p))
            continue
        for t in reversed(range(a, b)):
            if not (spine and t == n - 1):  # the sweep tapes the last step itself (revolve's first turn)
                rows.extend((TAPE, a, t, t + 1))
            rows.extend((BACK, t, t, t + 1))
    return Plan(n, np.array(stored, np.int64), (n - 1, n), np.array(rows, np.int64).reshape(-1, 4))
