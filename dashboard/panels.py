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

from .cells import param_label
from .compute import PhaseDiagram, flow_origins, step_norms
from .config import RunConfig
from .figures import flow as ff
from .figures import memory as fm
from .figures import unroll as fu
from .figures.style import human_bytes
from .memory import STRATEGIES
from .verdict import jacobian_summary


@dataclass(frozen=True)
class Panel:
    """A figure with its data: what a page shows and an export writes."""

    name: str  # file stem, e.g. "gradient_norms"
    title: str
    caption: str
    figure: go.Figure
    data: pd.DataFrame


def steps_table(res: bc.BPTTResult) -> pd.DataFrame:
    """One row per step: activation size, loss and gradient norm."""
    with np.errstate(over="ignore", invalid="ignore"):
        h_rms = np.sqrt(np.mean(np.square(res.h, dtype=np.float64), axis=(1, 2)))
    return pd.DataFrame(
        {"t": np.arange(len(res.step_losses)), "h_rms": h_rms, "loss": res.step_losses, "grad_norm": step_norms(res.dh)}
    )


def timeline_table(res: bc.BPTTResult) -> pd.DataFrame:
    """Bytes stored for backward (tape and checkpoints, no fixed buffers) after every step of the pass."""
    phases, steps, _ = zip(*res.memory_timeline) if res.memory_timeline else ((), (), ())
    stored = [sum(g.get(k, 0) for k in STORED_GROUPS) for g in res.memory_timeline_by_tensor]
    return pd.DataFrame(
        {"moment": np.arange(len(stored)), "phase": phases, "step": steps, "bytes": np.asarray(stored, dtype=np.int64)}
    )


