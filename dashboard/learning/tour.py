"""The guided tour: scenes from the unrolled graph to checkpointing, each a prepared view with its numbers.

A scene is plain data: the settings it opens (a URL of its own), the one figure to look at, what to
notice (sentences computed from the live run), and one change to predict before seeing it. The
prediction is graded by running the engine on both settings: :func:`outcome` says which option the
numbers pick, so the right answer is never written down, only computed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from bptt_core.result import flatten_grads
from dashboard.catalog import compute, memory, memory_panels, panels, verdict
from dashboard.catalog import sections as catalog
from dashboard.config import RunConfig
from dashboard.learning import tour_notes as notes
from dashboard.learning.tour_notes import reach, verdict_of
from dashboard.vocabulary.numbers import factor, human_bytes, readable
from dashboard.vocabulary.quantities import label


@dataclass(frozen=True)
class Scene:
    """One step of the tour.

    Attributes
    ----------
    key, title : str
    settings : dict
        RunConfig fields of the scene (the rest at their defaults).
    page, panel : str
        The catalog page and the panel name of the one figure to look at.
    notice : callable(RunConfig) -> str
        What to notice, 2-4 sentences from the live numbers.
    change : dict
        The one change the student predicts (RunConfig fields).
    question : str
    options : tuple of str
    measure : callable(RunConfig) -> float
        The number the question is about; :func:`outcome` compares it before and after the change.
    pick : callable(float, float) -> int
        Which option the two measurements select.
    shown : callable(float) -> str
        How the page writes a measurement (a factor, bytes, a count), in the vocabulary's units.
    """

    key: str
    title: str
    settings: dict
    page: str
    panel: str
    notice: Callable[[RunConfig], str]
    change: dict
    question: str
    options: tuple[str, ...]
    measure: Callable[[RunConfig], float]
    pick: Callable[[float, float], int]
    shown: Callable[[float], str] = readable

    def config(self) -> RunConfig:
        return RunConfig(**self.settings)

    def changed(self) -> RunConfig:
        return self.config().replace(**self.change)


def matches(scene: Scene, config: RunConfig) -> bool:
    """Whether ``config`` is the scene's configuration, or its changed one (after "Show me")."""
    return config.replace(weights="preset") in (scene.config(), scene.changed())


def differences(scene_config: RunConfig, sidebar: RunConfig, most: int = 4) -> str:
    """The settings where the scene and the sidebar differ: ``"T 6 here, 30 in the sidebar; ..."``."""
    names = [f.name for f in fields(RunConfig) if getattr(scene_config, f.name) != getattr(sidebar, f.name)]
    text = "; ".join(f"{n} {getattr(scene_config, n)} here, {getattr(sidebar, n)} in the sidebar" for n in names[:most])
    return text + (f"; and {len(names) - most} more" if len(names) > most else "")


def link(i: int) -> dict[str, str]:
    """The address of scene i: its settings and its number, so it opens on its own."""
    return {**SCENES[i].config().to_query(), "scene": str(i + 1)}


def outcome(scene: Scene, config: RunConfig | None = None) -> tuple[int, float, float]:
    """The right option for the scene's change, with the measurement before and after it."""
    before_config = config or scene.config()
    before, after = scene.measure(before_config), scene.measure(before_config.replace(**scene.change))
    return scene.pick(before, after), before, after


def figure(scene: Scene, config: RunConfig) -> panels.Panel:
    """The scene's one figure for ``config``."""
    return catalog.panel(scene.page, scene.panel, config)


def _more_or_less(before: float, after: float) -> int:
    return 0 if after > before else 1


def _nearest(values: tuple[float, ...]) -> Callable[[float, float], int]:
    """Pick the option whose factor (after / before) is nearest on a log scale."""
    return lambda before, after: int(np.argmin([abs(np.log(after / before) - np.log(v)) for v in values]))


def _unrolled(c: RunConfig) -> str:
    res = compute.run(c)
    n = sum(p.size for p in res.grads.values())
    return (
        f"The network is unrolled over T = {c.T} steps and every step uses the same weights: {n} numbers in all. "
        f"Each step predicts ŷ_t and pays a loss l_t; L = {res.loss:.4g} is their mean. BPTT is ordinary "
        "backpropagation through this graph: the tied weights add up one gradient term per step."
    )


