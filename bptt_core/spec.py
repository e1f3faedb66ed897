"""The network description: which cell, which sizes, and the parameter layout.

Each layer and direction has the parameters its cell declares (``Cell.param_shapes``), keyed
``<name>_l{k}`` with a ``_reverse`` suffix for the backward direction; for RNN, LSTM and GRU
that is exactly PyTorch's ``nn.RNN/LSTM/GRU`` state dict. A linear read-out sits on the top
layer's output:

==================================  ======================  ==========================================
key                                 shape                   note
==================================  ======================  ==========================================
``weight_ih_l{k}``                  ``(G*H, I or D*H)``     G = 1 rnn, 4 lstm (i, f, g, o), 3 gru (r, z, n)
``weight_hh_l{k}``                  ``(G*H, H)``
``bias_ih_l{k}``, ``bias_hh_l{k}``  ``(G*H,)``              ``_reverse`` suffix for the backward direction
``weight_out``, ``bias_out``        ``(O, D*H)``, ``(O,)``  read-out ``yhat_t = [h_fwd_t, h_bwd_t] W_out^T + b_out``
==================================  ======================  ==========================================

The LRU and minGRU layouts are in their cell modules (:mod:`bptt_core.cells.lru`,
:mod:`bptt_core.cells.mingru`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import validate as v
from .cells import CELLS

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
#: The read-out's keys (every other key belongs to a layer and direction).
READOUT_KEYS = ("weight_out", "bias_out")


def param_key(name: str, layer: int, direction: int) -> str:
    """PyTorch's state-dict key, e.g. ``param_key("weight_hh", 1, 1) == "weight_hh_l1_reverse"``."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a parameter name such as 'weight_hh', got {v.show(name)}")
    layer, direction = v.check_int("layer", layer, 0), v.check_int("direction", direction, 0, 1)
    return f"{name}_l{layer}" + ("_reverse" if direction else "")


@dataclass(frozen=True)
class RNNSpec:
    """A (stacked, optionally bidirectional) recurrent network with a linear read-out.

    Parameters
    ----------
    cell : str
        A key of :data:`bptt_core.CELLS` ("rnn", "lstm", "gru").
    input_size, hidden_size, output_size : int
        ``I``, ``H`` and ``O``; all at least 1.
    activation : {"tanh", "relu", "sigmoid", "linear"}
        Non-linearity of the vanilla RNN (``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``).
        LSTM and GRU use their fixed sigmoid/tanh gates and accept only ``"tanh"``.
    num_layers : int
        ``L``: layer k > 0 reads the outputs of layer k - 1.
    bidirectional : bool
        ``D = 2``: each layer also runs from the last step to the first, and its output
        is ``[h_fwd_t, h_bwd_t]``.
    """

    cell: str = "rnn"
    input_size: int = 1
    hidden_size: int = 1
    output_size: int = 1
    activation: str = "tanh"
    num_layers: int = 1
    bidirectional: bool = False

    def __post_init__(self) -> None:
        v.check_choice("cell", self.cell, tuple(CELLS))
        v.check_choice("activation", self.activation, ACTIVATIONS)
        if self.activation not in CELLS[self.cell].activations:
            raise ValueError(
                f"activation applies to cell='rnn' only; {self.cell} has its own fixed non-linearities, "
                f"so use activation={CELLS[self.cell].activations[0]!r} (got {self.activation!r})"
            )
        for name in ("input_size", "hidden_size", "output_size", "num_layers"):
            object.__setattr__(self, name, v.check_positive_int(name, getattr(self, name)))
        object.__setattr__(self, "bidirectional", v.check_bool("bidirectional", self.bidirectional))

    @property
    def gates(self) -> int:
        """Number of gate blocks ``G`` of the cell (``weight_ih`` / ``weight_hh`` stack them in the PyTorch cells)."""
        return CELLS[self.cell].gates

    @property
    def hidden_width(self) -> int:
        """Units of the state whose gradient the analyses follow (``H``; ``2H`` for the LRU's complex state)."""
        cell = CELLS[self.cell]
        return cell.part_width(cell.hidden_parts) * self.hidden_size

    @property
    def jacobian_width(self) -> int:
        """``S``: the size of the step Jacobians ``d s_t / d s_{t-1}`` (``H``, ``2H`` for the LSTM's [h, c])."""
        cell = CELLS[self.cell]
        return cell.part_width(cell.jacobian_parts) * self.hidden_size

    @property
    def directions(self) -> int:
        """``D``: 2 if bidirectional else 1."""
        return 2 if self.bidirectional else 1

    @property
    def state_parts(self) -> int:
        """Arrays carried from step to step: 1 (h), 2 (h, c; h, x)."""
        return len(CELLS[self.cell].state_parts)

    @property
    def has_cell_state(self) -> bool:
        """True when the state holds a cell state ``c`` (the LSTM), set by ``c0``."""
        return "c" in CELLS[self.cell].state_parts

    def layer_input_size(self, layer: int) -> int:
        """Inputs of ``layer``: ``I`` for layer 0, ``D * H`` above."""
        return self.input_size if layer == 0 else self.directions * self.hidden_size

    def layers(self) -> list[tuple[int, int]]:
        """Every ``(layer, direction)`` pair, in PyTorch's order (layer-major)."""
        return [(l, d) for l in range(self.num_layers) for d in range(self.directions)]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter, keyed like PyTorch's state dict plus the read-out."""
        h, cell = self.hidden_size, CELLS[self.cell]
        shapes = {}
        for l, d in self.layers():
            for name, shape in cell.param_shapes(h, self.layer_input_size(l)).items():
                shapes[param_key(name, l, d)] = shape
        shapes["weight_out"] = (self.output_size, self.directions * h)
        shapes["bias_out"] = (self.output_size,)
        return shapes

    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(math.prod(s) for s in self.param_shapes().values())  # Python ints: no overflow at any size


