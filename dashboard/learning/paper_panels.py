"""The Papers page's figures: each study's tidy data, its figure and a caption read off that data (pure)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.analysis.summaries import growth_rate
from bptt_core.lab.paper_laws import zero_crossing
from bptt_core.lab.paper_methods import time_overhead
from bptt_core.lab.tasks import copy_baseline
from dashboard.catalog.panels import Panel
from dashboard.figures import papers as fp
from dashboard.learning import papers as P
from dashboard.vocabulary.numbers import readable, spread
from dashboard.vocabulary.quantities import label


def pascanu(s) -> Panel:
    df = pd.DataFrame(
        {
            "activation": s.activation,
            "rate": s.rate,
            "seed": s.seed,
            "growth": s.growth,
            "excess": s.excess,
            "last_lowest": s.last_lowest,
            "last_highest": s.last_highest,
        }
    )
    fig = fp.pascanu_regions(df, x_title=label("pascanu_rate"), y_title=label("mean_jacobian_factor"))
    return Panel("paper_pascanu", "Pascanu's conditions", pascanu_caption(df), fig, df)


def pascanu_caption(df: pd.DataFrame) -> str:
    """The bound and the regions, read off the data."""
    counts = P.regions(df["rate"], df["last_lowest"], df["last_highest"])
    quiet = counts["above"] - counts["exploded_above"]
    missed = (
        f"{quiet} of {counts['above']} right of 1 did not explode: the condition is necessary, not sufficient."
        if quiet
        else f"All {counts['above']} right of 1 exploded here."
    )
    above = int((df["excess"] > P.BOUND_ROUNDING).sum())
    bound = (
        "every point is at or below the dashed line: no product ever exceeds (γσ_max)^t"
        if P.bound_holds(df["excess"])
        else f"{above} of {len(df)} networks exceed the bound (γσ_max)^t"
    )
    return (
        f"{len(df)} vanilla RNNs; {bound} ({label('bound_excess')}: {readable(df['excess'].max())}). "
        f"Left of 1 (shaded) the products must vanish: {counts['vanished_below']} of {counts['below']} fell under "
        f"10⁻²; {counts['exploded']} exploded (over 10²), {counts['exploded_above']} of them right of 1. {missed}"
    )


def chaos(s) -> Panel:
    rows = [
        ("leading", N, seed, g, s.leading[m, seed, j])
        for m, N in enumerate(s.sizes)
        for seed in range(s.leading.shape[1])
        for j, g in enumerate(s.gains)
    ]
    rows += [
        ("spectrum", N, -1, (i + 0.5) / N, v) for N, spectrum in zip(s.sizes, s.spectra) for i, v in enumerate(spectrum)
    ]
    rows += [
        ("growth", N, seed, s.spectrum_leading[m, seed], s.gradient_rate[m, seed])
        for m, N in enumerate(s.sizes)
        for seed in range(s.gradient_rate.shape[1])
    ]
    df = pd.DataFrame(rows, columns=["part", "N", "seed", "x", "y"])
    df["resolution"], df["spectrum_gain"] = s.resolution, s.spectrum_gain
    titles = (
        f"{label('leading_lyapunov')} against g",
        f"{label('lyapunov_spectrum')}, g = {s.spectrum_gain:g}",
        f"{label('error_growth')} against λ₁",
    )
    fig = fp.chaos_transition(df, titles=titles)
    return Panel("paper_chaos", "The transition to chaos", chaos_caption(df), fig, df)


def chaos_caption(df: pd.DataFrame) -> str:
    """Crossings per size, the spectra's gap and the growth's agreement, read off the data."""
    level = -float(df["resolution"].iloc[0])
    leading = df[df["part"] == "leading"]
    crossings = {
        N: [zero_crossing(seed_part["x"], seed_part["y"], level) for _, seed_part in part.groupby("seed")]
        for N, part in leading.groupby("N")
    }
    spectra = {N: part["y"].to_numpy() for N, part in df[df["part"] == "spectrum"].groupby("N")}
    sizes, gaps = sorted(spectra), P.spectrum_gaps(tuple(spectra.values()))
    growth = df[df["part"] == "growth"]
    return (
        f"Left: {label('leading_lyapunov')} against the gain (median over {leading['seed'].nunique()} networks, bars "
        f"from the lowest to the highest); each network's λ₁ first reaches 0 (within {readable(-level)} per step) at "
        + "; ".join(f"N = {N}: g* = {spread(c)}" for N, c in crossings.items())
        + f". Middle: the spectra against i/N. {label('spectrum_gap')}: "
        + "; ".join(f"{g:.1%} of the span from N = {a} to {b}" for a, b, g in zip(sizes, sizes[1:], gaps))
        + ". Right: the gradient's growth rate r against λ₁ of the same trajectory: r − λ₁ = "
        f"{spread(growth['y'] - growth['x'])} per step."
    )


def checkpoint(s) -> Panel:
    curve = pd.DataFrame(
        {
            "cell": np.repeat(s.cells, len(s.curve_slots)),
            "slots": np.tile(s.curve_slots, len(s.cells)),
            "kept": s.curve_memory.ravel(),
            "time": 1 + time_overhead(s.curve_recomputed.ravel() * s.T, s.T),
            "chosen": False,
        }
    )
    chosen = pd.DataFrame(
        {"cell": s.cells, "slots": s.slots, "kept": 1 - s.saved, "time": 1 + time_overhead(s.recomputed, s.T)}
    )
    chosen["chosen"] = True
    df = pd.concat([curve, chosen], ignore_index=True)
    df["T"] = s.T
    fig = fp.checkpoint_curve(
        df,
        (1 - s.target, 4 / 3),
        x_title=label("memory_kept"),
        y_title=f"time, full storage = 1 ({label('modelled_time').lower()} + 1)",
    )
    return Panel("paper_checkpoint", "Binomial checkpointing at T = 1000", checkpoint_caption(df), fig, df)


def checkpoint_caption(df: pd.DataFrame) -> str:
    chosen = df[df["chosen"]]
    T = int(df["T"].iloc[0])
    points = "; ".join(
        f"{r.cell} keeps {r.kept:.1%} with S = {r.slots} states for ×{r.time:.3f} the time" for r in chosen.itertuples()
    )
    return (
        f"The binomial schedule at T = {T}: memory kept against the modelled time (a backward step costing two "
        f"forward steps), for S states kept at once. The diamonds are measured by the engine's ledger: {points}. "
        "The star is the published 5 % for one third more time."
    )


def truncation(s: dict) -> Panel:
    df = pd.concat(
        [
            pd.DataFrame(
                {
                    "cell": cell,
                    "p": st.probabilities,
                    "bias": st.relative_bias,
                    "standard_error": st.standard_error,
                    "variance": st.relative_variance,
                }
            )
            for cell, st in s.items()
        ],
        ignore_index=True,
    )
    fig = fp.truncation_noise(df, bias_title=label("estimator_bias"), variance_title=label("estimator_variance"))
    return Panel("paper_truncation", "Randomized truncation", truncation_caption(df), fig, df)


def truncation_caption(df: pd.DataFrame) -> str:
    within = P.unbiased(df["bias"], df["standard_error"])
    ratio = df["bias"] / df["standard_error"]
    bias = (
        f"every bias is within {P.NOISE_SE:g} standard errors (the dotted lines): indistinguishable from 0"
        if within
        else f"{int((ratio > P.NOISE_SE).sum())} biases lie beyond {P.NOISE_SE:g} standard errors"
    )
    variance = "; ".join(
        f"{cell}: ×{readable(part['variance'].iloc[-1] / part['variance'].iloc[0])} from p = {part['p'].iloc[0]:g} "
        f"to {part['p'].iloc[-1]:g}" + ("" if P.rises(part["p"], part["variance"]) else " (does not rise)")
        for cell, part in df.groupby("cell", sort=False)
    )
    return f"Each link cut with probability p, the kept ones scaled by 1/(1 − p): {bias}. The variance: {variance}."


def copy(s) -> Panel:
    cells, seeds, iterations = s.losses.shape
    df = pd.DataFrame(
        {
            "cell": np.repeat(s.cells, seeds * iterations),
            "seed": np.tile(np.repeat(np.arange(seeds), iterations), cells),
            "iteration": np.tile(np.arange(1, iterations + 1), cells * seeds),
            "loss": s.losses.ravel(),
        }
    )
    df["baseline"] = copy_baseline(s.T)
    fig = fp.copy_curves(df, copy_baseline(s.T), y_title=label("loss"))
    return Panel("paper_copy", "The copying problem", copy_caption(df), fig, df)


def copy_caption(df: pd.DataFrame) -> str:
    baseline = float(df["baseline"].iloc[0])
    last = df["iteration"].max()
    tail = df[df["iteration"] > last - max(1, last // 10)]
    ratios = tail.groupby(["cell", "seed"], sort=False)["loss"].mean() / baseline
    ends = "; ".join(
        f"{cell} {P.ENDINGS[P.position(float(np.median(r)))]} ({label('copy_ratio').lower()} {spread(r)})"
        for cell, r in ratios.groupby(level="cell", sort=False)
    )
    return (
        f"Training loss (median over seeds, band: lowest to highest) against the memoryless baseline "
        f"{readable(baseline)}. Over the last tenth of {last} iterations: {ends}."
    )


def error_flow(s) -> Panel:
    cases = [f"{c}, forget bias {fb:g}" if _carousel(c) else c for c, fb in zip(s.cells, s.forget_bias)]
    S, T = s.log10_error.shape[1:]
    lags = np.arange(T)
    rows = []
    for i, (case, cell) in enumerate(zip(cases, s.cells)):
        rate = np.log(s.forget_gate[i]) if _carousel(cell) else np.log(s.predicted[i])
        for seed in range(S):
            rows += [(case, cell, "measured", seed, lag, 10 ** s.log10_error[i, seed, lag]) for lag in lags]
            start = 10 ** s.log10_error[i, seed, s.discard]
            tail = lags[s.discard :]
            fall = start * np.exp(rate[seed] * (tail - s.discard))
            rows += [(case, cell, "predicted", seed, lag, v) for lag, v in zip(tail, fall)]
    df = pd.DataFrame(rows, columns=["case", "cell", "kind", "seed", "lag", "norm"])
    fig = fp.error_decay(df, y_title=label("last_loss_gradient"))
    return Panel("paper_error_flow", "Exponential decay and the carousel", error_flow_caption(df), fig, df)


def _carousel(cell: str) -> bool:
    """Whether the cell keeps an error carousel: a cell state scaled by a forget gate (the LSTM)."""
    return bc.CELLS[cell].forget_gate is not None


def _rates(part: pd.DataFrame) -> np.ndarray:
    """Each seed's fitted growth rate (natural log per step) of ``norm`` against the lag."""
    return np.array([growth_rate(np.log10(p["norm"].to_numpy()), p["lag"].to_numpy()) for _, p in part.groupby("seed")])


