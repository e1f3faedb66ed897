"""Measure a trained network on its own sequences (the advice that reads these numbers: :mod:`.advice`).

:func:`measure` finds, per layer and direction, how gradients travel back in time (``||dL/dh_t||``
with targets, the read-out's sensitivity ``||d yhat/d h_t||`` without), and per analysed sequence
what its Jacobian products do (decay, stay flat or grow: :mod:`bptt_core.analysis.summaries`), their
growth per step, horizon and blow-up lag, and the finite-time Lyapunov spectrum; then gate
saturation, where values stop being finite, and with targets how much of the targets the model
explains and how much of its error the inputs beyond its reach would explain (:mod:`.memory_need`).
Spreads are the median and the worst over sequences: one average never hides the chaotic ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

import bptt_core as bc
from bptt_core.analysis.jacobians import iter_local_jacobians, jacobian_products
from bptt_core.analysis.summaries import spread, summarise_curve
from bptt_core.losses import token_loss_and_grad
from dashboard.diagnose.memory_need import MemoryNeed, memory_need
from dashboard.diagnose.model_files import Model
from dashboard.diagnose.sequence_files import Sequences

#: Jacobian products below this fraction of their running peak count as vanished (the horizon); above its
#: inverse times their start, as exploded (the blow-up lag).
HORIZON_LEVEL = 1e-3
#: Sequences the per-sequence analyses (Jacobians, Lyapunov spectrum, saturation) read at most.
ANALYSED_SEQUENCES = 8
#: Lyapunov exponents reported per layer and direction.
LYAPUNOV_K = 8
#: Sequences per batch for the per-batch gradient norms, and batches at most.
BATCH_SEQUENCES, MAX_BATCHES = 4, 32


@dataclass(frozen=True)
class Report:
    """What :func:`measure` found (L layers, D directions, T steps, n analysed sequences, K lags, G gates).

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
    jacobian : ndarray of shape (L, D, n, K)
        log10 of the spectral norm of each analysed sequence's Jacobian product over each lag.
    regime : ndarray of shape (L, D, n) of str
        "decaying", "flat" or "growing" (:func:`bptt_core.analysis.summaries.curve_regime`).
    growth : ndarray of shape (L, D, n)
        Slope of ln of each curve, per step.
    horizon, blowup : ndarray of shape (L, D, n)
        Decay horizon of decaying curves and blow-up lag of growing ones; inf where there is none.
    lyapunov : ndarray of shape (L, D, n, k)
        Leading finite-time Lyapunov exponents (ln per step) of each analysed sequence.
    saturation : ndarray of shape (L, D, G, 3)
        Share near the lower and upper limit, and mean, of each gate (:func:`bptt_core.gate_saturation`).
    radius : ndarray of shape (L, D)
        Spectral radius of each ``W_hh`` (its gate blocks for gated cells: the largest).
    batch_norms : ndarray of shape (m,)
        Global gradient norm of each batch of :data:`BATCH_SEQUENCES` sequences (with targets).
    grad_norms : dict of str to float
        Norm of each parameter's gradient (with targets).
    overflow : dict
        ``forward``: first step whose state is not finite; ``backward``: first step (counting
        back from the end) whose gradient is not finite; None where all are finite.
    explained : float or None
        ``1 - E||r||^2 / E||y - mean||^2`` (mse; Brier score against the class frequencies for classes):
        how much of the targets the model explains (with targets).
    memory : MemoryNeed or None
        What inputs within and beyond the model's reach explain of its errors (with targets).
    connectivity : ndarray of shape (T,)
        ``||d yhat_t / d x_k||`` of the first sequence at ``connectivity_step``.
    connectivity_step : int
    analysed : int
        Sequences the per-sequence analyses read.
    checks : tuple
        Every rule of :mod:`.advice` with the numbers that did or did not trigger it (filled by
        :func:`dashboard.diagnose.advice.diagnose`).
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
    regime: np.ndarray
    growth: np.ndarray
    horizon: np.ndarray
    blowup: np.ndarray
    lyapunov: np.ndarray
    saturation: np.ndarray
    radius: np.ndarray
    batch_norms: np.ndarray
    grad_norms: dict
    overflow: dict
    explained: float | None
    memory: MemoryNeed | None
    connectivity: np.ndarray
    connectivity_step: int
    analysed: int
    checks: tuple = ()
    notes: list = field(default_factory=list)

    @property
    def gradient(self) -> np.ndarray:
        """The per-step gradient curve the page draws: ``dh_norms`` with targets, else ``sensitivity``."""
        return self.dh_norms if self.dh_norms is not None else self.sensitivity

    @property
    def recommendations(self) -> list:
        """What to change: the fired rules' recommendations (kind "fix")."""
        return [c.recommendation for c in self.checks if c.fired and c.kind == "fix"]

    @property
    def options(self) -> list:
        """What could be saved without losing anything measured: the fired rules of kind "saving"."""
        return [c.recommendation for c in self.checks if c.fired and c.kind == "saving"]