def _passes(c: RunConfig) -> str:
    res = compute.stored_run(c)
    return (
        f"Play the animation: forward computes h_0 … h_{c.T - 1} and stores each step's intermediates "
        f"({label('stored_for_backward').lower()}: {human_bytes(res.stored_bytes)} for this batch); backward walks "
        "back from the last step, using and freeing them in reverse order."
    )


def _vanishing(c: RunConfig) -> str:
    v = verdict_of(c)
    return (
        f"The blue curve is {label('last_loss_gradient')}, the gradient of the last step's loss as it travels "
        f"back. Here it reaches step 0 with {factor(v.reach)} of its size ({factor(v.per_step)} per step): the "
        f"verdict is {v.label}. The red curve stays up because every step has its own loss."
    )


def _exploding(c: RunConfig) -> str:
    v = verdict_of(c)
    rho = max(compute.spectral(c).spectral_radius.values())
    if c.activation == "linear":
        how = (
            f"A linear RNN's step Jacobian is W_hh itself, whose {label('spectral_radius')} is {rho:.3g}: in the "
            "long run the gradient is multiplied by about that much every step back"
        )
    else:
        how = (
            f"With {c.activation}, each step multiplies the gradient by diag({c.activation}′)·W_hh: the derivative "
            f"(at most 1) pulls the factor below the {label('spectral_radius')} {rho:.3g} of W_hh alone"
        )
    return (
        f"{how}. Here {label('last_loss_decay').lower()}: {factor(v.per_step)}, {factor(v.reach)} over the "
        f"sequence; the verdict is {v.label}."
    )


def _jacobians(c: RunConfig) -> str:
    jp = compute.jacobians(c)
    summary, report = verdict.jacobian_summary(jp), compute.spectral(c)
    return (
        f"Why: ∂h_t/∂h_k is a product of step Jacobians diag(φ') W_hh. {label('jacobian_growth')}: "
        f"{verdict.growth_text(summary)}; {label('memory_horizon').lower()}: {verdict.horizon_text(summary, jp)} "
        "(where it falls below 1/1000 of its peak). " + verdict.pascanu_sentence(report, int(jp.lags[-1]))
    )


def _lstm(c: RunConfig) -> str:
    lstm, rnn = reach(c), reach(c.replace(cell="rnn"))
    return (
        "The LSTM's cell state is updated additively, c(t) = f·c(t−1) + i·g, so along it the gradient is "
        "multiplied by the forget gate f, not by W_hh. Here the last loss reaches step 0 with "
        f"{factor(lstm)} of its gradient; a vanilla tanh RNN with the same settings keeps {factor(rnn)}."
    )


def _clipping(c: RunConfig) -> str:
    res = compute.run(c)
    return (
        f"This run's {label('gradient_norm')} is {readable(res.grad_norm, 4)}; clipping at {c.clip:g} scales the "
        f"whole gradient by {readable(res.clip_coef)}, so the {label('update_norm').lower()} is "
        f"{readable(min(res.grad_norm, c.clip), 4)}, in the same direction "
        "(Pascanu et al. 2013). It tames exploding updates; it cannot bring back a vanished gradient."
    )


def _direction_kept(c: RunConfig) -> float:
    """Cosine between the clipped and the unclipped gradient."""
    a = flatten_grads(compute.run(c.replace(clip=0.0)).grads)
    b = flatten_grads(compute.run(c).grads)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _truncation(c: RunConfig) -> str:
    return (
        "Truncated BPTT cuts the backward pass every k steps: cheaper, but the gradient changes. "
        + panels.truncation_caption(panels.truncation(c, compute.truncation(c)).data)
    )


def _truncation_error(c: RunConfig) -> float:
    """The relative error of truncation at exactly this run's k (computed, not read between other k)."""
    k = c.truncation or c.T
    return float(compute.truncation(c.replace(truncation=0), ks=(k,)).relative_error[0])


