"""Self-checks for the study card's learning goals, graded at once, explained by the engine's own numbers.

Each question is built for a variant (a seed): the numbers change on every retry, so answers cannot be
memorised, and the right answer and its explanation are computed, never written down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

import bptt_core as bc
from bptt_core.lab.chain_rule import scalar_chain
from bptt_core.lab.estimators import exact_gradient, expected_estimate
from bptt_core.losses import reduce, token_weights
from bptt_core.online import flop_counts, stored_crossover
from dashboard.catalog import compute, verdict
from dashboard.config import RunConfig
from dashboard.config.cell_views import cell_name
from dashboard.vocabulary.quantities import label


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
    network: RunConfig | None = None  # the network the explanation computed with (None: no engine run)


def network_label(config: RunConfig) -> str:
    """The network a question ran, as its explanation names it: cell, sizes, length, init and seed."""
    name = cell_name(config.cell, config.activation)
    parts = [
        f"I = {config.input_size}",
        f"H = {config.hidden_size}",
        f"O = {config.output_size}",
        f"B = {config.batch_size}",
        f"T = {config.T}",
        config.init_text,
        f"seed {config.seed}",
    ]
    if config.num_layers > 1:
        parts.append(f"{config.num_layers} layers")
    if config.bidirectional:
        parts.append("bidirectional")
    return f"{name} ({', '.join(parts)})"


def _ran(config: RunConfig) -> str:
    return f"This question's network (not the sidebar's): {network_label(config)}."


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
        f"A sequence model is evaluated on 4 steps with per-step losses {losses.tolist()}. What is the loss of the "
        "sequence by the standard method: averaging over the steps (the mean reduction, PyTorch's default)?",
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
        f"{_ran(config)} Its backward pass returns {n} numbers, one per parameter, in {len(res.grads)} arrays "
        f"({', '.join(res.grads)}): ∂L/∂θ for every θ. The optimiser then moves each weight against its own share.",
        network=config,
    )


#: The networks the vanishing/exploding question draws: (activation, gain of the orthogonal W_hh). Each
#: decides its answer for every weight seed: tanh with gain ρ <= 0.9 shrinks the last loss's gradient by at
#: least ρ^59 < 1e-2 (|tanh'| <= 1, Pascanu et al. 2013); a linear RNN scales it by exactly ρ^59. A tanh
#: network with gain > 1 is left out: saturation decides it, differently for each seed (gain 2: ×81 to ×1390).
CURVE_CASES = (("tanh", 0.6), ("tanh", 0.8), ("linear", 0.8), ("linear", 0.97), ("linear", 1.03), ("linear", 1.3))
#: Within this factor either way of 1 the last loss's gradient neither vanishes nor explodes (2 decades).
CURVE_SPAN = 10**verdict.VERDICT_DECADES  # the verdict's own thresholds


def curve_answer(activation: str, gain: float, seed: int) -> tuple[str, float, RunConfig]:
    """The graded answer for one network: the pages' verdict on the last loss's reach
    ``||dl_T/dh_0|| / ||dl_T/dh_{T-1}||`` (thresholds ±log10 :data:`CURVE_SPAN` decades); returns the label, the
    reach and the network."""
    config = RunConfig(T=60, init="orthogonal", scale=gain, activation=activation, seed=seed)
    v = verdict.verdict(config, compute.last_loss_gradient(config), compute.spectral(config))
    return {"vanishing": "vanish", "exploding": "explode"}.get(v.label, "neither"), v.reach, config


def _predict_curve(rng: np.random.Generator, first: bool) -> Question:
    activation, rho = CURVE_CASES[1] if first else CURVE_CASES[int(rng.integers(len(CURVE_CASES)))]
    label, ratio, config = curve_answer(activation, rho, 0 if first else int(rng.integers(100)))
    why = (
        f"Each step back multiplies it by W_hhᵀ diag(tanh′), of norm at most γσ_max = 1 × {rho:g} (Pascanu et al. "
        f"2013): over 59 steps at most {rho:g}^59 = {rho**59:.3g}, for any weights of this gain."
        if activation == "tanh"
        else f"W_hh = {rho:g}·Q with Q orthogonal: each step back multiplies its norm by exactly {rho:g}, over 59 "
        f"steps by {rho:g}^59 = {rho**59:.3g}."
    )
    return Question(
        "predict_curve",
        "vanishing and exploding gradients",
        f"A vanilla {activation} RNN with an orthogonal W_hh scaled to gain {rho:g}, T = 60. Going back from the last "
        "step to the first (59 steps), will the last loss's gradient vanish, explode, or neither (stay within a "
        "factor 100 either way)?",
        ("vanish", "explode", "neither"),
        label,
        f"{why} The engine: ‖∂l_59/∂h_0‖ / ‖∂l_59/∂h_59‖ = {ratio:.3g}. {_ran(config)} (Gradient flow shows its "
        "curve with these settings in the sidebar.)",
        network=config,
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


#: The logits the estimator question draws from: every one where straight-through and Gumbel-softmax (τ = 1)
#: are off the exact gradient by at least :data:`CLEAR_BIAS` (straight-through is unbiased at θ = 0, where
#: p = 1/2; Gumbel-softmax near θ = 1), so REINFORCE is the one right answer.
STOCHASTIC_THETAS = tuple(np.round(np.r_[np.arange(-2.5, -0.45, 0.1), np.arange(0.5, 2.55, 0.1)], 1))
CLEAR_BIAS = 0.02


def estimator_biases(theta: float, target: float = 0.2) -> dict[str, float]:
    """Exact bias of each estimator the question offers (enumeration; Gumbel-softmax by quadrature)."""
    exact = exact_gradient("bernoulli", theta, target)[0]
    return {
        name: float(expected_estimate(name, "bernoulli", theta, target, tau=1.0)[0] - exact)
        for name in ("reinforce", "straight_through", "gumbel_softmax")
    }


@cache
def _clear_thetas() -> tuple[float, ...]:
    """The logits of :data:`STOCHASTIC_THETAS` where REINFORCE is the only unbiased option."""
    return tuple(
        float(t)
        for t in STOCHASTIC_THETAS
        if min(abs(b) for name, b in estimator_biases(t).items() if name != "reinforce") >= CLEAR_BIAS
    )


def _stochastic(rng: np.random.Generator, first: bool) -> Question:
    clear = _clear_thetas()
    theta = clear[int(rng.integers(len(clear)))]
    b = estimator_biases(theta)
    right = "REINFORCE (the score function)"
    options = (right, "straight-through", "Gumbel-softmax at τ = 1")
    return Question(
        "stochastic",
        "backpropagating through random and discrete operations",
        f"z ~ Bernoulli(σ(θ)) with θ = {theta:g}; f(z) = (z − 0.2)². Which estimator of ∇θ E[f(z)] is unbiased at "
        "this θ?",
        options,
        right,
        f"REINFORCE uses f(z) ∇ log p(z), whose expectation is the exact gradient at every θ: bias {b['reinforce']:g}. "
        f"The others' exact biases here (summing over z; over the Gumbel noise by quadrature): straight-through "
        f"{b['straight_through']:+.3g}, which is p(1 − p)(2p − 1) and vanishes only at θ = 0; Gumbel-softmax at "
        f"τ = 1 {b['gumbel_softmax']:+.3g}.",
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
        f"a factor {total.grad_norm / mean.grad_norm:.6g}. SGD's step is η∇L, so η must shrink by T = {T}. "
        f"{_ran(config)}",
        network=config,
    )


def _gradient_memory(rng: np.random.Generator, first: bool) -> Question:
    H, I, O = int(rng.integers(2, 40)), int(rng.integers(1, 8)), int(rng.integers(1, 6))
    config = RunConfig(hidden_size=H, input_size=I, output_size=O, T=5)
    res = compute.run(config)
    n = sum(g.size for g in res.grads.values())
    return Question(
        "gradient_memory",
        "allocating gradient memory",
        f"A vanilla RNN with H = {H}, I = {I}, O = {O} in float64, in PyTorch's layout: W_ih, W_hh and two bias "
        "vectors b_ih and b_hh, plus a linear read-out W_out, b_out. How many bytes do its gradient buffers take "
        "(one per parameter array, the same shape)?",
        None,
        float(res.grad_bytes),
        f"One buffer per parameter array, the same shape: {n} numbers × 8 B = {res.grad_bytes} B "
        f"(H·I + H·H + 2H + O·H + O = {H * I + H * H + 2 * H + O * H + O}: 2H for PyTorch's two bias vectors), "
        f"allocated once and accumulated over all T steps. {_ran(config)}",
        network=config,
    )


def _tensor_shape(rng: np.random.Generator, first: bool) -> Question:
    H = int(rng.integers(3, 30))
    config = RunConfig(cell="lstm", hidden_size=H, T=4)
    res = compute.run(config)
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
        "of h_{t-1}. It is the sum over t of δ_tᵀ h_{t-1}, the tensor chain rule with tied weights. "
        f"{_ran(config)}",
        network=config,
    )


def _stored(rng: np.random.Generator, first: bool) -> Question:
    T, B, H = int(rng.integers(10, 200)), int(rng.integers(1, 9)), int(rng.integers(4, 65))
    config = RunConfig(T=T, batch_size=B, hidden_size=H)
    res = compute.stored_run(config)
    return Question(
        "stored_intermediates",
        "storing intermediate variables for backpropagation",
        f"A vanilla RNN with T = {T}, B = {B}, H = {H} in float64 keeps its hidden states for backward (full "
        "storage): the initial state it starts from as well as the T states its steps compute. How many bytes does "
        "that tape hold at its peak?",
        None,
        float(res.stored_bytes),
        f"The engine's ledger: {res.stored_bytes} B = (T + 1) states of B × H float64 "
        f"= {T + 1} × {B} × {H} × 8 = {(T + 1) * B * H * 8}: every h_t, and the initial state, until backward "
        f"has used it. {_ran(config)}",
        network=config,
    )


#: The answers of the trade-off question, by which method keeps fewer bytes to form the exact gradient.
KEPT_OPTIONS = ("BPTT's tape", "RTRL's influence", "the same")


def _online_memory(rng: np.random.Generator, first: bool) -> Question:
    H, I, B = (8, 3, 2) if first else (int(rng.integers(4, 25)), int(rng.integers(1, 7)), int(rng.integers(1, 9)))
    T = 200 if first else int(rng.integers(10, 801))
    config = RunConfig(hidden_size=H, input_size=I, batch_size=B, T=T)
    tape = compute.stored_run(config).stored_bytes
    one = compute.problem(config.replace(T=1))  # RTRL's influence does not depend on T: one step measures it
    kept, n = bc.online_gradient(one.spec, one.params, one.x, one.y, "rtrl").stored_bytes, H * (I + H + 2)
    answer = KEPT_OPTIONS[0 if tape < kept else 1 if kept < tape else 2]
    flops = sum(flop_counts(config.spec, T, B, "rtrl").values()) / sum(flop_counts(config.spec, T, B, "bptt").values())
    return Question(
        "online_memory",
        "what an exact gradient must store, and what an online method pays instead",
        f"A vanilla RNN with I = {I}, H = {H}, batch B = {B}, T = {T} steps, float64. For the exact gradient, BPTT "
        "keeps its tape: the initial state and each of the T states. RTRL keeps no past and carries instead the "
        "influence ∂h_t/∂θ of every recurrent weight and bias (W_ih, W_hh, b_ih, b_hh) on the state, forward in time. "
        "Which keeps fewer bytes to form its gradient?",
        KEPT_OPTIONS,
        answer,
        f"The engine's ledgers: BPTT's tape {tape} B = (T + 1) × B × H × 8 = {T + 1} × {B} × {H} × 8; RTRL's "
        f"influence (its ledger over one step: it does not grow with T) {kept} B = B × H × N × 8 with "
        f"N = H (I + H + 2) = {n} weights and biases of the RNN layer, so RTRL keeps less from T = N = "
        f"{stored_crossover(config.spec)} on. It pays in arithmetic instead: {flops:.3g} times BPTT's "
        f"counted FLOPs here, O(H⁴) per step against O(H²). {_ran(config)}",
        network=config,
    )


def _modern_memory(rng: np.random.Generator, first: bool) -> Question:
    modulus = 0.99 if first else round(float(rng.uniform(0.9, 0.99)), 3)
    k = int(np.ceil(np.log(0.01) / np.log(modulus)))  # |λ|^k < 1 % from this k on
    config = RunConfig(cell="lru", T=k + 1, hidden_size=1, input_size=1, output_size=1, batch_size=1,
                       r_min=modulus, r_max=modulus, seed=int(rng.integers(0, 1000)))  # fmt: skip
    curve = compute.last_loss_gradient(config)  # ‖∂l_T/∂x_t‖, t = 0 .. k: distance k - t from the last loss
    share = curve[::-1] / curve[-1]
    return Question(
        "modern_memory",
        "why modern recurrences do not vanish",
        f"An LRU unit has |λ| = {modulus:g}: its state is x_t = λ x_(t−1) + (input), linear, with no activation. "
        "After how many steps back has a gradient passing through this unit fallen below 1 % of its size?",
        None,
        float(k),
        f"The step Jacobian is ∂x_t/∂x_(t−1) = λ, so k steps back the gradient is multiplied by |λ|^k exactly, "
        f"whatever the inputs: |λ|^k < 0.01 from k = ln 0.01 / ln |λ| = {np.log(0.01) / np.log(modulus):.1f} on, so "
        f"after {k} steps. The engine's {label('last_loss_gradient')} of this one-unit LRU keeps {share[k - 1]:.4g} "
        f"of its size {k - 1} steps back and {share[k]:.4g} at {k}. With |λ| = 0.999 it would keep 1 % for "
        f"{np.ceil(np.log(0.01) / np.log(0.999)):.0f} steps: the LRU starts its |λ| just inside the unit circle. "
        f"{_ran(config)}",
        tolerance=1.5 / k,  # k or k − 1 (ln 0.01 / ln |λ| rounded either way), within a step and a half
        network=config,
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
    "online_memory": _online_memory,
    "modern_memory": _modern_memory,
}


def question(key: str, variant: int = 0) -> Question:
    """Question ``key`` with the numbers of ``variant`` (0: the study card's own numbers where it has them)."""
    if key not in BUILDERS:
        raise ValueError(f"key must be one of {tuple(BUILDERS)}, got {key!r}")
    return BUILDERS[key](np.random.default_rng([variant, len(key)]), variant == 0)
