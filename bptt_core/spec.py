"""The network description: which cell, which sizes, and the parameter layout.

Parameters follow PyTorch's layer-0 layout so that weights move between this
project and ``torch.nn.RNN/LSTM/GRU`` state dicts:

========================  ==============  =====================================
key                       shape           note
========================  ==============  =====================================
``weight_ih``             ``(G*H, I)``    G = 1 rnn, 4 lstm (i, f, g, o), 3 gru (r, z, n)
``weight_hh``             ``(G*H, H)``
``bias_ih``, ``bias_hh``  ``(G*H,)``
``weight_out``            ``(O, H)``      linear read-out ``yhat_t = h_t W_out^T + b_out``
``bias_out``              ``(O,)``
========================  ==============  =====================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELLS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
GATE_NAMES = {"rnn": ("a",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
PARAM_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class RNNSpec:
    """A one-layer recurrent network with a linear read-out.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The recurrent cell.
    input_size, hidden_size, output_size : int
        ``I``, ``H`` and ``O``; all at least 1.
    activation : {"tanh", "relu", "sigmoid", "linear"}
        Non-linearity of the vanilla RNN (``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``).
        LSTM and GRU use their fixed sigmoid/tanh gates and accept only ``"tanh"``.
    """

    cell: str = "rnn"
    input_size: int = 1
    hidden_size: int = 1
    output_size: int = 1
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.cell != "rnn" and self.activation != "tanh":
            raise ValueError(
                f"activation applies to cell='rnn' only; {self.cell} has fixed gates, "
                f"so use activation='tanh' (got {self.activation!r})"
            )
        for name in ("input_size", "hidden_size", "output_size"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))

    @property
    def gates(self) -> int:
        """Number of gate blocks ``G`` stacked in ``weight_ih`` / ``weight_hh``."""
        return GATES[self.cell]

    @property
    def has_cell_state(self) -> bool:
        """True for the LSTM, whose state is the pair ``(h, c)``."""
        return self.cell == "lstm"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter, keyed like PyTorch's layer-0 state dict."""
        gh, i, h, o = self.gates * self.hidden_size, self.input_size, self.hidden_size, self.output_size
        return {
            "weight_ih": (gh, i),
            "weight_hh": (gh, h),
            "bias_ih": (gh,),
            "bias_hh": (gh,),
            "weight_out": (o, h),
            "bias_out": (o,),
        }

    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return int(sum(np.prod(s) for s in self.param_shapes().values()))


def check_params(spec: RNNSpec, params: dict, dtype: np.dtype | None = None) -> dict[str, np.ndarray]:
    """Validate a parameter dict against ``spec`` and return float arrays.

    Raises
    ------
    ValueError
        Naming the first missing, unexpected, misshapen or non-finite key.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in params]
    if missing:
        raise ValueError(f"params is missing key(s) {missing} for cell={spec.cell!r}")
    extra = [k for k in params if k not in shapes]
    if extra:
        raise ValueError(f"params has unexpected key(s) {extra}; expected {list(shapes)}")
    out = {}
    for key, shape in shapes.items():
        arr = np.asarray(params[key])
        if arr.shape != shape:
            raise ValueError(
                f"params[{key!r}] has shape {arr.shape}, expected {shape} for {spec.cell} "
                f"with input_size={spec.input_size}, hidden_size={spec.hidden_size}, "
                f"output_size={spec.output_size}"
            )
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"params[{key!r}] must be numeric, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"params[{key!r}] contains NaN or inf")
        out[key] = np.ascontiguousarray(arr, dtype=dtype or np.float64)
    return out