def _memory(c: RunConfig) -> str:
    res = compute.stored_run(c)
    return (
        f"Training holds the tape of every step for backward ({label('stored_for_backward').lower()}: "
        f"{human_bytes(res.stored_bytes)}) of a {label('peak_held').lower()} of {human_bytes(res.memory_bytes)}, "
        f"against {human_bytes(res.param_bytes)} of weights. The tape grows with T, B and H; prediction alone "
        "needs none of it."
    )


def _checkpointing(c: RunConfig) -> str:
    return memory_panels.memory_timelines(c, memory.strategy_runs(c)).caption


def _sqrt_share(c: RunConfig) -> float:
    runs = memory.strategy_runs(c)
    return runs["checkpoint sqrt(T)"].stored_bytes / runs["full storage"].stored_bytes


SCENES: tuple[Scene, ...] = (
    Scene(
        "unrolled",
        "The unrolled network",
        {"T": 6, "hidden_size": 8},
        "overview",
        "unroll_diagram",
        _unrolled,
        {"T": 12},
        "Double the sequence to T = 12. How many weights does the unrolled network have then?",
        ("twice as many", "the same number"),
        lambda c: float(sum(p.size for p in compute.run(c).grads.values())),
        lambda before, after: 1 if after == before else 0,
        lambda n: f"{n:,.0f} weights",
    ),
    Scene(
        "passes",
        "Forward, then backward",
        {"T": 12, "hidden_size": 8},
        "unroll",
        "unroll_animation",
        _passes,
        {"T": 24},
        "Double T to 24. The peak of what is stored for backward becomes…",
        ("about the same", "about twice as large", "about four times as large"),
        lambda c: float(compute.stored_run(c).stored_bytes),
        _nearest((1.0, 2.0, 4.0)),
        human_bytes,
    ),
    Scene(
        "vanishing",
        "Vanishing gradients",
        {"T": 60, "init": "orthogonal", "scale": 0.8},
        "gradient_flow",
        "gradient_norms",
        _vanishing,
        {"scale": 1.6},
        "Raise the gain of W_hh from 0.8 to 1.6. The share of the last loss's gradient reaching step 0 will be…",
        ("larger", "smaller"),
        reach,
        _more_or_less,
        factor,
    ),
    Scene(
        "exploding",
        "Exploding gradients",
        {"T": 60, "activation": "linear", "init": "spectral", "scale": 1.15},
        "gradient_flow",
        "gradient_norms",
        _exploding,
        {"activation": "tanh"},
        "Switch the activation from linear to tanh (|tanh'| ≤ 1). The gradient reaching step 0 will be…",
        ("larger", "smaller"),
        reach,
        _more_or_less,
        factor,
    ),
    Scene(
        "jacobians",
        "Why: products of Jacobians",
        {"T": 100, "init": "orthogonal", "scale": 1.0},
        "gradient_flow",
        "jacobian_vs_lag",
        _jacobians,
        {"scale": 0.7},
        "Lower the gain to 0.7. The Jacobian products will shrink per step…",
        ("faster", "slower"),
        lambda c: float(np.exp(verdict.jacobian_summary(compute.jacobians(c)).rate)),
        lambda before, after: 0 if after < before else 1,
        lambda v: f"{factor(v)} per step",
    ),
    Scene(
        "lstm",
        "The LSTM's fix",
        {"T": 100, "cell": "lstm", "forget_bias": 1.0},
        "gradient_flow",
        "gradient_norms",
        _lstm,
        {"forget_bias": -3.0},
        "Set the LSTM's forget-gate bias to -3 (the gate mostly closed). The share of the last loss's gradient "
        "that reaches its first step will be…",
        ("larger", "smaller"),
        reach,
        _more_or_less,
        factor,
    ),
    Scene(
        "modern",
        "Why modern recurrences do not vanish",
        {"T": 200, "cell": "lru"},
        "gradient_flow",
        "cell_comparison",
        notes.modern,
        {"r_max": 0.9},
        "Close the LRU's ring: set r_max to 0.9 (with r_min = 0.9 every |λ| is then 0.9). The share of the last "
        "loss's gradient that reaches step 0 will be…",
        ("larger", "smaller"),
        notes.own_reach,
        _more_or_less,
        factor,
    ),
    Scene(
        "clipping",
        "Clipping",
        {"T": 60, "activation": "linear", "init": "spectral", "scale": 1.1, "clip": 1.0},
        "gradient_flow",
        "gradient_norms",
        _clipping,
        {"clip": 0.1},
        "Clip harder, at 0.1. The update's direction (cosine with the unclipped gradient) will…",
        ("stay the same", "turn"),
        _direction_kept,
        lambda before, after: 0 if abs(after - before) < 1e-9 else 1,
        lambda cosine: f"cosine {readable(cosine, 6)}",
    ),
    Scene(
        "truncation",
        "Truncated BPTT",
        {"T": 80, "init": "orthogonal", "scale": 0.95, "delay": 20, "truncation": 5},
        "gradient_flow",
        "truncation_study",
        _truncation,
        {"truncation": 40},
        "Truncate at k = 40 instead of k = 5. The gradient's error against full BPTT will be…",
        ("larger", "smaller"),
        _truncation_error,
        lambda before, after: 0 if after > before else 1,
        lambda error: f"relative error {readable(error)}",
    ),
    Scene(
        "memory",
        "The memory of stored intermediates",
        {"T": 100, "cell": "lstm"},
        "memory",
        "memory_by_tensor",
        _memory,
        {"dtype": "float32"},
        "Switch to float32. The tape stored for backward becomes…",
        ("about the same", "about half", "about a quarter"),
        lambda c: float(compute.stored_run(c).stored_bytes),
        _nearest((1.0, 0.5, 0.25)),
        human_bytes,
    ),
    Scene(
        "checkpointing",
        "Checkpointing",
        {"T": 100, "cell": "lstm"},
        "memory",
        "memory_timelines",
        _checkpointing,
        {"T": 400},
        "At T = 400 instead of 100, √T checkpointing keeps a share of full storage's bytes that is…",
        ("larger", "smaller"),
        _sqrt_share,
        lambda before, after: 0 if after > before else 1,
        lambda share: f"{share:.0%} of full storage",
    ),
    Scene(
        "online",
        "Beyond BPTT: storing no past",
        {"T": 50, "hidden_size": 16, "batch_size": 1},
        "beyond_bptt",
        "online_memory",
        notes.storing_no_past,
        {"hidden_size": 32},
        "Double H from 16 to 32. What RTRL keeps instead of the past (its influence ∂h_t/∂θ) becomes…",
        ("about twice as large", "about four times as large", "about eight times as large"),
        notes.rtrl_kept,
        _nearest((2.0, 4.0, 8.0)),
        human_bytes,
    ),
)


