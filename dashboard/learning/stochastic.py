"""The Stochastic nodes page: its problem written and computed, and the gradient estimators' bias and variance
(pure; the page caches them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bptt_core.lab.estimators import ESTIMATORS, estimates, estimator_study, exact_gradient, probabilities
from dashboard.catalog.panels import Panel
from dashboard.figures import lessons as fl

#: The Stochastic nodes page's settings when it opens (its own controls, not the sidebar's).
STOCHASTIC_DEFAULTS = ("bernoulli", 0.3, 0.2, tuple(np.geomspace(0.05, 2.0, 8)), 2000, 0.5)


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
        r"\nabla_\theta\, \mathbb{E}[f] = p \odot (f - p^\top f)",
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
            rf"{obj.gradient} = {p:.4g} \cdot {1 - p:.4g} \cdot ({f1:.4g} - {f0:.4g}) = {exact[0]:.4g}",
        ]
    else:
        e = np.exp(theta_v - theta_v.max())
        f = [obj.f(k, target_v) for k in range(len(theta_v))]
        numbers = [
            rf"\theta_0 = {theta:g},\quad p = {_vector(e / e.sum())},\quad f = \big(f(0), f(1), f(2)\big) = "
            rf"{_vector(np.array(f))}",
            rf"{obj.gradient} = {_vector(exact)}",
        ]
    return [obj.model, obj.formula, *numbers]


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
