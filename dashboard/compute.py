"""From a RunConfig to engine results: pure functions, no Streamlit (cached in :mod:`dashboard.cache`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import bptt_core as bc
from bptt_core import budget
from bptt_core.activations import derivative_from_output
from bptt_core.analysis.jacobians import JacobianProducts, iter_local_jacobians, jacobian_products
from bptt_core.analysis.spectral import SpectralReport, spectral_report
from bptt_core.analysis.summaries import growth_rate, memory_horizon
from bptt_core.analysis.sweeps import gradient_ratio_sweep
from bptt_core.analysis.truncation_study import TruncationStudy, truncation_study
from bptt_core.checkpoint import plan
from bptt_core.lab.signals import delayed_targets, make_inputs, ragged_mask
from bptt_core.losses import token_loss_and_grad, token_weights
from bptt_core.unroll import unroll

from .config import RunConfig

Params = dict[str, np.ndarray]
Owner = tuple[int, int]  # (layer, direction) of a stack


@dataclass(frozen=True)
class Problem:
    """The arrays one configuration runs on."""

    spec: bc.RNNSpec
    params: Params
    x: np.ndarray  # (T, B, I)
    y: np.ndarray  # (T, B, O) or (T, B)
    mask: np.ndarray | None  # (T, B)


def preset_params(config: RunConfig) -> Params:
    """The weights the init preset gives for this configuration."""
    return bc.init_params(
        config.spec,
        seed=config.seed,
        init=config.init,
        scale=config.scale,
        forget_bias=config.forget_bias,  # only a cell with a forget gate uses it
    )


def problem(config: RunConfig, params: Params | None = None) -> Problem:
    """Inputs, delayed-recall targets, padding mask and weights (``params`` overrides the preset)."""
    T, B = config.T, config.batch_size
    x = make_inputs(config.signal, T, B, config.input_size, config.seed)
    y = delayed_targets(x, config.output_size, config.delay, config.loss)
    mask = ragged_mask(T, B, config.seed) if config.ragged else None
    return Problem(config.spec, params if params is not None else preset_params(config), x, y, mask)


def bptt_options(config: RunConfig) -> dict:
    """The keyword options of :func:`bptt_core.bptt` that the config sets."""
    ck = config.checkpoint
    return {
        "loss": config.loss,
        "reduction": config.reduction,
        "truncation": config.truncation or None,
        "clip": config.clip or None,
        "checkpoint": None if ck == "none" else ("sqrt" if ck == "sqrt" else int(ck)),
        "dtype": config.dtype,
    }


def run(config: RunConfig, params: Params | None = None) -> bc.BPTTResult:
    """One BPTT pass with the config's options (and per-step weight-gradient terms)."""
    p = problem(config, params)
    return bc.bptt(p.spec, p.params, p.x, p.y, mask=p.mask, step_contributions=True, **bptt_options(config))


