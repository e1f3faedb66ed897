"""The registry of recurrent cells: one :class:`Cell` per module, one line each.

Adding a cell is one module that defines ``CELL`` and one line here; every consumer
(spec validation, init, driver, ledger, analysis, dashboard, tests) iterates
:data:`CELLS`.
"""

from __future__ import annotations

from . import gru, lru, lstm, mingru, rnn
from .protocol import TAPE_GROUPS, Cell

#: name -> Cell, in the order the dashboard lists them.
CELLS: dict[str, Cell] = {c.name: c for c in (rnn.CELL, lstm.CELL, gru.CELL, lru.CELL, mingru.CELL)}

__all__ = ["CELLS", "TAPE_GROUPS", "Cell"]
