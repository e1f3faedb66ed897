"""What a recurrent cell provides, written down once.

A cell is a module with a forward/backward step pair, its parameters and a few
constants, bundled in one :class:`Cell` and registered in :data:`bptt_core.cells.CELLS`.
Everything else (spec validation, init, the driver, the memory ledger's groups, the
analyses, the dashboard, weight-file detection, the tests) iterates that registry.

Parameters
----------
A cell names its own per-layer parameters (``param_shapes(H, I)``, short names such as
``weight_ih``; the state-dict key adds ``_l{k}`` and ``_reverse``), draws them
(``init_layer``), folds the input side into one projection matrix (``projection``:
``xw_t = [x_t, 1] @ w1``, computed by the driver for many steps at once) and turns the
gradients of a chunk of steps into parameter gradients (``accumulate``).

The step pair
-------------
``forward_step(params, xw_t, state, activation, out=None, work=None) -> (state_next, cache)``
    ``params`` holds one layer's parameters under their short names; ``xw_t`` (B, width*H) is
    the input projection; ``state`` is a tuple with one (B, w*H) array per entry of
    :attr:`Cell.state_parts` (``w`` its tape width). The first state part is the layer's
    output ``h_t`` (what the read-out and the layer above read). With ``out`` (one buffer per
    :attr:`Cell.tape` entry) the step writes what backward needs there; ``work`` lends
    scratch. ``cache`` holds the tape entries plus ``<part>_prev`` of every state part.
``backward_step(params, d_state, cache, out=None, work=None) -> (d_state_prev, d_xw, d_hw)``
    ``d_state`` is the gradient arriving at the step's output state (leading axes batch
    several adjoints); ``d_xw`` (..., B, width*H) is the gradient of the input projection and
    ``d_hw`` that of the recurrent pre-activation term (cells with ``weight_hh``; the same
    array as ``d_xw`` unless :attr:`Cell.separate_hw_grad`). The step uses only its own cache.

Cells whose state follows a linear recurrence ``s_t = a_t * s_{t-1} + b_t`` may also give the
same steps over a run of n steps at once, by the associative scan of :mod:`bptt_core.scan`
(``bptt(..., scan=True)``):

``forward_scan(params, xw, state, rows, work=None)``
    ``xw`` (n, B, width*H); ``state`` the state entering the run; ``rows`` the run's tape rows (every
    tape entry, the state parts as the rows they produce), which it fills.
``backward_scan(params, dh, d_rest, rows, d_xw, work=None) -> d_state_prev``
    ``dh`` (n, B, H) the gradient arriving at each output from outside the recurrence (its last row
    also from the step after the run), replaced in place by the total ``dL/dh_t``; ``d_rest`` the
    gradient of the other state parts from the step after the run; ``rows`` the run's tape rows
    (:meth:`bptt_core.tape.Tape.rows`); ``d_xw`` (n, B, width*H) filled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import validate as v

#: Memory-ledger group of each tape entry name; a cell may add its own in ``tape_groups``.
TAPE_GROUPS = {
    "h": "hidden states h",
    "c": "cell states c",
    "gates": "gate activations",
    "tanh_c": "pre-activations / tanh(c)",
    "hw_n": "pre-activations / tanh(c)",
}


#: Short names for the step functions' signatures.
Params = dict[str, np.ndarray]
State = tuple[np.ndarray, ...]
Buffers = dict[str, np.ndarray] | None

#: The protocol's functions a cell module may define under these names (:func:`functions_in`).
FUNCTIONS = (
    "param_shapes",
    "sizes",
    "init_layer",
    "projection",
    "forward_step",
    "backward_step",
    "accumulate",
    "parameter_factors",
    "recurrence",
    "project_term",
    "hidden_gradient",
    "forward_scan",
    "backward_scan",
    "decay",
)


def functions_in(namespace: dict) -> dict:
    """The protocol's functions a module defines, by their protocol names: ``Cell(..., **functions_in(globals()))``."""
    return {name: namespace[name] for name in FUNCTIONS if name in namespace}


