"""The verdict (vanishing, exploding or neither), Pascanu's condition, growth and horizon: the sentences
the pages state about gradient flow, each computed by one stated rule from the curves they draw, in the
vocabulary's words (:mod:`dashboard.vocabulary.quantities`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bptt_core as bc
from bptt_core.analysis.jacobians import JacobianProducts
from bptt_core.analysis.spectral import SpectralReport
from bptt_core.analysis.summaries import growth_rate, memory_horizon
from dashboard.catalog.compute import last_valid_step, window_start
from dashboard.config import RunConfig
from dashboard.vocabulary.numbers import factor, readable, smallest_number, ten_to
from dashboard.vocabulary.quantities import label

#: The verdict's thresholds: decades the last loss's gradient gains or loses on its way back.
VERDICT_DECADES = 2.0
VERDICT_RULE = (
    f"From the curve {label('last_loss_gradient')}: if it reaches the earliest state it can reach (step 0, or the "
    f"start of the last truncation window) with less than 10^-{VERDICT_DECADES:g} of its value at its own step, "
    f"vanishing; with more than 10^{VERDICT_DECADES:g} times, exploding; non-finite values, overflow; a loss "
    "with no gradient, no gradient; otherwise it holds over this length."
)
#: A gradient that becomes 0 right after a value below this many times float's smallest normal number was lost
#: to underflow (its entries sank through the subnormals); after a larger value, a zero Jacobian stopped it.
UNDERFLOW = 1e3
#: Pascanu et al.'s rate within this distance of 1 is 1 to rounding (an orthogonal W_hh has sigma_max = 1 + 1e-16).
BOUNDARY = 1e-12


@dataclass(frozen=True)
class Verdict:
    """Vanishing, exploding or neither, by :data:`VERDICT_RULE`, with the numbers behind it.

    Attributes
    ----------
    label : str
        "vanishing", "exploding", "holds", "overflow", "no gradient" or "too short".
    reach : float
        ``||d l_T/d h_a|| / ||d l_T/d h_T||`` (0 when it underflowed, nan where undefined).
    per_step : float
        The last loss's decay per step: the geometric mean factor over the steps where the gradient is
        representable, from log-norms.
    start, end : int
        ``a`` (the earliest step the last loss can reach) and ``T*`` (its own step).
    representable_from : int or None
        The earliest step whose gradient is not 0 in float: ``start`` unless it underflowed.
    detail : str
    """

    label: str
    reach: float
    per_step: float
    start: int
    end: int
    representable_from: int | None
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", self.detail[:1].upper() + self.detail[1:])  # a sentence of its own


def verdict(config: RunConfig, curve: np.ndarray, report: SpectralReport, res: bc.BPTTResult | None = None) -> Verdict:
    """Classify the run by :data:`VERDICT_RULE` from ``curve`` = :func:`~dashboard.catalog.compute.last_loss_gradient`.

    Parameters
    ----------
    config : RunConfig
        Its truncation sets the earliest step the last loss can reach; its dtype, float's range.
    curve : ndarray of shape (T,)
        The last loss's gradient at every state (0 after its own step and before the last window).
    report : SpectralReport
        For Pascanu et al.'s sentence (vanilla RNN).
    res : BPTTResult, optional
        The run: its overflow is reported.
    """
    curve = np.asarray(curve, dtype=np.float64)
    start, dtype = window_start(config, last_valid_step(config)), config.dtype
    nonzero = np.flatnonzero(curve != 0)
    end = int(nonzero[-1]) if nonzero.size else int(np.flatnonzero(np.isfinite(curve))[-1] if curve.size else 0)
    nan = float("nan")
    if (res is not None and not res.finite) or not np.all(np.isfinite(curve)):
        where = f" at step {res.overflow_step}" if res is not None and res.overflow_step is not None else ""
        text = f"values overflowed{where}: exploding beyond float range. "
        return Verdict("overflow", nan, nan, start, end, None, text + pascanu_sentence(report, end - start))
    if not nonzero.size:
        text = (
            "the loss has no gradient here (a constant loss, e.g. cross-entropy over one class): nothing travels back. "
        )
        return Verdict("no gradient", nan, nan, start, end, None, text + pascanu_sentence(report, 0))
    if end <= start:
        why = "the last window after truncation holds one step" if start else "one step only"
        text = f"{why}: nothing travels back in time. "
        return Verdict("too short", nan, nan, start, end, end, text + pascanu_sentence(report, 0))
    return _travelled(curve, report, start, end, dtype)


def _travelled(curve: np.ndarray, report: SpectralReport, start: int, end: int, dtype: str) -> Verdict:
    """The verdict of a gradient that travels from ``end`` back to ``start``, read in log space."""
    zeros = np.flatnonzero(curve[start:end] == 0)
    first = start + (int(zeros[-1]) + 1 if zeros.size else 0)  # the earliest step it reaches in float
    log_curve = np.log10(curve[first : end + 1])
    per_step = float(10 ** ((log_curve[0] - log_curve[-1]) / (end - first))) if end > first else float("nan")
    decades = -np.inf if first > start else float(log_curve[0] - log_curve[-1])
    reach = 0.0 if first > start else float(10.0**decades)
    name = "vanishing" if decades < -VERDICT_DECADES else "exploding" if decades > VERDICT_DECADES else "holds"
    where = f"step {start}" + (" (the start of the last truncation window)" if start else "")
    if first > start:
        text = _cut_short(curve[first], first, where, dtype)
        text += f"{factor(per_step)} per step over the {end - first} steps it travels. " if end > first else ""
    else:
        text = (
            f"the last loss reaches {where} with {factor(reach)} of its own gradient "
            f"({factor(per_step)} per step over {end - start} steps). "
        )
    if name == "holds" and per_step != 1:
        text += _steps_to_threshold(per_step)
    return Verdict(name, reach, per_step, start, end, first, text + pascanu_sentence(report, end - start))


def _cut_short(last: float, first: int, where: str, dtype: str) -> str:
    """Why the gradient is 0 before step ``first``: lost below float's range, or stopped by a zero Jacobian."""
    if last < UNDERFLOW * np.finfo(dtype).tiny:
        return (
            f"the last loss's gradient falls below {dtype}'s smallest number ({smallest_number(dtype)}) before "
            f"{where}: 0 in {dtype} from step {first - 1} back; "
        )
    return (
        f"the last loss's gradient is exactly 0 from step {first - 1} back to {where}, though it was "
        f"{readable(last)} at step {first}: no path carries it further (the step's Jacobian is 0 there, e.g. zero "
        "recurrent weights or units cut off). "
    )


