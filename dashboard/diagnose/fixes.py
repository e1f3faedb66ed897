"""Try the fix: fine-tune two copies of the user's model on its own sequences, as is and with the change.

Both runs start from the user's weights (the changed copy with the change applied), see the same
batches in the same order (one seed), use the same optimiser and learning rate for the same number of
steps (:func:`bptt_core.lab.train.fit`), and are scored on the same held-out sequences at regular
checkpoints. The verdict compares the held-out loss per sequence (the mean of the last three
checkpoints) with a margin: "helped" only when the change lowers it by more than :data:`MARGIN` and by
more than twice the standard error of the paired differences; "hurt" symmetrically; otherwise no clear
difference, said as such. A run whose loss stops being finite has diverged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.lab.tasks import Batch
from bptt_core.lab.train import TrainHistory, fit
from bptt_core.losses import token_loss_and_grad
from dashboard.catalog.panels import Panel
from dashboard.config.cell_views import VIEWS
from dashboard.diagnose.advice import Recommendation
from dashboard.diagnose.model_files import Model
from dashboard.diagnose.sequence_files import Sequences
from dashboard.figures import diagnose as fdx

#: Defaults: optimizer steps, learning rate, optimizer, sequences per batch, held-out checkpoints, seed.
STEPS, LR, OPTIMIZER, BATCH, CHECKPOINTS, SEED = 300, 1e-3, "adam", 16, 10, 0
#: A relative change of the held-out loss smaller than this is no clear difference.
MARGIN = 0.05
#: Sequences needed for a held-out split (one in four is held out).
SPLIT_FROM = 8


@dataclass(frozen=True)
class Change:
    """The changed copy: its spec, starting weights, training options, inputs, and what was changed."""

    spec: bc.RNNSpec
    params: dict
    clip: float | None
    truncation: int | None
    x: np.ndarray
    text: str
    caveat: str = ""


@dataclass(frozen=True)
class Run:
    """One fine-tuning run: per-step training loss and gradient norm, held-out losses at the checkpoints."""

    history: TrainHistory
    spec: bc.RNNSpec
    checkpoints: np.ndarray
    held_out: np.ndarray  # (checkpoints, units)

    @property
    def diverged(self) -> bool:
        return not np.all(np.isfinite(self.history.loss)) or not np.all(np.isfinite(self.held_out))


@dataclass(frozen=True)
class FixResult:
    """Both runs of one recommendation and the verdict on them."""

    rule: str
    change: str
    runs: dict
    verdict: str
    sentence: str
    numbers: dict


def _saturation_change(model: Model, seqs: Sequences, e: dict) -> tuple[dict, np.ndarray, str]:
    """Standardised inputs (a saturated first layer fed features), else that layer's W_ih and b_ih scaled so its
    input pre-activations have unit root mean square."""
    P, l = dict(model.params), e["layer"]
    valid = seqs.mask > 0
    if l == 0 and seqs.tokens is None:
        mean, std = seqs.x[valid].mean(axis=0), seqs.x[valid].std(axis=0) + 1e-12
        text = f"inputs standardised per feature (means {np.round(mean, 3).tolist()}, stds {np.round(std, 3).tolist()})"
        return P, (seqs.x - mean) / std, text
    res = bc.bptt(model.spec, P, seqs.x, seqs.y, seqs.loss, mask=seqs.mask)
    lower = res.h_layers[l - 1] if l > 0 else None
    inputs = seqs.x if lower is None else np.concatenate(list(lower), axis=-1)
    for d in range(model.spec.directions):
        w, b = bc.param_key("weight_ih", l, d), bc.param_key("bias_ih", l, d)
        rms = float(np.sqrt(np.mean((inputs[valid] @ P[w].T + P[b]) ** 2)))
        scale = 1.0 / max(rms, 1.0)
        P[w], P[b] = P[w] * scale, P[b] * scale
    return P, seqs.x, f"layer {l}'s W_ih and b_ih scaled to unit pre-activations (×{scale:.3g})"


def change_for(model: Model, seqs: Sequences, rec: Recommendation, seed: int = SEED) -> Change:
    """What "try the fix" changes for one recommendation (:data:`dashboard.diagnose.advice.RULES` says it)."""
    spec, P, e = model.spec, dict(model.params), rec.evidence
    clip = truncation = None
    caveat = "A change this large moves the model away from what it learned: few steps may not be enough." if (
        rec.rule in ("forget_bias", "orthogonal", "saturation", "bottleneck")) else ""  # fmt: skip
    x, rng = seqs.x, np.random.default_rng(seed)
    if rec.rule == "clip":
        clip, text = e["median_norm"], f"global gradient norm clipped at {e['median_norm']:.3g}"
    elif rec.rule == "rescale":
        key = bc.param_key("weight_hh", e["layer"], e["direction"])
        P[key] = P[key] * (0.95 / e["radius"])
        text = f"{key} scaled by {0.95 / e['radius']:.3g} (spectral radius 0.95)"
    elif rec.rule == "gated_cell":
        cell = next(name for name, c in bc.CELLS.items() if c.forget_gate is not None)
        spec = bc.RNNSpec(cell, spec.input_size, spec.hidden_size, spec.output_size, "tanh", spec.num_layers,
                          spec.bidirectional)  # fmt: skip
        P = bc.init_params(spec, seed=seed, forget_bias=1.0)
        text = f"a fresh {VIEWS[cell].label} of the same size (forget-gate bias 1) in place of the RNN"
        caveat = f"The {VIEWS[cell].label} starts from scratch, not from your weights: it needs more steps to catch up."
    elif rec.rule == "forget_bias":
        cell, H = bc.CELLS[spec.cell], spec.hidden_size
        g, key = cell.gate_names.index(cell.forget_gate), bc.param_key("bias_ih", e["layer"], e["direction"])
        P[key] = P[key].copy()
        P[key][g * H : (g + 1) * H] += e["forget_bias_delta"]
        text = f"forget-gate bias of {key} raised by {e['forget_bias_delta']:.2g}"
    elif rec.rule == "orthogonal":
        key, H = bc.param_key("weight_hh", e["layer"], e["direction"]), spec.hidden_size
        P[key] = np.concatenate([bc.orthogonal(H, rng) for _ in range(P[key].shape[0] // H)])
        text = f"{key} replaced by a random orthogonal matrix per gate block"
    elif rec.rule == "saturation":
        P, x, text = _saturation_change(model, seqs, e)
    elif rec.rule == "bottleneck":
        above = e["layer"] + 1
        keys = (
            [bc.param_key("weight_ih", above, d) for d in range(spec.directions)]
            if above < spec.num_layers
            else ["weight_out"]
        )
        fresh = bc.init_params(spec, seed=seed)
        P |= {k: fresh[k] for k in keys}
        text = f"{', '.join(keys)} re-initialised (PyTorch's default uniform)"
    elif rec.rule == "truncate":
        truncation, text = e["horizon"], f"BPTT truncated at k = {e['horizon']}"
    else:
        raise ValueError(f"no change is defined for the rule {rec.rule!r}")
    return Change(spec, P, clip, truncation, x, text, caveat)


def split(B: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(fine-tuning sequences, held-out sequences, what was done): one in four held out from
    :data:`SPLIT_FROM` sequences on; below, every sequence serves both (said so)."""
    every = np.arange(B)
    if B < SPLIT_FROM:
        return every, every, f"only {B} sequence(s): scored on the sequences fine-tuned on (no held-out split)"
    held = every[every % 4 == 3]
    return every[every % 4 != 3], held, f"{held.size} of {B} sequences held out (every fourth)"


