"""The advice: every rule written down once, with the evidence it reads and its thresholds.

A :class:`Rule` names what it recommends, what it reads, how its conditions combine ("all" or
"any") and each condition's threshold; :func:`check` evaluates every rule on a measured
:class:`~dashboard.diagnose.measurements.Report` and keeps, per rule, the numbers that did and did not
trigger it. What each rule reads and says is in :mod:`.evidence`, with the thresholds. ``docs/diagnosis.md``
is generated from :data:`RULES` (:mod:`.rules_doc`), so the page, the report and the documentation cannot
disagree. Rules of kind "fix" are what to change (a healthy model gets none); kind "saving" lists what could
be saved without losing anything measured.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from dashboard.diagnose import evidence as ev
from dashboard.diagnose.evidence import Recommendation
from dashboard.diagnose.measurements import Report, measure
from dashboard.diagnose.model_files import Model
from dashboard.diagnose.sequence_files import Sequences

__all__ = ["OPS", "RULES", "Check", "Condition", "Recommendation", "Rule", "check", "diagnose"]

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq}


@dataclass(frozen=True)
class Condition:
    """``evidence[key] <op> threshold``; not met when the value could not be measured (None)."""

    key: str
    label: str
    op: str
    threshold: float | bool

    def met(self, value) -> bool:
        return (
            value is not None
            and not (isinstance(value, float) and np.isnan(value))
            and OPS[self.op](value, self.threshold)
        )


@dataclass(frozen=True)
class Rule:
    """A rule: what it recommends, what it reads, when it fires, and what "try the fix" changes."""

    name: str
    kind: str
    recommends: str
    reads: str
    logic: str
    conditions: tuple[Condition, ...]
    change: str
    evidence: Callable[[Report, dict], dict]
    advise: Callable[[Report, dict, set], Recommendation]


@dataclass(frozen=True)
class Check:
    """One rule evaluated: whether it fired, each condition's value and verdict, and its recommendation."""

    rule: str
    kind: str
    fired: bool
    rows: tuple
    evidence: dict
    recommendation: Recommendation | None


EXPLODES = (
    Condition("lyapunov_growth", "λ₁ × (T − 1) of the worst sequence (ln of its growth over the sequence)", ">",
              ev.EXPLODE_LOG),
    Condition("growing_sequences", "sequences whose Jacobian products grow past 10³ (most of any layer)", ">=", 1),
    Condition("spike_ratio", "largest batch gradient norm / the median (4 batches or more)", ">", ev.SPIKE_RATIO),
    Condition("overflow", "values stop being finite", "==", True),
)  # fmt: skip
#: Rules read after the clip rule stay silent while gradients explode: fix that first, the other numbers read a
#: network whose gradients the explosion dominates.
QUIET = Condition("clip_fired", "gradients explode (the clip rule fired)", "==", False)
NEEDS_MEMORY = (
    Condition("memory_share", "share of the task's error that inputs beyond the model's reach explain (held out)",
              ">=", ev.MEMORY_SHARE),
    Condition("over_floor", "that share over its noise floor (residuals shuffled)", ">=", ev.OVER_FLOOR),
    QUIET,
)  # fmt: skip
FAILS_NEAR = Condition(
    "near_share",
    "share of the task's error that inputs within the model's reach explain (held out)",
    ">=",
    ev.FAILS_WITHIN_REACH,
)
VANILLA = Condition(
    "vanilla_rnn", "the cell is a vanilla RNN (its non-linearity chosen, Pascanu's bound holds)", "==", True
)
HAS_W_HH = Condition("has_weight_hh", "the cell has a recurrent weight W_hh", "==", True)
MEMORY_READS = (
    "per-sequence horizons of every layer's Jacobian products, the network's reach (the sum over layers of "
    "their longest median horizon), and the memory probe: held-out ridge regression of the model's residuals "
    "on the inputs beyond that reach, on top of those within it"
)

