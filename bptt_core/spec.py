"""The network description: which cell, which sizes, and the parameter layout.

Parameters are exactly PyTorch's ``nn.RNN/LSTM/GRU`` state dict, for any depth and
direction, plus a linear read-out on the top layer's output:

==================================  ======================  ==========================================
key                                 shape                   note
==================================  ======================  ==========================================
``weight_ih_l{k}``                  ``(G*H, I or D*H)``     G = 1 rnn, 4 lstm (i, f, g, o), 3 gru (r, z, n)
``weight_hh_l{k}``                  ``(G*H, H)``
``bias_ih_l{k}``, ``bias_hh_l{k}``  ``(G*H,)``              ``_reverse`` suffix for the backward direction
``weight_out``, ``bias_out``        ``(O, D*H)``, ``(O,)``  read-out ``yhat_t = [h_fwd_t, h_bwd_t] W_out^T + b_out``
==================================  ======================  ==========================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import validate as v
from .cells import CELLS

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
#: The per-layer parameter names of one direction, as the cells see them.
LAYER_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


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
                f"activation applies to cell='rnn' only; {self.cell} has fixed gates, "
                f"so use activation='tanh' (got {self.activation!r})"
            )
        for name in ("input_size", "hidden_size", "output_size", "num_layers"):
            object.__setattr__(self, name, v.check_positive_int(name, getattr(self, name)))
        object.__setattr__(self, "bidirectional", v.check_bool("bidirectional", self.bidirectional))

    @property
    def gates(self) -> int:
        """Number of gate blocks ``G`` stacked in ``weight_ih`` / ``weight_hh``."""
        return CELLS[self.cell].gates

    @property
    def directions(self) -> int:
        """``D``: 2 if bidirectional else 1."""
        return 2 if self.bidirectional else 1

    @property
    def state_parts(self) -> int:
        """Arrays carried from step to step: 1 (h) or 2 (h, c)."""
        return len(CELLS[self.cell].state_parts)

    @property
    def has_cell_state(self) -> bool:
        """True when the state is the pair ``(h, c)`` (the LSTM)."""
        return self.state_parts == 2

    def layer_input_size(self, layer: int) -> int:
        """Inputs of ``layer``: ``I`` for layer 0, ``D * H`` above."""
        return self.input_size if layer == 0 else self.directions * self.hidden_size

    def layers(self) -> list[tuple[int, int]]:
        """Every ``(layer, direction)`` pair, in PyTorch's order (layer-major)."""
        return [(l, d) for l in range(self.num_layers) for d in range(self.directions)]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter, keyed like PyTorch's state dict plus the read-out."""
        gh, h = self.gates * self.hidden_size, self.hidden_size
        shapes = {}
        for l, d in self.layers():
            shapes[param_key("weight_ih", l, d)] = (gh, self.layer_input_size(l))
            shapes[param_key("weight_hh", l, d)] = (gh, h)
            shapes[param_key("bias_ih", l, d)] = (gh,)
            shapes[param_key("bias_hh", l, d)] = (gh,)
        shapes["weight_out"] = (self.output_size, self.directions * h)
        shapes["bias_out"] = (self.output_size,)
        return shapes

    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(math.prod(s) for s in self.param_shapes().values())  # Python ints: no overflow at any size


def layer_params(params: dict[str, np.ndarray], layer: int = 0, direction: int = 0) -> dict[str, np.ndarray]:
    """One layer and direction's parameters under the short names the cells use (views, not copies)."""
    keys = {name: param_key(name, layer, direction) for name in LAYER_KEYS}
    missing = [key for key in keys.values() if key not in v.check_dict("params", params)]
    if missing:
        raise ValueError(f"params is missing key(s) {missing} of layer {layer}, direction {direction}")
    return {name: params[key] for name, key in keys.items()}


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
