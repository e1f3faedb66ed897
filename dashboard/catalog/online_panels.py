"""The Beyond BPTT page's panels: each method's gradient against BPTT, what it keeps and holds against T with
the crossover length, UORO's bias and variance, the ledger against tracemalloc, and the costs against T and H.
Every caption that states a comparison or a law is computed from its figure's data (tests/dashboard/catalog/
test_online_claims.py recomputes each)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.catalog import online
from dashboard.catalog.panels import Panel
from dashboard.config import RunConfig
from dashboard.figures import online as fo
from dashboard.vocabulary.numbers import factor, human_bytes, readable
from dashboard.vocabulary.quantities import help_text as Q_help
from dashboard.vocabulary.quantities import label

#: Relative error within which two gradients are the same to rounding, per dtype (RTRL's certificate).
SAME = {"float64": 1e-10, "float32": 1e-4}
APPROXIMATIONS = ("snap1", "diagonal", "tbptt", "bptt_checkpoint")


def _lower_first(text: str) -> str:
    """A label inside a sentence: its first letter in lower case, the rest (BPTT, T*) as it is."""
    return text[:1].lower() + text[1:]


def accuracy(config: RunConfig, rows: pd.DataFrame) -> Panel:
    """Each running method's cosine and relative error against exact BPTT (:func:`online.method_rows`)."""
    data = rows.drop(columns="seconds")  # what the figure draws and the ledgers: an export reproduces it
    fig = fo.method_accuracy(data, cosine_title=label("gradient_cosine"), error_title=label("gradient_error"))
    caption = (
        f"One gradient by each method on this network (the sidebar's batch of {config.batch_size}) against exact "
        f"BPTT: left, the {_lower_first(label('gradient_cosine'))}; right, the "
        f"{_lower_first(label('gradient_error'))}. " + accuracy_caption(rows, config.dtype)
    )
    return Panel("online_accuracy", "Each method's gradient against BPTT", caption, fig, data)


def accuracy_caption(rows: pd.DataFrame, dtype: str) -> str:
    """RTRL's certificate, each deterministic method's bias, UORO's draw: read off the rows."""
    by = rows.set_index("key")
    if not np.isfinite(by.loc["bptt", "relative_error"]):
        return "The exact gradient overflowed here (inf or nan): there is nothing to compare."
    if np.isnan(by.loc["bptt", "cosine"]):  # BPTT against itself has no direction only when it is 0
        return (
            "The exact gradient is 0 here (the loss does not depend on the weights): there is no direction to compare."
        )
    tol, parts = SAME[dtype], []
    if "rtrl" in by.index:
        err = by.loc["rtrl", "relative_error"]
        parts.append(
            f"RTRL's gradient equals BPTT's to {readable(err)} (within {readable(tol)}): the same sum of terms, "
            "carried forward instead of backward, a certificate of both"
            if err <= tol
            else f"RTRL and BPTT add the same terms in different orders; in {dtype} they differ here by {readable(err)}"
        )
    for key in APPROXIMATIONS:
        if key not in by.index:
            continue
        name, err, cos = by.loc[key, "method"], by.loc[key, "relative_error"], by.loc[key, "cosine"]
        if err <= tol:
            parts.append(f"{name} equals BPTT here (error {readable(err)})")
        else:
            parts.append(f"{name} is off by {readable(err)} (cosine {cos:.3g}): deterministic, so that is its bias")
    if "uoro" in by.index:
        draw = by.loc["uoro"]
        parts.append(
            f"one UORO draw has cosine {draw['cosine']:.3g} and error {readable(draw['relative_error'])}"
            ": noisy, and unbiased by construction (Tallec & Ollivier 2018; the section on UORO averages "
            f"{online.UORO_SEEDS} draws)"
        )
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:] + "." if sentence else ""


#: The table under the figures: (quantity key, column name, number format), after the method's name.
TABLE_COLUMNS = (
    ("gradient_cosine", label("gradient_cosine"), "%.4g"),
    ("gradient_error", label("gradient_error"), "%.3e"),
    ("peak_held", label("peak_held") + " (B)", "%d"),
    ("kept_for_gradient", label("kept_for_gradient") + " (B)", "%d"),
    ("counted_flops", label("counted_flops"), "%.3e"),
    ("gradient_seconds", label("gradient_seconds") + " (s)", "%.3f"),
)
_ROW_COLUMNS = ("cosine", "relative_error", "memory_bytes", "stored_bytes", "flops", "seconds")


