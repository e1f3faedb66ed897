"""Panels: one figure, the tidy data behind it, a title and a caption saying what to look for.

Each function takes engine results (computed, and cached, by the caller) and
returns a :class:`Panel`; pages show panels and exports write them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import bptt_core as bc
from bptt_core.analysis.jacobians import JacobianProducts
from bptt_core.analysis.spectral import SpectralReport, pascanu_bound
from bptt_core.analysis.truncation_study import TruncationStudy
from bptt_core.result import STORED_GROUPS
from dashboard.catalog.compute import PhaseDiagram, flow_origins, total_gradient, window_start
from dashboard.catalog.verdict import UNDERFLOW, jacobian_summary
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS, param_label
from dashboard.figures import flow as ff
from dashboard.figures import unroll as fu
from dashboard.vocabulary.numbers import factor, power_of_ten, readable, smallest_number
from dashboard.vocabulary.quantities import label


@dataclass(frozen=True)
class Panel:
    """A figure with its data: what a page shows and an export writes."""

    name: str  # file stem, e.g. "gradient_norms"
    title: str
    caption: str
    figure: go.Figure
    data: pd.DataFrame


def steps_table(config: RunConfig, res: bc.BPTTResult) -> pd.DataFrame:
    """One row per step: activation size, step loss and the total gradient (top layer, forward direction)."""
    h = res.h_layers[config.num_layers - 1, 0]  # (T, B, H)
    return pd.DataFrame(
        {
            "t": np.arange(len(res.step_losses)),
            "h_rms": bc.scaled_norm(h, axis=(1, 2)) / np.sqrt(h.shape[1] * h.shape[2]),
            "loss": res.step_losses,
            "grad_norm": total_gradient(config, res)[0],
        }
    )


def timeline_table(res: bc.BPTTResult) -> pd.DataFrame:
    """Bytes stored for backward (tape and checkpoints, no fixed buffers) after every step of the pass."""
    phases, steps, _ = zip(*res.memory_timeline) if res.memory_timeline else ((), (), ())
    stored = [sum(g.get(k, 0) for k in STORED_GROUPS) for g in res.memory_timeline_by_tensor]
    return pd.DataFrame(
        {"moment": np.arange(len(stored)), "phase": phases, "step": steps, "bytes": np.asarray(stored, dtype=np.int64)}
    )


def unroll(
    config: RunConfig, res: bc.BPTTResult, stored: bc.BPTTResult, *, static: bool = False, window: int = 12
) -> Panel:
    """``res`` with sequences (the nodes); ``stored`` the same pass without them (the memory bar); ``window``
    steps drawn at once."""
    steps = steps_table(config, res)
    mem = timeline_table(stored)
    mem = mem[mem["phase"] != "recompute"]
    fig = fu.unroll_animation(steps, mem, static=static, window=window)
    caption = (
        "Press ▶ Play: the forward pass lights h_t by activation size left to right, then the backward "
        f"pass runs right to left, node size and red shade = log10 {label('total_gradient')}; the green bar is "
        f"{label('stored_for_backward').lower()}, growing in forward and freed in backward."
    )
    caption += animation_note(fig, 2 * config.T)
    if static:
        caption = "Every step uses the same weights; red shade and size show how much gradient reached each h_t."
    return Panel("unroll_animation" if not static else "unroll_diagram", "Unrolled network", caption, fig, steps)


def animation_note(fig: go.Figure, steps: int) -> str:
    """How much of the ``steps`` (forward and backward, every layer) the animation's frames show."""
    shown = len(fig.frames)
    if not shown or shown >= steps:
        return ""
    return f" It plays {shown} frames for the {steps} steps of both passes (about one in {steps / shown:.0f})."


