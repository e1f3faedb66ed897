"""Buffers written in place: the tape of a segment, per-step scratch, returned arrays.

A fresh (B, 4H) float64 array is 128 KiB at B = 32, H = 128: the C allocator
maps such blocks from the kernel and every step then pays page faults on them.
The driver therefore hands the cells preallocated buffers (``out`` for what the
step stores, ``work`` for its temporaries) and reuses them from step to step and
from segment to segment. Without buffers the cells allocate, as NumPy would.
A cell given ``work`` must also be given ``out``: its results may sit in scratch
otherwise.

Across calls, touching fresh memory is the largest single cost of a long
sequence (the tape of an LSTM at T = 1000, B = 32, H = 128 is 230 MB). A caller
that runs BPTT again and again with the same shapes (a training loop) passes the
same :class:`Workspace` to every call: the tape stays mapped, and the memory of
returned arrays is reused once the caller has dropped them. The workspace is the
caller's object, not module state: one per thread.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .ledger import held_bytes


class Workspace:
    """Named arrays, allocated on first use and reused while they are large enough.

    Parameters
    ----------
    output_bytes : int
        Memory kept for returned arrays (see :class:`OutputPool`); 0 keeps none.

    Examples
    --------
    >>> work = Workspace()
    >>> for batch in batches:  # doctest: +SKIP
    ...     res = bptt(spec, params, *batch, workspace=work)
    """

    __slots__ = ("_arrays", "_busy", "_requested", "_transposed", "grown", "outputs")

    def __init__(self, output_bytes: int = 512 * 2**20) -> None:
        if isinstance(output_bytes, bool) or not isinstance(output_bytes, (int, np.integer)) or output_bytes < 0:
            raise ValueError(
                f"output_bytes must be an integer >= 0 (bytes kept for returned arrays), got {output_bytes!r}"
            )
        self._arrays: dict[str, np.ndarray] = {}
        self._transposed: dict[tuple[int, str], tuple[np.ndarray, object]] = {}
        self._requested: dict[str, int] = {}
        self.grown = 0  # counts the requests that grew the bytes asked for (cheap to watch per step)
        self._busy = threading.Lock()
        self.outputs = OutputPool(output_bytes)

    @contextmanager
    def use(self) -> Iterator[Workspace]:
        """Hold the workspace for one call; a second, concurrent use is refused with a ValueError."""
        if not self._busy.acquire(blocking=False):
            raise ValueError("workspace is in use by another call; give each thread its own Workspace")
        self._transposed.clear()  # weights may have changed in place since the last call
        self._requested.clear()
        try:
            yield self
        finally:
            self._busy.release()

    def transposed(self, a: np.ndarray) -> np.ndarray:
        """``a.mT`` as a C-contiguous copy, made once per use of the workspace.

        The BLAS runs ``h @ W^T`` faster with ``W^T`` laid out row by row (float32:
        37 against 55 us at B = 32, H = 128, 4H gates). :meth:`use` forgets these
        copies, so a weight changed in place between calls is copied afresh.
        """
        return self.derived(a, "transposed", lambda w: np.ascontiguousarray(w.mT))

    def derived(self, a: np.ndarray, what: str, fn) -> object:
        """``fn(a)`` (arrays, or a tuple of them), computed once per use of the workspace for this array
        object and counted like a buffer; ``what`` names it (e.g. a cell's eigenvalues from its parameters)."""
        key = (id(a), what)
        hit = self._transposed.get(key)
        if hit is None or hit[0] is not a:
            value = fn(a)
            hit = self._transposed[key] = (a, value)
            parts = value if isinstance(value, tuple) else (value,)
            self._requested[f"{what} {id(a)}"] = held_bytes(*parts)
            self.grown += 1
        return hit[1]

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The buffer ``name`` with this shape and dtype (contents undefined).

        A buffer with more rows (first axis) is reused as a view of its first rows,
        so a batch of adjoints that grows step by step reallocates only when it
        outgrows the largest seen so far.
        """
        a = self._arrays.get(name)
        if a is None or a.shape[1:] != shape[1:] or a.dtype != dtype or a.shape[:1] < shape[:1]:
            a = self._arrays[name] = np.empty(shape, dtype)
        view = a if a.shape == shape else a[: shape[0]]
        if held_bytes(view) > self._requested.get(name, 0):
            self._requested[name] = held_bytes(view)
            self.grown += 1
        return view

    def note(self, name: str, nbytes: int) -> None:
        """Count ``nbytes`` that NumPy itself holds for this use under ``name`` (e.g. the buffers of its ufunc
        iterator over strided arrays), as if they had been asked of the workspace."""
        if nbytes > self._requested.get(name, 0):
            self._requested[name] = nbytes
            self.grown += 1

    def held_bytes(self, prefix: str) -> int:
        """Bytes of the buffers (as allocated, their array objects included) whose names start with ``prefix``."""
        return sum(held_bytes(a) for name, a in self._arrays.items() if name.startswith(prefix))

    def discard(self, prefix: str) -> None:
        """Forget the buffers whose names start with ``prefix`` (their memory is freed once no view holds it)."""
        for name in [n for n in self._arrays if n.startswith(prefix)]:
            del self._arrays[name]

    def requested_bytes(self, skip: tuple[str, ...] = ()) -> int:
        """Bytes a fresh workspace would hold for what this use asked for so far (names starting
        with a prefix in ``skip`` left out): the largest request per name, W^T copies included, and the
        workspace's own dicts."""
        dicts = sum(map(sys.getsizeof, (self._arrays, self._requested, self._transposed)))
        return dicts + sum(n for name, n in self._requested.items() if not name.startswith(skip))

    @property
    def nbytes(self) -> int:
        """Bytes held by the scratch and tape buffers (the output blocks apart)."""
        return sum(a.nbytes for a in self._arrays.values())


class OutputPool:
    """Memory for returned arrays, reused once the caller has dropped every array made from it.

    A returned array is a view of a ``bytearray``; while any array or view made from
    it lives, the bytearray cannot be resized (CPython's rule for buffers with
    exports), and that is how a block is known to be free. Blocks are kept up to
    ``max_bytes`` in total: the smallest free block that fits is taken, free blocks
    are dropped to make room for a new one, and beyond that arrays are allocated as
    usual.
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
        need = n + self.ALIGN
        with self._lock:
            free = [b for b in self._blocks if self._free(b)]
            block = min((b for b in free if len(b) >= need), key=len, default=None)
            if block is None:
                if sum(map(len, self._blocks)) + need > self.max_bytes:
                    self._blocks = [b for b in self._blocks if not any(b is f for f in free)]
                if sum(map(len, self._blocks)) + need > self.max_bytes:
                    return np.empty(shape, dtype)
                block = bytearray(need)
                self._blocks.append(block)
            raw = np.frombuffer(block, np.uint8)
            start = -raw.ctypes.data % self.ALIGN
            return raw[start : start + n].view(dtype).reshape(shape)

    def clear(self) -> None:
        """Forget the blocks (arrays still using them keep them alive)."""
        with self._lock:
            self._blocks.clear()


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


def contiguous(work: Workspace, name: str, a: np.ndarray) -> np.ndarray:
    """``a`` when C-contiguous, else its copy in the buffer ``name`` of ``work`` (a product of a strided
    stack would otherwise copy it into a temporary of its size)."""
    if a.flags.c_contiguous:
        return a
    out = work.get(name, a.shape, a.dtype)
    np.copyto(out, a)
    return out


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
