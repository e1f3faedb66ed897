"""What each rule of :mod:`.advice` reads and says: the numbers (its evidence) and, when it fires, the advice.

Every ``*_evidence(report, earlier)`` returns the values the rule's conditions compare (under the conditions'
keys) and the context its sentence cites; ``earlier`` holds the checks of the rules before it. Every
``*_advice(report, evidence, met)`` writes the recommendation from those numbers (``met``: the keys of the
conditions that were met). The thresholds are here, once; :data:`dashboard.diagnose.advice.RULES` compares
against them and ``docs/diagnosis.md`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bptt_core as bc
from dashboard.diagnose.measurements import (
    HORIZON_LEVEL,
    Report,
    layer_summary,
    positive_median,
    sequence_median,
    where,
)

#: ln of the growth over the sequence that counts as exploding: the same 10³ as the blow-up lag.
EXPLODE_LOG = float(np.log(1 / HORIZON_LEVEL))
#: A batch whose gradient norm is this many times the median is a spike.
SPIKE_RATIO = 10.0
#: A gate with a larger share of its values near a limit is saturated.
SATURATED_SHARE = 0.5
#: A forget gate below this mean forgets most of its cell state within a few steps.
FORGET_MEAN = 0.8
#: A layer whose median gradient is this many times smaller than another's is the bottleneck.
BOTTLENECK_RATIO = 10.0
#: The share of the task's error that inputs within the model's reach must explain for advice on saturation or a
#: starved layer: the model fails at what it can see.
FAILS_WITHIN_REACH = 0.1
#: The share of the task's error that inputs beyond the model's reach must explain for memory advice, and
#: how many times the noise floor it must be.
MEMORY_SHARE, OVER_FLOOR = 0.1, 2.0


@dataclass(frozen=True)
class Recommendation:
    """One piece of advice: what to change, why, the numbers it comes from, and the rule that gave it."""

    what: str
    why: str
    evidence: dict
    rule: str = ""


def fired(earlier: dict, name: str) -> bool:
    """Whether an earlier rule fired (rules read only those before them in :data:`dashboard.diagnose.advice.RULES`)."""
    return name in earlier and earlier[name].fired


def worst(values: np.ndarray) -> tuple[float, tuple[int, int]]:
    """The largest finite value of an (L, D, n) array and its layer-direction."""
    v = np.where(np.isfinite(values), values, -np.inf)
    l, d, _ = np.unravel_index(np.argmax(v), v.shape)
    return float(v[l, d].max()), (int(l), int(d))


def explosion_evidence(r: Report, earlier: dict) -> dict:
    lam, (l, d) = worst(r.lyapunov[..., 0])
    norms = r.batch_norms[np.isfinite(r.batch_norms)]
    median = float(np.median(norms)) if norms.size else None
    summary = layer_summary(r, l, d)
    return {
        "lyapunov_growth": lam * (r.T - 1) if np.isfinite(lam) else None,
        "growing_sequences": int(np.max(np.sum(r.regime == "growing", axis=2))),
        "spike_ratio": float(norms.max() / median) if norms.size >= 4 and median > 0 else None,
        "overflow": r.overflow["forward"] is not None or r.overflow["backward"] is not None,
        "layer": l,
        "direction": d,
        "lyapunov_1_median": summary["lyapunov_1"][0],
        "lyapunov_1_worst": lam,
        "positive_sequences": summary["positive_lyapunov"],
        "sequences": summary["sequences"],
        "median_norm": median,
        "max_norm": float(norms.max()) if norms.size else None,
        "radius": float(r.radius[l, d]),
        "vanilla_rnn": vanilla_rnn(r.spec.cell),
        "has_weight_hh": bc.CELLS[r.spec.cell].init_presets,
        "clip_fired": fired(earlier, "clip"),
    }


def clip_advice(r: Report, e: dict, met: set) -> Recommendation:
    """What to clip at, and why: the explosion's conditions that were met (``met``), then λ₁'s spread."""
    said = {  # each met condition, in words
        "lyapunov_growth": lambda: (
            f"perturbations grow by e^{e['lyapunov_growth']:.3g} over the {r.T} steps on the worst sequence"
        ),
        "growing_sequences": lambda: f"the Jacobian products of {e['growing_sequences']} sequence(s) grow past 10³",
        "spike_ratio": lambda: f"a batch's gradient norm reaches {e['spike_ratio']:.3g}× the median",
        "overflow": lambda: f"values stop being finite ({r.overflow})",
    }
    reasons = [said[key]() for key in said if key in met]
    reasons.append(
        f"in {where(r.spec, e['layer'], e['direction'])} λ₁ is {e['lyapunov_1_worst']:+.3f} per step on the worst of "
        f"{e['sequences']} sequences (median {e['lyapunov_1_median']:+.3f}; {e['positive_sequences']} above 0)"
    )
    if e["median_norm"] is not None:
        reasons.append(
            f"the batches' gradient norms have median {e['median_norm']:.3g} and maximum {e['max_norm']:.3g}"
        )
        what = f"Clip the global gradient norm at {e['median_norm']:.3g} (the median over your batches)"
    else:
        what = "Clip the global gradient norm (give targets to measure a threshold from your batches' gradients)"
    return Recommendation(what, "Gradients explode: " + "; ".join(reasons) + ".", e, "clip")


def rescale_advice(r: Report, e: dict, met: set) -> Recommendation:
    return Recommendation(
        f"Rescale {where(r.spec, e['layer'], e['direction'])}'s W_hh to a spectral radius of 0.95 "
        f"(×{0.95 / e['radius']:.3g}), or re-initialise it orthogonally",
        f"Its spectral radius is ρ = {e['radius']:.3g} > 1, so products of its step Jacobians can grow by up to "
        "ρ per step, and they do (see the clipping advice).",
        e,
        "rescale",
    )


def vanilla_rnn(cell: str) -> bool:
    """Whether the cell is the vanilla RNN, h = phi(W_ih x + W_hh h + b): the one whose non-linearity is chosen."""
    return len(bc.CELLS[cell].activations) > 1


def forget_mean(r: Report, l: int, d: int) -> float | None:
    """The mean of the cell's forget gate in one layer-direction (None for cells without one)."""
    cell = bc.CELLS[r.spec.cell]
    return None if cell.forget_gate is None else float(r.saturation[l, d, cell.gate_names.index(cell.forget_gate), 2])