def gradient_norms(config: RunConfig, res: bc.BPTTResult, last_loss: np.ndarray) -> Panel:
    """The total gradient at the top layer's states (each direction) and the last loss's gradient."""
    totals = total_gradient(config, res)
    df = pd.DataFrame({"t": np.arange(config.T), "total_gradient": totals[0], "last_loss_gradient": last_loss})
    if config.bidirectional:
        df["total_gradient_reverse"] = totals[1]
    if config.truncation:
        df["truncated"] = (df["t"] % config.truncation == 0) & (df["t"] > 0)
    return Panel(
        "gradient_norms",
        "Total gradient and the last loss's gradient over time",
        gradient_norms_caption(config, df, res.overflow_step),
        ff.gradient_norms(df, overflow_step=res.overflow_step),
        df,
    )


def gradient_norms_caption(config: RunConfig, df: pd.DataFrame, overflow_step: int | None = None) -> str:
    """What the two curves are, why they differ at the last step, and where they are 0 or cut, from the data."""
    total, last = df["total_gradient"].to_numpy(), df["last_loss_gradient"].to_numpy()
    text = f"Red: {label('total_gradient')}, the gradient of the whole loss at each state of the top layer"
    text += " (solid: forward direction →, dashed: reverse ←)" if "total_gradient_reverse" in df else ""
    text += (
        f"; every step's own loss props it up, so it need not decay. Blue: {label('last_loss_gradient')}, one loss "
        "(the last step's) travelling back: a straight line on this log axis is exponential decay (vanishing) "
        "or growth (exploding), and the verdict reads it."
    )
    if overflow_step is not None or not (np.all(np.isfinite(total)) and np.all(np.isfinite(last))):
        return text + " Values overflowed: the norms past the red line are inf or nan and are not drawn."
    if not np.any(total) and not np.any(last):
        return text + " Both are 0 here: the loss is constant (e.g. cross-entropy over one class), nothing travels."
    end = int(np.flatnonzero(last)[-1]) if np.any(last) else config.T - 1
    if last[end] > 0 and total[end] > 0:
        ratio = last[end] / total[end]
        text += (
            f" At step {end}, the last loss's own step, blue is {factor(ratio)} red: L counts l_T with weight "
            f"1/{readable(ratio)} (reduction {config.reduction}), the blue curve counts it whole."
        )
    start = window_start(config, end)
    if start:
        text += f" Truncated at k = {config.truncation}: the blue curve is 0 before step {start} (not drawn)."
    zeros = np.flatnonzero(last[start:end] == 0)
    if zeros.size:
        first = start + zeros[-1] + 1
        why = (
            f"below {config.dtype}'s smallest number ({smallest_number(config.dtype)}): 0 in {config.dtype}"
            if last[first] < UNDERFLOW * np.finfo(config.dtype).tiny
            else "exactly 0 (no path carries it further back)"
        )
        text += f" Before step {first} the last loss's gradient is {why}, so the blue curve stops there."
    return text


def flow(config: RunConfig, origins: np.ndarray, F: np.ndarray) -> Panel:
    """Rows ``origins`` of the flow matrix ``F`` (N, T); on long sequences its columns are thinned to the
    same evenly spread steps as the rows (the diagonal kept): a heatmap can show one cell per pixel."""
    columns = flow_origins(config.T)
    t_idx, k_idx = np.meshgrid(origins, columns, indexing="ij")
    keep = k_idx <= t_idx
    df = pd.DataFrame({"t": t_idx[keep], "k": k_idx[keep], "norm": F[:, columns][keep]})
    caption = (
        f"Row t: {label('flow')}, how strongly the loss at step t reaches each earlier state h_k, where l_t is "
        "step t's loss averaged over the valid sequences and the norm is taken over batch × hidden (the same "
        "for either reduction). Colour fading left of the diagonal is vanishing, brightening is exploding. "
        "Right of the diagonal is blank: a state cannot reach an earlier loss."
    )
    if config.num_layers > 1 or config.bidirectional:
        caption += " States of the top layer's forward direction."
    if config.truncation or config.clip:
        caption += " The full gradient: truncation and clipping do not enter here."
    caption += _blank_cells(config, df)
    if len(origins) < config.T:
        caption += f" ({len(origins)} of {config.T} rows and {len(columns)} of {config.T} columns, evenly spaced.)"
    return Panel("flow_matrix", "Flow matrix", caption, ff.flow_heatmap(df), df)


