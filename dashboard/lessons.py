"""Computations and panels of the training lab and the concept pages (pure; pages cache them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.lab.estimators import ESTIMATORS, estimates, estimator_study
from bptt_core.lab.train import TrainHistory
from bptt_core.losses import reduce, step_means, token_loss_and_grad

from . import compute
from .config import LIMITS, RunConfig
from .figures import lessons as fl
from .panels import Panel

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


def training_panels(histories: dict[str, TrainHistory], current: str) -> dict[str, Panel]:
    """Curves of every run (compared side by side) and the heatmap of the current run."""
    curves = history_frame(histories)
    h = histories[current]
    it, t = np.meshgrid(np.arange(1, h.dh_norms.shape[0] + 1), np.arange(h.dh_norms.shape[1]), indexing="ij")
    heat = pd.DataFrame({"iteration": it.ravel(), "t": t.ravel(), "norm": h.dh_norms.ravel()})
    return {
        "training_curves": Panel(
            "training_curves",
            "Loss and gradient norm",
            (
                "Left: the loss per iteration (log). Right: the global gradient norm before clipping (thin) and the "
                "norm actually applied after clipping (dashed): clipping cuts the exploding spikes."
            ),
            fl.training_curves(curves),
            curves,
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


def loss_panels(config: RunConfig, params: dict | None = None) -> dict[str, Panel]:
    """Per-step losses of the current run, gradient scale against T, and the token-loss heatmap."""
    res = compute.run(config, params)
    p = compute.problem(config, params)
    steps = pd.DataFrame({"t": np.arange(config.T), "loss": res.step_losses})
    mean = float(res.step_losses.mean())
    total = float(res.step_losses.sum())
    scale_rows = []
    longest = min(max(config.T, 4) * 4, LIMITS["T"][1])
    for T in np.unique(np.geomspace(2, longest, 6).astype(int)):
        for red in bc.REDUCTIONS:
            r = compute.run(config.replace(T=int(T), reduction=red, checkpoint="none", truncation=0), params)
            scale_rows.append((int(T), red, r.grad_norm))
    scale = pd.DataFrame(scale_rows, columns=["T", "reduction", "grad_norm"])
    tok = _token_losses(config, res, p)
    return {
        "step_losses": Panel(
            "step_losses",
            "Loss at each step",
            (
                "The loss is a sum of per-step terms; 'mean' divides by the number of valid tokens, 'sum' only by the "
                "batch."
            ),
            fl.step_losses(steps, mean=mean, total=total),
            steps,
        ),
        "scale_vs_length": Panel(
            "scale_vs_length",
            "Why averaging keeps the gradient scale",
            (
                "With 'sum' the gradient grows about in proportion to T, so the learning rate must shrink like 1/T; "
                "with 'mean' it stays put as T grows."
            ),
            fl.scale_vs_length(scale),
            scale,
        ),
        "token_losses": Panel(
            "token_losses",
            "Token losses and padding",
            (
                "Turn on 'Variable lengths' in the sidebar: padded tokens (blank) are masked out of the loss and "
                "of every gradient."
            ),
            fl.token_losses(tok),
            tok,
        ),
    }


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


def estimator_panels(
    kind: str, theta: float, target: float, taus: np.ndarray, n: int, tau: float, seed: int = 0
) -> dict[str, Panel]:
    """Bias/variance against tau for every estimator, and the spread of single-sample estimates."""
    K = 3
    theta_v = theta if kind == "bernoulli" else np.array([theta, 0.0, -theta / 2])
    target_v = target if kind == "bernoulli" else np.eye(K)[1]
    study = estimator_study(kind, theta_v, target_v, taus, n=n, seed=seed)
    rows = [
        (name, t, study[name]["bias"][i], study[name]["variance"][i])
        for name in ESTIMATORS
        for i, t in enumerate(study["taus"])
    ]
    bv = pd.DataFrame(rows, columns=["estimator", "tau", "bias", "variance"])
    spread = pd.concat(
        [
            pd.DataFrame(
                {
                    "estimator": name,
                    "estimate": estimates(
                        name, kind, theta_v, target_v, min(n, 2000), np.random.default_rng(seed + 99), tau=tau
                    )[:, 0],
                }
            )
            for name in ESTIMATORS
        ],
        ignore_index=True,
    )
    exact = float(study["exact"][0])
    return {
        "estimator_bias_variance": Panel(
            "estimator_bias_variance",
            "Bias and variance",
            (
                "REINFORCE is unbiased (its bias is sampling noise) but noisy; a baseline cuts the noise. "
                "Straight-through is biased at any τ. Gumbel-softmax trades bias (large τ) for variance (small τ)."
            ),
            fl.estimator_bias_variance(bv),
            bv,
        ),
        "estimator_spread": Panel(
            "estimator_spread",
            "Single-sample estimates",
            (
                f"Each box is {min(n, 2000)} single-sample estimates at τ = {tau:g}; the dashed line is the exact "
                "gradient of the expectation."
            ),
            fl.estimator_spread(spread, exact),
            spread,
        ),
    }


MAX_SAVED_RUNS = 5


def run_label(config) -> str:
    """A short name for a training run: what differs between runs people compare."""
    parts = [config.task, config.cell.upper(), f"T={config.T}", f"lr={config.lr:g}", config.optimizer]
    if config.clip:
        parts.append(f"clip={config.clip:g}")
    if config.truncation:
        parts.append(f"k={config.truncation}")
    return " · ".join(parts)


def first_step_ratio(history: TrainHistory) -> float:
    """``||dL/dh_0|| / ||dL/dh_{T-1}||`` at the last iteration (how much gradient reaches the start)."""
    last = history.dh_norms[-1]
    return float(last[0] / last[-1]) if last[-1] > 0 else float("nan")
