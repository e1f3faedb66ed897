"""The six rows of the Papers page: each published statement, stated as its paper states it, beside the engine's
numbers and the verdicts of :mod:`dashboard.learning.papers` (pure)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from bptt_core.lab.tasks import copy_baseline
from dashboard.learning import papers as P
from dashboard.vocabulary.numbers import readable, spread
from dashboard.vocabulary.quantities import label


def _row(key: str, scale: str, scale_note: str, checks: list[P.Check], **fields: str) -> P.Reproduction:
    return P.Reproduction(key, checks=tuple(checks), scale=scale_note, command=P.command(key, scale), **fields)


def pascanu(s, scale: str) -> P.Reproduction:
    counts = P.regions(s.rate, s.last_lowest, s.last_highest)
    lags = P.SCALES[scale]["pascanu"]["T"] - 1
    missed = counts["above"] - counts["exploded_above"]
    checks = [
        P.Check(
            "‖∂h_t/∂h_0‖₂ ≤ (γσ_max)^t at every lag, every sequence",
            f"{label('bound_excess')}: {readable(np.max(s.excess))} over {s.rate.size} networks × {lags} lags "
            f"(median per network {readable(np.median(s.excess))})",
            f"≤ {P.BOUND_ROUNDING:g} (rounding)",
            P.bound_holds(s.excess),
        ),
        P.Check(
            "the regions: below 1 vanishes (sufficient), exploding only above 1 (necessary)",
            f"vanished (under 10⁻² at lag {lags}) in {counts['vanished_below']} of {counts['below']} networks with "
            f"γσ_max < 1; exploded (over 10²) in {counts['exploded']}, {counts['exploded_above']} of them with "
            f"γσ_max > 1; {missed} of {counts['above']} above 1 did not explode (necessary, not sufficient)",
            "exact counts",
            P.regions_agree(counts),
        ),
    ]
    rates = ", ".join(f"{r:g}" for r in P.SCALES[scale]["pascanu"]["rates"])
    kw = P.SCALES[scale]["pascanu"]
    note = (
        f"vanilla RNN, tanh and sigmoid, γσ_max ∈ {{{rates}}}, H = {kw['H']}, T = {kw['T']}, B = {kw['B']}, "
        f"{kw['n_seeds']} seeds (the law holds at any size)"
    )
    return _row(
        "pascanu",
        scale,
        note,
        checks,
        title="Vanishing and exploding: a sufficient and a necessary condition",
        paper="Pascanu, Mikolov & Bengio 2013 (arXiv:1211.5063)",
        source="section 2.1",
        published=(
            "‖∂x_{k+1}/∂x_k‖ ≤ ‖W_rec‖ ‖diag(σ′(x_k))‖: with |σ′| ≤ γ (γ = 1 for tanh, 1/4 for sigmoid), λ₁ < 1/γ "
            "(λ₁ the largest singular value of W_rec) is sufficient for vanishing gradients, λ₁ > 1/γ necessary "
            "for exploding ones"
        ),
    )


def chaos(s, scale: str) -> P.Reproduction:
    largest = s.sizes[-1]
    per_size = "; ".join(f"N = {N}: {spread(c)}" for N, c in zip(s.sizes, s.crossing))
    gaps = P.spectrum_gaps(s.spectra)
    pairs = "; ".join(f"N = {a} to {b}: {g:.1%}" for a, b, g in zip(s.sizes, s.sizes[1:], gaps))
    diff = s.gradient_rate - s.spectrum_leading
    checks = [
        P.Check(
            "λ₁ crosses 0 near g = 1",
            f"{label('onset_gain')}: {per_size}",
            f"median within ±{P.CROSSING_TOLERANCE:g} of 1 at N = {largest}",
            P.crossing_agrees(s.crossing[-1]),
        ),
        P.Check(
            "the spectrum's shape does not depend on N",
            f"{label('lyapunov_spectrum')} at g = {s.spectrum_gain:g} against i/N. {label('spectrum_gap')}: "
            f"{pairs} (at N = {largest}, λ₁ = {readable(s.spectra[-1][0])}, λ_N = {readable(s.spectra[-1][-1])})",
            f"≤ {P.SHAPE_TOLERANCE:.0%} of the span between the two largest",
            P.shape_agrees(gaps),
        ),
        P.Check(
            "the gradient grows at the rate λ₁",
            f"{label('error_growth')} − λ₁ at g = {s.spectrum_gain:g}: {spread(diff)}",
            f"median |r − λ₁| ≤ {P.RATE_TOLERANCE:g} per step",
            P.rates_agree(s.gradient_rate, s.spectrum_leading, P.RATE_TOLERANCE),
        ),
    ]
    kw = P.SCALES[scale]["chaos"]
    note = (
        f"N ∈ {{{', '.join(map(str, kw['sizes']))}}} (the theory: N → ∞), {kw['n_seeds']} networks per N and g, "
        f"{len(kw['gains'])} gains, {kw['transient']} steps of transient, {kw['discard']} to align, "
        f"{kw['steps']} counted (resolution {readable(s.resolution)} per step)"
    )
    return _row(
        "chaos",
        scale,
        note,
        checks,
        title="The transition to chaos",
        paper=(
            "Sompolinsky, Crisanti & Sommers 1988 (Phys. Rev. Lett. 61, 259); Molgedey, Schuchhardt & Schuster 1992 "
            "(Phys. Rev. Lett. 69, 3717); Engelken, Wolf & Abbott 2023 (arXiv:2006.02427)"
        ),
        source="mean-field theory, N → ∞ (1988, 1992); Engelken et al., abstract",
        published=(
            "for couplings W_ij ~ N(0, g²/N) the network turns chaotic at g = 1 (continuous time 1988, discrete "
            "time 1992): the leading Lyapunov exponent crosses 0; chaos is extensive, with a size-invariant "
            "Lyapunov spectrum (2023)"
        ),
    )


def checkpoint(s, scale: str) -> P.Reproduction:
    from bptt_core.lab.paper_methods import time_overhead

    times = time_overhead(s.recomputed, s.T)
    checks = [
        P.Check(
            f"{cell}: {s.target:.0%} saved for about one third more time",
            f"{label('memory_saved')} {saved:.2%} with S = {slots} states kept ({label('recomputed_steps').lower()} "
            f"{recomputed}); {label('modelled_time').lower()} {time:.3f}",
            f"saved ≥ {s.target:.0%}; time within ±{P.TIME_TOLERANCE:g} of 1/3",
            P.time_agrees(saved, time, s.target),
        )
        for cell, slots, saved, recomputed, time in zip(s.cells, s.slots, s.saved, s.recomputed, times)
    ]
    kw = P.SCALES[scale]["checkpoint"]
    note = (
        f"T = {s.T} as in the paper; {', '.join(s.cells)}, B = {kw['B']}, H = {kw['H']} (the shares do not depend "
        "on B or H); time modelled from exact counts, a backward step costing two forward steps"
    )
    return _row(
        "checkpoint",
        scale,
        note,
        checks,
        title="Memory-efficient BPTT at T = 1000",
        paper="Gruslys, Munos, Danihelka, Lanctot & Graves 2016 (arXiv:1606.03401)",
        source="abstract",
        published=(
            "“For sequences of length 1000, our algorithm saves 95% of memory usage while using only one third more "
            "time per iteration than the standard BPTT.”"
        ),
    )


def _variance_change(cell: str, st) -> str:
    ratio = st.relative_variance[-1] / st.relative_variance[0]
    rank = P.rank_correlation(st.probabilities, st.relative_variance)
    return (
        f"{cell}: {label('estimator_variance').lower()} ×{readable(ratio)} from p = {st.probabilities[0]:g} to "
        f"{st.probabilities[-1]:g}, {label('rank_correlation').lower()} {readable(rank)}"
    )


def truncation(s: dict, scale: str) -> P.Reproduction:
    ratios = np.concatenate([st.relative_bias / st.standard_error for st in s.values()])
    checks = [
        P.Check(
            "the mean over seeds is the full gradient",
            f"{label('estimator_bias')} over {label('estimator_standard_error').lower()}, every cell and p: "
            f"{spread(ratios)}",
            f"≤ {P.NOISE_SE:g} standard errors",
            all(P.unbiased(st.relative_bias, st.standard_error) for st in s.values()),
        ),
        P.Check(
            "the price: the variance grows with the cut probability (measured here)",
            "; ".join(_variance_change(cell, st) for cell, st in s.items()),
            f"rises, {label('rank_correlation').lower()} ≥ {P.RISING_RANK:g}",
            all(P.rises(st.probabilities, st.relative_variance) for st in s.values()),
        ),
    ]
    kw = P.SCALES[scale]["truncation"]
    note = f"{', '.join(s)}, T = {kw['T']}, H = {kw['H']}, B = {kw['B']}, {kw['n_draws']} seeds per p"
    return _row(
        "truncation",
        scale,
        note,
        checks,
        title="Randomized truncation is unbiased",
        paper="Tallec & Ollivier 2017 (arXiv:1705.08209)",
        source="abstract",
        published=(
            "ARTBP uses “variable truncation lengths together with carefully chosen compensation factors in the "
            "backpropagation equation” and keeps truncated BPTT's computational benefits “while providing "
            "unbiasedness”"
        ),
    )


def copy(s, scale: str) -> P.Reproduction:
    baseline = copy_baseline(s.T)
    ratios = s.final / baseline
    where = "; ".join(
        f"{cell} {P.ENDINGS[P.position(float(np.median(r)))]}: {spread(r)}" for cell, r in zip(s.cells, ratios)
    )
    checks = [
        P.Check(
            "the memoryless strategy scores 10 ln 8 / (T + 20)",
            f"measured on the task: {readable(s.memoryless, 9)}; formula: {readable(baseline, 9)}",
            "equal to rounding (10⁻⁹)",
            P.baseline_agrees(s.memoryless, s.T),
        ),
        P.Check(
            f"each cell after {s.iterations} iterations: at the baseline or below, never above",
            f"{label('copy_ratio')}: {where}",
            f"“at”: within ±{P.PLATEAU_TOLERANCE:.0%}",
            bool(np.all(np.median(ratios, axis=1) <= 1 + P.PLATEAU_TOLERANCE)),
        ),
    ]
    kw = P.SCALES[scale]["copy"]
    note = (
        f"lag T = {s.T} ({s.T + 20} steps), H = {s.hidden_size}, B = {kw['B']}, {s.iterations} iterations of Adam, "
        f"{kw['n_seeds']} seeds; the paper trains far longer lags and longer"
    )
    return _row(
        "copy",
        scale,
        note,
        checks,
        title="The copying problem's memoryless baseline",
        paper="Arjovsky, Shah & Bengio 2016 (arXiv:1511.06464)",
        source="section 4.1",
        published=(
            "the memoryless strategy (the blank for T + 10 steps, then each of the 8 symbols at random) has a "
            "categorical cross entropy of 10 log(8)/(T + 20), T the lag"
        ),
    )


def error_flow(s, scale: str) -> P.Reproduction:
    rate, predicted = np.log(s.measured), np.log(s.predicted)
    rnn = [i for i, c in enumerate(s.cells) if c != "lstm"]
    lstm = [i for i, c in enumerate(s.cells) if c == "lstm"]
    checks = [
        P.Check(
            f"{s.cells[i]}: exponential decay at the rate the step Jacobians predict",
            f"e^r = {spread(s.measured[i])}; e^λ₁ = {spread(s.predicted[i])}",
            f"median |r − λ₁| ≤ {P.DECAY_TOLERANCE:g} per step, e^r < 1",
            P.rates_agree(rate[i], predicted[i], P.DECAY_TOLERANCE) and bool(np.median(s.measured[i]) < 1),
        )
        for i in rnn
    ] + [
        P.Check(
            f"lstm, forget bias {s.forget_bias[i]:g}: the carousel's factor f̄ per step",
            f"e^r = {spread(s.measured[i])}; {label('mean_forget_gate')} = {spread(s.forget_gate[i], 6)}",
            f"median |r − ln f̄| ≤ {P.DECAY_TOLERANCE:g} per step",
            P.rates_agree(rate[i], np.log(s.forget_gate[i]), P.DECAY_TOLERANCE),
        )
        for i in lstm
    ]
    kw = P.SCALES[scale]["error_flow"]
    note = (
        f"H = {kw['H']}, T = {kw['T']}, B = {kw['B']}, {kw['n_seeds']} seeds, PyTorch's initialisation; the forget "
        "gate is Gers, Schmidhuber & Cummins' (2000)"
    )
    return _row(
        "error_flow",
        scale,
        note,
        checks,
        title="Exponential decay against the constant error carousel",
        paper=(
            "Hochreiter 1991 (diploma thesis, TU München); Bengio, Simard & Frasconi 1994 (IEEE Trans. Neural "
            "Networks 5(2)); Hochreiter & Schmidhuber 1997 (Neural Computation 9(8))"
        ),
        source="Hochreiter & Schmidhuber 1997, sections 3.1 and 3.2",
        published=(
            "the error flowing back q steps is scaled by a product of q factors f′(net)·w: when they are below 1.0 it "
            "decays exponentially; a unit with identity activation and self-weight 1.0 (the constant error "
            "carousel) carries it unchanged, a factor 1.0 per step"
        ),
    )


#: Each row's builder, named by its key.
ROWS: dict[str, Callable] = {key: globals()[key] for key in P.STUDIES}


def reproduction(key: str, study, scale: str = "page") -> P.Reproduction:
    """Row ``key`` from its study at ``scale``."""
    return ROWS[key](study, scale)


TABLE_COLUMNS = ("result", "paper", "source", "published", "ours", "tolerance", "verdict", "scale")


def table(rows: list[P.Reproduction]) -> pd.DataFrame:
    """One line per row: its checks joined, the verdict ``agree`` only when every check agrees."""
    return pd.DataFrame(
        [
            (
                r.title,
                r.paper,
                r.source,
                r.published,
                " | ".join(f"{c.what}: {c.ours}" for c in r.checks),
                " | ".join(c.tolerance for c in r.checks),
                r.verdict,
                r.scale,
            )
            for r in rows
        ],
        columns=TABLE_COLUMNS,
    )
