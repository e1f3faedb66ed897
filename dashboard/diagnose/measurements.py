"""Diagnose a trained network on its own sequences: measurements, then advice that cites them.

:func:`diagnose` measures, per layer and direction, how gradients travel back in time (the
gradient norms ``||dL/dh_t||`` with targets, the read-out's sensitivity ``||d yhat/d h_t||``
without), the Jacobian products' growth and horizon, the finite-time Lyapunov spectrum of the
input-driven Jacobians, gate saturation and where values stop being finite; then
:func:`recommend` turns those numbers into advice. Every recommendation carries the
measurement it comes from; none is produced without one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

import bptt_core as bc
from bptt_core.analysis.jacobians import iter_local_jacobians, jacobian_products
from bptt_core.analysis.summaries import growth_rate, memory_horizon
from dashboard.diagnose.model_files import Model
from dashboard.diagnose.sequence_files import Sequences

#: Jacobian products below this fraction of their start count as vanished (the horizon).
HORIZON_LEVEL = 1e-3
#: Gradients that grow more than this over the sequence count as exploding.
EXPLODE_FACTOR = 10.0
#: A batch whose gradient norm is this many times the median is a spike.
SPIKE_RATIO = 10.0
#: A gate with more units than this near a limit is saturated.
SATURATED_SHARE = 0.5
#: A forget gate below this mean forgets most of its cell state within a few steps.
FORGET_MEAN = 0.8
#: A layer whose median gradient is this many times smaller than another's is the bottleneck.
BOTTLENECK_RATIO = 10.0
#: Sequences the per-sequence analyses (Jacobians, Lyapunov spectrum, saturation) read at most.
ANALYSED_SEQUENCES = 8
#: Lyapunov exponents reported per layer and direction.
LYAPUNOV_K = 8


@dataclass(frozen=True)
class Recommendation:
    """One piece of advice: what to change, why, and the numbers it comes from."""

    what: str
    why: str
    evidence: dict


@dataclass(frozen=True)
class Report:
    """What :func:`diagnose` measured (L layers, D directions, T steps, K lags, G gates).

    Attributes
    ----------
    spec : RNNSpec
    T, B : int
    loss_name : str or None
        None without targets.
    loss : float or None
    dh_norms : ndarray of shape (L, D, T) or None
        ``||dL/dh_t||``, Frobenius over sequences and units (with targets).
    sensitivity : ndarray of shape (L, D, T) or None
        ``||d yhat_T / d h_t||`` of each sequence's last valid read-out (without targets).
    lags : ndarray of shape (K,)
    jacobian : ndarray of shape (L, D, K)
        log10 of the mean spectral norm of the Jacobian product over each lag.
    growth : ndarray of shape (L, D)
        Its slope, ln per step.
    horizon : ndarray of shape (L, D) of int
        The lag where it falls below :data:`HORIZON_LEVEL` of its peak; -1 if it never does.
    lyapunov : ndarray of shape (L, D, k)
        Leading finite-time Lyapunov exponents (ln per step), mean over the analysed sequences.
    saturation : ndarray of shape (L, D, G, 3)
        Share near the lower and upper limit, and mean, of each gate (:func:`bptt_core.gate_saturation`).
    radius : ndarray of shape (L, D)
        Spectral radius of each ``W_hh`` (its gate blocks for gated cells: the largest).
    batch_norms : ndarray of shape (n,)
        Global gradient norm of each batch of sequences (with targets).
    grad_norms : dict of str to float
        Norm of each parameter's gradient (with targets).
    overflow : dict
        ``forward``: first step whose state is not finite; ``backward``: first step (counting
        back from the end) whose gradient is not finite; None where all are finite.
    connectivity : ndarray of shape (T,)
        ``||d yhat_t / d x_k||`` of the first sequence at ``connectivity_step``.
    connectivity_step : int
    analysed : int
        Sequences the per-sequence analyses read.
    recommendations : list of Recommendation
    notes : list of str
    """

    spec: bc.RNNSpec
    T: int
    B: int
    loss_name: str | None
    loss: float | None
    dh_norms: np.ndarray | None
    sensitivity: np.ndarray | None
    lags: np.ndarray
    jacobian: np.ndarray
    growth: np.ndarray
    horizon: np.ndarray
    lyapunov: np.ndarray
    saturation: np.ndarray
    radius: np.ndarray
    batch_norms: np.ndarray
    grad_norms: dict
    overflow: dict
    connectivity: np.ndarray
    connectivity_step: int
    analysed: int
    recommendations: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def gradient(self) -> np.ndarray:
        """The per-step gradient curve the page draws: ``dh_norms`` with targets, else ``sensitivity``."""
        return self.dh_norms if self.dh_norms is not None else self.sensitivity


def positive_median(values: np.ndarray, axis=None) -> np.ndarray:
    """The median of the positive finite values (nan where there are none), without a warning."""
    v = np.where(np.isfinite(values) & (values > 0), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan slices give nan, as intended
        return np.nanmedian(v, axis=axis)


def _frobenius(a: np.ndarray, axes: tuple) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=axes))


def _gradients(model: Model, seqs: Sequences) -> dict:
    """Loss, ``dh_norms``, per-parameter norms, per-batch norms and overflow, from the engine (with targets)."""
    spec, P = model.spec, model.params
    res = bc.bptt(spec, P, seqs.x, seqs.y, seqs.loss, "mean", seqs.mask)
    dh = res.dh_layers * (np.arange(seqs.x.shape[0])[:, None] < seqs.lengths[None])[None, None, :, :, None]
    batches = np.array_split(np.arange(seqs.x.shape[1]), min(seqs.x.shape[1], 32))
    norms = [
        bc.bptt(spec, P, seqs.x[:, i], seqs.y[:, i], seqs.loss, "mean", seqs.mask[:, i]).grad_norm for i in batches
    ]
    bad_back = np.flatnonzero(~np.all(np.isfinite(dh), axis=(0, 1, 3, 4)))
    return {
        "loss": res.loss,
        "dh_norms": _frobenius(dh, (3, 4)),
        "grad_norms": {k: float(_frobenius(g, tuple(range(g.ndim)))) for k, g in res.grads.items()},
        "batch_norms": np.array(norms),
        "overflow": {"forward": res.overflow_step, "backward": int(bad_back[-1]) if bad_back.size else None},
    }


def _sensitivity(model: Model, seqs: Sequences) -> dict:
    n = min(seqs.x.shape[1], ANALYSED_SEQUENCES)
    sens = bc.output_sensitivity(model.spec, model.params, seqs.x[:, :n], mask=seqs.mask[:, :n])
    bad = np.flatnonzero(~np.all(np.isfinite(sens.dh), axis=(0, 1)))
    return {"sensitivity": sens.dh, "overflow": {"forward": None, "backward": int(bad[-1]) if bad.size else None}}


def _analysed(seqs: Sequences) -> tuple[np.ndarray, int]:
    """The longest sequences (same length, unpadded), at most :data:`ANALYSED_SEQUENCES` of them."""
    longest = int(seqs.lengths.max())
    idx = np.flatnonzero(seqs.lengths == longest)[:ANALYSED_SEQUENCES]
    return seqs.x[:longest, idx], longest


def _dynamics(model: Model, x: np.ndarray) -> dict:
    """Jacobian products, Lyapunov spectrum and saturation of every layer-direction on unpadded ``x``."""
    spec, P, T = model.spec, model.params, x.shape[0]
    S = spec.jacobian_width
    curves, lyap = {}, {}
    for l, d in spec.layers():
        jac = iter_local_jacobians(spec, P, x, layer=l, direction=d)
        curves[l, d] = jacobian_products(jac, spec.hidden_width, max_points=200, steps=T)
        with warnings.catch_warnings():  # a sequence whose Jacobians overflowed is nan: the others' mean
            warnings.simplefilter("ignore", RuntimeWarning)
            lyap[l, d] = np.nanmean(
                bc.lyapunov_spectrum(spec, P, x, layer=l, direction=d, k=min(S, LYAPUNOV_K)), axis=0
            )
    lags = next(iter(curves.values())).lags
    jac = np.array([[curves[l, d].log10_spectral_mean for d in range(spec.directions)] for l in range(spec.num_layers)])
    growth = np.vectorize(lambda l, d: growth_rate(jac[l, d], lags))(*np.indices(jac.shape[:2]))
    horizon = np.array(
        [[memory_horizon(jac[l, d], HORIZON_LEVEL, lags) or -1 for d in range(spec.directions)]
         for l in range(spec.num_layers)]
    )  # fmt: skip
    return {
        "lags": lags,
        "jacobian": jac,
        "growth": growth,
        "horizon": horizon,
        "lyapunov": np.array([[lyap[l, d] for d in range(spec.directions)] for l in range(spec.num_layers)]),
        "saturation": bc.gate_saturation(spec, P, x),
    }


def _radius(model: Model) -> np.ndarray:
    """The largest spectral radius of each layer-direction's recurrent blocks (nan: a cell without any)."""
    spec, cell = model.spec, bc.CELLS[model.spec.cell]
    out = np.full((spec.num_layers, spec.directions), np.nan)
    for l, d in spec.layers():
        blocks = cell.recurrence(bc.layer_params(model.params, l, d)).values()
        out[l, d] = max((bc.spectral_radius(b) for b in blocks), default=np.nan)
    return out