def unroll(config: RunConfig, res: bc.BPTTResult, stored: bc.BPTTResult, *, static: bool = False) -> Panel:
    """``res`` with sequences (the nodes); ``stored`` the same pass without them (the memory bar)."""
    steps = steps_table(res)
    mem = timeline_table(stored)
    mem = mem[mem["phase"] != "recompute"]
    fig = fu.unroll_animation(steps, mem, static=static)
    caption = (
        "Press ▶ Play: the forward pass lights h_t by activation size left to right, then the backward "
        "pass runs right to left, node size and red shade = log10 ||∂L/∂h_t||; the green bar is the memory "
        "held for backward, growing in forward and freed in backward."
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
    df = pd.DataFrame({"t": np.arange(config.T), "grad_norm": step_norms(res.dh), "last_loss_grad": last_loss})
    if config.truncation:
        df["truncated"] = (df["t"] % config.truncation == 0) & (df["t"] > 0)
    caption = (
        "Red: ||∂L/∂h_t||, the total gradient at each state; every step's own loss props it up, so it "
        "need not decay. Blue: ||∂l_T/∂h_t||, one loss (the last step's) travelling back: a straight line "
        "on this log axis is exponential decay (vanishing) or growth (exploding), and the verdict reads it."
    )
    if config.truncation:
        caption += " Truncation cuts the blue curve to zero before the last window."
    return Panel(
        "gradient_norms",
        "||dL/dh_t|| and ||dl_T/dh_t|| over time",
        caption,
        ff.gradient_norms(df, overflow_step=res.overflow_step),
        df,
    )


def flow(config: RunConfig, origins: np.ndarray, F: np.ndarray) -> Panel:
    """Rows ``origins`` of the flow matrix ``F`` (N, T); on long sequences its columns are thinned to the
    same evenly spread steps as the rows (the diagonal kept): a heatmap can show one cell per pixel."""
    columns = flow_origins(config.T)
    t_idx, k_idx = np.meshgrid(origins, columns, indexing="ij")
    keep = k_idx <= t_idx
    df = pd.DataFrame({"t": t_idx[keep], "k": k_idx[keep], "norm": F[:, columns][keep]})
    caption = (
        "Row t: ||∂l_t/∂h_k||, how strongly the loss at step t reaches each earlier state h_k, where l_t is "
        "step t's loss averaged over the valid sequences and the norm is taken over batch × hidden (the same "
        "for either reduction). Colour fading left of the diagonal is vanishing, brightening is exploding."
    )
    if config.num_layers > 1 or config.bidirectional:
        caption += " States of the top layer's forward direction."
    if len(origins) < config.T:
        caption += f" ({len(origins)} of {config.T} rows and {len(columns)} of {config.T} columns, evenly spaced.)"
    return Panel("flow_matrix", "Flow matrix", caption, ff.flow_heatmap(df), df)


def jacobian(config: RunConfig, jp: JacobianProducts, report: SpectralReport) -> Panel:
    df = pd.DataFrame(
        {"lag": jp.lags, "log10_spectral": jp.log10_spectral_mean, "log10_frobenius": jp.log10_frobenius_mean}
    )
    summary = jacobian_summary(jp)
    caption = (
        f"The slope is the per-step growth rate of ∂h_t/∂h_k (first sequence): here ×{np.exp(summary.rate):.3g}"
        " per step"
        if np.isfinite(summary.rate)
        else "The slope is the per-step growth rate of ∂h_t/∂h_k"
    )
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
    """What the eigenvalues say in the long run and the singular values over one step, for this W_hh."""
    if not report.spectral_radius:
        return "This cell has no recurrent weight matrix: its state's Jacobian is set by its gates, step by step."
    rho, sigma = max(report.spectral_radius.values()), max(report.sigma_max.values())
    text = (
        f"The spectral radius ρ = {rho:.3g} sets the long run: powers of W_hh grow some direction when ρ > 1 "
        f"and shrink every direction when ρ < 1. One step is bounded by the largest singular value, "
        f"σ_max = {sigma:.3g}"
    )
    if rho < 1 < sigma:
        text += ": W_hh is non-normal here, so a vector can grow for a few steps before it decays."
    elif sigma < 1:
        text += ": every step shrinks every vector."
    else:
        text += "."
    if report.gamma is None:
        text += " In a gated cell the gates rescale these blocks at every step."
    return text


def contributions(config: RunConfig, res: bc.BPTTResult) -> Panel:
    names = bc.CELLS[config.cell].term_params
    terms = res.step_contributions or {}
    df = pd.DataFrame({"t": np.arange(config.T)} | {n: terms.get(f"{n}_l0", np.zeros(config.T)) for n in names})
    shared = param_label(names[0])
    caption = (
        f"{shared} is shared, so d{shared} is the sum of these per-step terms; when early terms are tiny, early "
        "inputs barely change the weights."
    )
    return Panel("step_contributions", f"Per-step terms of d{shared}", caption, ff.step_contributions(df), df)


def itemised(config: RunConfig, P: np.ndarray, origin: int | None = None) -> Panel:
    """dW_hh split by loss step and distance travelled; ``origin`` draws one loss's terms as a line."""
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
    caption = itemised_caption(long, shared)
    return Panel("gradient_itemised", f"d{shared} itemised", caption, ff.itemised_contributions(df, line), long)


def itemised_caption(long: pd.DataFrame, shared: str = "W_hh") -> str:
    """The total the bars add up to and the share of each distance, read off the terms of d``shared``."""
    total = long["share"].sum()
    by = long.groupby("distance", sort=False)["share"].sum()
    shares = ", ".join(f"{name}: {by[name] / total:.0%}" for _, _, name in ff.DISTANCES if name in by and total)
    return (
        f"Every term of the shared d{shared} (top layer), split by the step t that adds it and coloured by how far "
        "its gradient travelled back from the loss that produced it; each bar is the term's projection on the "
        f"total gradient, so all bars add up to ||d{shared}|| = {total:.4g}. Shares by distance: {shares}."
    )


def comparison(config: RunConfig, norms: dict[str, np.ndarray]) -> Panel:
    df = pd.concat([pd.DataFrame({"t": np.arange(len(v)), "cell": c, "grad_norm": v}) for c, v in norms.items()])
    caption = "Same inputs, same init preset, one sequence. " + comparison_caption(df)
    return Panel("cell_comparison", "RNN vs LSTM vs GRU", caption, ff.cell_comparison(df), df)


def comparison_caption(df: pd.DataFrame) -> str:
    """Which cell keeps the most gradient at the first step, relative to its last, read off the curves."""
    kept = {}
    for cell, part in df.groupby("cell", sort=False):
        g = part["grad_norm"].to_numpy()
        kept[str(cell)] = g[0] / g[-1] if g.size > 1 and np.isfinite(g[[0, -1]]).all() and g[-1] > 0 else np.nan
    if len(df["t"].unique()) < 2 or not np.isfinite(list(kept.values())).all():
        return "Compare the curves: where one falls faster, less gradient reaches the early steps."
    best = max(kept, key=kept.get)
    listed = ", ".join(f"{c.upper()} ×{k:.3g}" for c, k in kept.items())
    return (
        f"||∂L/∂h_0|| / ||∂L/∂h_(T−1)||: {listed}; here the {best.upper()} carries the most gradient back "
        "to the first step."
    )


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
    df = pd.concat(rows, ignore_index=True)
    caption = "Blue: the gradient reaching the first step vanishes; red: it explodes. " + phase_caption(df)
    return Panel("phase_diagram", "Phase diagram", caption, ff.phase_diagram(df), df)


def phase_caption(df: pd.DataFrame) -> str:
    """Where each cell's ratio at the longest T turns from vanishing to exploding, read off the map."""
    longest = df["T"].max()
    parts = []
    for cell, part in df[df["T"] == longest].groupby("cell", sort=False):
        part = part.sort_values("radius")
        up = np.flatnonzero(part["log10_ratio"].to_numpy() >= 0)
        r = part["radius"].to_numpy()
        if up.size == 0:
            parts.append(f"{str(cell).upper()} never up to ρ = {r[-1]:.2g}")
        elif up[0] == 0:
            parts.append(f"{str(cell).upper()} already at ρ = {r[0]:.2g}")
        else:
            parts.append(f"{str(cell).upper()} between ρ = {r[up[0] - 1]:.2f} and {r[up[0]]:.2f}")
    return (
        f"At T = {longest} the sign flips (vanishing to exploding) for: " + "; ".join(parts) + ". The dotted "
        "line marks ρ = 1."
    )


def truncation(config: RunConfig, study: TruncationStudy) -> Panel:
    df = pd.DataFrame({"k": study.ks, "relative_error": study.relative_error, "cosine": study.cosine})
    caption = "How far truncated BPTT's gradient is from the true one (first sequence). " + truncation_caption(df)
    return Panel("truncation_study", "Truncation study", caption, ff.truncation_curves(df), df)


def truncation_caption(df: pd.DataFrame, within: float = 0.01) -> str:
    """The smallest k drawn whose error is below ``within``, read off the curve (windowed truncation cuts the
    steps right after every cut, so the error need not vanish before k reaches T)."""
    ok = df[df["relative_error"] < within]
    T = int(df["k"].max())
    if ok.empty:
        worst = df["relative_error"].min()
        return (
            f"Here no k drawn brings the error below {within:.0%} (the smallest is {worst:.3g}): every window "
            "starts without the gradient of the steps after it."
        )
    k = int(ok["k"].min())
    cos = float(ok.set_index("k").loc[k, "cosine"])
    exact = " (k = T is full BPTT)" if k >= T else ""
    return f"Here the error first falls below {within:.0%} at k = {k}{exact}, with cosine {cos:.4f}."


def memory_stack(config: RunConfig, res: bc.BPTTResult) -> Panel:
    rows = []
    for moment, ((phase_, step, _), groups) in enumerate(zip(res.memory_timeline, res.memory_timeline_by_tensor)):
        rows += [(moment, phase_, step, g, b) for g, b in groups.items()]
    df = pd.DataFrame(rows, columns=["moment", "phase", "step", "group", "bytes"])
    fixed = res.memory_bytes - res.stored_bytes
    caption = (
        "Forward stores each step's intermediates (the tape); backward releases them in reverse order. "
        f"Below them, the call's fixed buffers ({human_bytes(fixed)}: gradients, scratch, returned "
        f"sequences). The peak, {human_bytes(res.memory_bytes)}, is what this pass must fit in memory."
    )
    return Panel("memory_by_tensor", "Held bytes by tensor", caption, fm.memory_stack(df), df)


def memory_timelines(config: RunConfig, runs: dict[str, bc.BPTTResult]) -> Panel:
    df = pd.concat([timeline_table(r).assign(strategy=name) for name, r in runs.items()], ignore_index=True)
    full, sqrt = runs["full storage"], runs["checkpoint sqrt(T)"]
    share = sqrt.stored_bytes / full.stored_bytes if full.stored_bytes else 1.0
    extra = sqrt.forward_steps / full.forward_steps - 1
    caption = (
        "Bytes stored for backward, one sequence. Checkpointing keeps a few states in forward and re-runs "
        f"each segment in backward: here √T checkpointing peaks at {share:.0%} of full storage for "
        f"{extra:.0%} more forward steps"
    )
    caption += "; truncation holds one window but changes the gradient." if "truncation 8" in runs else "."
    return Panel(
        "memory_timelines", "Full storage vs checkpointing vs truncation", caption, fm.memory_timelines(df), df
    )


def memory_vs_length(config: RunConfig, scaling: dict[str, np.ndarray]) -> Panel:
    df = pd.concat(
        [
            pd.DataFrame(
                {
                    "T": scaling["T"],
                    "strategy": s,
                    "bytes": scaling[f"{s} bytes"],
                    "recomputed": scaling[f"{s} recomputed"],
                }
            )
            for s in STRATEGIES
            if f"{s} bytes" in scaling
        ],
        ignore_index=True,
    )
    caption = memory_scaling_caption(df)
    return Panel("memory_vs_length", "Memory against sequence length", caption, fm.memory_vs_length(df), df)


def memory_scaling_caption(df: pd.DataFrame) -> str:
    """What the memory-against-T figure shows, read off its data: the growth exponents between its two
    longest sequences."""
    Ts = np.sort(df["T"].unique())
    if len(Ts) < 2:
        return "One sequence length only: change T to see how memory scales."
    a, b = Ts[-2], Ts[-1]
    parts = []
    for name in ("full storage", "checkpoint sqrt(T)"):
        rows = df[df["strategy"] == name].set_index("T")["bytes"]
        slope = np.log(rows[b] / rows[a]) / np.log(b / a) if rows[a] > 0 and rows[b] > 0 else float("nan")
        parts.append(f"{name} grows like T^{slope:.2f}")
    extra = df[(df["strategy"] == "checkpoint sqrt(T)") & (df["T"] == b)]["recomputed"].iloc[0]
    return (
        f"Bytes stored for backward, one sequence. Between T = {a} and {b}: "
        + ", ".join(parts)
        + f"; √T checkpointing runs {extra:.0f} extra forward steps at T = {b}."
        + (" Truncation caps memory but changes the gradient." if (df["strategy"] == "truncation 8").any() else "")
    )


def memory_budget(config: RunConfig, budget: dict[str, dict[str, int]]) -> Panel:
    df = pd.DataFrame(
        [(item, dtype, b) for dtype, items in budget.items() for item, b in items.items()],
        columns=["item", "dtype", "bytes"],
    )
    df["label"] = [human_bytes(b) for b in df["bytes"]]
    caption = (
        "Prediction needs the parameters and one state; training also needs gradient buffers (allocated "
        "once, accumulated over steps) and the stored activations. float32 halves every bar."
    )
    return Panel("memory_budget", "Training vs prediction memory", caption, fm.memory_budget(df), df)


def pareto(config: RunConfig, front: dict[str, np.ndarray]) -> Panel:
    df = pd.DataFrame(front)
    caption = (
        "Each marker is a schedule: left is less memory, down is fewer forward steps (T for the pass itself, "
        "the rest recomputation). " + pareto_caption(df)
    )
    if len(config.owners) > 1:
        n = len(config.owners)
        caption += (
            f" Counted for one layer and direction: each of the {n} runs this schedule on its own tape, so the "
            f"stack runs {n} times these extra steps and holds up to {n} times these bytes, plus the output "
            "sequences its layers hand up (T × B × H each, whatever the schedule)."
        )
    return Panel("pareto_front", "Memory against recomputation", caption, fm.pareto_front(df), df)


def dominated(df: pd.DataFrame) -> np.ndarray:
    """For each schedule, whether another one needs no more memory and no more extra steps, and less of one."""
    b, r = df["bytes"].to_numpy(), df["recomputed"].to_numpy()
    better_or_equal = (b[None, :] <= b[:, None]) & (r[None, :] <= r[:, None])
    strictly = (b[None, :] < b[:, None]) | (r[None, :] < r[:, None])
    return np.any(better_or_equal & strictly, axis=1)


def pareto_caption(df: pd.DataFrame) -> str:
    """Which schedules are on the lower-left frontier, read off the figure's data."""
    off = dominated(df)
    front = df[~off]
    kinds = [s for s in dict.fromkeys(df["strategy"]) if (front["strategy"] == s).any()]
    beaten = [s for s in dict.fromkeys(df["strategy"]) if not (front["strategy"] == s).any()]
    text = f"Here the frontier is made of: {', '.join(kinds)}"
    if beaten:
        text += f"; {', '.join(beaten)} {'is' if len(beaten) == 1 else 'are'} beaten by some schedule on it"
    partly = [s for s in kinds if (df[df["strategy"] == s].index.isin(df[off].index)).any()]
    if partly:
        text += f" ({', '.join(partly)}: only some settings on the frontier)"
    return text + "."