def _blank_cells(config: RunConfig, df: pd.DataFrame) -> str:
    """Why cells left of the flow matrix's diagonal are 0: underflow (the row's last nonzero value sank below
    float's range) or an exact zero Jacobian (a larger value followed by 0), read off each row."""
    reasons = set()
    for _, row in df[df["k"] <= df["t"]].groupby("t"):
        norms = row.sort_values("k")["norm"].to_numpy()
        zeros = np.flatnonzero(norms == 0)
        if zeros.size and zeros[-1] + 1 < norms.size:
            small = norms[zeros[-1] + 1] < UNDERFLOW * np.finfo(config.dtype).tiny
            reasons.add("underflow" if small else "zero")
    text = ""
    if "underflow" in reasons:
        text += (
            f" Blank cells left of the diagonal are below {config.dtype}'s smallest number "
            f"({smallest_number(config.dtype)}): 0 in {config.dtype}."
        )
    if "zero" in reasons:
        text += " Some cells left of the diagonal are exactly 0: no path carries that loss further back."
    return text


def jacobian(config: RunConfig, jp: JacobianProducts, report: SpectralReport) -> Panel:
    df = pd.DataFrame(
        {"lag": jp.lags, "log10_spectral": jp.log10_spectral_mean, "log10_frobenius": jp.log10_frobenius_mean}
    )
    summary = jacobian_summary(jp)
    caption = f"The slope is the {label('jacobian_growth').lower()} (first sequence)"
    caption += f": here {factor(float(np.exp(summary.rate)))}" if np.isfinite(summary.rate) else ""
    caption += f", over lags 0 to {int(jp.lags[-1])}." if len(jp.lags) else "."
    if report.bound_rate is not None:
        df["log10_bound"] = pascanu_bound(jp.lags, report.bound_rate)
        caption += (
            f" The dashed line is Pascanu et al.'s bound (γσ_max)^lag with γσ_max = {report.bound_rate:.3g}:"
            " the spectral-norm curve can never rise above it (the Frobenius norm can, by up to a "
            "factor √H)."
        )
    return Panel("jacobian_vs_lag", "Jacobian product norm", caption, ff.jacobian_vs_lag(df), df)


def eigenvalues(config: RunConfig, report: SpectralReport) -> Panel:
    rows = [(block, complex(v).real, complex(v).imag) for block, vals in report.eigenvalues.items() for v in vals]
    df = pd.DataFrame(rows, columns=["block", "real", "imag"])
    return Panel("eigenvalues", "Eigenvalues of W_hh", eigenvalue_caption(report), ff.eigenvalue_plane(df), df)


def eigenvalue_caption(report: SpectralReport) -> str:
    """What the eigenvalues and singular values say for this W_hh, and what they do not say for a gated cell."""
    if not report.spectral_radius:
        return (
            f"This cell has no recurrent weight matrix ({label('spectral_radius')} = none): its state's Jacobian is "
            "set by its gates, step by step."
        )
    rho, sigma = max(report.spectral_radius.values()), max(report.sigma_max.values())
    if report.gamma is None:
        return (
            f"{label('spectral_radius')} = {rho:.3g} and {label('sigma_max')} = {sigma:.3g} of the gate blocks do not "
            "set the long run of a gated cell: its step Jacobian mixes them with the gates' values at every step "
            "(an LSTM's cell state is multiplied by its forget gate, with no weight matrix in between), so the "
            "measured Jacobian products and the last loss's decay decide."
        )
    text = (
        f"Powers of W_hh alone grow some direction when ρ > 1 and shrink every direction when ρ < 1; here "
        f"{label('spectral_radius')} = {rho:.3g}. A linear RNN's Jacobian products are exactly these powers; "
        "with tanh, relu or sigmoid each step is diag(φ′_t)·W_hh and the measured products decide. One "
        f"multiplication by W_hh stretches a vector at most {label('sigma_max')} = {sigma:.3g}"
    )
    if rho < 1 < sigma:
        text += ": W_hh is non-normal here, so a vector can grow for a few steps before it decays."
    elif sigma < 1:
        text += ": every multiplication by W_hh shrinks every vector."
    return text + ("" if rho < 1 < sigma or sigma < 1 else ".")