def _steps_to_threshold(per_step: float) -> str:
    """How many steps at ``per_step`` would pass the verdict's threshold: the length at which it would decide."""
    steps = int(np.ceil(VERDICT_DECADES / abs(np.log10(per_step))))
    low, high = ten_to(-VERDICT_DECADES), ten_to(VERDICT_DECADES)
    word = f"fall below {low}" if per_step < 1 else f"rise above {high}"
    return f"Within {low} and {high} over this length; at this rate it would {word} after {steps} steps. "


def pascanu_sentence(report: SpectralReport, steps: int) -> str:
    """What Pascanu et al.'s γσ_max says for this network (vanilla RNN), by its exact comparison with 1.

    Below 1 is sufficient for vanishing (every product of n step Jacobians is at most (γσ_max)^n); at 1 no
    product can exceed 1, so nothing can explode; above 1 is necessary for exploding, not sufficient.
    """
    rate = report.bound_rate
    if rate is None:
        return "Gated cells have no such bound: their gates scale the gradient step by step."
    name = label("pascanu_rate").removeprefix("Pascanu's ")
    if abs(rate - 1.0) <= BOUNDARY:
        return (
            f"{name} = 1 (to rounding): no product of step Jacobians can exceed 1, so the gradient cannot grow; "
            "whether it vanishes, the measured curve decides."
        )
    shown = shown_against_one(rate)
    if rate < 1:
        return (
            f"{name} = {shown} < 1: Pascanu's sufficient condition for vanishing holds, so every step shrinks the "
            f"gradient at least ×{shown} (≤ ×{readable(rate ** max(steps, 1))} over {steps} steps)."
        )
    return (
        f"{name} = {shown} > 1: the necessary condition for exploding holds; growth is possible, not guaranteed, "
        "and the measured curve decides."
    )


def shown_against_one(rate: float) -> str:
    """``rate`` with enough digits that its comparison with 1 is visible (never ``1 > 1``)."""
    for digits in range(4, 17):
        text = f"{rate:.{digits}g}"
        if (float(text) < 1) == (rate < 1) and float(text) != 1:
            return text
    return repr(rate)


def growth_text(summary: Horizon) -> str:
    """The Jacobian growth per step, ``"×0.91"``, or a dash when there is no trend to measure."""
    return "–" if np.isnan(summary.rate) else factor(float(np.exp(summary.rate)))


def horizon_text(summary: Horizon, jp: JacobianProducts) -> str:
    """``"135 steps"``, or how far the curve was followed when it never fell that low."""
    if summary.horizon is not None:
        return f"{summary.horizon} steps"
    return f"> {int(jp.lags[-1])} steps" if len(jp.lags) else "–"


@dataclass(frozen=True)
class Horizon:
    """Jacobian growth per step and memory horizon of the products ``||∂h_t/∂h_k||`` (spectral norm)."""

    rate: float  # slope of ln ||∂h_t/∂h_k|| against the lag
    horizon: int | None  # lag where it falls below 1e-3 of its peak; None: never within the lags drawn


def jacobian_summary(jp: JacobianProducts) -> Horizon:
    """Growth rate and horizon of the drawn Jacobian-product curve, on its real lags."""
    return Horizon(growth_rate(jp.log10_spectral_mean, jp.lags), memory_horizon(jp.log10_spectral_mean, lags=jp.lags))