RULES: tuple[Rule, ...] = (
    Rule("clip", "fix", "Clip the global gradient norm at the median of your batches' norms",
         "per-sequence leading Lyapunov exponents and Jacobian-product curves of every layer-direction, the "
         "global gradient norm of each batch of 4 sequences, non-finite values", "any", EXPLODES,
         "fine-tune with the global gradient norm clipped at the advised threshold",
         ev.explosion_evidence, ev.clip_advice),
    Rule("rescale", "fix", "Rescale W_hh of the exploding layer to spectral radius 0.95 (a vanilla RNN)",
         "the clip rule, the cell's registry entry, the spectral radius of the exploding layer's W_hh", "all",
         (Condition("clip_fired", "gradients explode (the clip rule fired)", "==", True), VANILLA,
          Condition("radius", "spectral radius of that layer's W_hh", ">", 1.0)),
         "fine-tune with that W_hh multiplied by 0.95 / ρ", ev.explosion_evidence, ev.rescale_advice),
    Rule("gated_cell", "fix", "Use an LSTM or GRU (the model is a vanilla RNN whose memory is too short)",
         MEMORY_READS, "all", (*NEEDS_MEMORY, VANILLA),
         "fine-tune a fresh LSTM of the same size (forget-gate bias 1) in place of the RNN",
         ev.memory_evidence, ev.gated_advice),
    Rule("forget_bias", "fix", "Raise the forget-gate bias so the gate's mean is about 0.9",
         MEMORY_READS + "; the mean of the forget gate of the layer with the shortest horizon", "all",
         (*NEEDS_MEMORY, Condition("forget_mean", "mean of that layer's forget gate", "<", ev.FORGET_MEAN)),
         "fine-tune with that layer's forget-gate bias raised by the advised amount",
         ev.memory_evidence, ev.forget_advice),
    Rule("orthogonal", "fix", "Initialise the W_hh of the layer with the shortest horizon orthogonally",
         MEMORY_READS + "; the mean of its forget gate, if it has one", "all",
         (*NEEDS_MEMORY, Condition("vanilla_rnn", "the cell is a vanilla RNN", "==", False), HAS_W_HH,
          Condition("forget_gate_open", f"its forget gate is open (mean >= {ev.FORGET_MEAN}) or it has none", "==",
                    True)),
         "fine-tune with that W_hh replaced by a random orthogonal matrix per gate block",
         ev.memory_evidence, ev.orthogonal_advice),
    Rule("bottleneck", "fix", "Re-initialise the weights that carry the gradient down to a starved layer",
         "the median ‖dL/dh_t‖ of each layer (the highest starved one is named); the memory probe's share of the "
         "error that inputs within reach "
         "explain", "all",
         (QUIET, Condition("layers", "layers", ">=", 2),
          Condition("ratio", "best-fed layer's median gradient / the highest starved layer's", ">",
                    ev.BOTTLENECK_RATIO), FAILS_NEAR),
         "fine-tune with those weights re-initialised (PyTorch's default uniform)",
         ev.bottleneck_evidence, ev.bottleneck_advice),
    Rule("saturation", "fix", "Bring saturated gates back into range (normalise inputs, scale down weights)",
         "each gate's share of values within 0.01 of a limit (gate_saturation), the forget gate, the layers the "
         "bottleneck rule calls starved and a ReLU's zeros aside; the memory probe's share of the error that inputs "
         "within reach explain",
         "all",
         (QUIET, Condition("saturated_share", "largest share of a gate's values near a limit", ">", ev.SATURATED_SHARE),
          FAILS_NEAR),
         "fine-tune with the inputs standardised (layer 0) or that layer's W_ih and b_ih scaled to unit "
         "pre-activations", ev.saturation_evidence, ev.saturation_advice),
    Rule("truncate", "saving", "Truncate BPTT at the longest horizon to store fewer intermediates",
         "per-sequence horizons of every layer, the memory probe", "all",
         (Condition("unidirectional", "the network is unidirectional", "==", True),
          QUIET,
          Condition("decaying_share", "share of the analysed curves that decay", ">=", 1.0),
          Condition("horizon_fraction", "longest horizon / T", "<", 0.5),
          Condition("memory_share", "share of the task's error that inputs beyond the reach explain", "<",
                    ev.MEMORY_SHARE)),
         "fine-tune with BPTT truncated at that horizon", ev.truncation_evidence, ev.truncation_advice),
)  # fmt: skip


def check(report: Report) -> tuple[Check, ...]:
    """Every rule of :data:`RULES` on ``report``, in order (a rule may read whether an earlier one fired)."""
    earlier, out = {}, []
    for rule in RULES:
        e = rule.evidence(report, earlier)
        rows = tuple(
            {"label": c.label, "key": c.key, "value": e.get(c.key), "op": c.op, "threshold": c.threshold,
             "met": c.met(e.get(c.key))}
            for c in rule.conditions
        )  # fmt: skip
        met = [row["met"] for row in rows]
        fired = all(met) if rule.logic == "all" else any(met)
        keys = {row["key"] for row in rows if row["met"]}
        earlier[rule.name] = Check(
            rule.name, rule.kind, fired, rows, e, rule.advise(report, e, keys) if fired else None
        )
        out.append(earlier[rule.name])
    return tuple(out)


def diagnose(model: Model, seqs: Sequences) -> Report:
    """Measure ``model`` on ``seqs`` (:func:`~dashboard.diagnose.measurements.measure`) and check every rule."""
    report = measure(model, seqs)
    return replace(report, checks=check(report))
