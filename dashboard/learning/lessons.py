"""Computations and panels of the training lab and the Loss over time page (pure; pages cache them)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import bptt_core as bc
from bptt_core.lab.tasks import corpus, make_batch
from bptt_core.lab.train import TrainConfig, TrainHistory
from bptt_core.losses import reduce, step_means, token_loss_and_grad, token_weights
from dashboard.catalog import PLAIN, compute, memory
from dashboard.catalog.panels import Panel
from dashboard.config import LIMITS, RunConfig
from dashboard.config.cell_views import cell_name
from dashboard.figures import lessons as fl

WORKED_EXAMPLE = np.array([0.2, 0.5, 0.1, 0.4])


def history_frame(histories: dict[str, TrainHistory]) -> pd.DataFrame:
    """Tidy per-iteration records of one or more named runs."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "run": name,
                    "iteration": np.arange(1, len(h.loss) + 1),
                    "loss": h.loss,
                    "grad_norm": h.grad_norm,
                    "clipped_norm": h.clipped_norm,
                }
            )
            for name, h in histories.items()
        ],
        ignore_index=True,
    )


def train_config(run: RunConfig, task: str, iterations: int, lr: float, optimizer: str) -> TrainConfig:
    """The training lab's run: the network and training options of the sidebar, the task and optimiser of
    the page (the task sets the input and output sizes)."""
    return TrainConfig(
        task=task,
        cell=run.cell,
        activation=run.activation,
        T=run.T,
        hidden_size=run.hidden_size,
        batch_size=run.batch_size,
        num_layers=run.num_layers,
        bidirectional=run.bidirectional,
        iterations=iterations,
        lr=lr,
        optimizer=optimizer,
        clip=run.clip or None,
        truncation=run.truncation or None,
        init=run.init,
        scale=run.scale,
        forget_bias=run.forget_bias,
        init_options=tuple(run.init_options.items()),
        seed=run.seed,
        delay=run.delay,
    )