def memory_evidence(r: Report, earlier: dict) -> dict:
    medians = sequence_median(r.horizon, axis=2)
    l, d = np.unravel_index(np.argmin(medians), medians.shape)
    summary, m = layer_summary(r, int(l), int(d)), r.memory
    forget = forget_mean(r, int(l), int(d))
    return {
        "memory_share": None if m is None else m.share,
        "over_floor": None if m is None else (np.inf if m.floor <= 0 else m.share / m.floor),
        "reach_fraction": None if m is None else m.reach / (r.T - 1),
        "clip_fired": fired(earlier, "clip"),
        "vanilla_rnn": vanilla_rnn(r.spec.cell),
        "has_weight_hh": bc.CELLS[r.spec.cell].init_presets,
        "forget_mean": forget,
        "forget_gate_open": forget is None or forget >= FORGET_MEAN,
        "layer": int(l),
        "direction": int(d),
        "horizon_median": summary["horizon"][0],
        "horizon_shortest": summary["horizon"][1],
        "reach": None if m is None else m.reach,
        "window": None if m is None else m.window,
        "gain_r2": None if m is None else m.gain_r2,
        "explained": r.explained,
    }


def memory_why(r: Report, e: dict) -> str:
    first, last = e["window"]
    lags = f"{first}" if first == last else f"{min(first, last)} to {max(first, last)}"
    return (
        f"In {where(r.spec, e['layer'], e['direction'])} the Jacobian products fall below {HORIZON_LEVEL:g} of "
        f"their peak within {e['horizon_median']:.0f} steps on the median sequence (shortest "
        f"{e['horizon_shortest']:.0f}), "
        f"and the network reaches about {e['reach']} steps back; yet the inputs {lags} steps "
        f"{'ahead' if first < 0 else 'back'} explain {e['gain_r2']:.0%} of your model's remaining error (held out), "
        f"{e['memory_share']:.0%} of the error of a model that learned nothing: the task needs memory the model "
        "does not have"
    )


def gated_advice(r: Report, e: dict, met: set) -> Recommendation:
    what = "Use an LSTM or GRU, or initialise W_hh orthogonally with spectral radius near 1"
    return Recommendation(what, memory_why(r, e) + ".", e, "gated_cell")


def forget_advice(r: Report, e: dict, met: set) -> Recommendation:
    delta = max(1.0, float(np.log(0.9 / 0.1) - np.log(e["forget_mean"] / (1 - e["forget_mean"]))))
    e = {**e, "forget_bias_delta": delta}
    return Recommendation(
        f"Raise the forget-gate bias of {where(r.spec, e['layer'], e['direction'])} by {delta:.2g} (to bring its "
        "mean to about 0.9; Gers et al. 2000, Jozefowicz et al. 2015)",
        memory_why(r, e) + f"; its forget gate averages {e['forget_mean']:.3g}, so the cell state keeps "
        f"{e['forget_mean']:.3g}^k of itself after k steps.",
        e,
        "forget_bias",
    )


def orthogonal_advice(r: Report, e: dict, met: set) -> Recommendation:
    return Recommendation(
        f"Initialise {where(r.spec, e['layer'], e['direction'])}'s W_hh orthogonally",
        memory_why(r, e) + ".",
        e,
        "orthogonal",
    )


