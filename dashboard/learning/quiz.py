"""Self-checks for the study card's learning goals, graded at once, explained by the engine's own numbers.

Each question is built for a variant (a seed): the numbers change on every retry, so answers cannot be
memorised, and the right answer and its explanation are computed, never written down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import bptt_core as bc
from bptt_core.lab.chain_rule import scalar_chain
from bptt_core.lab.estimators import estimator_study
from bptt_core.losses import reduce, token_weights
from dashboard.catalog import compute, verdict
from dashboard.config import RunConfig


@dataclass(frozen=True)
class Question:
    """One self-check. ``options`` is None for a number to type; ``answer`` is the right option or value."""

    key: str
    goal: str
    prompt: str
    options: tuple[str, ...] | None
    answer: str | float
    explanation: str
    tolerance: float = 0.01  # relative, for numbers


def grade(question: Question, response: str | float | None) -> bool:
    """Whether ``response`` answers ``question`` (a number within its relative tolerance)."""
    if response is None:
        return False
    if question.options is not None:
        return response == question.answer
    target = float(question.answer)
    return abs(float(response) - target) <= question.tolerance * max(abs(target), 1e-12)


def _mean_loss(rng: np.random.Generator, first: bool) -> Question:
    losses = np.array([0.2, 0.5, 0.1, 0.4]) if first else rng.integers(1, 10, 4) / 10
    token, ones = losses[:, None], np.ones((4, 1))
    mean, total = reduce(token, ones, "mean"), reduce(token, ones, "sum")
    return Question(
        "mean_loss",
        "the total loss over time steps",
        f"A sequence model is evaluated on 4 steps with per-step losses {losses.tolist()}. What is the total loss "
        "by the standard method?",
        None,
        mean,
        f"The engine's reduction (bptt_core.losses.reduce) gives the mean, {mean:.4g}; the sum, {total:.4g}, is the "
        "other convention. Averaging over the steps keeps the loss and its gradient on one scale for any length: "
        "with the sum, ∇L is T times larger and an SGD learning rate would have to shrink like 1/T.",
    )


def _activation(rng: np.random.Generator, first: bool) -> Question:
    hidden, wrong = ("tanh", "relu") if first else tuple(rng.choice(["tanh", "sigmoid", "relu"], 2, replace=False))
    w1 = round(float(rng.uniform(0.5, 1.5)), 2)  # shown in full, so anyone can recompute
    v = scalar_chain(0.7, 0.2, w1, -0.8, hidden=str(hidden), backward_hidden=str(wrong))
    return Question(
        "activation_derivative",
        "the backward function needs the activation",
        "True or false: the backward function of a layer needs to know the layer's activation function, because "
        "the gradient depends on it.",
        ("true", "false"),
        "true",
        f"True. Here the forward pass uses {hidden} (w1 = {w1}) and the backward pass uses {wrong}′ instead: "
        f"it gives ∂E/∂w1 = {v['dE_dw1']:.5g} while central differences of E give {v['fd_dw1']:.5g}. The local "
        "derivative φ′ is a factor of every gradient that passes through the layer.",
    )


def _attribution(rng: np.random.Generator, first: bool) -> Question:
    x, y, w1, w2 = (0.7, 0.2, 1.3, -0.8) if first else tuple(np.round(rng.uniform(-1.5, 1.5, 4), 2))
    v = scalar_chain(float(x), float(y), float(w1), float(w2))
    right = "the downstream weight w2 times the output's error signal, times φ′ at the hidden unit"
    options = (right, "the input x alone", "the learning rate", "the target y alone")
    return Question(
        "w1_attribution",
        "attributing the error to a hidden unit",
        f"A 1-input, 1-hidden, 1-output network h = tanh(w1 x), ŷ = σ(w2 h) with w1 = {w1}, w2 = {w2}. Computing "
        "∂E/∂w1, which component is essential to attribute the final error to the hidden unit's activity?",
        options,
        right,
        f"∂E/∂w1 = (ŷ − y) · ψ′ · w2 · φ′ · x = {v['error']:.4g} · {v['dpsi']:.4g} · {v['w2']:.4g} · "
        f"{v['dphi']:.4g} · {v['x']:.4g} = {v['dE_dw1']:.5g} (finite differences: {v['fd_dw1']:.5g}). The error "
        "reaches h only through w2: the output's error signal times w2 is ∂E/∂h, and φ′ carries it inside.",
    )


def _backward_goal(rng: np.random.Generator, first: bool) -> Question:
    config = RunConfig(
        T=int(rng.integers(5, 30)), hidden_size=int(rng.integers(2, 20)), cell=str(rng.choice(list(bc.CELLS)))
    )
    res = compute.run(config)
    n = sum(g.size for g in res.grads.values())
    right = "each weight's share of the error: the gradient of the loss with respect to every parameter"
    options = (right, "to compute the prediction again", "to change the input image", "to find the correct label")
    return Question(
        "backward_goal",
        "what the backward pass computes",
        "A network confidently predicts 'orange' for an apple. What is the primary computational goal of the "
        "backward pass that follows?",
        options,
        right,
        f"For the current {config.cell.upper()} (H = {config.hidden_size}, T = {config.T}) the backward pass "
        f"returns {n} numbers, one per parameter, in {len(res.grads)} arrays ({', '.join(res.grads)}): ∂L/∂θ for "
        "every θ. The optimiser then moves each weight against its own share.",
    )


def _predict_curve(rng: np.random.Generator, first: bool) -> Question:
    rho = 0.8 if first else float(np.round(rng.choice([0.6, 0.8, 0.95, 1.3, 1.6, 2.0]), 2))
    config = RunConfig(T=60, init="orthogonal", scale=rho)
    v = verdict.verdict(config, compute.last_loss_gradient(config), compute.spectral(config))
    label = {"vanishing": "vanish", "exploding": "explode"}.get(v.label, "neither")
    return Question(
        "predict_curve",
        "vanishing and exploding gradients",
        f"A vanilla tanh RNN with an orthogonal W_hh scaled to gain {rho:g}, T = 60. Going back from the last "
        "step, will the last loss's gradient vanish, explode, or neither (within 2 decades)?",
        ("vanish", "explode", "neither"),
        label,
        f"The engine's run: {v.detail} (Open Gradient flow with gain {rho:g} to see the curve.)",
    )


def _token_count(rng: np.random.Generator, first: bool) -> Question:
    lengths = rng.integers(3, 11, 4)
    mask = (np.arange(10)[:, None] < lengths[None, :]).astype(float)
    weights = token_weights(mask, "mean")
    return Question(
        "token_loss",
        "token-level losses with padding",
        f"A batch of 4 sequences padded to T = 10 has lengths {lengths.tolist()}. With the mean reduction, over how "
        "many token losses is the loss averaged?",
        None,
        float(mask.sum()),
        f"Padding is masked out: the engine's token weights are 1/{mask.sum():.0f} = {weights.max():.4g} on each of "
        f"the {mask.sum():.0f} valid tokens and 0 on the {mask.size - mask.sum():.0f} padded ones.",
    )


def _stochastic(rng: np.random.Generator, first: bool) -> Question:
    theta = float(np.round(rng.uniform(-2, 2), 2))
    study = estimator_study("bernoulli", theta, 0.2, np.array([1.0]), n=4000, seed=int(rng.integers(1000)))
    right = "REINFORCE (the score function)"
    options = (right, "straight-through", "Gumbel-softmax at τ = 1")
    b = {name: float(study[name]["bias"][0]) for name in ("reinforce", "straight_through", "gumbel_softmax")}
    return Question(
        "stochastic",
        "backpropagating through random and discrete operations",
        f"z ~ Bernoulli(σ(θ)) with θ = {theta}; f(z) = (z − 0.2)². Which estimator of ∇θ E[f(z)] is unbiased?",
        options,
        right,
        f"REINFORCE uses f(z) ∇ log p(z), whose expectation is the exact gradient. Measured with 4000 samples: bias "
        f"{b['reinforce']:.2g} (sampling noise) against {b['straight_through']:.2g} for straight-through and "
        f"{b['gumbel_softmax']:.2g} for Gumbel-softmax at τ = 1.",
    )


def _learning_rate(rng: np.random.Generator, first: bool) -> Question:
    T = int(rng.integers(5, 60))
    config = RunConfig(T=T, seed=int(rng.integers(100)))
    mean, total = compute.run(config), compute.run(config.replace(reduction="sum"))
    return Question(
        "learning_rate",
        "the learning rate",
        f"You switch from the mean to the sum reduction on sequences of T = {T} steps (all the same length). By "
        "what factor must plain SGD's learning rate shrink to take exactly the same steps?",
        None,
        float(T),
        f"∇L_sum = T · ∇L_mean: the engine's gradient norms are {total.grad_norm:.4g} and {mean.grad_norm:.4g}, "
        f"a factor {total.grad_norm / mean.grad_norm:.6g}. SGD's step is η∇L, so η must shrink by T = {T}.",
    )


def _gradient_memory(rng: np.random.Generator, first: bool) -> Question:
    H, I, O = int(rng.integers(2, 40)), int(rng.integers(1, 8)), int(rng.integers(1, 6))
    res = compute.run(RunConfig(hidden_size=H, input_size=I, output_size=O, T=5))
    n = sum(g.size for g in res.grads.values())
    return Question(
        "gradient_memory",
        "allocating gradient memory",
        f"A vanilla RNN with H = {H}, I = {I}, O = {O} in float64 (and a linear read-out). How many bytes do its "
        "gradient buffers take?",
        None,
        float(res.grad_bytes),
        f"One buffer per parameter array, the same shape: {n} numbers × 8 B = {res.grad_bytes} B "
        f"(H·I + H·H + 2H + O·H + O = {H * I + H * H + 2 * H + O * H + O}), allocated once and accumulated over "
        "all T steps.",
    )


def _tensor_shape(rng: np.random.Generator, first: bool) -> Question:
    H = int(rng.integers(3, 30))
    res = compute.run(RunConfig(cell="lstm", hidden_size=H, T=4))
    shape = res.grads["weight_hh_l0"].shape
    right = str(shape)
    options = tuple(dict.fromkeys((right, str((H, H)), str((H, 4 * H)), str((4, H, H)))))
    return Question(
        "tensor_chain",
        "the chain rule for tensors",
        f"An LSTM with H = {H}. What is the shape of ∂L/∂W_hh (PyTorch's layout)?",
        options,
        right,
        f"The engine's gradient has shape {shape}: the four gates' rows stacked (i, f, g, o), one column per unit "
        "of h_{t-1}. It is the sum over t of δ_t^T h_{t-1}, the tensor chain rule with tied weights.",
    )


def _stored(rng: np.random.Generator, first: bool) -> Question:
    T, B, H = int(rng.integers(10, 200)), int(rng.integers(1, 9)), int(rng.integers(4, 65))
    res = compute.stored_run(RunConfig(T=T, batch_size=B, hidden_size=H))
    return Question(
        "stored_intermediates",
        "storing intermediate variables for backpropagation",
        f"A vanilla RNN with T = {T}, B = {B}, H = {H} in float64 keeps its hidden states for backward (full "
        "storage). How many bytes does that tape hold at its peak?",
        None,
        float(res.stored_bytes),
        f"The engine's ledger: {res.stored_bytes} B = (T + 1) states of B × H float64 "
        f"= {T + 1} × {B} × {H} × 8 = {(T + 1) * B * H * 8}: every h_t, and the initial state, until backward "
        "has used it.",
    )


BUILDERS: dict[str, Callable[[np.random.Generator, bool], Question]] = {
    "mean_loss": _mean_loss,
    "activation_derivative": _activation,
    "w1_attribution": _attribution,
    "backward_goal": _backward_goal,
    "predict_curve": _predict_curve,
    "token_loss": _token_count,
    "stochastic": _stochastic,
    "learning_rate": _learning_rate,
    "gradient_memory": _gradient_memory,
    "tensor_chain": _tensor_shape,
    "stored_intermediates": _stored,
}


def question(key: str, variant: int = 0) -> Question:
    """Question ``key`` with the numbers of ``variant`` (0: the study card's own numbers where it has them)."""
    if key not in BUILDERS:
        raise ValueError(f"key must be one of {tuple(BUILDERS)}, got {key!r}")
    return BUILDERS[key](np.random.default_rng([variant, len(key)]), variant == 0)
