"""The Training lab's comparison of every registered cell on a long-lag task: the copy task of Arjovsky, Shah &
Bengio (2016), at lags T of 100 and more, over several seeds, against its memoryless baseline ``10 ln 8 / (T + 20)``.

Each run is the Training lab's loop (:func:`bptt_core.lab.train.train`) on the same batches for every cell (one
generator per seed), Adam with global clipping at 1. What a page states is read off the runs: each cell's final
loss over the baseline (:func:`final_ratios`), its median and spread over seeds, and whether it stays at the
baseline or goes below it in every seed (:func:`outcomes`); a cell that does neither is named with what it did.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.lab.tasks import copy_baseline
from bptt_core.lab.train import TrainConfig, train
from dashboard.catalog.panels import Panel
from dashboard.config.cell_views import VIEWS
from dashboard.figures import modern as fm
from dashboard.vocabulary.quantities import label

#: A run's final loss is its mean over this last share of the iterations.
FINAL_SHARE = 0.1
#: Within this relative distance of the baseline a run "stays at the baseline"; below ``1 - MARGIN`` it is below.
MARGIN = 0.05
#: Points per curve drawn (each a moving average over a window of iterations).
CURVE_POINTS = 100


@dataclass(frozen=True)
class CopyStudy:
    """What the comparison runs: the lags, the seeds, the cells (every registered one) and one training setting
    they share."""

    lags: tuple[int, ...] = (100,)
    seeds: tuple[int, ...] = (0, 1, 2)
    iterations: int = 800
    hidden_size: int = 32
    batch_size: int = 16
    lr: float = 1e-2
    cells: tuple[str, ...] = tuple(bc.CELLS)

    def configs(self) -> list[TrainConfig]:
        """One training run per lag, cell and seed (the vanilla RNN with tanh, the LSTM with forget bias 1)."""
        return [
            TrainConfig(task="copy", cell=cell, T=T, hidden_size=self.hidden_size, batch_size=self.batch_size,
                        iterations=self.iterations, lr=self.lr, optimizer="adam", clip=1.0, seed=seed)
            for T in self.lags for cell in self.cells for seed in self.seeds
        ]  # fmt: skip


#: The comparison's settings: the page and the command change only its lags, seeds and iterations.
STUDY = CopyStudy()

Progress = Callable[[int, int, TrainConfig, int], None]
Key = tuple[int, str, int]


def run_study(
    study: CopyStudy, progress: Progress | None = None, finished: Callable[[Key, np.ndarray], None] | None = None
) -> dict[Key, np.ndarray]:
    """Train every run of ``study``; ``progress(run index, runs, config, iterations done)`` as each goes and
    ``finished(key, loss)`` after each.

    Returns
    -------
    dict
        ``(T, cell, seed) -> loss per iteration`` (N,), cut where a run diverged.
    """
    configs, out = study.configs(), {}
    for i, config in enumerate(configs):

        def report(done: int, _history, i=i, config=config) -> bool:
            if progress:
                progress(i, len(configs), config, done)
            return True

        history = train(config, callback=report, every=max(10, config.iterations // 20))
        out[config.T, config.cell, config.seed] = history.loss
        if finished:
            finished((config.T, config.cell, config.seed), history.loss)
    return out


def final_ratios(losses: dict[tuple[int, str, int], np.ndarray]) -> pd.DataFrame:
    """One row per run: its final loss (the mean over the last :data:`FINAL_SHARE` of the iterations), the
    baseline and their ratio (the vocabulary's "copy_ratio"); nan for a run that diverged."""
    rows = []
    for (T, cell, seed), loss in losses.items():
        tail = loss[-max(1, round(FINAL_SHARE * len(loss))) :]
        final = float(np.mean(tail)) if np.all(np.isfinite(tail)) else np.nan
        rows.append((T, cell, seed, final, copy_baseline(T), final / copy_baseline(T)))
    return pd.DataFrame(rows, columns=["T", "cell", "seed", "final_loss", "baseline", "ratio"])


def outcome(ratio: float) -> str:
    """ "below", "at" or "above" the baseline (within :data:`MARGIN`), or "diverged"."""
    if not np.isfinite(ratio):
        return "diverged"
    return "below" if ratio < 1 - MARGIN else ("at" if ratio <= 1 + MARGIN else "above")


def outcomes(ratios: pd.DataFrame) -> pd.DataFrame:
    """Per lag and cell: the median ratio, its lowest and highest seed, and how many seeds end below, at or above
    the baseline (or diverged)."""
    rows = []
    for (T, cell), part in ratios.groupby(["T", "cell"], sort=False):
        r = part["ratio"].to_numpy()
        found = [outcome(v) for v in r]
        counts = {k: found.count(k) for k in ("below", "at", "above", "diverged")}
        rows.append({"T": T, "cell": cell, "seeds": len(r), "median": float(np.nanmedian(r)) if counts["diverged"]
                     < len(r) else np.nan, "lowest": float(np.nanmin(r, initial=np.inf)),
                     "highest": float(np.nanmax(r, initial=-np.inf)), **counts})  # fmt: skip
    return pd.DataFrame(rows)


def _cell_sentence(row: pd.Series) -> str:
    name, n = VIEWS[str(row["cell"])].label, int(row["seeds"])
    spread = f"{row['median']:.3f} ({row['lowest']:.3f}–{row['highest']:.3f})" if n > 1 else f"{row['median']:.3f}"
    parts = [f"{k} in {int(row[k])} of {n}" for k in ("below", "at", "above", "diverged") if row[k]]
    return f"{name} {spread}: " + ", ".join(parts)


def copy_caption(ratios: pd.DataFrame, iterations: int) -> str:
    """Each cell's final loss over the baseline (median, lowest–highest seed) and where it ended, per lag; then,
    per lag, which cells ended below the baseline in every seed and which stayed at it in every seed."""
    table = outcomes(ratios)
    n = int(table["seeds"].max())
    text = (
        f"{label('copy_ratio')} (median over {n} seed{'s' if n > 1 else ''}"
        + (", lowest–highest" if n > 1 else "")
        + f"), after {iterations} iterations, and where the seeds ended: below the baseline (under {1 - MARGIN:g} × "
        f"it), at it (within {MARGIN:.0%}) or above it."
    )
    for T, part in table.groupby("T", sort=False):
        text += f" T = {T}: " + "; ".join(_cell_sentence(r) for _, r in part.iterrows()) + "."
        below = [VIEWS[c].label for c, k in zip(part["cell"], part["below"]) if k == n]
        at = [VIEWS[c].label for c, k in zip(part["cell"], part["at"]) if k == n]
        if below or at:
            said = [f"{', '.join(below)} went below the baseline"] if below else []
            said += [f"{', '.join(at)} stayed at it"] if at else []
            text += f" At T = {T}, in every seed: " + "; ".join(said) + "."
        else:
            text += f" At T = {T} no cell ended below or at the baseline in every seed."
    return text


def curves(losses: dict[tuple[int, str, int], np.ndarray], points: int = CURVE_POINTS) -> pd.DataFrame:
    """Long data for the figure: each run's loss as a moving average over windows, ``points`` per run."""
    rows = []
    for (T, cell, seed), loss in losses.items():
        window = max(1, len(loss) // points)
        n = len(loss) // window
        smooth = loss[: n * window].reshape(n, window).mean(axis=1)
        it = (np.arange(n) + 1) * window
        rows.append(pd.DataFrame({"T": T, "cell": cell, "seed": seed, "iteration": it, "loss": smooth}))
    return pd.concat(rows, ignore_index=True)


def comparison(study: CopyStudy, losses: dict[tuple[int, str, int], np.ndarray]) -> Panel:
    """The panel: the curves with the baselines drawn, the per-run ratios as its data, the caption from them."""
    ratios = final_ratios(losses)
    lags = sorted(ratios["T"].unique())
    baseline = pd.DataFrame({"T": lags, "baseline": [copy_baseline(T) for T in lags]})
    caption = (
        f"Every cell trained on the copy task (Arjovsky et al. 2016): H = {study.hidden_size}, B = "
        f"{study.batch_size}, Adam at lr {study.lr:g}, clipping at 1, the same batches for every cell. Dashed: "
        f"{label('copy_baseline')} 10 ln 8 / (T + 20). Lines: the median over seeds; bands: lowest to highest. "
        + copy_caption(ratios, study.iterations)
    )
    figure = fm.copy_comparison(curves(losses), baseline)
    return Panel("copy_comparison", "The cells on the copy task", caption, figure, ratios)


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboard.learning.copy_race --lags 100 500 --seeds 3``: run the comparison, print the caption."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--lags", type=int, nargs="+", default=[100])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=STUDY.iterations)
    parser.add_argument("--save", type=Path, help="a folder for the losses (.npz), the runs' ratios (.csv), the figure")
    args = parser.parse_args(argv)
    study = replace(STUDY, lags=tuple(args.lags), seeds=tuple(range(args.seeds)), iterations=args.iterations)
    start = time.perf_counter()
    losses = run_study(study)
    panel = comparison(study, losses)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        np.savez(args.save / "copy_losses.npz", **{f"{T}-{cell}-{seed}": v for (T, cell, seed), v in losses.items()})
        panel.data.to_csv(args.save / "copy_comparison.csv", index=False)
        panel.figure.write_html(args.save / "copy_comparison.html")
    print(panel.caption)
    print(f"{len(study.configs())} runs in {time.perf_counter() - start:.0f} s")
    print(outcomes(panel.data).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
