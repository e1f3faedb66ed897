"""The Memory page's panels: what the pass holds by tensor and through time, against T, in a budget, and
the checkpointing schedules' Pareto front. Every number is a quantity of the vocabulary (peak held, stored
for backward, recomputed steps), read off the engine's ledger."""

from __future__ import annotations

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.result import STORED_GROUPS
from dashboard.catalog.memory import STRATEGIES
from dashboard.catalog.panels import Panel, timeline_table
from dashboard.config import RunConfig
from dashboard.figures import memory as fm
from dashboard.vocabulary.numbers import human_bytes
from dashboard.vocabulary.quantities import label


def memory_stack(config: RunConfig, res: bc.BPTTResult) -> Panel:
    """Bytes held by tensor group at every moment of the training pass ``res`` (run without returned
    sequences, so that everything stored for backward is counted as stored)."""
    rows = []
    for moment, ((phase_, step, _), groups) in enumerate(zip(res.memory_timeline, res.memory_timeline_by_tensor)):
        rows += [(moment, phase_, step, g, b) for g, b in groups.items()]
    df = pd.DataFrame(rows, columns=["moment", "phase", "step", "group", "bytes"])
    return Panel("memory_by_tensor", "Held bytes by tensor", memory_stack_caption(res, df), fm.memory_stack(df), df)


def memory_stack_caption(res: bc.BPTTResult, df: pd.DataFrame) -> str:
    """What the stacked areas show, from the groups the ledger filled."""
    stored = df[df["group"].isin(STORED_GROUPS)].groupby("group")["bytes"].max()
    stored = stored[stored > 0]
    names = ", ".join(stored.index) if len(stored) else "nothing"
    fixed = res.memory_bytes - res.stored_bytes
    return (
        f"Forward stores what backward will need ({names}); backward uses and releases it in reverse order. "
        f"Below it, the call's fixed buffers ({human_bytes(fixed)}: gradient buffers, scratch and losses). "
        f"{label('stored_for_backward')}: {human_bytes(res.stored_bytes)}; {label('peak_held').lower()} "
        f"by the whole pass: {human_bytes(res.memory_bytes)}." + _between_steps(res, df)
    )


def _between_steps(res: bc.BPTTResult, df: pd.DataFrame) -> str:
    """The areas are drawn after every step; what the pass held for a moment within one step above them."""
    drawn = int(df.groupby("moment")["bytes"].sum().max()) if len(df) else 0
    above = res.memory_bytes - drawn
    if above <= 0:
        return ""
    return (
        f" The areas are drawn after every step; for a moment within one step the pass held "
        f"{human_bytes(above)} more than their highest point."
    )


def memory_timelines(config: RunConfig, runs: dict[str, bc.BPTTResult]) -> Panel:
    df = pd.concat([timeline_table(r).assign(strategy=name) for name, r in runs.items()], ignore_index=True)
    full, sqrt = runs["full storage"], runs["checkpoint sqrt(T)"]
    share = sqrt.stored_bytes / full.stored_bytes if full.stored_bytes else 1.0
    extra = sqrt.forward_steps - full.forward_steps
    caption = (
        f"{label('stored_for_backward')} through the pass, one sequence. Checkpointing keeps a few states in "
        f"forward and re-runs each segment in backward: here √T checkpointing stores {share:.0%} of what full "
        f"storage stores, for {extra} {label('recomputed_steps').lower()} ({extra / full.forward_steps:.0%} more "
        "forward steps)"
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
    longest sequences, and the recomputation at the longest."""
    Ts = np.sort(df["T"].unique())
    if len(Ts) < 2:
        return "One sequence length only: change T to see how memory scales."
    a, b = Ts[-2], Ts[-1]
    parts = []
    for name in ("full storage", "checkpoint sqrt(T)"):
        rows = df[df["strategy"] == name].set_index("T")["bytes"]
        if rows[a] > 0 and rows[b] > 0:
            parts.append(f"{name} grows like T^{np.log(rows[b] / rows[a]) / np.log(b / a):.2f}")
        else:
            parts.append(f"{name} stores nothing to compare")
    extra = df[(df["strategy"] == "checkpoint sqrt(T)") & (df["T"] == b)]["recomputed"].iloc[0]
    return (
        f"{label('stored_for_backward')}, one sequence, every layer and direction. Between T = {a} and {b}: "
        + ", ".join(parts)
        + f"; √T checkpointing runs {extra:.0f} {label('recomputed_steps').lower()} at T = {b} (full storage and "
        "truncation none)."
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
        "once, accumulated over steps) and what is stored for backward. float32 halves every bar."
    )
    return Panel("memory_budget", "Training vs prediction memory", caption, fm.memory_budget(df), df)


def pareto(config: RunConfig, front: dict[str, np.ndarray]) -> Panel:
    df = pd.DataFrame(front)
    caption = (
        f"Each marker is a schedule: left is less {label('stored_for_backward').lower()}, down is fewer forward "
        "steps (T for the pass itself, the rest recomputation). " + pareto_caption(df)
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