def layer_params(params: dict[str, np.ndarray], layer: int = 0, direction: int = 0) -> dict[str, np.ndarray]:
    """One layer and direction's parameters under the short names the cells use (views, not copies):
    every key ``<name>_l{layer}`` (``_reverse`` for direction 1), in the dict's order."""
    suffix = param_key("", layer, direction)
    found = {
        k[: -len(suffix)]: a
        for k, a in v.check_dict("params", params).items()
        if k.endswith(suffix) and k not in READOUT_KEYS
    }
    if not found:
        raise ValueError(f"params has no key of layer {layer}, direction {direction} (a key ending in {suffix!r})")
    return found


def check_spec(spec: object) -> RNNSpec:
    """``spec`` if it is an :class:`RNNSpec`."""
    if not isinstance(spec, RNNSpec):
        raise ValueError(f"spec must be a bptt_core.RNNSpec, got {type(spec).__name__}")
    return spec


def param_arrays(spec: RNNSpec, params: object) -> dict[str, np.ndarray]:
    """The parameters as arrays, their keys, shapes and dtypes checked against ``spec`` (values not read yet).

    Raises
    ------
    ValueError
        Naming the first missing, unexpected, misshapen or non-numeric key.
    """
    v.check_dict("params", params)
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in params]
    if missing:
        raise ValueError(f"params is missing key(s) {missing} for {describe(spec)}")
    extra = [k for k in params if k not in shapes]
    if extra:
        raise ValueError(f"params has unexpected key(s) {extra}; expected {list(shapes)}")
    out = {}
    for key, shape in shapes.items():
        arr = v.as_array(f"params[{key!r}]", params[key], kinds="fiu")
        if arr.shape != shape:
            raise ValueError(f"params[{key!r}] has shape {arr.shape}, expected {shape} for {describe(spec)}")
        out[key] = arr
    return out


def check_params(spec: RNNSpec, params: dict, dtype: np.dtype | None = None) -> dict[str, np.ndarray]:
    """Validate a parameter dict against ``spec`` and return finite, contiguous float arrays of ``dtype``.

    Raises
    ------
    ValueError
        Naming the first missing, unexpected, misshapen, non-numeric or non-finite key.
    """
    arrays = param_arrays(check_spec(spec), params)
    for key, arr in arrays.items():
        v.check_finite(f"params[{key!r}]", arr)
    return {key: np.ascontiguousarray(arr, dtype=dtype or np.float64) for key, arr in arrays.items()}


def describe(spec: RNNSpec) -> str:
    """``lstm with input_size=3, hidden_size=16, output_size=2, num_layers=1, bidirectional=False``."""
    return (
        f"{spec.cell} with input_size={spec.input_size}, hidden_size={spec.hidden_size}, "
        f"output_size={spec.output_size}, num_layers={spec.num_layers}, bidirectional={spec.bidirectional}"
    )