def positive_median(values: np.ndarray, axis=None) -> np.ndarray:
    """The median of the positive finite values (nan where there are none), without a warning."""
    v = np.where(np.isfinite(values) & (values > 0), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan slices give nan, as intended
        return np.nanmedian(v, axis=axis)


def sequence_median(values: np.ndarray, axis: int) -> np.ndarray:
    """The median over sequences ignoring nan (a sequence whose values overflowed), without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan slices give nan, as intended
        return np.nanmedian(values, axis=axis)


def where(spec: bc.RNNSpec, l: int, d: int) -> str:
    """ "layer 1 ←" (the reverse direction) or "layer 0"."""
    return f"layer {l}" + ((" →", " ←")[d] if spec.bidirectional else "")


def layer_summary(report: Report, l: int, d: int) -> dict:
    """One layer-direction's dynamics over the analysed sequences: counts of each regime, and the median
    and worst (largest growth and λ₁, shortest horizon and blow-up lag) of each quantity."""
    regimes = report.regime[l, d]
    return {
        "layer": l,
        "direction": d,
        "label": where(report.spec, l, d),
        "sequences": int(regimes.size),
        "regimes": {name: int(np.sum(regimes == name)) for name in ("decaying", "flat", "growing")},
        "growth": spread(report.growth[l, d], "max"),
        "horizon": spread(report.horizon[l, d], "min"),
        "blowup": spread(report.blowup[l, d], "min"),
        "lyapunov_1": spread(report.lyapunov[l, d, :, 0], "max"),
        "positive_lyapunov": int(np.sum(report.lyapunov[l, d, :, 0] > 0)),
    }


def reach(report: Report) -> float:
    """How far back the network reaches: the sum over layers of the longest median horizon of their
    directions (information can ride each layer for its horizon); inf when a median curve does not decay."""
    medians = sequence_median(report.horizon, axis=2)  # (L, D); inf where a median curve does not decay
    return float(np.sum(np.max(medians, axis=1)))


def _frobenius(a: np.ndarray, axes: tuple) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=axes))


def _residuals(seqs: Sequences, yhat: np.ndarray) -> tuple[np.ndarray, float]:
    """The model's errors (T, B, O) and the per-step error of a model that learned nothing (its mean, or the
    class frequencies)."""
    O, valid = yhat.shape[-1], seqs.mask > 0
    _, grad = token_loss_and_grad(seqs.loss, yhat, seqs.y)
    if seqs.loss == "mse":
        residuals, target = -grad * (O / 2.0), seqs.y
    else:
        residuals, target = -grad, np.eye(O)[seqs.y]
    spread_of_targets = target[valid] - target[valid].mean(axis=0)
    return residuals, float(np.mean(np.sum(spread_of_targets**2, axis=1)))


def _gradients(model: Model, seqs: Sequences) -> dict:
    """Loss, ``dh_norms``, per-parameter norms, per-batch norms, overflow and residuals (with targets)."""
    spec, P = model.spec, model.params
    res = bc.bptt(spec, P, seqs.x, seqs.y, seqs.loss, "mean", seqs.mask)
    dh = res.dh_layers * (np.arange(seqs.x.shape[0])[:, None] < seqs.lengths[None])[None, None, :, :, None]
    B = seqs.x.shape[1]
    batches = np.array_split(np.arange(B), min(MAX_BATCHES, max(1, B // BATCH_SEQUENCES)))
    norms = [
        bc.bptt(spec, P, seqs.x[:, i], seqs.y[:, i], seqs.loss, "mean", seqs.mask[:, i]).grad_norm for i in batches
    ]
    bad_back = np.flatnonzero(~np.all(np.isfinite(dh), axis=(0, 1, 3, 4)))
    residuals, baseline = _residuals(seqs, res.yhat)
    valid = seqs.mask > 0
    energy = float(np.mean(np.sum(residuals[valid] ** 2, axis=1)))
    return {
        "loss": res.loss,
        "dh_norms": _frobenius(dh, (3, 4)),
        "grad_norms": {k: float(_frobenius(g, tuple(range(g.ndim)))) for k, g in res.grads.items()},
        "batch_norms": np.array(norms),
        "overflow": {"forward": res.overflow_step, "backward": int(bad_back[-1]) if bad_back.size else None},
        "explained": 1.0 - energy / baseline if baseline > 0 and np.isfinite(energy) else None,
        "residuals": (residuals, baseline),
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


def _curves(spec: bc.RNNSpec, P: dict, x: np.ndarray, l: int, d: int) -> dict:
    """One layer-direction's per-sequence Jacobian products, their summaries and Lyapunov exponents."""
    jp = jacobian_products(
        iter_local_jacobians(spec, P, x, layer=l, direction=d), spec.hidden_width, max_points=200, steps=x.shape[0]
    )
    summaries = [summarise_curve(curve, HORIZON_LEVEL, jp.lags) for curve in jp.log10_spectral]
    k = min(spec.jacobian_width, LYAPUNOV_K)
    return {
        "lags": jp.lags,
        "jacobian": jp.log10_spectral,
        "regime": np.array([s.regime for s in summaries]),
        "growth": np.array([s.growth for s in summaries]),
        "horizon": np.array([np.inf if s.horizon is None else s.horizon for s in summaries], dtype=float),
        "blowup": np.array([np.inf if s.blowup is None else s.blowup for s in summaries], dtype=float),
        "lyapunov": bc.lyapunov_spectrum(spec, P, x, layer=l, direction=d, k=k),
    }