def diagnose(model: Model, seqs: Sequences) -> Report:
    """Measure ``model`` on ``seqs`` and recommend what to change.

    The loss, ``dh_norms`` and per-batch gradient norms come from the engine on all sequences
    (with their padding); the Jacobian products, Lyapunov spectrum and saturation from the
    longest sequences, unpadded (:data:`ANALYSED_SEQUENCES` at most).
    """
    with np.errstate(all="ignore"):
        grads = _gradients(model, seqs) if seqs.y is not None else _sensitivity(model, seqs)
        x, T_analysed = _analysed(seqs)
        dynamics = _dynamics(model, x)
        step = int(seqs.lengths[0]) - 1
        connectivity = bc.input_connectivity(model.spec, model.params, seqs.x[: step + 1, :1], step)
    report = Report(
        spec=model.spec,
        T=seqs.x.shape[0],
        B=seqs.x.shape[1],
        loss_name=seqs.loss,
        loss=grads.get("loss"),
        dh_norms=grads.get("dh_norms"),
        sensitivity=grads.get("sensitivity"),
        radius=_radius(model),
        batch_norms=grads.get("batch_norms", np.zeros(0)),
        grad_norms=grads.get("grad_norms", {}),
        overflow=grads["overflow"],
        connectivity=connectivity,
        connectivity_step=step,
        analysed=x.shape[1],
        notes=[
            *model.notes,
            *seqs.notes,
            f"Jacobians, Lyapunov spectrum and saturation: {x.shape[1]} sequence(s) of {T_analysed} steps",
        ],
        **dynamics,
    )
    return Report(**{**report.__dict__, "recommendations": recommend(report)})


