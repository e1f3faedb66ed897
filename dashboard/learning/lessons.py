"""Computations and panels of the training lab and the concept pages (pure; pages cache them)."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.lab.estimators import ESTIMATORS, estimates, estimator_study, exact_gradient, probabilities
from bptt_core.lab.tasks import corpus, make_batch
from bptt_core.lab.train import TrainConfig, TrainHistory
from bptt_core.losses import reduce, step_means, token_loss_and_grad
from dashboard.catalog import compute, memory
from dashboard.catalog.panels import Panel
from dashboard.config import LIMITS, RunConfig
from dashboard.figures import lessons as fl

WORKED_EXAMPLE = np.array([0.2, 0.5, 0.1, 0.4])

#: The Stochastic nodes page's settings when it opens (its own controls, not the sidebar's).
STOCHASTIC_DEFAULTS = ("bernoulli", 0.3, 0.2, tuple(np.geomspace(0.05, 2.0, 8)), 2000, 0.5)


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
        seed=run.seed,
        delay=run.delay,
    )


def training_caption(curves: pd.DataFrame, clip: float | None) -> str:
    """What the curves show, read off them: how far the loss fell, and what clipping did."""
    parts = []
    for run, part in curves.groupby("run", sort=False):
        loss = part["loss"].to_numpy()
        n = max(1, min(20, len(loss) // 5))
        start, end = np.nanmean(loss[:n]), np.nanmean(loss[-n:])
        if not np.isfinite(loss).all():
            parts.append(f"{run}: diverged at iteration {int(np.argmax(~np.isfinite(loss))) + 1}")
        else:
            parts.append(f"{run}: the loss went from {start:.3g} to {end:.3g} (×{end / start:.2g})")
    text = "Left: loss per iteration; right: the gradient norm before clipping (thin) and applied (dashed). "
    text += "; ".join(parts) + "."
    if clip:
        current = curves[curves["run"] == curves["run"].iloc[-1]]
        capped = int((current["grad_norm"] > clip).sum())
        text += (
            f" Clipping at {clip:g} scaled {capped} of {len(current)} updates down to that norm; the applied norm "
            "never exceeds it."
        )
    return text


def training_panels(histories: dict[str, TrainHistory], current: str, clip: float | None = None) -> dict[str, Panel]:
    """Curves of every run (compared side by side) and the heatmap of the current run."""
    curves = history_frame(histories)
    h = histories[current]
    it, t = np.meshgrid(np.arange(1, h.dh_norms.shape[0] + 1), np.arange(h.dh_norms.shape[1]), indexing="ij")
    heat = pd.DataFrame({"iteration": it.ravel(), "t": t.ravel(), "norm": h.dh_norms.ravel()})
    return {
        "training_curves": Panel(
            "training_curves",
            "Loss and gradient norm",
            training_caption(curves, clip),
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
    base = config.replace(checkpoint="none", truncation=0)
    by_reduction = {red: compute.run(base.replace(reduction=red), params).loss for red in bc.REDUCTIONS}
    tokens = float(p.mask.sum()) if p.mask is not None else float(config.T * config.batch_size)
    scale_rows = []
    longest = min(max(config.T, 4) * 4, LIMITS["T"][1])
    for T in np.unique(np.geomspace(2, longest, 6).astype(int)):
        for red in bc.REDUCTIONS:
            r = compute.run(base.replace(T=int(T), reduction=red), params)
            scale_rows.append((int(T), red, r.grad_norm))
    scale = pd.DataFrame(scale_rows, columns=["T", "reduction", "grad_norm"])
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
        "scale_vs_length": Panel(
            "scale_vs_length",
            "Why averaging keeps the gradient scale",
            scale_caption(scale),
            fl.scale_vs_length(scale),
            scale,
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


@dataclass(frozen=True)
class Objective:
    """The Stochastic nodes page's problem for one kind of sampling node: what the page writes (LaTeX) and
    that formula transcribed (``f(z, target)`` for one outcome ``z``), which the tests differentiate."""

    model: str
    formula: str
    f: Callable[[int, np.ndarray | float], float]
    gradient: str


OBJECTIVES = {
    "bernoulli": Objective(
        r"z \sim \mathrm{Bernoulli}(p),\quad p = \sigma(\theta)",
        r"f(z) = (z - t)^2",
        lambda z, t: (z - t) ** 2,
        r"\frac{\partial\, \mathbb{E}[f]}{\partial \theta} = p\,(1 - p)\,\big(f(1) - f(0)\big)",
    ),
    "categorical": Objective(
        r"z \sim \mathrm{Categorical}(p),\quad p = \mathrm{softmax}(\theta),\quad "
        r"\theta = (\theta_0,\, 0,\, -\theta_0 / 2)",
        r"f(z) = \lVert \mathrm{onehot}(z) - \mathrm{target} \rVert^2,\quad \mathrm{target} = (0, 1, 0)",
        lambda z, t: float(np.sum((np.eye(len(t))[z] - t) ** 2)),
        r"\nabla_\theta\, \mathbb{E}[f] = p \odot (f - p^\top f),\quad f_k = f(k)",
    ),
}


def stochastic_problem(kind: str, theta: float, target: float) -> tuple[np.ndarray | float, np.ndarray | float]:
    """The page's logits and target from its two sliders: Bernoulli as they are; categorical (K = 3) with
    logits ``(theta, 0, -theta / 2)`` and the one-hot target of class 1 (the target slider is unused)."""
    return (theta, target) if kind == "bernoulli" else (np.array([theta, 0.0, -theta / 2]), np.eye(3)[1])


def _vector(v: np.ndarray) -> str:
    return "(" + r",\, ".join(f"{x:.4g}" for x in np.ravel(v)) + ")"


def stochastic_equations(kind: str, theta: float, target: float) -> list[str]:
    """The objective as the page writes it, then the exact gradient in symbols and with this setting's
    numbers: the outcomes' objective values from :data:`OBJECTIVES` and the engine's exact gradient."""
    obj = OBJECTIVES[kind]
    theta_v, target_v = stochastic_problem(kind, theta, target)
    exact = exact_gradient(kind, theta_v, target_v)
    if kind == "bernoulli":
        p = 1.0 / (1.0 + np.exp(-theta))
        f0, f1 = obj.f(0, target), obj.f(1, target)
        numbers = [
            rf"t = {target:g},\quad p = \sigma({theta:g}) = {p:.4g},\quad f(0) = {f0:.4g},\quad f(1) = {f1:.4g}",
            rf"\frac{{\partial\, \mathbb{{E}}[f]}}{{\partial \theta}} = {p:.4g} \cdot {1 - p:.4g} \cdot "
            rf"({f1:.4g} - {f0:.4g}) = {exact[0]:.4g}",
        ]
    else:
        e = np.exp(theta_v - theta_v.max())
        f = [obj.f(k, target_v) for k in range(len(theta_v))]
        numbers = [
            rf"p = {_vector(e / e.sum())},\quad f = {_vector(np.array(f))}",
            rf"\nabla_\theta\, \mathbb{{E}}[f] = {_vector(exact)}",
        ]
    return [obj.model, obj.formula, obj.gradient, *numbers]


def estimator_panels(
    kind: str, theta: float, target: float, taus: np.ndarray, n: int, tau: float, seed: int = 0
) -> dict[str, Panel]:
    """Bias/variance against tau for every estimator (each bias with its standard error and verdict), and
    the spread of single-sample estimates."""
    theta_v, target_v = stochastic_problem(kind, theta, target)
    study = estimator_study(kind, theta_v, target_v, taus, n=n, seed=seed)
    rows = [
        (name, t, *(study[name][q][i] for q in ("bias", "variance", "standard_error")))
        for name in ESTIMATORS
        for i, t in enumerate(study["taus"])
    ]
    bv = pd.DataFrame(rows, columns=["estimator", "tau", "bias", "variance", "standard_error"])
    bv["rarest_expected"] = n * float(probabilities(kind, theta_v).min())
    bv["verdict"] = [bias_statement(r.bias, r.standard_error, n, r.rarest_expected) for r in bv.itertuples()]
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
            estimator_caption(bv, n),
            fl.estimator_bias_variance(bv, errors=NOISE_SE),
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


#: A bias beyond this many standard errors of the mean estimate is more than sampling noise. For a
#: zero bias the measured norm exceeds 3 standard errors with probability at most 0.27 % (one
#: dimension, normal sampling error; less when the error spreads over several).
NOISE_SE = 3.0
#: The sampling error is close to normal, and its standard error estimated well, only when every outcome
#: is drawn often enough: below this expected count of the rarest outcome there is no verdict (an outcome
#: never drawn leaves the standard error too small, and a zero bias looks like many standard errors).
MIN_EXPECTED_COUNT = 10.0


def bias_statement(bias: float, se: float, n: int, rarest: float = np.inf) -> str:
    """A measured bias with its standard error and what they allow one to say: within :data:`NOISE_SE`
    standard errors it is indistinguishable from 0 with ``n`` samples, beyond it the estimator is biased;
    no verdict when the rarest outcome is expected fewer than :data:`MIN_EXPECTED_COUNT` times
    (``rarest`` = n times its probability)."""
    measured = f"bias {bias:.2g} ± {se:.1g}"
    if not (np.isfinite(bias) and np.isfinite(se)):
        return f"bias {bias:.2g} (not finite: no verdict)"
    if rarest < MIN_EXPECTED_COUNT:
        return (
            f"{measured} (no verdict: the rarest outcome is expected {rarest:.2g} times in {n} samples, too few "
            "for this standard error)"
        )
    if bias <= NOISE_SE * se:
        return f"{measured} (within sampling noise: indistinguishable from 0 with {n} samples)"
    return f"{measured} ({bias / se:.0f} standard errors: biased)"


def estimator_caption(df: pd.DataFrame, n: int) -> str:
    """Bias and variance of each estimator, read off the figure's data: medians over τ for the estimators that
    do not use τ, the ends of the τ range for Gumbel-softmax; every bias with its standard error and
    :func:`bias_statement`'s verdict."""
    med = df.groupby("estimator")[["bias", "variance", "standard_error", "rarest_expected"]].median()

    def bias(name: str) -> str:
        m = med.loc[name]
        return bias_statement(m["bias"], m["standard_error"], n, m["rarest_expected"])

    v = med["variance"]
    gumbel = df[df["estimator"] == "gumbel_softmax"].sort_values("tau")
    lo, hi = (
        f"at τ = {r['tau']:.2g}: {r['verdict']}, variance {r['variance']:.2g}"
        for r in (gumbel.iloc[0], gumbel.iloc[-1])
    )
    biased = int(gumbel["verdict"].str.endswith("biased)").sum())
    return (
        f"Medians over τ from {n} samples each. Error bars span ±{NOISE_SE:g} standard errors: a bar reaching the "
        "bottom of the axis is a bias indistinguishable from 0. REINFORCE: "
        f"{bias('reinforce')}, variance {v['reinforce']:.2g}; a baseline makes that variance "
        f"×{v['reinforce_baseline'] / v['reinforce']:.2g}, with {bias('reinforce_baseline')}. Straight-through: "
        f"{bias('straight_through')}, variance {v['straight_through']:.2g} "
        f"(×{v['straight_through'] / v['reinforce']:.2g} REINFORCE's). Gumbel-softmax {lo}; {hi}; biased beyond "
        f"noise at {biased} of {len(gumbel)} temperatures."
    )


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
