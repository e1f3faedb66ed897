"""The training race of the Beyond BPTT page: the same task, the same batches and the same optimiser, each
method's gradient driving it (the Training lab's loop, :func:`bptt_core.lab.train.train`, with ``method=``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bptt_core.lab.train import TrainConfig, TrainHistory, train
from bptt_core.online import flop_counts, online_bytes
from dashboard.catalog import online
from dashboard.catalog.memory import DASHBOARD_BUDGET
from dashboard.catalog.panels import Panel
from dashboard.config import RunConfig
from dashboard.figures import online as fo
from dashboard.learning.lessons import train_config
from dashboard.vocabulary.numbers import readable
from dashboard.vocabulary.quantities import label

#: The methods that race, in the figures' order.
RACE = ("rtrl", "uoro", "snap1", "tbptt", "bptt")
#: A method whose whole race counts more FLOPs stays out (about half a minute here).
RACE_FLOPS = 3e10
#: The learning rates offered (log scale), as on the Training lab.
LEARNING_RATES = tuple(float(f"{v:.0e}") for v in np.geomspace(1e-4, 1.0, 13))


@dataclass(frozen=True)
class Entrant:
    """One method in the race: its row key and name, the training run it drives, and why it stays out ("" if not)."""

    key: str
    label: str
    config: TrainConfig
    left_out: str = ""


def entrants(run: RunConfig, task: str, iterations: int, lr: float, optimizer: str) -> tuple[Entrant, ...]:
    """Every method of :data:`RACE` on the sidebar's network and the page's task, with the sidebar's clipping:
    BPTT in full, truncated BPTT at the page's k, the online methods where they run and fit."""
    base = replace(train_config(run, task, iterations, lr, optimizer), truncation=None)
    out = []
    for key in RACE:
        engine = "bptt" if key == "tbptt" else key
        config = replace(base, method=engine, truncation=online.window(run) if key == "tbptt" else None)
        why = online.structural_refusal(run, key)
        flops = sum(flop_counts(base.spec, base.T, base.batch_size, key).values()) * iterations
        if not why and flops > RACE_FLOPS:
            why = f"its {iterations} gradients count {readable(flops)} FLOPs, more than {readable(RACE_FLOPS)}"
        if not why and key in online.ONLINE and online_bytes(base.spec, base.batch_size, key) > DASHBOARD_BUDGET:
            why = "it would hold more than the memory budget"
        name = online.LABELS.get(key, f"truncated BPTT (k = {online.window(run)})")
        out.append(Entrant(key, name, config, why))
    return tuple(out)


def run_race(
    field: tuple[Entrant, ...], progress: Callable[[int, int, Entrant, int], None] | None = None
) -> dict[str, TrainHistory]:
    """Train once per entrant that runs; ``progress(i, n, entrant, iterations done)`` as each goes."""
    racing = [e for e in field if not e.left_out]
    out = {}
    for i, e in enumerate(racing):

        def report(done: int, _history, i=i, e=e) -> bool:
            if progress:
                progress(i, len(racing), e, done)
            return True

        out[e.key] = train(e.config, callback=report, every=max(5, e.config.iterations // 20))
    return out


def race_frame(field: tuple[Entrant, ...], histories: dict[str, TrainHistory]) -> pd.DataFrame:
    """Long data: one row per method and iteration, its loss and gradient norm before clipping."""
    names = {e.key: e.label for e in field}
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "key": key,
                    "method": names[key],
                    "iteration": np.arange(1, len(h.loss) + 1),
                    "loss": h.loss,
                    "grad_norm": h.grad_norm,
                }
            )
            for key, h in histories.items()
        ],
        ignore_index=True,
    )


def race_panel(field: tuple[Entrant, ...], histories: dict[str, TrainHistory]) -> Panel:
    """The loss curves of the race, with what they show."""
    df = race_frame(field, histories)
    fig = fo.race_curves(df, y_title=label("loss"))
    caption = race_caption(df, field[0].config)
    return Panel("online_race", "The training race", caption, fig, df)


def race_caption(df: pd.DataFrame, config: TrainConfig) -> str:
    """Which method ended lowest, whether RTRL's curve is BPTT's, and where one diverged, from the curves."""
    n = int(df["iteration"].max())
    tail = max(1, min(20, n // 5))
    text = (
        f"The {config.task} task, the same {n} batches of {config.batch_size} for every method, {config.optimizer} at "
        f"learning rate {config.lr:g}" + (f", clipped at {config.clip:g}" if config.clip else "") + ": each method's "
        f"gradient drives the same updates. {label('loss')}, mean of the last {tail} iterations: "
    )
    finals, diverged = {}, []
    for _, part in df.groupby("key", sort=False):
        loss, name = part["loss"].to_numpy(), str(part["method"].iloc[0])
        if len(loss) < n or not np.isfinite(loss).all():
            diverged.append(f"{name} stopped at iteration {len(loss)} (the loss overflowed)")
        else:
            finals[name] = float(np.mean(loss[-tail:]))
    text += ", ".join(f"{name} {readable(v)}" for name, v in sorted(finals.items(), key=lambda kv: kv[1]))
    text += "; " + "; ".join(diverged) if diverged else ""
    by = {key: part["loss"].to_numpy() for key, part in df.groupby("key")}
    if "rtrl" in by and "bptt" in by and len(by["rtrl"]) == len(by["bptt"]):
        gap = float(np.max(np.abs(by["rtrl"] - by["bptt"]) / np.maximum(np.abs(by["bptt"]), 1e-300)))
        text += (
            f". RTRL's curve is BPTT's (largest relative difference {readable(gap)}): the same gradient, so the same "
            "training"
            if gap <= 1e-6
            else f". RTRL's curve departs from BPTT's by up to {readable(gap)} (relative): rounding differences that "
            "training amplifies"
        )
    return text + "."