def where(spec: bc.RNNSpec, l: int, d: int) -> str:
    """ "layer 1 ←" (the reverse direction) or "layer 0"."""
    return f"layer {l}" + ((" →", " ←")[d] if spec.bidirectional else "")


def _explosion(r: Report) -> list[Recommendation]:
    """Clip (at a threshold from the batches' gradient norms) when products grow or norms spike."""
    lam = r.lyapunov[..., 0]
    l, d = np.unravel_index(np.nanargmax(np.where(np.isnan(lam), -np.inf, lam)), lam.shape)
    growth = float(np.exp(min(lam[l, d] * r.T, 700.0)))
    norms = r.batch_norms[np.isfinite(r.batch_norms)]
    median = float(np.median(norms)) if norms.size else np.nan
    spikes = norms.size >= 2 and norms.max() > SPIKE_RATIO * median
    overflow = r.overflow["forward"] is not None or r.overflow["backward"] is not None
    if not (growth > EXPLODE_FACTOR or spikes or overflow):
        return []
    evidence = {"layer": int(l), "direction": int(d), "lyapunov_1": float(lam[l, d]), "growth_over_T": growth}
    evidence |= {"overflow_forward_step": r.overflow["forward"], "overflow_backward_step": r.overflow["backward"]}
    reasons = []
    if growth > EXPLODE_FACTOR:
        reasons.append(
            f"in {where(r.spec, l, d)} the input-driven Jacobian products grow: the leading Lyapunov exponent is "
            f"λ₁ = {lam[l, d]:+.3f} per step, a factor {growth:.3g} over the {r.T} steps"
        )
    if overflow:
        reasons.append(
            f"values stop being finite (forward step {r.overflow['forward']}, backward step {r.overflow['backward']})"
        )
    if norms.size:
        evidence |= {
            "batches": int(norms.size),
            "median_norm": median,
            "p90_norm": float(np.percentile(norms, 90)),
            "max_norm": float(norms.max()),
        }
        reasons.append(
            f"over {norms.size} batches the gradient norm has median {median:.3g} and maximum {norms.max():.3g} "
            f"({norms.max() / median:.3g}× the median)"
        )
        what = f"Clip the global gradient norm at {median:.3g} (the median over your batches)"
    else:
        what = "Clip the global gradient norm (give targets to measure a threshold from your batches' gradients)"
    out = [Recommendation(what, "; ".join(reasons) + ".", evidence)]
    if bc.CELLS[r.spec.cell].init_presets and bc.CELLS[r.spec.cell].pascanu_bound and r.radius[l, d] > 1:
        out.append(
            Recommendation(
                f"Rescale {where(r.spec, l, d)}'s W_hh to a spectral radius just below 1 "
                f"(×{0.95 / r.radius[l, d]:.3g}), or re-initialise it orthogonally",
                f"its spectral radius is ρ = {r.radius[l, d]:.3g} > 1, so products of its step Jacobians can grow "
                "by up to ρ per step.",
                {"layer": int(l), "direction": int(d), "spectral_radius": float(r.radius[l, d])},
            )
        )
    return out


