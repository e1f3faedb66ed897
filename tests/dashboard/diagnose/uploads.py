"""Files as a user uploads them: bytes of ``.npz`` and ``.npy`` archives."""

from __future__ import annotations

import io

import numpy as np


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()