def index_of(text: str | None) -> int:
    """The scene an address names (``?scene=3``, 1-based), checked against the tour's length."""
    try:
        n = int(str(text))
    except (TypeError, ValueError):
        return 0
    return n - 1 if 1 <= n <= len(SCENES) else 0


def handout() -> bytes:
    """Every scene as one static HTML page (title, figure, what to notice, the question) that works offline:
    plotly.js is embedded once, at the top."""
    parts = []
    for n, scene in enumerate(SCENES, start=1):
        config = scene.config()
        fig = figure(scene, config).figure
        right, before, after = outcome(scene)
        parts.append(
            f"<section><h2>{n}. {html.escape(scene.title)}</h2>"
            + fig.to_html(full_html=False, include_plotlyjs=n == 1)
            + f"<p>{html.escape(scene.notice(config))}</p>"
            + f"<p><b>Predict:</b> {html.escape(scene.question)} ({' / '.join(map(html.escape, scene.options))})</p>"
            + f"<details><summary>Answer</summary><p>{html.escape(scene.options[right])}: "
            f"{html.escape(scene.shown(before))} before, {html.escape(scene.shown(after))} after the change."
            "</p></details></section>"
        )
    style = "body{font-family:sans-serif;max-width:1000px;margin:auto;font-size:18px}section{margin-bottom:3em}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>BPTT: a guided tour</title><style>{style}</style>"
        f"</head><body><h1>Backpropagation through time: a guided tour</h1>{''.join(parts)}</body></html>"
    ).encode()
