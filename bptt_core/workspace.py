"""Buffers written in place: the tape of a segment and per-step scratch.

A fresh (B, 4H) float64 array is 128 KiB at B = 32, H = 128: the C allocator
maps such blocks from the kernel and every step then pays page faults on them.
The driver therefore hands the cells preallocated buffers (``out`` for what the
step stores, ``work`` for its temporaries) and reuses them from step to step and
from segment to segment. Without buffers the cells allocate, as NumPy would.
A cell given ``work`` must also be given ``out``: its results may sit in scratch
otherwise.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class Workspace:
    """Named arrays, allocated on first use and reused while they are large enough."""

    __slots__ = ("_arrays", "_transposed")

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._transposed: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def transposed(self, a: np.ndarray) -> np.ndarray:
        """``a.mT`` as a C-contiguous copy, made once per use of the workspace.

        The BLAS runs ``h @ W^T`` faster with ``W^T`` laid out row by row (float32:
        37 against 55 us at B = 32, H = 128, 4H gates). :meth:`WorkspacePool.borrow`
        forgets these copies, so a weight changed between calls is copied afresh.
        """
        hit = self._transposed.get(id(a))
        if hit is None or hit[0] is not a:
            hit = self._transposed[id(a)] = (a, np.ascontiguousarray(a.mT))
        return hit[1]

    def forget_operands(self) -> None:
        """Drop the copies made by :meth:`transposed`."""
        self._transposed.clear()

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The buffer ``name`` with this shape and dtype (contents undefined).

        A buffer with more rows (first axis) is reused as a view of its first rows,
        so a batch of adjoints that grows step by step reallocates only when it
        outgrows the largest seen so far.
        """
        a = self._arrays.get(name)
        if a is None or a.shape[1:] != shape[1:] or a.dtype != dtype or a.shape[:1] < shape[:1]:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a if a.shape == shape else a[: shape[0]]

    @property
    def nbytes(self) -> int:
        """Bytes held by all buffers."""
        return sum(a.nbytes for a in self._arrays.values())

    def rows(self, name: str, n: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The first ``n`` rows of the buffer ``name`` of shape (>= n, *shape), grown when needed."""
        return self.get(name, (n, *shape), dtype)


class WorkspacePool:
    """Idle workspaces kept between calls, so that their pages stay mapped.

    Each call borrows a workspace for itself alone (so concurrent sessions never
    share buffers) and gives it back; at most ``max_idle`` are kept, and none
    larger than ``max_bytes``.
    """

    def __init__(self, max_bytes: int, max_idle: int = 1) -> None:
        self.max_bytes, self.max_idle = max_bytes, max_idle
        self._idle: list[Workspace] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Workspace]:
        """A workspace for the duration of the ``with`` block."""
        with self._lock:
            work = self._idle.pop() if self._idle else Workspace()
        work.forget_operands()
        try:
            yield work
        finally:
            if work.nbytes <= self.max_bytes:
                with self._lock:
                    if len(self._idle) < self.max_idle:
                        self._idle.append(work)

    def clear(self) -> None:
        """Drop the idle workspaces (and their memory)."""
        with self._lock:
            self._idle.clear()


#: Kept between calls: up to 512 MiB by default, ``BPTT_WORKSPACE_CACHE`` bytes if set (0 keeps nothing).
POOL = WorkspacePool(int(os.environ.get("BPTT_WORKSPACE_CACHE", 512 * 2**20)))


class OutputPool:
    """Memory for returned arrays, reused once the caller has dropped every array made from it.

    A returned array is a view of a ``bytearray``; while any array or view made from
    it lives, the bytearray cannot be resized (CPython's rule for buffers with
    exports), and that is how a block is known to be free. Blocks are kept up to
    ``max_bytes`` in total; beyond that, arrays are allocated as usual.
    """

    ALIGN = 64

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._blocks: list[bytearray] = []
        self._lock = threading.Lock()

    @staticmethod
    def _free(block: bytearray) -> bool:
        try:
            block.append(block.pop())  # a resize: refused while arrays use the block
        except BufferError:
            return False
        return True

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised array, like ``np.empty``, on reused memory when a block is free."""
        dtype = np.dtype(dtype)
        n = math.prod(shape) * dtype.itemsize
        with self._lock:
            block = next((b for b in self._blocks if len(b) >= n + self.ALIGN and self._free(b)), None)
            if block is None:
                if sum(map(len, self._blocks)) + n + self.ALIGN > self.max_bytes:
                    return np.empty(shape, dtype)
                block = bytearray(n + self.ALIGN)
                self._blocks.append(block)
            raw = np.frombuffer(block, np.uint8)
            start = -raw.ctypes.data % self.ALIGN
            return raw[start : start + n].view(dtype).reshape(shape)

    def clear(self) -> None:
        """Forget the blocks (arrays still using them keep them alive)."""
        with self._lock:
            self._blocks.clear()


#: Returned arrays: up to 512 MiB of blocks, ``BPTT_OUTPUT_CACHE`` bytes if set (0 keeps nothing).
OUTPUTS = OutputPool(int(os.environ.get("BPTT_OUTPUT_CACHE", 512 * 2**20)))


def common_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """``np.broadcast_shapes``, with the common case of equal shapes first (5 us saved per step)."""
    first = shapes[0]
    return first if all(s == first for s in shapes) else np.broadcast_shapes(*shapes)


def buffer(work: Workspace | None, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Scratch ``name`` from ``work``, or a new array without a workspace."""
    return np.empty(shape, dtype) if work is None else work.get(name, shape, dtype)


def field(out: dict | None, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The caller's buffer ``out[name]`` for a stored value, or a new array."""
    return np.empty(shape, dtype) if out is None else out[name]


def transposed(work: Workspace | None, a: np.ndarray) -> np.ndarray:
    """``a.mT``: a contiguous copy from ``work``, or the view without a workspace."""
    return a.mT if work is None else work.transposed(a)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b``; a stacked ``a`` (..., K) against a 2-D ``b`` runs as one 2-D product.

    NumPy's ``@`` on a stack loops over small products; reshaping to (-1, K) gives
    the BLAS one large one.
    """
    if b.ndim == 2 and a.ndim > 2 and (out is None or out.flags.c_contiguous):
        shape = (*a.shape[:-1], b.shape[-1])
        flat = np.matmul(a.reshape(-1, a.shape[-1]), b, out=None if out is None else out.reshape(-1, b.shape[-1]))
        return flat.reshape(shape) if out is None else out
    return np.matmul(a, b, out=out)