def method_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`online.method_rows` under the vocabulary's names (:data:`TABLE_COLUMNS`)."""
    named = {column: name for column, (_, name, _) in zip(_ROW_COLUMNS, TABLE_COLUMNS)}
    return rows[["method", *_ROW_COLUMNS]].rename(columns=named)


#: The line above the metrics: each one sets RTRL against BPTT (the metrics keep the vocabulary's own labels).
HEADLINE = "**RTRL against BPTT** on this network: how close its gradient is, and what it keeps and computes instead."


def headline(config: RunConfig, rows: pd.DataFrame, t_star: int | None) -> list[tuple[str, str, str]]:
    """The page's four metrics under :data:`HEADLINE`, as (label, value, tooltip): RTRL's relative error against
    BPTT (its certificate), T*, and RTRL's bytes kept and counted FLOPs as multiples of BPTT's ("–" with the reason
    where RTRL does not run)."""
    by = rows.set_index("key")
    compared = (
        " Compared: BPTT's tape with full storage (the state entering the sequence and every step's stored "
        "intermediates) against RTRL's influence of every recurrent weight and bias; the batch cancels."
    )
    crossover = (
        label("crossover_length"),
        f"{t_star} steps" if t_star else "–",
        Q_help("crossover_length") + compared + (f" This T is {config.T}." if t_star else " Not found here."),
    )
    names = [label("gradient_error"), label("kept_for_gradient"), label("counted_flops")]
    if "rtrl" not in by.index:
        why = " RTRL does not run here (see above)."
        return [
            (names[0], "–", Q_help("gradient_error") + why),
            crossover,
            (names[1], "–", Q_help("kept_for_gradient") + why),
            (names[2], "–", Q_help("counted_flops") + why),
        ]
    rtrl, bptt = by.loc["rtrl"], by.loc["bptt"]
    kept, flops = rtrl["stored_bytes"] / bptt["stored_bytes"], rtrl["flops"] / bptt["flops"]
    return [
        (names[0], readable(rtrl["relative_error"]), Q_help("gradient_error") + " Here RTRL's."),
        crossover,
        (
            names[1],
            factor(kept),
            Q_help("kept_for_gradient") + f" Here RTRL's as a multiple of BPTT's, at T = {config.T}: RTRL "
            f"{human_bytes(rtrl['stored_bytes'])}, BPTT {human_bytes(bptt['stored_bytes'])}.",
        ),
        (
            names[2],
            factor(flops),
            Q_help("counted_flops") + f" Here RTRL's as a multiple of BPTT's: RTRL {readable(rtrl['flops'])}, BPTT "
            f"{readable(bptt['flops'])}.",
        ),
    ]


def memory_frame(rows: pd.DataFrame, lengths: pd.DataFrame, T: int) -> pd.DataFrame:
    """The figure's data: every ledger of :func:`online.memory_lengths`, and the online methods at the sidebar's
    T from :func:`online.method_rows`; ``flat`` marks the methods whose bytes do not depend on T."""
    here = rows[rows["key"].isin(online.ONLINE)][["key", "method", "stored_bytes", "memory_bytes"]].assign(T=T)
    df = pd.concat([lengths, here], ignore_index=True).drop_duplicates(["key", "T"])
    df["flat"] = df["key"].isin(online.ONLINE)
    order = {key: i for i, key in enumerate(rows["key"])}  # the methods' order, as in every figure
    return df.sort_values(["key", "T"], key=lambda c: c.map(order) if c.name == "key" else c).reset_index(drop=True)


def memory(config: RunConfig, rows: pd.DataFrame, lengths: pd.DataFrame, t_star: int | None) -> Panel:
    """Kept and held bytes against T, with the crossover length drawn."""
    df = memory_frame(rows, lengths, config.T)
    fig = fo.memory_against_length(df, t_star, crossover_name=label("crossover_length").split()[-1])
    caption = memory_caption(df, t_star, config.num_layers > 1)
    return Panel("online_memory", "Kept and held against T, and the crossover length", caption, fig, df)


def _first_above(df: pd.DataFrame, column: str, level: float) -> int | None:
    """The shortest length drawn at which BPTT's ``column`` exceeds ``level``."""
    bptt = df[df["key"] == "bptt"].sort_values("T")
    above = bptt[bptt[column] > level]
    return int(above["T"].iloc[0]) if len(above) else None


