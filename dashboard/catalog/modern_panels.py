"""Panels that ask what a diagonal recurrence (``Cell.decay``: the LRU, minGRU) has and other cells do not: its
eigenvalues λ in the complex plane, and its closed-form law beside the measured Jacobian products.

For a cell without ``decay`` each function returns the panel every cell gets (:mod:`dashboard.catalog.panels`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.analysis.jacobians import JacobianProducts
from bptt_core.analysis.spectral import SpectralReport
from dashboard.catalog import panels
from dashboard.catalog.panels import Panel
from dashboard.catalog.verdict import jacobian_summary
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS
from dashboard.figures import flow as ff
from dashboard.figures import modern as fm
from dashboard.vocabulary.numbers import factor, readable
from dashboard.vocabulary.quantities import label


def eigenvalue_frame(report: SpectralReport) -> pd.DataFrame:
    """One row per unit: its λ, ``|λ|``, phase and the steps a gradient keeps 1 % (``ln 0.01 / ln |λ|``)."""
    lam = np.concatenate([np.asarray(v, dtype=complex) for v in report.eigenvalues.values()])
    modulus = np.abs(lam)
    steps = np.full(lam.shape, np.inf)
    inside = modulus < 1
    with np.errstate(divide="ignore"):
        steps[inside] = np.log(0.01) / np.log(modulus[inside])  # 0 where |λ| = 0
    return pd.DataFrame(
        {"unit": np.arange(lam.size), "real": lam.real, "imag": lam.imag, "modulus": modulus,
         "phase": np.angle(lam), "steps_to_1pct": steps}
    )  # fmt: skip


def _steps(v: float) -> str:
    return "ever (|λ| = 1)" if not np.isfinite(v) else f"{readable(v)} steps"


def eigenvalue_caption(df: pd.DataFrame, cell_label: str) -> str:
    """Where the λ sit and what each keeps of a gradient, read off the frame."""
    m, steps = df["modulus"].to_numpy(), df["steps_to_1pct"].to_numpy()
    where = (
        "all inside the unit circle (|λ| = exp(−exp ν) < 1 for every finite ν)"
        if m.max() < 1
        else f"{int(np.sum(m >= 1))} on the unit circle"
    )
    slow, fast = int(np.argmax(m)), int(np.argmin(m))
    return (
        f"The {cell_label}'s {len(df)} units (top layer): {label('eigenvalue_modulus')} from {readable(m.min(), 4)} to "
        f"{readable(m.max(), 4)} ({label('spectral_radius')} = {m.max():.3g}, the largest), {where}, phases from "
        f"{df['phase'].min():.3g} to {df['phase'].max():.3g} rad. "
        "The step Jacobian is diag(λ) whatever the input, so a gradient travelling back k steps is scaled by "
        f"exactly |λ|^k in each unit ({label('steps_to_1pct').lower()}: the slowest unit, |λ| = "
        f"{readable(m[slow], 4)}, for {_steps(steps[slow])}; the fastest, |λ| = {readable(m[fast], 4)}, for "
        f"{_steps(steps[fast])}). The dashed and dotted circles are the smallest and the largest |λ|; the colour is "
        "the steps each unit keeps 1 %."
    )


def eigenvalues(config: RunConfig, report: SpectralReport) -> Panel:
    """The eigenvalue panel: a diagonal recurrence's λ on rings inside the unit circle (the LRU), W_hh's gate
    blocks for the cells with one, and the sentence that a cell with neither has no recurrent matrix."""
    if bc.CELLS[config.cell].decay is None or not report.eigenvalues:
        return panels.eigenvalues(config, report)
    df = eigenvalue_frame(report)
    view = VIEWS[config.cell]
    caption = eigenvalue_caption(df, view.label)
    return Panel("eigenvalues", f"Eigenvalues λ of the {view.label}", caption, fm.eigenvalue_rings(df), df)


#: A gap between the law and the measured products below this many decades is rounding.
LAW_ROUNDING = 1e-9


def law_gap(df: pd.DataFrame) -> float:
    """:func:`dashboard.vocabulary` "law_gap": the largest |law − measured| in log10 over the finite lags."""
    law, measured = df["log10_law"].to_numpy(), df["log10_spectral"].to_numpy()
    both = np.isfinite(law) & np.isfinite(measured)
    return float(np.max(np.abs(law[both] - measured[both]), initial=0.0))


def law_caption(df: pd.DataFrame, law: str) -> str:
    """The measured products against the law: how close, and the law's mean factor per step, from the data."""
    gap, lags = law_gap(df), df["lag"].to_numpy()
    final = df["log10_law"].to_numpy()[-1]
    text = (
        f"Dashed: {label('decay_law')} = {law}, from the cell's own factors rather than by multiplying Jacobians. "
        f"{label('law_gap')}: {readable(gap, 2)} decades over lags 0 to {int(lags[-1])}: "
    )
    text += (
        "the measured spectral norm lies on the law (rounding only): the law is the whole story."
        if gap < LAW_ROUNDING
        else "more than rounding: the measured spectral norm leaves the law."
    )
    if len(lags) > 1 and lags[-1] > 0 and np.isfinite(final):
        text += f" Over these lags the law falls {factor(10 ** (final / lags[-1]))} per step on average."
    elif len(lags) > 1 and not np.isfinite(final):
        text += " A factor reached exactly 0: no gradient passes beyond that step."
    return text


def jacobian(config: RunConfig, jp: JacobianProducts, report: SpectralReport, law: np.ndarray | None) -> Panel:
    """The Jacobian products against the lag; a diagonal recurrence's law (``log10``, one value per lag from 0)
    drawn beside them in place of Pascanu's bound, which the LRU attains."""
    if law is None:
        return panels.jacobian(config, jp, report)
    df = pd.DataFrame(
        {"lag": jp.lags, "log10_spectral": jp.log10_spectral_mean, "log10_frobenius": jp.log10_frobenius_mean,
         "log10_law": law[jp.lags]}
    )  # fmt: skip
    summary = jacobian_summary(jp)
    caption = f"The slope is the {label('jacobian_growth').lower()} (first sequence)"
    caption += f": here {factor(float(np.exp(summary.rate)))}." if np.isfinite(summary.rate) else "."
    view = VIEWS[config.cell]
    caption += " " + law_caption(df, view.law)
    figure = ff.jacobian_vs_lag(df, law=view.law)
    return Panel("jacobian_vs_lag", "Jacobian product norm", caption, figure, df)