def contributions(config: RunConfig, res: bc.BPTTResult) -> Panel:
    """The per-step terms of the top layer's shared parameters (the cell's ``term_params``: dW_hh and dW_ih for
    RNN, LSTM and GRU), as this run sums them."""
    top, names = config.num_layers - 1, bc.CELLS[config.cell].term_params
    terms, zeros = res.step_contributions or {}, np.zeros(config.T)
    columns = {n: terms.get(bc.param_key(n, top, 0), zeros) * res.clip_coef for n in names}
    df = pd.DataFrame({"t": np.arange(config.T)} | columns)
    shared = param_label(names[0])
    caption = (
        f"{label('step_term')}: {shared} is shared, so d{shared} is the sum of these per-step terms; when early "
        "terms are tiny, early inputs barely change the weights." + _which_gradient(config, res.clip_coef)
    )
    return Panel("step_contributions", f"Per-step terms of d{shared}", caption, ff.step_contributions(df), df)


def _which_gradient(config: RunConfig, clip_coef: float) -> str:
    """Whose gradient a panel itemises, and how the run's truncation and clipping enter it."""
    if config.num_layers > 1:
        direction = ", forward direction" if config.bidirectional else ""
        where = f"The top layer's (layer {config.num_layers - 1}{direction})"
    else:
        where = "The forward direction's" if config.bidirectional else "The layer's"
    notes = [f"truncated every k = {config.truncation} steps"] if config.truncation else []
    notes += [f"scaled ×{readable(clip_coef)} by clipping"] if clip_coef != 1.0 else []
    shared = param_label(bc.CELLS[config.cell].term_params[0])
    return f" {where} {shared}" + "".join(f", {n}" for n in notes) + ", as this run computes it."


def itemised(config: RunConfig, P: np.ndarray, origin: int | None = None, clip_coef: float = 1.0) -> Panel:
    """This run's dW_hh split by loss step and distance travelled; ``origin`` draws one loss's terms as a line."""
    T = P.shape[0]
    s, t = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    keep = t <= s
    long = pd.DataFrame({"origin": s[keep], "t": t[keep], "share": P[keep]})
    long["travelled"] = long["origin"] - long["t"]
    bins = [lo for lo, _, _ in ff.DISTANCES]
    names = [name for _, _, name in ff.DISTANCES]
    long["distance"] = [names[i] for i in np.searchsorted(bins, long["travelled"], side="right") - 1]
    df = long.groupby(["t", "distance"], as_index=False)["share"].sum()
    chosen = T - 1 if origin is None else origin
    line = long[long["origin"] == chosen][["origin", "t", "share"]]
    shared = param_label(bc.CELLS[config.cell].term_params[0])
    caption = itemised_caption(long, shared) + _which_gradient(config, clip_coef)
    return Panel("gradient_itemised", f"d{shared} itemised", caption, ff.itemised_contributions(df, line), long)


