"""The linear recurrence ``h_t = a_t * h_{t-1} + b_t`` (elementwise, real or complex) as an associative scan.

A step is the pair ``(a, b)``; doing ``(a1, b1)`` then ``(a2, b2)`` is the step ``(a2 a1, a2 b1 + b2)``,
and that composition is associative, so all prefixes can be formed in ``log2 T`` sweeps instead
of ``T`` sequential steps (Blelloch 1990; Martin & Cundy 2018 for RNNs; the LRU and minGRU train
this way). This module uses Blelloch's work-efficient scan in its recursive odd-even form (the
form of ``jax.lax.associative_scan``): the up-sweep composes neighbouring steps ``(0, 1), (2, 3),
...`` into a sequence of half the length and scans that; the down-sweep gives the odd positions
their prefix and each even position ``2i > 0`` applies its own step to the prefix at ``2i - 1``.
That is ``log2 T`` levels each way and ``O(T)`` work in all (about twice the loop's arithmetic),
each level a few whole-array NumPy operations. :func:`linear_recurrence_loop` is the reference.

Backward, the gradient of the states runs the same recurrence in reverse time,
``g_t = e_t + conj(a_{t+1}) g_{t+1}`` (:func:`reverse_linear_scan`): the adjoint of a linear
recurrence is a linear recurrence.
"""

from __future__ import annotations

import numpy as np

from .workspace import Workspace, buffer

#: Elements (steps x batch x units) one scan run may cover: its scratch stays a few MiB.
SCAN_ELEMENTS = 2**20


def scan_steps(B: int, width: int) -> int:
    """Steps one scan run takes at a batch ``B`` and ``width`` units (at least 1)."""
    return max(1, SCAN_ELEMENTS // max(1, B * width))


def linear_recurrence_loop(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """``h[t] = a[t] * h[t-1] + b[t]`` step by step, ``h[-1] = h0``: the reference for :func:`linear_scan`.

    Parameters
    ----------
    a : ndarray of shape (T, ...), broadcastable against ``b``
    b : ndarray of shape (T, ...)
    h0 : ndarray broadcastable to ``b[0]``

    Returns
    -------
    ndarray of the shape of ``b``
    """
    h = np.empty(np.broadcast_shapes(a.shape, b.shape), np.result_type(a, b, h0))
    prev = h0
    for t in range(h.shape[0]):
        prev = h[t] = a[t] * prev + b[t]
    return h


def linear_scan(
    a: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray,
    out: np.ndarray | None = None,
    work: Workspace | None = None,
) -> np.ndarray:
    """``h[t] = a[t] * h[t-1] + b[t]`` for every t by the associative scan, ``h[-1] = h0``.

    Parameters
    ----------
    a : ndarray of shape (T, ...)
        Broadcastable against ``b`` (e.g. (T, 1, H) for coefficients shared by the batch).
    b : ndarray of shape (T, ...)
    h0 : ndarray broadcastable to ``b[0]``
    out : ndarray of the shape of ``b``, optional
        Where the states go (may be ``b`` itself).
    work : Workspace, optional
        Scratch for the levels of the scan.

    Returns
    -------
    ndarray of the shape of ``b``
        Equal to :func:`linear_recurrence_loop` up to rounding.
    """
    T = b.shape[0]
    out = np.empty(b.shape, np.result_type(a, b, h0)) if out is None else out
    if out is not b:
        np.copyto(out, b)
    out[0] += a[0] * h0
    if T > 1:
        if work is not None:  # NumPy's iterator buffers strided operands (two at a time), up to its buffer size
            elements = min(np.getbufsize(), out.size)
            work.note("scan: NumPy iterator buffers", 2 * elements * out.dtype.itemsize)
        _scan_into(np.broadcast_to(a, (T, *a.shape[1:])), out, work, 0)
    return out


def _scan_into(a: np.ndarray, h: np.ndarray, work: Workspace | None, level: int) -> None:
    """Replace ``h`` (T, ...) in place by the inclusive prefixes of the steps ``(a[t], h[t])`` from a zero state.

    The odd positions are scanned as a strided view of ``h`` itself: the only scratch is the composed
    coefficients and one product per level, half as many rows at each level.
    """
    T = h.shape[0]
    n = T // 2
    # up-sweep: compose the pairs (2i, 2i+1); their prefixes are the odd positions
    a_odd, a_even = a[1 : 2 * n : 2], a[0 : 2 * n : 2]
    odd = h[1 : 2 * n : 2]
    odd += np.multiply(a_odd, h[0 : 2 * n : 2], out=buffer(work, f"scan_t{level}", odd.shape, h.dtype))
    if n > 1:
        a_pair = np.multiply(a_odd, a_even, out=buffer(work, f"scan_a{level}", a_odd.shape, a.dtype))
        _scan_into(a_pair, odd, work, level + 1)
    # down-sweep: each even position 2i > 0 applies its own step to the prefix at 2i - 1
    m = (T - 1) // 2
    if m:
        even = h[2 : 2 * m + 1 : 2]
        even += np.multiply(
            a[2 : 2 * m + 1 : 2], h[1 : 2 * m : 2], out=buffer(work, f"scan_t{level}", even.shape, h.dtype)
        )


def reverse_linear_scan(
    a: np.ndarray, e: np.ndarray, g_in: np.ndarray, out: np.ndarray | None = None, work: Workspace | None = None
) -> np.ndarray:
    """The adjoint recurrence ``g[t] = e[t] + a[t+1] * g[t+1]`` in reverse time, ``g[T-1] = e[T-1] + g_in``.

    Parameters
    ----------
    a : ndarray of shape (T, ...)
        The coefficients the states' gradients pass back through: ``conj(a)`` of the forward recurrence
        (for a real loss of complex states, with gradients written ``dL/dRe + i dL/dIm``). ``a[0]`` is
        not used (it carries ``g[0]`` to the step before; multiply by it to go on).
    e : ndarray of shape (T, ...)
        The gradient arriving at each state from outside the recurrence.
    g_in : ndarray broadcastable to ``e[0]``
        The gradient arriving at the last state from the steps after the run.
    out : ndarray of the shape of ``e``, optional
        Where the totals go (may be ``e`` itself).

    Returns
    -------
    ndarray of the shape of ``e``
        The total gradient of every state.
    """
    T = e.shape[0]
    a = np.broadcast_to(a, (T, *a.shape[1:]))
    shifted = buffer(work, "scan_rev_a", a.shape, a.dtype)  # step r of the reversed run passes through a[T - r]
    shifted[0] = 1.0
    shifted[1:] = a[:0:-1]
    out = np.empty(e.shape, np.result_type(a, e, g_in)) if out is None else out
    reversed_e = e[::-1]
    linear_scan(shifted, reversed_e, g_in, out=reversed_e if out is e else out[::-1], work=work)
    return out