def training_caption(curves: pd.DataFrame, clip: float | None, figure: go.Figure) -> str:
    """What the curves show, read off them and off the figure drawn: how far the loss fell, which lines the
    right panel draws (the dashed norm after clipping only where clipping changed it), and what clipping did."""
    parts = []
    for run, part in curves.groupby("run", sort=False):
        loss = part["loss"].to_numpy()
        n = max(1, min(20, len(loss) // 5))
        start, end = np.nanmean(loss[:n]), np.nanmean(loss[-n:])
        if not np.isfinite(loss).all():
            parts.append(f"{run}: diverged at iteration {int(np.argmax(~np.isfinite(loss))) + 1}")
        else:
            parts.append(f"{run}: the loss went from {start:.3g} to {end:.3g} (×{end / start:.2g})")
    clipped = [t.legendgroup for t in figure.data if t.name.endswith(": after clipping")]
    runs = curves["run"].nunique()
    text = "Left: loss per iteration; right: the global gradient norm before clipping"
    if clipped:
        which = "" if len(clipped) == runs else f" for {', '.join(clipped)}"
        text += f" (thin) and after clipping (dashed{which})"
    text += ". " + "; ".join(parts) + "."
    if clip:
        current = curves[curves["run"] == curves["run"].iloc[-1]]
        capped = int((current["grad_norm"] > clip).sum())
        text += f" Clipping at {clip:g} scaled {capped} of {len(current)} updates down to that norm" + (
            "; the applied norm never exceeds it." if capped else ": no norm reached it, so no dashed line."
        )
    return text


def training_panels(histories: dict[str, TrainHistory], current: str, clip: float | None = None) -> dict[str, Panel]:
    """Curves of every run (compared side by side) and the heatmap of the current run."""
    curves = history_frame(histories)
    h = histories[current]
    it, t = np.meshgrid(np.arange(1, h.dh_norms.shape[0] + 1), np.arange(h.dh_norms.shape[1]), indexing="ij")
    heat = pd.DataFrame({"iteration": it.ravel(), "t": t.ravel(), "norm": h.dh_norms.ravel()})
    figure = fl.training_curves(curves)
    return {
        "training_curves": Panel(
            "training_curves", "Loss and gradient norm", training_caption(curves, clip, figure), figure, curves
        ),
        "training_heatmap": Panel(
            "training_heatmap",
            "∂L/∂h_t through training",
            (
                "Each row is one iteration: dark on the left means the gradient no longer reaches the early steps "
                "(vanishing), a bright band is an exploding spike."
            ),
            fl.grad_heatmap(heat),
            heat,
        ),
    }


def loss_panels(
    config: RunConfig, params: dict | None = None, section: str | None = None, source=PLAIN
) -> dict[str, Panel]:
    """The Loss over time page's panels: its first section ``""`` (per-step losses and the token losses of the
    current run) and ``"scale"`` (the gradient scale against T, runs at six lengths); every section when
    ``section`` is None. ``source`` provides ``run`` (:data:`dashboard.catalog.PLAIN`, or a cached one)."""
    panels = {}
    if section in (None, ""):
        panels |= _run_losses(config, source.run(config, params), compute.problem(config, params))
    if section in (None, "scale"):
        scale = scale_study(config, params)
        panels["scale_vs_length"] = Panel(
            "scale_vs_length",
            "Why averaging keeps the gradient scale",
            scale_caption(scale),
            fl.scale_vs_length(scale),
            scale,
        )
    return panels


def totals(config: RunConfig, res: bc.BPTTResult, p: compute.Problem) -> dict[str, float]:
    """The run's total loss under each reduction, from its token losses (the engine's own sum: the weights of
    :func:`bptt_core.losses.token_weights` over the valid tokens); the forward pass does not depend on it."""
    mask = p.mask if p.mask is not None else np.ones((config.T, config.batch_size))
    y = p.y if config.loss == "cross_entropy" else p.y.astype(res.yhat.dtype)
    with np.errstate(all="ignore"):
        tok, _ = token_loss_and_grad(config.loss, res.yhat, y)
        tok = np.where(mask > 0, tok, 0.0)
        return {
            red: float(np.einsum("tb,tb->", token_weights(mask, red), tok, dtype=np.float64)) for red in bc.REDUCTIONS
        }


def scale_study(config: RunConfig, params: dict | None = None) -> pd.DataFrame:
    """``||∇L||`` under each reduction at six lengths from 2 to 4 T (at most the longest T allowed), the rest of
    the configuration as it is (no checkpointing or truncation: they do not change the gradient's scale)."""
    base = config.replace(checkpoint="none", truncation=0)
    rows = []
    longest = min(max(config.T, 4) * 4, LIMITS["T"][1])
    for T in np.unique(np.geomspace(2, longest, 6).astype(int)):
        p = compute.problem(base.replace(T=int(T)), params)
        options = {k: v for k, v in compute.bptt_options(base).items() if k not in ("reduction", "clip")}
        for red in bc.REDUCTIONS:
            r = bc.bptt(p.spec, p.params, p.x, p.y, mask=p.mask, reduction=red, return_sequences=False, **options)
            rows.append((int(T), red, r.grad_norm))
    return pd.DataFrame(rows, columns=["T", "reduction", "grad_norm"])


def _run_losses(config: RunConfig, res: bc.BPTTResult, p: compute.Problem) -> dict[str, Panel]:
    """Per-step losses with both totals, and the token-loss heatmap, of one run."""
    steps = pd.DataFrame({"t": np.arange(config.T), "loss": res.step_losses})
    by_reduction = totals(config, res, p)
    tokens = float(p.mask.sum()) if p.mask is not None else float(config.T * config.batch_size)
    tok = _token_losses(config, res, p)
    ratio = tokens / config.batch_size
    return {
        "step_losses": Panel(
            "step_losses",
            "Loss at each step",
            (
                "Bars: each step's loss l_t, averaged over its valid sequences. The engine's totals: "
                f"L_mean = {by_reduction['mean']:.4g} (dashed line) divides the summed token losses by the "
                f"{tokens:.0f} valid tokens; L_sum = {by_reduction['sum']:.4g} (top right) divides them by the batch "
                f"({config.batch_size}) only, so L_sum = {ratio:.4g} × L_mean"
                + (" = T × L_mean." if p.mask is None else " (valid tokens per sequence).")
            ),
            fl.step_losses(steps, mean=by_reduction["mean"], total=by_reduction["sum"]),
            steps.assign(L_mean=by_reduction["mean"], L_sum=by_reduction["sum"], valid_tokens=tokens),
        ),
        "token_losses": Panel(
            "token_losses",
            "Token losses and padding",
            (
                "Each cell is one token's loss; grey cells are padding, masked out of the loss and of every "
                "gradient"
                + (
                    f" ({int(tok['loss'].isna().sum())} of {len(tok)} here)."
                    if p.mask is not None
                    else ". Turn on 'Variable lengths' in the sidebar to pad the batch."
                )
            ),
            fl.token_losses(tok),
            tok,
        ),
    }


def scale_caption(df: pd.DataFrame) -> str:
    """The exact law between the reductions, and the growth of each gradient norm, read off the data."""
    Ts = np.sort(df["T"].unique())
    a, b = Ts[0], Ts[-1]
    growth = {}
    for red in bc.REDUCTIONS:
        g = df[df["reduction"] == red].set_index("T")["grad_norm"]
        ok = g[a] > 0 and g[b] > 0 and np.isfinite([g[a], g[b]]).all()
        growth[red] = np.log(g[b] / g[a]) / np.log(b / a) if ok else np.nan
    return (
        "Exactly ∇L_sum = T · ∇L_mean for equal lengths: 'sum' makes every gradient T times larger. Its norm "
        f"grows like T only when the steps' gradients point the same way: here, from T = {a} to {b}, "
        f"||∇L_sum|| grows like T^{growth['sum']:.2f} and ||∇L_mean|| like T^{growth['mean']:.2f}."
    )


def _token_losses(config: RunConfig, res: bc.BPTTResult, p: compute.Problem) -> pd.DataFrame:
    with np.errstate(all="ignore"):
        tok, _ = token_loss_and_grad(config.loss, res.yhat.astype(np.float64), p.y)
    mask = p.mask if p.mask is not None else np.ones_like(tok)
    t, b = np.meshgrid(np.arange(config.T), np.arange(config.batch_size), indexing="ij")
    return pd.DataFrame({"t": t.ravel(), "sequence": b.ravel(), "loss": np.where(mask > 0, tok, np.nan).ravel()})


def worked_example() -> dict[str, float]:
    """The textbook example through the engine's own reduction code."""
    token = WORKED_EXAMPLE[:, None]
    ones = np.ones_like(token)
    return {
        "mean": reduce(token, ones, "mean"),
        "sum": reduce(token, ones, "sum"),
        "steps": step_means(token, ones).tolist(),
    }


#: The text the connectivity view reads: a passage of the training corpus this many characters in.
TEXT_OFFSET = 600


def text_sample(T: int) -> tuple[str, np.ndarray]:
    """``T`` characters of the corpus and their one-hot inputs of shape (T, 1, V)."""
    text, vocab = corpus()
    start = max(0, min(TEXT_OFFSET, len(text) - T))
    chars = text[start : start + T]
    x = np.zeros((len(chars), 1, len(vocab)))
    x[np.arange(len(chars)), 0, [vocab.index(c) for c in chars]] = 1.0
    return chars, x


def memory_rows(runs: dict[str, tuple[TrainConfig, TrainHistory]], t: int) -> list[tuple[str, str, np.ndarray]]:
    """For every run trained on characters (single layer, one direction): the passage up to step t and
    ``||d yhat_t / d x_k||`` for each of its characters (what the model's prediction at t depends on)."""
    rows = []
    for label, (config, history) in runs.items():
        if config.task != "chars" or config.num_layers != 1 or config.bidirectional:
            continue
        chars, x = text_sample(config.T)
        step = min(t, len(chars) - 1)
        rows.append((label, chars[: step + 1], bc.input_connectivity(config.spec, history.params, x, step)[: step + 1]))
    return rows


def shaded_text(chars: str, weights: np.ndarray) -> str:
    """HTML: each character on a background as dark as its weight relative to the largest (the last one
    underlined: the step whose prediction is explained)."""
    top = float(np.max(weights)) if np.size(weights) and np.max(weights) > 0 else 1.0
    spans = []
    for i, (ch, w) in enumerate(zip(chars, weights)):
        alpha = float(np.clip(w / top, 0, 1)) if np.isfinite(w) else 1.0
        shown = html.escape(ch).replace(" ", "&nbsp;").replace("\n", "↵")
        mark = "border-bottom:3px solid #d62728;" if i == len(chars) - 1 else ""
        spans.append(
            f"<span title='||∂ŷ/∂x_{i}|| = {w:.3g}' style='background:rgba(31,119,180,{alpha:.2f});{mark}"
            f"font-family:monospace;font-size:18px;padding:1px 0'>{shown}</span>"
        )
    return "".join(spans)


def training_budget(config: TrainConfig, history: TrainHistory) -> dict[str, dict[str, int]]:
    """Training against prediction memory of the trained network (its task's sizes, one batch)."""
    batch = make_batch(config.task, config.T, 1, np.random.default_rng(config.seed), delay=config.delay)
    return memory.budget_of(config.spec, history.params, batch.x, batch.y, config.batch_size, loss=batch.loss)


MAX_SAVED_RUNS = 5


def run_label(config) -> str:
    """A short name for a training run: what differs between runs people compare."""
    name = cell_name(config.cell, config.activation)
    parts = [config.task, name, f"T={config.T}", f"lr={config.lr:g}", config.optimizer]
    if config.clip:
        parts.append(f"clip={config.clip:g}")
    if config.truncation:
        parts.append(f"k={config.truncation}")
    return " · ".join(parts)


def first_step_ratio(history: TrainHistory) -> float:
    """``||dL/dh_0|| / ||dL/dh_{T-1}||`` at the last iteration (how much gradient reaches the start)."""
    last = history.dh_norms[-1]
    return float(last[0] / last[-1]) if last[-1] > 0 else float("nan")