def itemised_caption(long: pd.DataFrame, shared: str = "W_hh") -> str:
    """The total the bars add up to and the share of each distance, read off the terms of d``shared``."""
    total = long["share"].sum()
    by = long.groupby("distance", sort=False)["share"].sum()
    shares = ", ".join(f"{name}: {by[name] / total:.0%}" for _, _, name in ff.DISTANCES if name in by and total)
    return (
        f"Every term of the shared d{shared}, split by the step t that adds it and coloured by how far its gradient "
        "travelled back from the loss that produced it; each bar is the term's projection on the gradient, so "
        f"all bars add up to {label('itemised_norm')} = {total:.4g}. Shares by distance: {shares}."
    )


def comparison(config: RunConfig, curves: dict[str, np.ndarray]) -> Panel:
    """The last loss's gradient of every registered cell on the same inputs and preset."""
    df = pd.concat(
        [pd.DataFrame({"t": np.arange(len(v)), "cell": c, "last_loss_gradient": v}) for c, v in curves.items()]
    )
    own = [VIEWS[c].label for c in curves if not bc.CELLS[c].init_presets]
    init = f"same init preset ({' and '.join(own)}: their own init options)" if own else "same init preset"
    caption = (
        f"Same inputs, {init}, one sequence, full BPTT: {label('last_loss_gradient')} of each cell. "
        + comparison_caption(df)
    )
    return Panel("cell_comparison", "The cells compared", caption, ff.cell_comparison(df), df)


def comparison_caption(df: pd.DataFrame) -> str:
    """Which cell keeps the most of the last loss's gradient at the first step, read off the curves in log space
    (a cell whose curve overflowed is named as such and not ranked)."""
    if len(df["t"].unique()) < 2:
        return "One step only: nothing travels back to compare."
    reach, overflowed = {}, []
    for cell, part in df.groupby("cell", sort=False):
        g = part["last_loss_gradient"].to_numpy()
        if not np.all(np.isfinite(g)) or g[-1] <= 0:
            overflowed.append(VIEWS[str(cell)].label)
        else:
            reach[VIEWS[str(cell)].label] = np.log10(g[0]) - np.log10(g[-1]) if g[0] > 0 else -np.inf
    listed = [f"{c} " + (factor(10.0**r) if np.isfinite(r) else "0 (below float's range)") for c, r in reach.items()]
    listed += [f"{c} overflowed" for c in overflowed]
    text = f"{label('last_loss_reach')} at step 0: {', '.join(listed)}"
    if not reach:
        return text + "."
    best = max(reach, key=reach.get)
    return text + f"; here the {best} carries the most of the last loss's gradient back to the first step."


def phase(config: RunConfig, pdg: PhaseDiagram) -> Panel:
    rows = [
        pd.DataFrame(
            {
                "cell": cell,
                "radius": np.repeat(pdg.radii, pdg.lengths.size),
                "T": np.tile(pdg.lengths, pdg.radii.size),
                "log10_ratio": v.ravel(),
            }
        )
        for cell, v in pdg.log10_ratio.items()
    ]
    rows += [  # the cells without W_hh, at their own init: one row over T, no radius
        pd.DataFrame({"cell": cell, "radius": np.nan, "T": pdg.lengths, "log10_ratio": v})
        for cell, v in pdg.own_init.items()
    ]
    df = pd.concat(rows, ignore_index=True)
    caption = f"Colour: {label('phase_reach')}; blue: it vanishes, red: it explodes. " + phase_caption(df)
    return Panel("phase_diagram", "Phase diagram", caption, ff.phase_diagram(df), df)


def phase_caption(df: pd.DataFrame) -> str:
    """For each cell at the longest T: the radii where the last-step loss's reach is at least 1, as intervals of
    the radii computed (overflow counts as exploding), never one flip where the row flips back; the cells without
    W_hh (rows without a radius) at their own init."""
    longest = df["T"].max()
    parts = []
    swept = df[df["radius"].notna()]
    for cell, part in swept[swept["T"] == longest].groupby("cell", sort=False):
        part = part.sort_values("radius")
        r, v = part["radius"].to_numpy(), part["log10_ratio"].to_numpy()
        up = np.isnan(v) | (v >= 0)
        parts.append(f"{VIEWS[str(cell)].label} {_intervals(r, up)}")
    text = f"At T = {longest}, of the radii computed: " + "; ".join(parts) + ". The dotted line marks ρ = 1."
    return text + _own_init_sentence(df[df["radius"].isna() & (df["T"] == longest)])