def unit_losses(spec: bc.RNNSpec, params: dict, x: np.ndarray, seqs: Sequences, idx: np.ndarray) -> np.ndarray:
    """The mean token loss of each scored unit: each held-out sequence, or with fewer than 4 of them, each
    quarter of each sequence's target steps."""
    res = bc.bptt(spec, params, x[:, idx], seqs.y[:, idx], seqs.loss, mask=seqs.mask[:, idx])
    tokens, _ = token_loss_and_grad(seqs.loss, res.yhat, seqs.y[:, idx])
    mask = seqs.mask[:, idx]
    if idx.size >= 4:
        return np.sum(tokens * mask, axis=0) / np.sum(mask, axis=0)
    units = []
    for b in range(idx.size):
        steps = np.flatnonzero(mask[:, b] > 0)
        units += [float(np.mean(tokens[part, b])) for part in np.array_split(steps, min(4, steps.size))]
    return np.array(units)


def _run(spec: bc.RNNSpec, params: dict, x: np.ndarray, seqs: Sequences, parts: tuple, options: dict,
         steps: int, progress: Callable) -> Run:  # fmt: skip
    """Fine-tune for ``steps`` (a checkpoint every ``options["every"]``), scoring the held-out units at each."""
    train_idx, held_idx = parts
    rng = np.random.default_rng(options["seed"])  # the same batches, in the same order, for both runs
    order = [rng.choice(train_idx, min(BATCH, train_idx.size), replace=False) for _ in range(steps)]
    marks, scores = [0], [unit_losses(spec, params, x, seqs, held_idx)]

    def batch(i: int) -> Batch:
        return Batch(x[:, order[i]], seqs.y[:, order[i]], seqs.mask[:, order[i]], seqs.loss)

    def checkpoint(done: int, history: TrainHistory) -> bool:
        marks.append(done)
        scores.append(unit_losses(spec, history.params, x, seqs, held_idx))
        return progress(done) is not False

    with np.errstate(all="ignore"):
        history = fit(
            spec, params, batch, steps, optimizer=options["optimizer"], lr=options["lr"], clip=options.get("clip"),
            truncation=options.get("truncation"), callback=checkpoint, every=options["every"],
        )  # fmt: skip
    return Run(history, spec, np.array(marks), np.array(scores))


