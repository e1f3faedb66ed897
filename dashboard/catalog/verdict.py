"""The verdict (vanishing, exploding or neither), Pascanu's condition, growth and horizon: the sentences
the pages state about gradient flow, each computed by one stated rule from the curves they draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bptt_core as bc
from bptt_core.analysis.jacobians import JacobianProducts
from bptt_core.analysis.spectral import SpectralReport
from bptt_core.analysis.summaries import growth_rate, memory_horizon

#: The verdict's thresholds: decades the last loss's gradient gains or loses on its way to the first step.
VERDICT_DECADES = 2.0
VERDICT_RULE = (
    f"From the curve ||∂l_T/∂h_t|| (the gradient of the last step's loss): if its value at the first "
    f"step is below 10^-{VERDICT_DECADES:g} of its value at the last step, vanishing; above "
    f"10^{VERDICT_DECADES:g} times, exploding; non-finite, overflow; otherwise it holds over this length."
)


@dataclass(frozen=True)
class Verdict:
    """Vanishing, exploding or neither, by :data:`VERDICT_RULE`, with the numbers behind it."""

    label: str  # "vanishing", "exploding", "holds", "overflow" or "too short"
    ratio: float  # ||d l_T / d h_0|| / ||d l_T / d h_T||
    per_step: float  # ratio ** (1 / (T* - 1)): the average factor per step back
    detail: str


def verdict(curve: np.ndarray, report: SpectralReport, res: bc.BPTTResult | None = None) -> Verdict:
    """Classify the run by :data:`VERDICT_RULE` from ``curve`` = :func:`last_loss_gradient` (and the run's
    overflow, when ``res`` is given).

    ``detail`` adds what Pascanu et al.'s condition says for this W_hh (vanilla RNN): γσ_max < 1 is
    sufficient for vanishing (a guaranteed bound), γσ_max >= 1 is necessary for exploding (it allows,
    never forces, growth).
    """
    valid = np.flatnonzero(curve > 0) if np.all(np.isfinite(curve)) else np.arange(curve.size)
    last = int(valid[-1]) if valid.size else 0
    with np.errstate(all="ignore"):
        ratio = float(curve[0] / curve[last]) if last > 0 else float("nan")
        per_step = float(ratio ** (1.0 / last)) if last > 0 else float("nan")
    pascanu = pascanu_sentence(report, last)
    if (res is not None and not res.finite) or not np.all(np.isfinite(curve)):
        where = f" at step {res.overflow_step}" if res is not None and res.overflow_step is not None else ""
        return Verdict(
            "overflow", ratio, per_step, f"values overflowed{where}: exploding beyond float range. " + pascanu
        )
    if last == 0:
        return Verdict("too short", ratio, per_step, "one step only: nothing travels back in time. " + pascanu)
    decades = np.log10(ratio) if ratio > 0 else -np.inf
    label = "vanishing" if decades < -VERDICT_DECADES else "exploding" if decades > VERDICT_DECADES else "holds"
    detail = (
        f"the last step's loss reaches the first step with ×{readable(ratio)} of its own gradient "
        f"(×{readable(per_step)} per step over {last} steps). " + pascanu
    )
    return Verdict(label, ratio, per_step, detail)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def readable(v: float, digits: int = 3) -> str:
    """A number for a sentence: ``0.0123``, or ``3.56×10⁻¹⁰`` where Python would write ``3.56e-10``."""
    text = f"{v:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def pascanu_sentence(report: SpectralReport, steps: int) -> str:
    """What γσ_max says for this network, by its comparison with 1 (to 4 significant digits)."""
    rate = report.bound_rate
    if rate is None:
        return "Gated cells have no such bound: their gates scale the gradient step by step."
    shown = f"γσ_max = {rate:.4g}"
    if rate < 1:
        return (
            f"{shown} < 1: Pascanu's condition for vanishing holds, so the gradient must shrink at least "
            f"×{rate:.3g} per step (≤ ×{readable(rate ** max(steps, 1))} over {steps} steps)."
        )
    where = "= 1, on the boundary" if np.isclose(rate, 1.0, rtol=0, atol=5e-5) else f"= {rate:.4g} > 1"
    return (
        f"γσ_max {where}: growth is possible, not guaranteed (the condition is only necessary for "
        "exploding); the measured curve decides."
    )


def growth_text(summary: Horizon) -> str:
    """``"×0.91"`` per step, or a dash when there is no trend to measure."""
    return "–" if np.isnan(summary.rate) else f"×{np.exp(summary.rate):.3g}"


def horizon_text(summary: Horizon, jp: JacobianProducts) -> str:
    """``"135 steps"``, or how far the curve was followed when it never fell that low."""
    if summary.horizon is not None:
        return f"{summary.horizon} steps"
    return f"> {int(jp.lags[-1])} steps" if len(jp.lags) else "–"


@dataclass(frozen=True)
class Horizon:
    """Growth per step and memory horizon of the Jacobian products ``||∂h_t/∂h_k||`` (spectral norm)."""

    rate: float  # slope of ln ||∂h_t/∂h_k|| against the lag
    horizon: int | None  # lag where it falls below 1e-3 of its peak; None: never within the lags drawn


def jacobian_summary(jp: JacobianProducts) -> Horizon:
    """Growth rate and horizon of the drawn Jacobian-product curve, on its real lags."""
    return Horizon(growth_rate(jp.log10_spectral_mean, jp.lags), memory_horizon(jp.log10_spectral_mean, lags=jp.lags))
