"""RunConfig: everything the sidebar sets, frozen, and its round trip through a URL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, fields

import bptt_core as bc
from bptt_core.lab.signals import SIGNALS

CHECKPOINTS = ("none", "sqrt", "4", "8", "16", "32")
#: Address parameters that belong to a page, not to the configuration (the tour's scene, lecture mode).
PAGE_PARAMS = ("scene", "lecture")
DTYPES = ("float64", "float32")
LIMITS = {  # (min, max) of every integer/float knob; the sidebar and the URL parser share them
    "T": (1, 1000),
    "hidden_size": (1, 256),
    "batch_size": (1, 64),
    "input_size": (1, 32),
    "output_size": (1, 32),
    "num_layers": (1, 4),
    "seed": (0, 2**31 - 1),
    "delay": (0, 1000),
    "truncation": (0, 1000),
    "scale": (0.0, 10.0),
    "forget_bias": (-5.0, 5.0),
    "clip": (0.0, 1e6),
    "r_min": (0.0, 0.999),  # the LRU's ring of |λ| at init, and the largest phase (the cells' init_options)
    "r_max": (0.0, 1.0),
    "max_phase": (0.001, math.tau),
}
#: Every registered cell's own init options (``Cell.init_options``) with the engine's defaults: each is a field.
INIT_OPTIONS = {name: value for cell in bc.CELLS.values() for name, value in cell.init_options.items()}


@dataclass(frozen=True)
class RunConfig:
    """One view of the dashboard: network, data and training options.

    ``truncation = 0`` and ``clip = 0`` mean off. ``weights`` is "preset" or the
    content hash of user weights (uploaded or edited) kept in the session. ``init`` and ``scale`` shape
    the cells with ``init_presets``; ``r_min``, ``r_max`` and ``max_phase`` are the options of the cells
    that draw their own way (:data:`INIT_OPTIONS`; checked by the cell for the chosen cell only).
    """

    cell: str = "rnn"
    activation: str = "tanh"
    T: int = 30
    hidden_size: int = 16
    batch_size: int = 4
    input_size: int = 3
    output_size: int = 2
    num_layers: int = 1
    bidirectional: bool = False
    init: str = "uniform"
    scale: float = 1.0
    forget_bias: float = 1.0
    seed: int = 0
    signal: str = "random"
    delay: int = 5
    ragged: bool = False
    loss: str = "mse"
    reduction: str = "mean"
    truncation: int = 0
    clip: float = 0.0
    checkpoint: str = "none"
    dtype: str = "float64"
    weights: str = "preset"
    r_min: float = INIT_OPTIONS["r_min"]
    r_max: float = INIT_OPTIONS["r_max"]
    max_phase: float = INIT_OPTIONS["max_phase"]

    def __post_init__(self) -> None:
        choices = {
            "cell": tuple(bc.CELLS),
            "activation": bc.ACTIVATIONS,
            "init": bc.INITS,
            "signal": SIGNALS,
            "loss": bc.LOSSES,
            "reduction": bc.REDUCTIONS,
            "checkpoint": CHECKPOINTS,
            "dtype": DTYPES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name, (lo, hi) in LIMITS.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be between {lo} and {hi}, got {value!r}")
        if self.bidirectional and self.truncation:
            raise ValueError(
                "truncation needs a unidirectional network (the reverse direction reads the future): "
                "set Truncation k to 0 or turn Bidirectional off"
            )
        bc.CELLS[self.cell].check_init_options(self.init_options)  # the cell's own rule (r_min <= r_max)
        if self.activation not in bc.CELLS[self.cell].activations:
            object.__setattr__(self, "activation", "tanh")  # gated cells have fixed non-linearities

    @property
    def spec(self) -> bc.RNNSpec:
        return bc.RNNSpec(
            self.cell,
            self.input_size,
            self.hidden_size,
            self.output_size,
            self.activation,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
        )

    @property
    def init_options(self) -> dict[str, float]:
        """The chosen cell's own init options (``Cell.init_options``), as :func:`bptt_core.init_params` takes them."""
        return {name: getattr(self, name) for name in bc.CELLS[self.cell].init_options}

    @property
    def init_text(self) -> str:
        """How pages write the weights' init: "orthogonal init × 0.9", or the cell's own options."""
        if bc.CELLS[self.cell].init_presets:
            return f"{self.init} init × {self.scale:g}"
        return ", ".join(f"{k} = {v:.4g}" for k, v in self.init_options.items()) or "its own init"

    @property
    def owners(self) -> list[tuple[int, int]]:
        """Every (layer, direction) of the network, bottom layer first, forward before reverse."""
        return [(layer, d) for layer in range(self.num_layers) for d in range(1 + self.bidirectional)]

    def replace(self, **changes) -> RunConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_query(self) -> dict[str, str]:
        """The fields that differ from the defaults, as URL query parameters."""
        default = RunConfig()
        return {
            f.name: _format(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name) and f.name != "weights"
        }

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def key(self) -> str:
        """A short stable hash of the whole configuration (file names, cache keys)."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:10]


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value) if isinstance(value, float) else str(value)


def _parse(kind: type, text: str) -> object:
    if kind is bool:
        if text not in ("0", "1", "true", "false"):
            raise ValueError(text)
        return text in ("1", "true")
    return kind(text)


def from_mapping(values: dict[str, str]) -> tuple[RunConfig, list[str]]:
    """A config from query parameters or JSON, and the list of values that were ignored.

    Unknown keys and invalid values fall back to the defaults, each with a
    message; nothing here raises.
    """
    types = {f.name: type(getattr(RunConfig(), f.name)) for f in fields(RunConfig)}
    good: dict[str, object] = {}
    problems = []
    for name, text in values.items():
        if name in PAGE_PARAMS:
            continue
        if name not in types or name == "weights":
            problems.append(f"unknown setting {name!r} ignored")
            continue
        try:
            value = _parse(types[name], str(text))
            RunConfig(**{name: value})
            good[name] = value
        except (ValueError, TypeError) as err:
            problems.append(f"{name}={text!r} ignored: {err}")
    try:
        return RunConfig(**good), problems
    except ValueError as err:  # a combination that makes no sense
        return RunConfig(), [*problems, f"settings ignored: {err}"]