def verdict(asis: Run, changed: Run, kind: str = "fix") -> tuple[str, str, dict]:
    """("helped" | "hurt" | "no clear difference" | "neither converged", a sentence, the numbers)."""
    if asis.diverged or changed.diverged:
        if asis.diverged and changed.diverged:
            return "neither converged", "Both runs diverged: their losses stopped being finite.", {}
        if asis.diverged:
            return (
                "helped",
                f"As is, fine-tuning diverged (step {len(asis.history.loss)}); with the change it did not.",
                {},
            )
        return (
            "hurt",
            f"With the change, fine-tuning diverged (step {len(changed.history.loss)}); as is it did not.",
            {},
        )
    a, c = asis.held_out[-3:].mean(axis=0), changed.held_out[-3:].mean(axis=0)
    diff = c - a
    mean, se = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else np.inf
    rel = mean / float(a.mean()) if a.mean() > 0 else 0.0
    numbers = {"as_is": float(a.mean()), "with_change": float(c.mean()), "mean_difference": mean,
               "standard_error": se, "relative_change": rel, "units": int(diff.size)}  # fmt: skip
    said = (
        f"held-out loss {a.mean():.4g} as is, {c.mean():.4g} with the change ({rel:+.1%}; paired difference "
        f"{mean:+.3g} ± {2 * se:.2g} over {diff.size} held-out units)"
    )
    if rel < -MARGIN and mean + 2 * se < 0:
        return "helped", f"The change helped: {said}.", numbers
    if rel > MARGIN and mean - 2 * se > 0:
        return "hurt", f"The change made it worse: {said}.", numbers
    if kind == "saving":
        return "no clear difference", f"The saving costs nothing measurable: {said}.", numbers
    return "no clear difference", f"The change did not help measurably: {said}.", numbers


def try_fix(
    model: Model,
    seqs: Sequences,
    rec: Recommendation,
    *,
    steps: int = STEPS,
    lr: float = LR,
    optimizer: str = OPTIMIZER,
    seed: int = SEED,
    kind: str = "fix",
    progress: Callable[[float, str], bool | None] | None = None,
) -> FixResult:
    """Fine-tune ``model`` as is and with ``rec``'s change on ``seqs`` (which need targets); see the module.

    ``progress(fraction done, text)`` is called at each checkpoint; returning False stops the run there, and
    the other run then stops at the same step (both are compared over the steps both ran).
    """
    if seqs.y is None:
        raise ValueError("trying a fix needs targets: the fine-tuning minimises your loss on your sequences")
    change = change_for(model, seqs, rec, seed)
    parts = split(seqs.x.shape[1])
    options = {"seed": seed, "lr": lr, "optimizer": optimizer, "every": max(1, steps // CHECKPOINTS)}
    tell = progress or (lambda fraction, text: None)
    asis = _run(
        model.spec, model.params, seqs.x, seqs, parts[:2], options, steps,
        lambda done: tell(done / (2 * steps), f"as is: step {done} of {steps}"),
    )  # fmt: skip
    ran = steps if asis.diverged else len(asis.history.loss)  # a stop cuts both runs; a divergence does not
    changed = _run(
        change.spec, change.params, change.x, seqs, parts[:2],
        {**options, "clip": change.clip, "truncation": change.truncation}, ran,
        lambda done: tell((steps + done) / (2 * steps), f"with the change: step {done} of {ran}"),
    )  # fmt: skip
    if not (asis.diverged or changed.diverged):
        shared = min(len(asis.checkpoints), len(changed.checkpoints))
        asis, changed = (Run(r.history, r.spec, r.checkpoints[:shared], r.held_out[:shared]) for r in (asis, changed))
    result, sentence, numbers = verdict(asis, changed, kind)
    said = (
        f"{sentence} {parts[2][0].upper()}{parts[2][1:]}; {len(changed.history.loss)} steps of {optimizer}, lr {lr:g}."
    )
    return FixResult(rec.rule, change.text, {"as is": asis, "with the change": changed}, result, said, numbers)


def fix_panel(result: FixResult) -> Panel:
    """Both runs' loss and gradient norm over the steps, with the held-out checkpoints; the verdict as caption."""
    frames = []
    for name, run in result.runs.items():
        n = len(run.history.loss)
        held = np.full(n + 1, np.nan)
        held[np.minimum(run.checkpoints, n)] = run.held_out.mean(axis=1)
        columns = {"loss": run.history.loss, "grad_norm": run.history.grad_norm}
        frames.append(
            pd.DataFrame({"run": name, "step": np.arange(n + 1), **{k: np.r_[np.nan, v] for k, v in columns.items()},
                          "held_out": held})
        )  # fmt: skip
    df = pd.concat(frames, ignore_index=True)
    fig = fdx.fix_runs(df, title=f"Try it: {result.change}")
    return Panel(f"fix_{result.rule}", f"Try it: {result.rule}", result.sentence, fig, df)