def saturation_evidence(r: Report, earlier: dict) -> dict:
    """The most saturated gate. Left out: the forget gate (low: the forget-bias rule's; high: remembering), the
    layers the bottleneck rule calls starved (their gates drift where they will: the gradient supply comes
    first), and a ReLU's zeros (its working region, not a limit it is stuck at)."""
    cell = bc.CELLS[r.spec.cell]
    labels = cell.gate_names if cell.gates > 1 else (r.spec.activation,)
    kinds = cell.gate_kinds or (r.spec.activation,)
    starved = earlier["bottleneck"].evidence["starved"] if fired(earlier, "bottleneck") else []
    best = (0.0, 0, 0, 0)
    for l, d in r.spec.layers():
        for g, name in enumerate(cell.gate_names):
            if name == cell.forget_gate or l in starved:
                continue
            low, high = r.saturation[l, d, g, :2]
            share = float(np.nansum([0.0 if kinds[g] == "relu" else low, high]))
            best = max(best, (share, l, d, g))
    share, l, d, g = best
    near = None if r.memory is None else r.memory.near_share
    return {"clip_fired": fired(earlier, "clip"), "saturated_share": share, "near_share": near,
            "explained": r.explained, "layer": l, "direction": d, "gate": labels[g]}  # fmt: skip


def saturation_advice(r: Report, e: dict, met: set) -> Recommendation:
    return Recommendation(
        f"Bring {where(r.spec, e['layer'], e['direction'])}'s {e['gate']} units out of saturation: normalise the "
        "inputs or scale down the weights that feed them",
        f"{e['saturated_share']:.0%} of its {e['gate']} values lie within 0.01 of a limit of their non-linearity, "
        f"where the derivative (and so every gradient through them) is below 0.01; the model explains "
        f"{e['explained']:.0%} of its targets, and the inputs it can reach would explain {e['near_share']:.0%} of the "
        "error of a model that learned nothing: it fails at what it can see.",
        e,
        "saturation",
    )


def bottleneck_evidence(r: Report, earlier: dict) -> dict:
    """The highest layer whose median gradient is :data:`BOTTLENECK_RATIO` times smaller than the best-fed one's:
    every layer below it gets its gradient through it, so the weights above it are where the supply is cut."""
    L = r.spec.num_layers
    per_layer = np.array([positive_median(r.gradient[l]) for l in range(L)]) if r.gradient is not None else None
    usable = per_layer is not None and L >= 2 and np.all(np.isfinite(per_layer)) and np.all(per_layer > 0)
    top = int(np.argmax(per_layer)) if usable else 0
    starved = [l for l in range(L) if usable and per_layer[top] / per_layer[l] > BOTTLENECK_RATIO]
    lo = max(starved) if starved else (int(np.argmin(per_layer)) if usable else 0)
    return {
        "clip_fired": fired(earlier, "clip"),
        "layers": L,
        "ratio": float(per_layer[top] / per_layer[lo]) if usable else None,
        "near_share": None if r.memory is None else r.memory.near_share,
        "explained": r.explained,
        "layer": lo,
        "starved": starved,
        "median_norm": float(per_layer[lo]) if usable else None,
        "other_layer": top,
        "other_median_norm": float(per_layer[top]) if usable else None,
    }


def bottleneck_advice(r: Report, e: dict, met: set) -> Recommendation:
    feeds = f"layer {e['layer'] + 1}'s W_ih" if e["layer"] + 1 < r.spec.num_layers else "the read-out"
    below = f" (and the {len(e['starved']) - 1} layer(s) below it, whose gradient passes through it)" if len(
        e["starved"]) > 1 else ""  # fmt: skip
    return Recommendation(
        f"Layer {e['layer']} is the bottleneck{below}: re-initialise {feeds} (the weights that carry the gradient "
        "down to it), or add a residual connection around it",
        f"Its median gradient is {e['median_norm']:.3g}, {e['ratio']:.3g}× smaller than layer {e['other_layer']}'s "
        f"({e['other_median_norm']:.3g}); the inputs the model can reach would explain {e['near_share']:.0%} of the "
        "error of a model that learned nothing: it fails at what it can see.",
        e,
        "bottleneck",
    )


def truncation_evidence(r: Report, earlier: dict) -> dict:
    decays = r.regime == "decaying"
    longest = float(np.max(r.horizon)) if decays.all() else None
    return {
        "unidirectional": not r.spec.bidirectional,
        "clip_fired": fired(earlier, "clip"),
        "decaying_share": float(np.mean(decays)),
        "horizon_fraction": None if longest is None else longest / r.T,
        "memory_share": None if r.memory is None else r.memory.share,
        "horizon": None if longest is None else int(longest),
        "T": r.T,
    }


def truncation_advice(r: Report, e: dict, met: set) -> Recommendation:
    k = max(e["horizon"], 1)
    return Recommendation(
        f"Truncate BPTT at k = {k} steps to store {r.T / k:.3g}× fewer intermediates (as long as the model stays "
        "as it is)",
        f"On every analysed sequence and layer the Jacobian products fall below {HORIZON_LEVEL:g} of their peak "
        f"within {k} steps, and the inputs further back explain almost none of the model's error.",
        {**e, "memory_ratio": r.T / k},
        "truncate",
    )