def _forget_gate(r: Report, l: int, d: int) -> float | None:
    """The mean of the cell's forget gate in one layer-direction (None for cells without one)."""
    cell = bc.CELLS[r.spec.cell]
    return None if cell.forget_gate is None else float(r.saturation[l, d, cell.gate_names.index(cell.forget_gate), 2])


def _vanishing(r: Report) -> list[Recommendation]:
    """Gradients that die within half the sequence: the shortest horizon, how to lengthen it, and truncation."""
    h = np.where(r.horizon < 0, np.iinfo(int).max, r.horizon)
    l, d = np.unravel_index(np.argmin(h), h.shape)
    if h[l, d] > r.T // 2:
        return []
    horizon, lam = int(h[l, d]), float(r.lyapunov[l, d, 0])
    evidence = {"layer": int(l), "direction": int(d), "horizon": horizon, "T": r.T, "lyapunov_1": lam}
    why = (
        f"in {where(r.spec, l, d)} the Jacobian products fall below {HORIZON_LEVEL:g} of their size within {horizon} "
        f"steps (λ₁ = {lam:+.3f} per step), so the model cannot learn dependencies longer than about {horizon} steps "
        f"of its {r.T}"
    )
    cell, forget = bc.CELLS[r.spec.cell], _forget_gate(r, l, d)
    if cell.pascanu_bound and cell.init_presets:  # h = phi(W_hh h + ...): the vanilla RNN
        what = "Use an LSTM or GRU, or initialise W_hh orthogonally with spectral radius near 1"
        evidence["spectral_radius"] = float(r.radius[l, d])
        why += f"; its W_hh has spectral radius {r.radius[l, d]:.3g}"
    elif forget is not None and forget < FORGET_MEAN:
        what = (
            f"Raise the forget-gate bias of {where(r.spec, l, d)} by 1 to 2 (Gers et al. 2000; Jozefowicz et al. 2015)"
        )
        evidence["forget_gate_mean"] = forget
        why += f"; its forget gate averages {forget:.2f}, so the cell state keeps {forget:.2f}^k after k steps"
    elif cell.init_presets:
        what = f"Initialise {where(r.spec, l, d)}'s W_hh orthogonally, or shorten the dependencies the task needs"
    else:  # no W_hh (LRU, minGRU): its recurrence is set by its own parameters
        what = f"Initialise {where(r.spec, l, d)}'s recurrence to decay more slowly, or shorten the dependencies"
    out = [Recommendation(what, why + ".", evidence)]
    if r.spec.bidirectional:  # truncation is not defined for a network that reads the future
        return out
    out.append(
        Recommendation(
            f"Truncate BPTT at k = {max(horizon, 1)} steps to save memory (as long as the model stays as it is)",
            f"gradients from further back than {horizon} steps are below {HORIZON_LEVEL:g} of the recent ones, so full "
            f"BPTT over {r.T} steps stores {r.T / max(horizon, 1):.3g}× the intermediates for nothing measurable.",
            {"horizon": horizon, "T": r.T, "memory_ratio": r.T / max(horizon, 1)},
        )
    )
    return out