def error_flow_caption(df: pd.DataFrame) -> str:
    parts = []
    for case, part in df.groupby("case", sort=False):
        predicted = part[part["kind"] == "predicted"]
        measured = part[(part["kind"] == "measured") & (part["lag"] >= predicted["lag"].min())]
        r, q = np.exp(_rates(measured)), np.exp(_rates(predicted))
        digits = 6 if all(map(_carousel, part["cell"])) else 3  # a forget gate of 0.99995 is not 1
        parts.append(f"{case}: a factor {spread(r)} per step, predicted {spread(q, digits)}")
    return (
        "The gradient of the last step's loss at each earlier state (median over seeds, log axis): a straight line "
        "is an exponential; the dashed lines start where the fit does and fall at the predicted rate (λ₁ for the "
        "vanilla RNN, the mean forget gate for the LSTM). " + "; ".join(parts) + "."
    )


#: Each row's figure, named by its key.
PANELS: dict[str, Callable] = {key: globals()[key] for key in P.STUDIES}


def panel(key: str, study) -> Panel:
    """Row ``key``'s figure from its study."""
    return PANELS[key](study)


def paper_panels(study: Callable = P.study, scale: str = "page") -> dict[str, Panel]:
    """Every figure of the Papers page at ``scale``; ``study`` computes a row (the page passes its cached one)."""
    return {f"paper_{key}": panel(key, study(key, scale)) for key in P.STUDIES}
