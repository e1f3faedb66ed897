"""What a recurrent cell provides, written down once.

A cell is a module with a forward/backward step pair and a few constants, bundled
in one :class:`Cell` and registered in :data:`bptt_core.cells.CELLS`. Everything
else (spec validation, init, the memory ledger's groups, spectral diagnostics,
the dashboard, weight-file detection, the tests) iterates that registry.

The step pair
-------------
``forward_step(params, xw_t, state, activation, out=None, work=None) -> (state_next, cache)``
    ``params`` holds one layer's ``weight_hh``, ``bias_hh`` (and ``weight_ih``, ``bias_ih``)
    under short names; ``xw_t`` (B, G*H) is the input projection ``x_t W_ih^T`` plus
    :attr:`Cell.input_bias`; ``state`` is a tuple with one (B, H) array per entry of
    :attr:`Cell.state_parts`. With ``out`` (one buffer per :attr:`Cell.tape` entry) the
    step writes what backward needs there; ``work`` lends scratch. ``cache`` holds the
    tape entries plus ``h_prev`` (and ``c_prev``).
``backward_step(params, d_state, cache, out=None, work=None) -> (d_state_prev, d_xw, d_hw)``
    ``d_state`` is the gradient arriving at the step's output state (leading axes batch
    several adjoints); ``d_xw`` and ``d_hw`` (..., B, G*H) are the gradients of the input
    and recurrent pre-activation terms (the same array unless
    :attr:`Cell.separate_hw_grad`). The step uses only its own cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Memory-ledger group of each tape entry name; a cell may add its own in ``tape_groups``.
TAPE_GROUPS = {
    "h": "hidden states h",
    "c": "cell states c",
    "gates": "gate activations",
    "tanh_c": "pre-activations / tanh(c)",
    "hw_n": "pre-activations / tanh(c)",
}


@dataclass(frozen=True)
class Cell:
    """One recurrent cell: its constants and its step pair.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"lstm"``.
    gate_names : tuple of str
        Gate blocks stacked in ``weight_ih``/``weight_hh``, in PyTorch's order; ``G = len``.
    state_parts : tuple of str
        ``("h",)`` or ``("h", "c")``: the arrays carried from step to step.
    tape : dict of str to int
        What a step stores for backward, in units of H, in order; the first entry
        receives the input projection before the step. State parts are tape entries too.
    separate_hw_grad : bool
        Whether ``d_hw`` differs from ``d_xw`` (GRU: ``b_hn`` sits inside the reset product).
    activations : tuple of str
        Activations the cell accepts (only the vanilla RNN has a choice).
    input_bias : callable
        ``params -> (G*H,)``: the bias folded into the input projection.
    forward_step, backward_step : callable
        The step pair (module docstring).
    tape_groups : dict of str to str
        Memory-ledger group of each tape entry (defaults from :data:`TAPE_GROUPS`).
    forget_gate : str or None
        The gate whose input bias ``init_params(forget_bias=...)`` raises (Gers et al. 2000).
    gate_kinds : tuple of str or None
        The non-linearity of each gate block ("sigmoid", "tanh"), for saturation; None: the
        spec's activation (the vanilla RNN).
    gate_entry : str
        The cache entry holding the gate blocks after their non-linearities, (B, G*H).
    pascanu_bound : bool
        The step is ``h_t = phi(W_ih x_t + W_hh h_{t-1} + b)`` with ``|phi'| <= gamma``, so Pascanu et
        al.'s bound ``(gamma sigma_max(W_hh))^lag`` holds for its Jacobian products.
    """

    name: str
    gate_names: tuple[str, ...]
    state_parts: tuple[str, ...]
    tape: dict[str, int]
    separate_hw_grad: bool
    activations: tuple[str, ...]
    input_bias: Callable[[dict[str, np.ndarray]], np.ndarray]
    forward_step: Callable
    backward_step: Callable
    tape_groups: dict[str, str] = field(default_factory=dict)
    forget_gate: str | None = None
    gate_kinds: tuple[str, ...] | None = None
    gate_entry: str = "gates"
    pascanu_bound: bool = False

    @property
    def gates(self) -> int:
        """Number of gate blocks ``G``."""
        return len(self.gate_names)

    @property
    def tape_width(self) -> int:
        """Numbers stored per step and batch element, in units of H."""
        return sum(self.tape.values())

    def group(self, entry: str) -> str:
        """The memory-ledger group of a tape entry."""
        return self.tape_groups.get(entry) or TAPE_GROUPS.get(entry, entry)
