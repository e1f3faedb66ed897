"""What one layer-direction stores for backward over a run of steps, and its input projection.

A :class:`Tape` holds, for steps ``s..b-1``, one buffer per entry of the cell's tape;
state parts (h, c) get one more row in front, the state entering step ``s``, so the
state entering step t is row ``t - s`` and the state it produces row ``t - s + 1``.
A rolling tape (``rolling=True``) keeps two rows only: enough to advance the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cells import Cell
from .workspace import Workspace, matmul

#: Rows of one input-projection product (steps x batch): the projection runs in chunks,
#: so no scratch of size T x B x (I + 1) is ever allocated.
PROJECTION_ROWS = 1024


def projection_matrix(cell: Cell, params: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """The cell's input projection ``w1`` of shape (I + 1, width*H): ``xw_t = [x_t, 1] @ w1``
    (``[W_ih^T; input bias]`` for the PyTorch cells)."""
    return cell.projection(params, out)


def gather_rows(inputs: list[np.ndarray], a: int, b: int, out: np.ndarray) -> np.ndarray:
    """Rows ``a..b-1`` of the input parts side by side: ``out[..., :I]`` of shape (b - a, B, I + extra)."""
    col = 0
    for part in inputs:
        width = part.shape[-1]
        out[:, :, col : col + width] = part[a:b]
        col += width
    return out


def project(inputs: list[np.ndarray], w1: np.ndarray, a: int, b: int, out: np.ndarray, work: Workspace) -> None:
    """``out[i] = [x_{a+i}, 1] @ w1`` for steps ``a..b-1``, in products of about :data:`PROJECTION_ROWS` rows.

    Parameters
    ----------
    inputs : list of ndarray of shape (n, B, I_k)
        The input parts (their widths add up to ``w1.shape[0] - 1``).
    out : ndarray of shape (b - a, B, G*H)
    """
    B, I1 = inputs[0].shape[1], w1.shape[0]
    step = max(1, PROJECTION_ROWS // B)
    for c in range(a, b, step):
        d = min(c + step, b)
        x1 = work.get("x_ones", (d - c, B, I1), w1.dtype)
        gather_rows(inputs, c, d, x1)
        x1[:, :, -1] = 1.0
        matmul(x1, w1, out=out[c - a : d - a])


@dataclass
class Tape:
    """Buffers for steps ``s..b-1`` (see the module docstring)."""

    cell: Cell
    s: int
    b: int
    buffers: dict[str, np.ndarray]
    rolling: bool
    in_sequence: bool = False  # ``h`` lives in the layer's output sequence, indexed by step even when rolling
    activation: str = "tanh"
    entering_held: bool = False  # the ledger counts the entering state's row (until its step is reversed)
    objects: int = 0  # bytes of its Python objects (the dict of buffer views), as the ledger counts them

    @classmethod
    def new(
        cls,
        cell: Cell,
        s: int,
        b: int,
        B: int,
        H: int,
        dtype: np.dtype,
        work: Workspace,
        h_seq: np.ndarray | None = None,
        rolling: bool = False,
        name: str = "",
        activation: str = "tanh",
    ) -> Tape:
        """Buffers from ``work`` named ``tape_<name><entry>`` (``roll_<entry>`` when rolling: rolling
        rows are shared by every pass), ``h`` in ``h_seq[s : b + 1]`` when the outputs are kept there."""
        n = 1 if rolling else b - s
        buffers = {}
        for entry, width in cell.tape.items():
            if entry == "h" and h_seq is not None:
                buffers[entry] = h_seq[s : b + 1]
                continue
            rows = (2 if rolling else n + 1) if entry in cell.state_parts else n
            prefix = "roll_" if rolling else f"tape_{name}"
            buffers[entry] = work.get(prefix + entry, (rows, B, width * H), dtype)
        return cls(cell, s, b, buffers, rolling, h_seq is not None, activation)

    def state_row(self, name: str, t: int) -> int:
        """Row of the state part ``name`` entering step t."""
        if self.rolling and not (name == "h" and self.in_sequence):
            return t % 2
        return t - self.s

    def state_in(self, t: int) -> tuple[np.ndarray, ...]:
        """The state entering step t (views of the tape)."""
        # tuple([...]), not tuple(generator): the latter allocates a larger tuple and shrinks it, and every one
        # shrunk lands in CPython's free list of small tuples, which grows by one a step (memory the process holds)
        return tuple([self.buffers[p][self.state_row(p, t)] for p in self.cell.state_parts])

    def outputs(self, t: int) -> dict[str, np.ndarray]:
        """Where step t writes what it stores."""
        out = {}
        for name, buf in self.buffers.items():
            if name in self.cell.state_parts:
                out[name] = buf[self.state_row(name, t + 1)]
            else:
                out[name] = buf[0 if self.rolling else t - self.s]
        return out

    def cache(self, t: int) -> dict[str, np.ndarray]:
        """What the backward step of t needs: its stored entries plus the states it started from."""
        cache = self.outputs(t)
        cache["activation"] = self.activation
        for name, state in zip(self.cell.state_parts, self.state_in(t)):
            cache[name + "_prev"] = state
        return cache

    @property
    def holds_projection(self) -> bool:
        """Whether the first tape entry is as wide as the input projection, so that it receives it."""
        return next(iter(self.cell.tape.values())) == self.cell.width

    def projection_target(self) -> np.ndarray:
        """Rows (b - s, B, width*H) of the first tape entry, where the input projection goes (kept tapes
        that :attr:`holds_projection`)."""
        name = next(iter(self.cell.tape))
        buf = self.buffers[name]
        return buf[1:] if name in self.cell.state_parts else buf

    def rows(self, a: int, b: int) -> dict[str, np.ndarray]:
        """For steps a..b-1 (kept tapes): every tape entry they store, and every state part both entering
        them (``<part>_prev``) and produced by them, each (b - a, B, w*H)."""
        rows = {}
        for name, buf in self.buffers.items():
            if name in self.cell.state_parts:
                rows[name + "_prev"], rows[name] = buf[a - self.s : b - self.s], buf[a - self.s + 1 : b - self.s + 1]
            else:
                rows[name] = buf[a - self.s : b - self.s]
        return rows

    def h_rows(self, a: int, b: int) -> np.ndarray:
        """The hidden states produced by steps a..b-1, (b - a, B, H)."""
        return self.buffers["h"][a - self.s + 1 : b - self.s + 1]

    def h_prev_rows(self, a: int, b: int) -> np.ndarray:
        """The hidden states entering steps a..b-1, (b - a, B, H)."""
        return self.buffers["h"][a - self.s : b - self.s]

    def step_bytes(self) -> dict[str, int]:
        """Bytes one step adds to each tape entry."""
        return {name: buf[0].nbytes for name, buf in self.buffers.items()}