@dataclass(frozen=True)
class InitPreset:
    """What :func:`bptt_core.init_params` asks of every layer: the preset of ``weight_hh`` (cells with one),
    its gain, the forget-gate bias (cells with a forget gate) and the cell's own options (checked)."""

    init: str = "uniform"
    scale: float = 1.0
    forget_bias: float = 0.0
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One recurrent cell: its constants, its parameters and its step pair.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"lstm"``.
    gate_names : tuple of str
        Gate blocks of the cache entry :attr:`gate_entry`, in order (may be empty: the LRU).
    state_parts : tuple of str
        The arrays carried from step to step, the layer's output ``"h"`` first.
    tape : dict of str to int
        What a step stores for backward, in units of H, in order; state parts are tape entries
        too (their width is the part's). When the first entry is as wide as the projection it
        receives the projection before the step; otherwise the projection goes to scratch.
    width : int
        Width of the input projection ``xw_t``, in units of H (``G`` for the PyTorch cells).
    activations : tuple of str
        Activations the cell accepts (only the vanilla RNN has a choice: :attr:`chooses_activation`).
    torch_module : str or None
        The ``torch.nn`` class that runs this cell with these parameters ("RNN", "LSTM", "GRU": ``torch.nn.LSTM``,
        and ``torch.nn.LSTMCell`` for one step, :attr:`torch_cell`); None: PyTorch has none (the LRU, minGRU).
    param_shapes : callable
        ``(H, I) -> {short name: shape}``: one layer-direction's parameters, in state-dict order.
    sizes : callable
        ``{short name: shape} -> (H, I)``: the sizes read back off one layer's shapes (weight files).
    init_layer : callable
        ``(rng, H, I, preset) -> {short name: ndarray}`` with :class:`InitPreset` ``preset``.
    projection : callable
        ``(params, out=None) -> w1`` of shape (I + 1, width*H): ``xw_t = [x_t, 1] @ w1``.
    forward_step, backward_step : callable
        The step pair (module docstring).
    accumulate : callable
        ``(params, grads, d_xw, d_hw, x, rows, terms=None)``: add the parameter gradients of a chunk of m
        steps to ``grads`` (short names). ``d_xw``, ``d_hw`` (m, B, width*H), the inputs ``x`` (m, B, I),
        ``rows`` the tape's rows (:meth:`bptt_core.tape.Tape.rows`); ``terms`` maps each name of
        :attr:`term_params` to an (m,) array for the norm of each step's term.
    parameter_factors : callable
        ``(params, d_xw, d_hw, x, cache) -> {short name: (a, m)}``: each parameter's immediate Jacobian per
        adjoint, one outer product per row, for the online methods (:mod:`bptt_core.online`), where
        :attr:`accumulate`'s sum over adjoints would lose it. ``d_xw``, ``d_hw`` (K, B, width*H) come from a
        backward step with K adjoints, ``x`` (B, I) is the step's input, ``cache`` its forward cache; then
        ``seed_k^T d s_t / d param[r, c] = a[k, b, r] * m[b, c]`` holding ``s_{t-1}`` fixed, ``a`` (K, B, R) and
        ``m`` (B, C), or None for a vector parameter (the term is ``a[k, b, r]``). Summed over adjoints and
        batch it is what ``accumulate`` adds for one step; row r of every parameter acts on unit ``r mod H``
        (the sparsity SnAp-1 keeps).
    recurrence : callable
        ``params -> {block name: (n, n) ndarray}``: the recurrent linear maps the spectral analysis reads
        (``W_hh``'s gate blocks; ``diag(lambda)`` for the LRU; none for minGRU).
    project_term : callable
        ``(params, name, D, back) -> (N,)``: ``<C_t, D>`` for each of N adjoints, ``C_t`` the term step t
        adds to the gradient of parameter ``name`` (one of :attr:`term_params`) and ``D`` a direction of
        its shape; ``back`` holds the backward step's ``d_xw``, ``d_hw`` (N, B, width*H), its ``cache``
        and the step's input row ``x`` (B, I).
    term_params : tuple of str
        Parameters whose per-step terms are reported; the first is the one
        :func:`bptt_core.gradient_contributions` itemises (the recurrent weight where there is one).
    separate_hw_grad : bool
        Whether ``d_hw`` differs from ``d_xw`` (GRU: ``b_hn`` sits inside the reset product).
    tape_groups : dict of str to str
        Memory-ledger group of each tape entry (defaults from :data:`TAPE_GROUPS`).
    forget_gate : str or None
        The gate whose input bias ``init_params(forget_bias=...)`` raises (Gers et al. 2000).
    gate_kinds : tuple of str or None
        The non-linearity of each gate block ("sigmoid", "tanh", "linear"), for saturation; None: the
        spec's activation (the vanilla RNN).
    gate_entry : str
        The cache entry holding the gate blocks after their non-linearities, (B, G*H).
    pascanu_bound : bool
        ``||J_t|| <= gamma * sigma_max`` of the (single) :attr:`recurrence` block, so Pascanu et al.'s
        bound ``(gamma sigma_max)^lag`` holds for the Jacobian products.
    gamma : float or None
        The bound on the step's derivative when the cell has no activation choice (the LRU: 1, linear);
        None: the bound of the spec's activation.
    init_presets : bool
        Whether ``init_params``' ``init`` and ``scale`` shape the cell's weights (its ``weight_hh``); a cell
        without ``weight_hh`` draws its own way (:attr:`init_options`).
    init_options : dict of str to float
        The cell's own keyword options of :func:`bptt_core.init_params`, with their defaults.
    check_options : callable or None
        Called with the filled-in init options as keywords; raises ValueError naming a bad one (the LRU's
        ``0 <= r_min <= r_max <= 1``).
    hidden_parts : tuple of str
        The state parts whose gradient the analyses follow back in time (``("h",)``; the LRU's ``("x",)``).
    dynamic_parts : tuple of str or None
        The state parts of the step Jacobians (None: every state part).
    hidden_gradient : callable or None
        ``(params, d_state) -> ndarray``: the total gradient of :attr:`hidden_parts` from the gradient of
        a step's output state; None: the hidden parts' own gradient.
    forward_scan, backward_scan : callable or None
        The scan versions of the steps (module docstring); None: the cell has no scan.
    decay : callable or None
        ``(params, cache) -> (B, N)``, for a cell whose state follows a diagonal linear recurrence
        ``s_t = a_t * s_{t-1} + b_t`` over N units (complex for the LRU): ``|a_t|`` of the step whose forward
        ``cache`` is given (the LRU's ``|lambda|``, minGRU's ``1 - z_t``). Each unit's gradient travels back
        scaled by the product of its ``|a_t|`` exactly: the cell's closed-form law
        (:func:`bptt_core.analysis.laws.decay_law`). None: the state's Jacobian couples units.
    """

    name: str
    gate_names: tuple[str, ...]
    state_parts: tuple[str, ...]
    tape: dict[str, int]
    width: int
    activations: tuple[str, ...]
    param_shapes: Callable[[int, int], dict[str, tuple[int, ...]]]
    sizes: Callable[[dict], tuple[int, int]]
    init_layer: Callable
    projection: Callable
    forward_step: Callable
    backward_step: Callable
    accumulate: Callable
    parameter_factors: Callable
    recurrence: Callable[[dict], dict[str, np.ndarray]]
    project_term: Callable
    term_params: tuple[str, ...]
    separate_hw_grad: bool = False
    tape_groups: dict[str, str] = field(default_factory=dict)
    forget_gate: str | None = None
    gate_kinds: tuple[str, ...] | None = None
    gate_entry: str = "gates"
    pascanu_bound: bool = False
    gamma: float | None = None
    init_presets: bool = False
    init_options: dict[str, float] = field(default_factory=dict)
    check_options: Callable[..., None] | None = None
    hidden_parts: tuple[str, ...] = ("h",)
    dynamic_parts: tuple[str, ...] | None = None
    hidden_gradient: Callable | None = None
    forward_scan: Callable | None = None
    backward_scan: Callable | None = None
    decay: Callable | None = None
    torch_module: str | None = None

    @property
    def chooses_activation(self) -> bool:
        """Whether the non-linearity is a choice (the vanilla RNN's ``activation``), not fixed by the cell."""
        return len(self.activations) > 1

    @property
    def torch_cell(self) -> str | None:
        """The ``torch.nn`` class of one step ("LSTMCell"), or None where PyTorch has no module."""
        return None if self.torch_module is None else f"{self.torch_module}Cell"

    @property
    def gates(self) -> int:
        """Number of gate blocks ``G``."""
        return len(self.gate_names)

    @property
    def tape_width(self) -> int:
        """Numbers stored per step and batch element, in units of H."""
        return sum(self.tape.values())

    @property
    def state_width(self) -> int:
        """Numbers carried from step to step per batch element, in units of H."""
        return sum(self.tape[p] for p in self.state_parts)

    @property
    def jacobian_parts(self) -> tuple[str, ...]:
        """The state parts of the step Jacobians ``d s_t / d s_{t-1}``."""
        return self.dynamic_parts or self.state_parts

    def part_width(self, parts: tuple[str, ...]) -> int:
        """Width of the state parts ``parts`` together, in units of H."""
        return sum(self.tape[p] for p in parts)

    def group(self, entry: str) -> str:
        """The memory-ledger group of a tape entry."""
        return self.tape_groups.get(entry) or TAPE_GROUPS.get(entry, entry)

    def hidden_grad(self, params: dict, d_state: tuple[np.ndarray, ...]) -> np.ndarray:
        """The total gradient of the hidden parts, (..., B, w*H), from the gradient of a step's output state."""
        if self.hidden_gradient is not None:
            return self.hidden_gradient(params, d_state)
        parts = [d for p, d in zip(self.state_parts, d_state) if p in self.hidden_parts]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def check_init_options(self, options: dict) -> dict:
        """The cell's init options with their defaults filled in, each a finite real number (a ValueError
        names an unknown or non-numeric one; the cell's ``init_layer`` checks their ranges)."""
        unknown = sorted(set(options) - set(self.init_options))
        if unknown:
            known = ", ".join(self.init_options) or "none"
            raise ValueError(
                f"init_params got unknown option(s) {unknown} for cell={self.name!r} (its options: {known})"
            )
        filled = {**self.init_options, **{k: v.check_number(k, value) for k, value in options.items()}}
        if self.check_options is not None:
            self.check_options(**filled)
        return filled