def _crossover_sentence(t_star: int | None, longest: int, stack: bool) -> str:
    """What T* compares, and whether the figure draws it."""
    if t_star is None:
        return "; no crossover length was found for this network"
    name = f"{_lower_first(label('crossover_length'))} = {t_star}"
    where = f"The dashed line marks the {name}" if t_star <= longest else f"The {name} (beyond the lengths drawn)"
    return (
        f". {where}: from there on BPTT's tape (what each step stores for backward, and the state entering the "
        "sequence" + (", and the outputs its layers hand up" if stack else "") + ") outweighs RTRL's influence "
        "∂s_t/∂θ of every recurrent weight and bias (both scale with the batch, which cancels)"
    )


def memory_caption(df: pd.DataFrame, t_star: int | None, stack: bool = False) -> str:
    """BPTT's growth with T, the online methods' constancy, where the kept and held curves cross: from the data."""
    bptt = df[df["key"] == "bptt"].sort_values("T")
    a, b = bptt.iloc[-2], bptt.iloc[-1]
    slope = np.log(b["stored_bytes"] / a["stored_bytes"]) / np.log(b["T"] / a["T"])
    text = (
        f"Left, {label('kept_for_gradient').lower()}: BPTT's tape grows with T (like T^{slope:.2f} between T = "
        f"{a['T']} and {b['T']})"
    )
    longest, rtrl = int(df["T"].max()), df[df["key"] == "rtrl"].sort_values("T")
    if len(rtrl) < 1:
        how = "its ledgers" if stack else "the closed form"
        return text + "; RTRL does not run here" + _crossover_sentence(t_star, longest, stack) + f", from {how}."
    kept, held = rtrl["stored_bytes"].to_numpy(), rtrl["memory_bytes"].to_numpy()
    text += f"; RTRL's influence is {human_bytes(kept[-1])} at T = " + " and T = ".join(str(t) for t in rtrl["T"])
    if len(kept) > 1:
        same = np.all(kept == kept[-1])
        text += " alike: it does not depend on T" if same else f" ({', '.join(human_bytes(k) for k in kept)})"
    text += _crossover_sentence(t_star, longest, stack)
    crossed = _first_above(df, "stored_bytes", kept[-1])
    if t_star is not None and t_star <= longest:
        text += "; the measured curves cross exactly there" if crossed == t_star else f"; measured: at T = {crossed}"
    passes = _first_above(df, "memory_bytes", held[-1])
    text += f". Right, {label('peak_held').lower()} by the whole call (gradient buffers, scratch, step Jacobians): "
    return text + (
        f"BPTT's passes RTRL's {human_bytes(held[-1])} from T = {passes} of the lengths drawn."
        if passes is not None
        else f"BPTT's stays below RTRL's {human_bytes(held[-1])} at every length drawn."
    )


def uoro(config: RunConfig, study: online.UOROStudy) -> Panel:
    """The z-score of every coordinate of UORO's mean over the seeds, and its bias and variance."""
    stats = study.row.statistics
    df = pd.DataFrame({"parameter": study.names, "z": stats.z})
    fig = fo.z_scores(stats.z, stats.z_critical, x_title=label("z_score"))
    return Panel("uoro_noise", "UORO: unbiased but noisy", uoro_caption(study), fig, df)


def uoro_caption(study: online.UOROStudy) -> str:
    """Bias against standard error, one draw's spread, and the z-test's outcome, from the statistics."""
    s, n, first = study.row.statistics, study.seeds, study.first_seed
    text = (
        f"{n} draws of UORO (seeds {first} to {first + n - 1}): {_lower_first(label('estimator_bias'))} "
        f"{readable(s.relative_bias)} against a {_lower_first(label('estimator_standard_error'))} of "
        f"{readable(s.relative_standard_error)}; {_lower_first(label('estimator_variance'))} "
        f"{readable(s.relative_variance)}, so one draw is off by about "
        f"{readable(np.sqrt(s.relative_variance))} times the gradient's size and averaging n draws divides that by √n. "
    )
    beyond = int(np.sum(~(np.abs(s.z) <= s.z_critical)))
    if beyond == 0:
        return text + (
            f"Every one of the {s.z.size} coordinates' z-scores lies within ±{s.z_critical:.2f} (Bonferroni, "
            "α = 10⁻³): the mean is as close to the exact gradient as sampling explains, as an unbiased estimate's is."
        )
    return text + (
        f"{beyond} of the {s.z.size} coordinates' z-scores lie beyond ±{s.z_critical:.2f} (Bonferroni, α = 10⁻³): "
        "their means are further from the exact values than sampling explains."
    )