def _own_init_sentence(rows: pd.DataFrame) -> str:
    """The cells without W_hh: why they are not drawn, and their reach at the longest T at their own init."""
    if rows.empty:
        return ""
    names = [VIEWS[str(c)].label for c in rows["cell"]]
    reach = [
        f"{name} {'overflowed' if np.isnan(v) else '0 (below float’s range)' if v == -np.inf else power_of_ten(v)}"
        for name, v in zip(names, rows["log10_ratio"])
    ]
    return (
        f" ρ(W_hh) does not apply to the {' and '.join(names)}: {'they have' if len(names) > 1 else 'it has'} no W_hh, "
        f"so {'they are' if len(names) > 1 else 'it is'} not drawn; at {'their' if len(names) > 1 else 'its'} own "
        f"init (the sidebar's options) the reach at T = {rows['T'].iloc[0]} is: {', '.join(reach)}."
    )


def _intervals(r: np.ndarray, up: np.ndarray) -> str:
    """Where ``up`` holds along the sorted radii ``r``, in words."""
    if not up.any():
        return f"vanishes at every ρ up to {r[-1]:.2g}"
    if up.all():
        return f"does not vanish at any ρ from {r[0]:.2g}"
    edges = np.flatnonzero(np.diff(up.astype(int)))
    if edges.size == 1 and not up[0]:
        return f"vanishes up to ρ = {r[edges[0]]:.2f} and not from ρ = {r[edges[0] + 1]:.2f} on"
    runs = np.split(np.arange(r.size), edges + 1)
    spans = [f"{r[i[0]]:.2f}–{r[i[-1]]:.2f}" for i in runs if up[i[0]]]
    return f"does not vanish for ρ in {', '.join(spans)} (and vanishes between: the row flips {edges.size} times)"


def truncation(config: RunConfig, study: TruncationStudy) -> Panel:
    df = pd.DataFrame({"k": study.ks, "relative_error": study.relative_error, "cosine": study.cosine})
    caption = (
        f"{label('truncation_error')} and {label('truncation_cosine').lower()}, first sequence. "
        + truncation_caption(df)
    )
    return Panel("truncation_study", "Truncation study", caption, ff.truncation_curves(df), df)


def truncation_caption(df: pd.DataFrame, within: float = 0.01) -> str:
    """The truncation lengths computed whose error is below ``within``, as the data give them: the smallest k
    from which every computed k stays below it, and whether the error rises again above a smaller one."""
    ks, err = df["k"].to_numpy(), df["relative_error"].to_numpy()
    listed = f"{len(ks)} values of k from {ks[0]} to {ks[-1]}"
    ok = err < within
    if not np.isfinite(err).any():
        return f"Of the {listed}, every gradient overflowed: there is no error to compare."
    if not ok.any():
        return (
            f"Of the {listed}, none brings the error below {within:.0%} (the smallest is {np.nanmin(err):.3g}): "
            "every window starts without the gradient of the steps after it."
        )
    tail = len(ks) - int(np.argmax(~ok[::-1])) if (~ok).any() else 0  # every k from index tail on is below
    parts = []
    if tail < len(ks):
        full = " (k = T is full BPTT)" if tail == len(ks) - 1 else ""
        parts.append(f"the error is below {within:.0%} for every k ≥ {ks[tail]}{full}")
    early = [int(k) for k in ks[:tail][ok[:tail]]]
    if early:
        parts.append(
            f"it also dips below at k = {', '.join(map(str, early))} but rises above {within:.0%} again: the "
            "error is not monotone in k"
        )
    return f"Of the {listed}, " + "; ".join(parts) + "."