def step_norms(a: np.ndarray) -> np.ndarray:
    """Frobenius norm over batch and hidden of each step of a (T, B, H) array (inf where it overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=(1, 2)))


def stored_run(config: RunConfig, params: Params | None = None) -> bc.BPTTResult:
    """The same pass without returned sequences: its timeline counts every stored h as tape (with them,
    the vanilla RNN's tape is the returned ``h`` itself)."""
    p = problem(config, params)
    return bc.bptt(p.spec, p.params, p.x, p.y, mask=p.mask, return_sequences=False, **bptt_options(config))


#: Rows of the flow matrix drawn at most (a heatmap cannot show more); columns are all T steps.
FLOW_ROWS = 120


def flow_origins(T: int, n: int = FLOW_ROWS) -> np.ndarray:
    """The origin steps t of the flow-matrix rows: all of them up to ``n``, else evenly spread."""
    return np.arange(T) if T <= n else np.unique(np.linspace(0, T - 1, n).round().astype(int))


def flow(config: RunConfig, params: Params | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Origins (N,) and flow-matrix rows (N, T): ``F[i, k] = ||d l_t / d h_k||``, ``t = origins[i]``."""
    p = problem(config, params)
    origins = flow_origins(config.T)
    F = bc.flow_matrix(p.spec, p.params, p.x, p.y, loss=config.loss, mask=p.mask, dtype=config.dtype, origins=origins)
    return origins, F


#: Jacobian products cost B * S^3 per step: the analysis follows the first sequence over at
#: most MAX_LAG lags and takes spectral norms at LAG_POINTS of them.
MAX_LAG, LAG_POINTS = 300, 120


def jacobians(config: RunConfig, params: Params | None = None) -> JacobianProducts:
    """Norms of ``d h_t / d h_0`` against the lag (up to :data:`MAX_LAG`), for the first sequence of the batch,
    in the top layer (forward direction): the layer the read-out, the verdict and the flow matrix look at."""
    p = problem(config, params)
    J = iter_local_jacobians(p.spec, p.params, p.x[:MAX_LAG, :1], layer=config.num_layers - 1)
    return jacobian_products(J, config.hidden_size, max_points=LAG_POINTS)


#: Multiply-adds the per-layer Jacobian analysis may spend in all (B * S^3 per lag and layer-direction):
#: deep, wide networks follow fewer lags, and the figure says how many.
JACOBIAN_WORK = 4e9
MIN_LAGS = 20


def jacobian_lags(config: RunConfig) -> int:
    """Lags the per-layer analysis follows: all of :data:`MAX_LAG` when affordable, else fewer."""
    S = config.hidden_size * len(bc.CELLS[config.cell].state_parts)
    per_lag = float(len(config.owners)) * S**3
    return int(np.clip(JACOBIAN_WORK / per_lag, MIN_LAGS, MAX_LAG))


def layer_jacobians(config: RunConfig, params: Params | None = None) -> dict[Owner, JacobianProducts]:
    """Norms of the state-to-state products ``∂h_t/∂h_k`` within each layer and direction.

    Follows the first sequence over its first :func:`jacobian_lags` steps (the whole
    sequence when it is shorter); the reverse direction runs from the last of those steps.
    """
    p = problem(config, params)
    x = p.x[: jacobian_lags(config), :1]
    return {
        owner: jacobian_products(
            iter_local_jacobians(p.spec, p.params, x, layer=owner[0], direction=owner[1]),
            config.hidden_size,
            max_points=LAG_POINTS,
        )
        for owner in config.owners
    }


def layer_spectral(config: RunConfig, params: Params | None = None) -> dict[Owner, SpectralReport]:
    """Eigenvalues, spectral radius and Pascanu's γσ_max of each layer-direction's ``W_hh``."""
    P = params if params is not None else preset_params(config)
    return {owner: spectral_report(config.spec, P, layer=owner[0], direction=owner[1]) for owner in config.owners}


def spectral(config: RunConfig, params: Params | None = None) -> SpectralReport:
    """Eigenvalues and singular values of the top layer's ``W_hh`` (forward direction) and Pascanu's rate."""
    P = params if params is not None else preset_params(config)
    return spectral_report(config.spec, P, layer=config.num_layers - 1)


def cell_comparison(config: RunConfig) -> dict[str, np.ndarray]:
    """``||dL/dh_t||`` (T,) for rnn, lstm and gru on the same first sequence and init preset."""
    out = {}
    for cell in bc.CELLS:
        c = config.replace(
            cell=cell,
            activation=config.activation if config.activation in bc.CELLS[cell].activations else "tanh",
            weights="preset",
            batch_size=1,
            ragged=False,
        )
        res = run(c)
        out[cell] = step_norms(res.dh)
    return out


@dataclass(frozen=True)
class PhaseDiagram:
    radii: np.ndarray  # (R,)
    lengths: np.ndarray  # (L,)
    log10_ratio: dict  # cell -> (R, L)


def phase_diagram(config: RunConfig, n: int = 20, max_length: int = 200) -> PhaseDiagram:
    """``log10 ||dL/dh_0|| / ||dL/dh_{T-1}||`` over radius x length, for every cell (H <= 32)."""
    radii = np.linspace(0.1, 3.0, n)
    lengths = np.unique(np.linspace(2, max_length, n).astype(int))
    H = min(config.hidden_size, 32)
    values = {
        cell: gradient_ratio_sweep(
            cell,
            radii,
            lengths,
            hidden_size=H,
            input_size=config.input_size,
            batch=2,
            activation=config.activation if config.activation in bc.CELLS[cell].activations else "tanh",
            forget_bias=config.forget_bias,
            seed=config.seed,
        )
        for cell in bc.CELLS
    }
    return PhaseDiagram(radii, lengths, values)


def truncation(config: RunConfig, params: Params | None = None, n: int = 8) -> TruncationStudy:
    """Relative error and cosine of truncated BPTT against the full gradient, for k up to T (first sequence)."""
    p = problem(config.replace(batch_size=1, ragged=False), params)
    ks = np.unique(np.geomspace(1, config.T, min(n, config.T)).astype(int))
    opts = {k: v for k, v in bptt_options(config).items() if k in ("loss", "reduction", "dtype")}
    return truncation_study(p.spec, p.params, p.x, p.y, ks, mask=p.mask, **opts)


STRATEGIES = ("full storage", "checkpoint sqrt(T)", "checkpoint every 4", "truncation 8")
_STRATEGY_OPTIONS = {
    "full storage": {},
    "checkpoint sqrt(T)": {"checkpoint": "sqrt"},
    "checkpoint every 4": {"checkpoint": 4},
    "truncation 8": {"truncation": 8},
}


def strategies(config: RunConfig) -> tuple[str, ...]:
    """The memory strategies the Memory page compares: truncation only for a unidirectional network."""
    return tuple(s for s in STRATEGIES if not (config.bidirectional and "truncation" in _STRATEGY_OPTIONS[s]))


def strategy_runs(config: RunConfig, params: Params | None = None) -> dict[str, bc.BPTTResult]:
    """The same problem under full storage, sqrt and every-4 checkpointing, and truncation 8
    (:func:`strategies`).

    Run on the first sequence (B = 1), without the returned sequences: the bytes are what
    one sequence's pass holds (the tape and checkpoints scale with the batch, the fixed
    buffers do not).
    """
    p = problem(config.replace(batch_size=1, ragged=False), params)
    base = {k: v for k, v in bptt_options(config).items() if k in ("loss", "reduction", "dtype")}
    return {
        name: bc.bptt(p.spec, p.params, p.x, p.y, mask=p.mask, return_sequences=False, **base, **opts)
        for name, opts in _STRATEGY_OPTIONS.items()
        if name in strategies(config)
    }


def memory_scaling(config: RunConfig, n: int = 8) -> dict[str, np.ndarray]:
    """Bytes stored for backward and extra forward steps against T for each strategy, for one sequence.

    Measured by running the engine (B = 1, :func:`strategy_runs`): ``bytes`` is the peak of the
    tape and checkpoints, ``recomputed`` every forward step beyond the T of one pass.

    Returns
    -------
    dict with "T" (n,), and per strategy "<name> bytes" and "<name> recomputed" (n,)
    """
    Ts = np.unique(np.geomspace(1, max(config.T, 2), n).astype(int))
    out: dict[str, np.ndarray] = {"T": Ts}
    for name in strategies(config):
        out[f"{name} bytes"] = np.zeros(Ts.size)
        out[f"{name} recomputed"] = np.zeros(Ts.size)
    for i, T in enumerate(Ts):
        runs = strategy_runs(config.replace(T=int(T)))
        for name, res in runs.items():
            out[f"{name} bytes"][i] = res.stored_bytes
            out[f"{name} recomputed"][i] = res.forward_steps - T
    return out


def step_equation(
    config: RunConfig, t: int, unit: int, params: Params | None = None, layer: int | None = None
) -> dict[str, float]:
    """The numbers in the equations of step ``t`` for hidden unit ``unit`` of the first sequence.

    ``layer`` (default: the top one) is read in its forward direction; a lower layer's input
    ``x_t`` is the output of the layer below, taken from the same engine run.

    Returns
    -------
    dict of str to float
        Forward: ``x_term`` (W_ih x_t + b_ih), ``h_term`` (W_hh h_{t-1} + b_hh) of the
        unit's first gate row, ``h_prev``, ``h`` and the cell's cached gate values.
        Backward: ``dh`` = dL/dh_t; for the top layer also split into ``dh_direct`` (from
        l_t through the read-out) and ``dh_carried`` (from step t + 1).
    """
    with np.errstate(all="ignore"):  # an exploding run shows inf/nan numbers, not warnings
        return _step_equation(config, t, unit, params, config.num_layers - 1 if layer is None else layer)


def _step_equation(config: RunConfig, t: int, unit: int, params: Params | None, layer: int) -> dict[str, float]:
    p = problem(config, params)
    res = run(config, params)
    P = {k: v.astype(np.float64) for k, v in p.params.items()}
    below = res.h_layers[layer - 1, :, :, :1].astype(np.float64) if layer else None  # (D, T, 1, H)
    inputs = p.x[:, :1] if below is None else np.concatenate(list(below), axis=-1)
    state = tuple(np.zeros((1, config.hidden_size)) for _ in range(config.spec.state_parts))
    cache = unroll(config.spec, P, inputs[: t + 1], state, layer)[0][t]
    H, j, W = config.hidden_size, unit, bc.layer_params(P, layer)
    out = {
        "x_term": float(W["weight_ih"][j] @ inputs[t, 0] + W["bias_ih"][j]),
        "h_term": float(W["weight_hh"][j] @ cache["h_prev"][0] + W["bias_hh"][j]),
        "h_prev": float(cache["h_prev"][0, j]),
        "h": float(cache["h"][0, j]),
    }
    cell = bc.CELLS[config.cell]
    for name, arr in cache.items():  # unit j of everything the step stored: gates by name, states, ...
        if isinstance(arr, np.ndarray) and arr.shape[-1] == cell.gates * H and cell.gates > 1:
            out |= {g: float(arr[0, k * H + j]) for k, g in enumerate(cell.gate_names)}
        elif isinstance(arr, np.ndarray) and arr.shape[-1] == H:
            out.setdefault(name, float(arr[0, j]))
    out["dh"] = float(res.dh_layers[layer, 0, t, 0, j])
    if layer == config.num_layers - 1:  # the read-out reads this layer: split off the loss at t
        mask = p.mask if p.mask is not None else np.ones((config.T, config.batch_size))
        weight = token_weights(mask, config.reduction)[t, 0]
        _, dyhat = token_loss_and_grad(config.loss, res.yhat[t, :1].astype(np.float64), p.y[t, :1])
        direct = float((dyhat[0] * weight) @ P["weight_out"][:, j])
        out |= {"dh_direct": direct, "dh_carried": out["dh"] - direct}
    if cell.pascanu_bound:  # h = phi(z): the activation's derivative, from its output
        out["dphi"] = float(np.broadcast_to(derivative_from_output(config.activation, cache["h"][0, j]), ()))
        out["dz"] = out["dh"] * out["dphi"]
    return out


def memory_budget(config: RunConfig, params: Params | None = None) -> dict[str, dict[str, int]]:
    """Bytes of parameters, gradient buffers, stored activations and the running state, per dtype.

    Measured with full-storage runs on the first sequence, scaled by the batch
    (exact: every stored array has the batch as a factor).

    Returns
    -------
    dict dtype -> {"parameters", "gradient buffers", "stored activations (peak)", "state (prediction)"}
    """
    out = {}
    p = problem(config.replace(batch_size=1, ragged=False), params)
    opts = {k: v for k, v in bptt_options(config).items() if k in ("loss", "reduction")}
    n_states = config.spec.state_parts
    for dtype in ("float64", "float32"):
        res = bc.bptt(p.spec, p.params, p.x, p.y, dtype=dtype, return_sequences=False, **opts)
        out[dtype] = {
            "parameters": res.param_bytes,
            "gradient buffers": res.grad_bytes,
            "stored activations (peak)": res.stored_bytes * config.batch_size,  # the tape scales with B exactly
            "state (prediction)": n_states * config.batch_size * config.hidden_size * np.dtype(dtype).itemsize,
        }
    return out


def only(config: RunConfig, names: tuple[str, ...]) -> RunConfig:
    """The config with every field not in ``names`` reset to its default (a narrower cache key)."""
    default = RunConfig()
    kept = {n: getattr(config, n) for n in names}
    if kept.get("activation", "tanh") != "tanh" and "cell" not in kept:
        kept["cell"] = "rnn"
    return default.replace(**kept)


#: What each cached analysis depends on; the rest of the config does not change its result.
SWEEP_FIELDS = ("activation", "hidden_size", "input_size", "forget_bias", "seed")
COMPARISON_FIELDS = (
    "activation",
    "T",
    "hidden_size",
    "input_size",
    "output_size",
    "init",
    "scale",
    "forget_bias",
    "seed",
    "signal",
    "delay",
    "loss",
    "reduction",
    "dtype",
)


def last_loss_gradient(config: RunConfig, params: Params | None = None) -> np.ndarray:
    """``||d l_t* / d h_t||`` for t = 0 .. T-1: the gradient of one loss, the last step t* with a valid token.

    Unlike ``||dL/dh_t||``, which every step's own loss props up, this curve shows how much of one
    loss's gradient survives the way back: the quantity that vanishes or explodes. 0 after t*.

    Returns
    -------
    ndarray of shape (T,)
    """
    p = problem(config, params)
    valid = np.flatnonzero(p.mask.any(axis=1)) if p.mask is not None else np.arange(config.T)
    t_star = int(valid[-1])
    return bc.flow_matrix(
        p.spec, p.params, p.x, p.y, loss=config.loss, mask=p.mask, dtype=config.dtype, origins=[t_star]
    )[0]


#: The verdict's thresholds: decades the last loss's gradient gains or loses on its way to the first step.
VERDICT_DECADES = 2.0
VERDICT_RULE = (
    f"From the curve ||∂l_T/∂h_t|| (the gradient of the last step's loss): if its value at the first "
    f"step is below 10^-{VERDICT_DECADES:g} of its value at the last step, vanishing; above "
    f"10^{VERDICT_DECADES:g} times, exploding; non-finite, overflow; otherwise it holds over this length."
)


@dataclass(frozen=True)
class Verdict:
    """Vanishing, exploding or neither, by :data:`VERDICT_RULE`, with the numbers behind it."""

    label: str  # "vanishing", "exploding", "holds", "overflow" or "too short"
    ratio: float  # ||d l_T / d h_0|| / ||d l_T / d h_T||
    per_step: float  # ratio ** (1 / (T* - 1)): the average factor per step back
    detail: str


def verdict(curve: np.ndarray, report: SpectralReport, res: bc.BPTTResult | None = None) -> Verdict:
    """Classify the run by :data:`VERDICT_RULE` from ``curve`` = :func:`last_loss_gradient` (and the run's
    overflow, when ``res`` is given).

    ``detail`` adds what Pascanu et al.'s condition says for this W_hh (vanilla RNN): γσ_max < 1 is
    sufficient for vanishing (a guaranteed bound), γσ_max >= 1 is necessary for exploding (it allows,
    never forces, growth).
    """
    valid = np.flatnonzero(curve > 0) if np.all(np.isfinite(curve)) else np.arange(curve.size)
    last = int(valid[-1]) if valid.size else 0
    with np.errstate(all="ignore"):
        ratio = float(curve[0] / curve[last]) if last > 0 else float("nan")
        per_step = float(ratio ** (1.0 / last)) if last > 0 else float("nan")
    pascanu = pascanu_sentence(report, last)
    if (res is not None and not res.finite) or not np.all(np.isfinite(curve)):
        where = f" at step {res.overflow_step}" if res is not None and res.overflow_step is not None else ""
        return Verdict(
            "overflow", ratio, per_step, f"values overflowed{where}: exploding beyond float range. " + pascanu
        )
    if last == 0:
        return Verdict("too short", ratio, per_step, "one step only: nothing travels back in time. " + pascanu)
    decades = np.log10(ratio) if ratio > 0 else -np.inf
    label = "vanishing" if decades < -VERDICT_DECADES else "exploding" if decades > VERDICT_DECADES else "holds"
    detail = (
        f"the last step's loss reaches the first step with ×{readable(ratio)} of its own gradient "
        f"(×{readable(per_step)} per step over {last} steps). " + pascanu
    )
    return Verdict(label, ratio, per_step, detail)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def readable(v: float, digits: int = 3) -> str:
    """A number for a sentence: ``0.0123``, or ``3.56×10⁻¹⁰`` where Python would write ``3.56e-10``."""
    text = f"{v:.{digits}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def pascanu_sentence(report: SpectralReport, steps: int) -> str:
    """What γσ_max says for this network, by its comparison with 1 (to 4 significant digits)."""
    rate = report.bound_rate
    if rate is None:
        return "Gated cells have no such bound: their gates scale the gradient step by step."
    shown = f"γσ_max = {rate:.4g}"
    if rate < 1:
        return (
            f"{shown} < 1: Pascanu's condition for vanishing holds, so the gradient must shrink at least "
            f"×{rate:.3g} per step (≤ ×{readable(rate ** max(steps, 1))} over {steps} steps)."
        )
    where = "= 1, on the boundary" if np.isclose(rate, 1.0, rtol=0, atol=5e-5) else f"= {rate:.4g} > 1"
    return (
        f"γσ_max {where}: growth is possible, not guaranteed (the condition is only necessary for "
        "exploding); the measured curve decides."
    )


def growth_text(summary: Horizon) -> str:
    """``"×0.91"`` per step, or a dash when there is no trend to measure."""
    return "–" if np.isnan(summary.rate) else f"×{np.exp(summary.rate):.3g}"


def horizon_text(summary: Horizon, jp: JacobianProducts) -> str:
    """``"135 steps"``, or how far the curve was followed when it never fell that low."""
    if summary.horizon is not None:
        return f"{summary.horizon} steps"
    return f"> {int(jp.lags[-1])} steps" if len(jp.lags) else "–"


@dataclass(frozen=True)
class Horizon:
    """Growth per step and memory horizon of the Jacobian products ``||∂h_t/∂h_k||`` (spectral norm)."""

    rate: float  # slope of ln ||∂h_t/∂h_k|| against the lag
    horizon: int | None  # lag where it falls below 1e-3 of its peak; None: never within the lags drawn


def jacobian_summary(jp: JacobianProducts) -> Horizon:
    """Growth rate and horizon of the drawn Jacobian-product curve, on its real lags."""
    return Horizon(growth_rate(jp.log10_spectral_mean, jp.lags), memory_horizon(jp.log10_spectral_mean, lags=jp.lags))


#: Bytes one page computation may allocate; above it the sidebar refuses the configuration.
DASHBOARD_BUDGET = int(os.environ.get("BPTT_DASHBOARD_BUDGET", min(budget.DEFAULT_BUDGET, 2**30)))


def estimate_bytes(config: RunConfig) -> int:
    """The largest allocation any page makes for this configuration (a BPTT run or the flow matrix)."""
    ck = bptt_options(config)["checkpoint"]
    run_bytes = budget.bptt_bytes(
        config.spec,
        config.T,
        config.batch_size,
        checkpoint=ck,
        truncation=config.truncation or None,
        dtype=config.dtype,
    )
    flow_bytes = budget.flow_bytes(config.spec, config.T, config.batch_size, len(flow_origins(config.T)), config.dtype)
    return max(run_bytes, flow_bytes)


def budget_advice(config: RunConfig) -> str:
    """Single changes that bring ``config`` within :data:`DASHBOARD_BUDGET`, each with the value that fits."""

    def fits(c: RunConfig) -> bool:
        return estimate_bytes(c) <= DASHBOARD_BUDGET

    def largest(name: str) -> int | None:
        lo, hi = 0, getattr(config, name)  # the largest value of this one setting that fits
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(config.replace(**{name: mid})) else (lo, mid)
        return lo or None

    options = []
    if config.checkpoint == "none" and fits(config.replace(checkpoint="sqrt")):
        options.append("turn on √T checkpointing")
    if config.dtype == "float64" and fits(config.replace(dtype="float32")):
        options.append("switch to float32")
    labels = {"T": "T", "batch_size": "Batch B", "hidden_size": "Hidden H", "num_layers": "Layers L"}
    for name, label in labels.items():
        value = largest(name)
        if value is not None:
            options.append(f"lower {label} to {value}")
    return ", or ".join(options) if options else "lower T, the batch and the hidden size together"


def training_ratio(budget_row: dict[str, int]) -> float:
    """Training memory (parameters, gradients, tape) over prediction memory (parameters, state)."""
    prediction = budget_row["parameters"] + budget_row["state (prediction)"]
    return (
        budget_row["parameters"] + budget_row["gradient buffers"] + budget_row["stored activations (peak)"]
    ) / prediction


def pareto_front(config: RunConfig) -> dict[str, np.ndarray]:
    """Bytes stored for backward against extra forward steps for full storage, every-k, sqrt and binomial.

    Each schedule's counts come from the engine's own :class:`bptt_core.checkpoint.Plan` (its
    ``stored_peak`` equals the ledger's tape and checkpoints, its ``forward_steps`` the steps the
    engine runs; tests/core check both), at this configuration's batch, width and dtype.

    Returns
    -------
    dict with "strategy", "label" (str arrays), "bytes", "recomputed", "forward" (float arrays)
    """
    T, B, H = config.T, config.batch_size, config.hidden_size
    cell, item = bc.CELLS[config.cell], np.dtype(config.dtype).itemsize
    state, step = B * H * item * len(cell.state_parts), B * H * item * cell.tape_width
    sqrt_k = int(np.ceil(np.sqrt(T)))
    schedules = [("full storage", "full", None, None)]
    schedules += [
        ("checkpoint sqrt(T)" if k == sqrt_k else "checkpoint every k", f"k={k}", k, None)
        for k in sorted({2, 4, 8, 16, 32, 64, sqrt_k})
        if k < T
    ]
    schedules += [("binomial (revolve)", f"S={s}", "binomial", s) for s in range(1, 13)]
    rows = []
    for strategy, label, checkpoint, slots in schedules:
        schedule = plan(T, checkpoint, slots)
        rows.append((strategy, label, schedule.stored_peak(state, step), schedule.forward_steps - T))
    strategy, label, nbytes, extra = zip(*rows)
    return {
        "strategy": np.array(strategy),
        "label": np.array(label),
        "bytes": np.array(nbytes, float),
        "recomputed": np.array(extra, float),
        "forward": np.array(extra, float) + T,  # every forward step, the pass itself included
    }