def _dynamics(model: Model, x: np.ndarray) -> dict:
    """Per-sequence curves and exponents of every layer-direction on unpadded ``x``, and the saturation."""
    spec = model.spec
    curves = {(l, d): _curves(spec, model.params, x, l, d) for l, d in spec.layers()}
    stacked = {
        name: np.array([[curves[l, d][name] for d in range(spec.directions)] for l in range(spec.num_layers)])
        for name in ("jacobian", "regime", "growth", "horizon", "blowup", "lyapunov")
    }
    return {"lags": curves[0, 0]["lags"], **stacked, "saturation": bc.gate_saturation(spec, model.params, x)}


def _radius(model: Model) -> np.ndarray:
    """The largest spectral radius of each layer-direction's recurrent blocks (nan: a cell without any)."""
    spec, cell = model.spec, bc.CELLS[model.spec.cell]
    out = np.full((spec.num_layers, spec.directions), np.nan)
    for l, d in spec.layers():
        blocks = cell.recurrence(bc.layer_params(model.params, l, d)).values()
        out[l, d] = max((float(np.abs(np.linalg.eigvals(b)).max()) for b in blocks), default=np.nan)  # complex: LRU
    return out


def _memory(report: Report, seqs: Sequences, residuals: tuple | None) -> MemoryNeed | None:
    """The probe of :mod:`.memory_need` with targets (inputs beyond the reach only when it ends inside T)."""
    limit = min(reach(report), report.T - 1)
    if residuals is None:
        return None
    x = seqs.x * (np.arange(report.T)[:, None] < seqs.lengths[None])[..., None]  # padding reads as nothing
    errors, baseline = residuals
    if not np.all(np.isfinite(errors[seqs.mask > 0])):
        return None
    return memory_need(x, errors, seqs.mask, baseline, int(limit), both_ways=report.spec.bidirectional)


def measure(model: Model, seqs: Sequences) -> Report:
    """Measure ``model`` on ``seqs`` (the advice is :func:`dashboard.diagnose.advice.diagnose`).

    The loss, ``dh_norms``, per-batch gradient norms and the memory probe read all sequences (with
    their padding); the Jacobian products, Lyapunov spectrum and saturation the longest sequences,
    unpadded (:data:`ANALYSED_SEQUENCES` at most), one curve and one spectrum per sequence.
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
        explained=grads.get("explained"),
        memory=None,
        connectivity=connectivity,
        connectivity_step=step,
        analysed=x.shape[1],
        notes=[
            *model.notes,
            *seqs.notes,
            f"Jacobians, Lyapunov spectrum and saturation: {x.shape[1]} sequence(s) of {T_analysed} steps, each "
            "on its own",
        ],
        **dynamics,
    )
    with np.errstate(all="ignore"):
        return Report(**{**report.__dict__, "memory": _memory(report, seqs, grads.get("residuals"))})