def _saturation(r: Report) -> list[Recommendation]:
    """Gates with most units pinned at a limit (a forget gate near 1 is remembering, not stuck)."""
    cell, out = bc.CELLS[r.spec.cell], []
    labels = cell.gate_names if cell.gates > 1 else (r.spec.activation,)
    for l, d in r.spec.layers():
        for g, name in enumerate(cell.gate_names):
            low, high, mean = r.saturation[l, d, g]
            share = np.nansum([low, 0.0 if name == cell.forget_gate else high])
            if share > SATURATED_SHARE:
                out.append(
                    Recommendation(
                        f"Bring {where(r.spec, l, d)}'s {labels[g]} units out of saturation: normalise the inputs or "
                        "scale down the weights that feed them",
                        f"{share:.0%} of its {labels[g]} values lie within 0.01 of a limit of their non-linearity, "
                        "where the derivative (and so every gradient through them) is below 0.01.",
                        {
                            "layer": l,
                            "direction": d,
                            "gate": labels[g],
                            "saturated_share": float(share),
                            "mean": float(mean),
                        },
                    )
                )
    return out


def _bottleneck(r: Report) -> list[Recommendation]:
    """In a stack, the layer whose gradients are much smaller than another's."""
    if r.spec.num_layers < 2 or r.gradient is None:
        return []
    per_layer = np.array([positive_median(r.gradient[l]) for l in range(r.spec.num_layers)])
    if not np.all(np.isfinite(per_layer)):
        return []
    lo, hi = int(np.argmin(per_layer)), int(np.argmax(per_layer))
    ratio = per_layer[hi] / per_layer[lo]
    if ratio <= BOTTLENECK_RATIO:
        return []
    kind = "‖dL/dh_t‖" if r.dh_norms is not None else "‖∂ŷ/∂h_t‖"
    return [
        Recommendation(
            f"Layer {lo} is the bottleneck: add residual connections around it, or re-initialise it",
            f"its median {kind} is {per_layer[lo]:.3g}, {ratio:.3g}× smaller than layer {hi}'s ({per_layer[hi]:.3g}).",
            {
                "layer": lo,
                "median_norm": float(per_layer[lo]),
                "other_layer": hi,
                "other_median_norm": float(per_layer[hi]),
                "ratio": float(ratio),
            },
        )
    ]


def recommend(report: Report) -> list[Recommendation]:
    """Advice from the measurements: exploding gradients, vanishing ones, saturated gates, a bottleneck layer."""
    return [*_explosion(report), *_vanishing(report), *_saturation(report), *_bottleneck(report)]


def to_json(report: Report) -> dict:
    """The report as plain JSON types (the headless command's ``report.json``)."""

    def plain(a):
        return None if a is None else np.where(np.isfinite(a), a, None).tolist() if isinstance(a, np.ndarray) else a

    spec = report.spec
    return {
        "cell": spec.cell,
        "activation": spec.activation,
        "num_layers": spec.num_layers,
        "bidirectional": spec.bidirectional,
        "input_size": spec.input_size,
        "hidden_size": spec.hidden_size,
        "output_size": spec.output_size,
        "T": report.T,
        "B": report.B,
        "loss": report.loss_name,
        "loss_value": report.loss,
        "dh_norms": plain(report.dh_norms),
        "sensitivity": plain(report.sensitivity),
        "lyapunov": plain(report.lyapunov),
        "jacobian_growth": plain(report.growth),
        "horizon": [[None if h < 0 else int(h) for h in row] for row in report.horizon],
        "gate_names": list(bc.CELLS[spec.cell].gate_names),
        "saturation": plain(report.saturation),
        "spectral_radius": plain(report.radius),
        "batch_grad_norms": plain(report.batch_norms),
        "grad_norms": report.grad_norms,
        "overflow": report.overflow,
        "connectivity": {"step": report.connectivity_step, "norms": plain(report.connectivity)},
        "recommendations": [{"what": r.what, "why": r.why, "evidence": r.evidence} for r in report.recommendations],
        "notes": report.notes,
    }