def held_frame(peaks: dict[str, dict[str, int]], rows: pd.DataFrame) -> pd.DataFrame:
    """Long data: per method measured in the child, the ledger's peak held, tracemalloc's and what it keeps."""
    kept = rows.set_index("method")["stored_bytes"]
    out = []
    for method, p in peaks.items():
        out += [(method, label("peak_held"), p["ledger"]), (method, label("measured_peak"), p["measured"])]
        if method in kept.index:
            out.append((method, label("kept_for_gradient"), int(kept[method])))
    return pd.DataFrame(out, columns=["method", "measure", "bytes"])


def held(config: RunConfig, peaks: dict[str, dict[str, int]], rows: pd.DataFrame) -> Panel:
    """The ledger's peak held beside tracemalloc's, for every method (measured in a child process)."""
    df = held_frame(peaks, rows)
    caption = held_caption(peaks, config.T)
    return Panel(
        "online_held_measured", "Memory held: the ledger and tracemalloc", caption, fo.held_and_measured(df), df
    )


def held_caption(peaks: dict[str, dict[str, int]], T: int) -> str:
    """How close the ledger is to tracemalloc, and how RTRL's peak compares with BPTT's, from the measurements."""
    shares = {m: p["ledger"] / p["measured"] for m, p in peaks.items() if p["measured"] > 0}
    text = (
        f"{label('peak_held')} (the engine's ledger) beside the {label('measured_peak').lower()} of the same call in a "
        "separate process, on this network's batch."
    )
    if shares:
        lo, hi = min(shares, key=shares.get), max(shares, key=shares.get)
        text += f" The ledger is {shares[lo]:.0%} ({lo}) to {shares[hi]:.0%} ({hi}) of tracemalloc's peak."
    if "RTRL" in peaks and "BPTT" in peaks and peaks["BPTT"]["measured"] > 0:
        ratio = peaks["RTRL"]["measured"] / peaks["BPTT"]["measured"]
        text += f" Measured, RTRL holds {readable(ratio)} times what BPTT holds at T = {T}."
    return text


def cost(config: RunConfig, sweep: pd.DataFrame, axis: str) -> Panel:
    """Held bytes, counted FLOPs and seconds against T or H (``axis``)."""
    df = sweep[sweep["axis"] == axis].reset_index(drop=True)
    titles = (label("peak_held"), label("counted_flops"), label("gradient_seconds"))
    fig = fo.cost_curves(df, axis, titles, title=f"Memory, FLOPs and time against {axis}")
    return Panel(f"online_cost_{axis}", f"Cost against {axis}", cost_caption(df, axis), fig, df)


def growth(df: pd.DataFrame, key: str, axis: str, column: str) -> tuple[float, int, int] | None:
    """The exponent of ``column`` against ``axis`` between the method's two largest sizes with a value."""
    part = df[(df["key"] == key) & np.isfinite(df[column].astype(float)) & (df[column] > 0)].sort_values(axis)
    if len(part) < 2:
        return None
    a, b = part.iloc[-2], part.iloc[-1]
    return float(np.log(b[column] / a[column]) / np.log(b[axis] / a[axis])), int(a[axis]), int(b[axis])


def _exponents(df: pd.DataFrame, axis: str, column: str) -> str:
    """Each method's growth exponent of ``column`` against ``axis`` (one phrase when all agree)."""
    found = {name: growth(df, key, axis, column) for key, name in dict(zip(df["key"], df["method"])).items()}
    found = {name: g for name, g in found.items() if g}
    shown = {name: f"{axis}^{g[0]:.2f}" for name, g in found.items()}
    if len(set(shown.values())) == 1 and len(shown) > 1:
        g = next(iter(found.values()))
        return f"like {next(iter(shown.values()))} for every method (between {g[1]} and {g[2]})"
    return ", ".join(f"{name} like {shown[name]} ({g[1]} to {g[2]})" for name, g in found.items())


def cost_caption(df: pd.DataFrame, axis: str) -> str:
    """The growth exponents of the counted FLOPs and of the held bytes, and which points were timed."""
    fixed = f"at H = {df['H'].iloc[0]}" if axis == "T" else f"at T = {df['T'].iloc[0]}, the preset's weights"
    untimed = int(df["seconds"].isna().sum())
    timing = (
        f" {untimed} of {len(df)} points count more than {readable(online.SWEEP_FLOPS)} FLOPs: drawn from their count, "
        "not run."
        if untimed
        else ""
    )
    return (
        f"One gradient on the sidebar's batch {fixed}; time measured on this shared server (the best of up to three "
        f"calls). Between the two largest sizes of each method: {_lower_first(label('counted_flops'))} grow "
        f"{_exponents(df, axis, 'flops')}; {_lower_first(label('peak_held'))} grows "
        f"{_exponents(df, axis, 'memory_bytes')}.{timing}"
    )
