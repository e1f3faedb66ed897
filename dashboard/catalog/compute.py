"""From a RunConfig to engine results: pure functions, no Streamlit (cached in :mod:`dashboard.shell.cache`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import bptt_core as bc
from bptt_core.activations import derivative_from_output
from bptt_core.analysis.jacobians import JacobianProducts, iter_local_jacobians, jacobian_products
from bptt_core.analysis.laws import decay_law as cell_law
from bptt_core.analysis.spectral import SpectralReport, spectral_report
from bptt_core.analysis.sweeps import gradient_ratio_sweep
from bptt_core.analysis.truncation_study import TruncationStudy, truncation_study
from bptt_core.lab.signals import delayed_targets, make_inputs, ragged_mask
from bptt_core.losses import token_loss_and_grad, token_weights
from bptt_core.unroll import unroll
from dashboard.config import INIT_OPTIONS, RunConfig

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
        **config.init_options,  # the cell's own (the LRU's ring and phase)
    )


def problem(config: RunConfig, params: Params | None = None) -> Problem:
    """Inputs, delayed-recall targets, padding mask and weights (``params`` overrides the preset)."""
    x = make_inputs(config.signal, config.T, config.batch_size, config.input_size, config.seed)
    y = delayed_targets(x, config.output_size, config.delay, config.loss)
    return Problem(config.spec, params if params is not None else preset_params(config), x, y, problem_mask(config))


def problem_mask(config: RunConfig) -> np.ndarray | None:
    """The padding mask of :func:`problem` (None without variable lengths), without its other arrays."""
    return ragged_mask(config.T, config.batch_size, config.seed) if config.ragged else None


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


def total_gradient(config: RunConfig, res: bc.BPTTResult) -> np.ndarray:
    """``||dL/dh_t||`` of the top layer, one row per direction: shape (D, T) (the vocabulary's "total_gradient").

    The total through the read-out, the later steps and the layers above (``res.dh_layers``); in a
    bidirectional network ``res.dh`` is only what the read-out sends, so it is not used here.
    """
    return bc.scaled_norm(res.dh_layers[config.num_layers - 1], axis=(2, 3))


def last_valid_step(config: RunConfig) -> int:
    """T*: the last step at which some sequence has a valid token (the last loss's step)."""
    mask = problem_mask(config)
    return int(np.flatnonzero(mask.any(axis=1))[-1]) if mask is not None else config.T - 1


def window_start(config: RunConfig, step: int) -> int:
    """The earliest step a loss at ``step`` reaches back to: 0, or its truncation window's first step."""
    return (step // config.truncation) * config.truncation if config.truncation else 0


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
    """Origins (N,) and flow-matrix rows (N, T): ``F[i, k] = ||d l_t / d h_k||``, ``t = origins[i]``.

    The origins are :func:`flow_origins` and the last step with a valid token, whose row is
    :func:`last_loss_gradient`: one computation serves both."""
    p = problem(config, params)
    origins = np.union1d(flow_origins(config.T), [last_valid_step(config)])
    F = bc.flow_matrix(p.spec, p.params, p.x, p.y, loss=config.loss, mask=p.mask, dtype=config.dtype, origins=origins)
    return origins, F


#: Itemising dW_hh pushes every loss back to the first step: T^2 / 2 backward steps. Shown up to this T.
ITEMISED_MAX_T = 300


def contributions(config: RunConfig, params: Params | None = None) -> np.ndarray:
    """``P[s, t]``: the share of this run's gradient of the itemised parameter (the cell's first ``term_params``:
    ``W_hh``, the LRU's ``nu_log``, minGRU's ``W_ih``; top layer, forward direction) that step t adds from the
    loss at step s, shape (T, T).

    The run's own gradient: a term reaches it only when no truncation cut lies between t and s (the window
    of s), and clipping scales every term by the run's factor, so ``P.sum()`` is the norm of that
    parameter's gradient as the run returns it.
    """
    p = problem(config, params)
    res = bc.bptt(p.spec, p.params, p.x, p.y, mask=p.mask, return_sequences=False, **bptt_options(config))
    name = bc.CELLS[config.cell].term_params[0]
    g = res.grads[bc.param_key(name, config.num_layers - 1, 0)]
    norm = bc.scaled_norm(g)
    if not np.isfinite(norm):  # the run overflowed: its gradient has no finite terms to itemise
        return np.full((config.T, config.T), np.nan)
    P = bc.gradient_contributions(
        p.spec,
        p.params,
        p.x,
        p.y,
        loss=config.loss,
        reduction=config.reduction,
        mask=p.mask,
        dtype=config.dtype,
        direction=g / norm if norm > 0 else g,
        param=name,
    )
    if config.truncation:
        steps = np.arange(config.T) // config.truncation
        P *= steps[:, None] == steps[None, :]  # the loss at s reaches step t only within its window
    return P * res.clip_coef


#: Jacobian products cost B * S^3 per step: the analysis follows the first sequence over at
#: most MAX_LAG lags and takes spectral norms at LAG_POINTS of them.
MAX_LAG, LAG_POINTS = 300, 120


def jacobians(config: RunConfig, params: Params | None = None) -> JacobianProducts:
    """Norms of ``d h_t / d h_0`` against the lag (up to :data:`MAX_LAG`), for the first sequence of the batch,
    in the top layer (forward direction): the layer the read-out, the verdict and the flow matrix look at."""
    p = problem(config, params)
    J = iter_local_jacobians(p.spec, p.params, p.x[:MAX_LAG, :1], layer=config.num_layers - 1)
    return jacobian_products(J, config.spec.hidden_width, max_points=LAG_POINTS)


def decay_law(config: RunConfig, params: Params | None = None) -> np.ndarray | None:
    """The cell's law (``log10``, lag 0 to ``min(T, MAX_LAG) - 1``) on the sequence :func:`jacobians` follows, for a
    cell with a diagonal recurrence (``Cell.decay``: ``|λ|^k``, ``∏(1 − z_t)``); None for the others."""
    if bc.CELLS[config.cell].decay is None:
        return None
    p = problem(config, params)
    return cell_law(p.spec, p.params, p.x[:MAX_LAG, :1], layer=config.num_layers - 1)[0]


#: Multiply-adds the per-layer Jacobian analysis may spend in all (B * S^3 per lag and layer-direction):
#: deep, wide networks follow fewer lags, and the figure says how many.
JACOBIAN_WORK = 4e9
MIN_LAGS = 20


def jacobian_lags(config: RunConfig) -> int:
    """Lags the per-layer analysis follows: all of :data:`MAX_LAG` when affordable, else fewer."""
    S = config.spec.jacobian_width
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
            config.spec.hidden_width,
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


def as_cell(config: RunConfig, cell: str) -> RunConfig:
    """``config`` for another registered cell: its activation where the cell takes it (else tanh), and the sidebar's
    init options where they pass the cell's own check (else the cell's defaults: they were set for another cell)."""
    activation = config.activation if config.activation in bc.CELLS[cell].activations else "tanh"
    try:
        return config.replace(cell=cell, activation=activation)
    except ValueError:
        return config.replace(cell=cell, activation=activation, **bc.CELLS[cell].init_options)


def cell_comparison(config: RunConfig) -> dict[str, np.ndarray]:
    """The last loss's gradient ``||d l_T/d h_t||`` (T,) of every registered cell on the same first sequence and
    init preset (or the cell's own init options), full BPTT (the quantity that vanishes: ``||dL/dh_t||`` is
    propped up by every step's loss)."""
    out = {}
    for cell in bc.CELLS:
        c = as_cell(config, cell).replace(weights="preset", batch_size=1, ragged=False, truncation=0, clip=0.0)
        out[cell] = last_loss_gradient(c)
    return out


@dataclass(frozen=True)
class PhaseDiagram:
    radii: np.ndarray  # (R,)
    lengths: np.ndarray  # (L,)
    log10_ratio: dict  # cell -> (R, L), the cells whose W_hh the radius shapes (``init_presets``)
    own_init: dict  # cell -> (L,), the others at their own init options: the radius does not apply to them


def phase_diagram(config: RunConfig, n: int = 20, max_length: int = 200) -> PhaseDiagram:
    """``log10 ||dL/dh_0|| / ||dL/dh_{T-1}||`` over radius x length for every cell with ``W_hh`` (H <= 32), and
    over length alone for the cells without one, at their own init options (the sidebar's)."""
    radii = np.linspace(0.1, 3.0, n)
    lengths = np.unique(np.linspace(2, max_length, n).astype(int))
    values, own = {}, {}
    for cell in bc.CELLS:
        c = as_cell(config, cell)
        shaped = bc.CELLS[cell].init_presets
        sweep = gradient_ratio_sweep(
            cell,
            radii if shaped else np.ones(1),
            lengths,
            hidden_size=min(config.hidden_size, 32),
            input_size=config.input_size,
            batch=2,
            activation=c.activation,
            forget_bias=config.forget_bias,
            seed=config.seed,
            init_options=c.init_options,
        )
        if shaped:
            values[cell] = sweep
        else:
            own[cell] = sweep[0]
    return PhaseDiagram(radii, lengths, values, own)


def truncation(
    config: RunConfig, params: Params | None = None, n: int = 16, ks: tuple[int, ...] | None = None
) -> TruncationStudy:
    """Relative error and cosine of truncated BPTT against the full gradient (first sequence), for every k up to
    T when T <= ``n``, else ``n`` lengths spread evenly on a log scale (or the lengths ``ks``)."""
    p = problem(config.replace(batch_size=1, ragged=False), params)
    ks = (
        np.asarray(ks) if ks is not None else np.unique(np.geomspace(1, config.T, min(n, config.T)).round().astype(int))
    )
    opts = {k: v for k, v in bptt_options(config).items() if k in ("loss", "reduction", "dtype")}
    return truncation_study(p.spec, p.params, p.x, p.y, ks, mask=p.mask, **opts)


def step_equation(
    config: RunConfig,
    t: int,
    unit: int,
    params: Params | None = None,
    layer: int | None = None,
    res: bc.BPTTResult | None = None,
) -> dict[str, float]:
    """The numbers in the equations of step ``t`` for hidden unit ``unit`` of the first sequence.

    ``layer`` (default: the top one) is read in its forward direction; a lower layer's input
    ``x_t`` is the output of the layer below, taken from the same engine run: ``res``, :func:`run`'s result
    for this configuration (computed when not given).

    Returns
    -------
    dict of str to float
        Forward: ``x_term`` (W_ih x_t + b_ih), ``h_term`` (W_hh h_{t-1} + b_hh) of the
        unit's first gate row, ``h_prev``, ``h`` and the cell's cached gate values.
        Backward: ``dh`` = dL/dh_t; for the top layer also split into ``dh_direct`` (from
        l_t through the read-out) and ``dh_carried`` (from step t + 1).
    """
    with np.errstate(all="ignore"):  # an exploding run shows inf/nan numbers, not warnings
        res = res if res is not None else run(config, params)
        return _step_equation(config, t, unit, params, config.num_layers - 1 if layer is None else layer, res)


def _step_equation(
    config: RunConfig, t: int, unit: int, params: Params | None, layer: int, res: bc.BPTTResult
) -> dict[str, float]:
    p = problem(config, params)
    P = {k: v.astype(np.float64) for k, v in p.params.items()}
    below = res.h_layers[layer - 1, :, :, :1].astype(np.float64) if layer else None  # (D, T, 1, H)
    inputs = p.x[:, :1] if below is None else np.concatenate(list(below), axis=-1)
    cell = bc.CELLS[config.cell]
    state = tuple(np.zeros((1, cell.tape[part] * config.hidden_size)) for part in cell.state_parts)
    cache = unroll(config.spec, P, inputs[: t + 1], state, layer)[0][t]
    H, j, W = config.hidden_size, unit, bc.layer_params(P, layer)
    out = {"h_prev": float(cache["h_prev"][0, j]), "h": float(cache["h"][0, j])}
    if "weight_hh" in W:  # the two terms of the pre-activation, for cells with PyTorch's four arrays
        out["x_term"] = float(W["weight_ih"][j] @ inputs[t, 0] + W["bias_ih"][j])
        out["h_term"] = float(W["weight_hh"][j] @ cache["h_prev"][0] + W["bias_hh"][j])
    for name, arr in cache.items():  # unit j of everything the step stored: gates by name, states, ...
        if not isinstance(arr, np.ndarray) or arr.shape[-1] % H:
            continue
        blocks = arr.shape[-1] // H
        if blocks == cell.gates and blocks > 1:
            out |= {g: float(arr[0, k * H + j]) for k, g in enumerate(cell.gate_names)}
        elif blocks == 1:
            out.setdefault(name, float(arr[0, j]))
        else:  # a wider state part (the LRU's [Re x, Im x]): one number per block
            out |= {f"{name}[{k}]": float(arr[0, k * H + j]) for k in range(blocks)}
    for name, block in cell.recurrence(W).items():  # a diagonal recurrence (the LRU's lambda): its entry j
        if np.count_nonzero(block - np.diag(np.diag(block))) == 0:
            out |= {f"{name}.re": float(block[j, j].real), f"{name}.im": float(block[j, j].imag)}
    out["dh"] = float(res.dh_layers[layer, 0, t, 0, j])
    if layer == config.num_layers - 1:  # the read-out reads this layer: split off the loss at t
        mask = p.mask if p.mask is not None else np.ones((config.T, config.batch_size))
        weight = token_weights(mask, config.reduction)[t, 0]
        _, dyhat = token_loss_and_grad(config.loss, res.yhat[t, :1].astype(np.float64), p.y[t, :1])
        direct = float((dyhat[0] * weight) @ P["weight_out"][:, j])
        out |= {"dh_direct": direct, "dh_carried": out["dh"] - direct}
    if cell.pascanu_bound and cell.gamma is None:  # h = phi(z): the activation's derivative, from its output
        out["dphi"] = float(np.broadcast_to(derivative_from_output(config.activation, cache["h"][0, j]), ()))
        out["dz"] = out["dh"] * out["dphi"]
    return out


def only(config: RunConfig, names: tuple[str, ...]) -> RunConfig:
    """The config with every field not in ``names`` reset to its default (a narrower cache key)."""
    default = RunConfig()
    kept = {n: getattr(config, n) for n in names}
    if "cell" not in kept and kept.get("activation", default.activation) not in bc.CELLS[default.cell].activations:
        kept["cell"] = next(name for name, c in bc.CELLS.items() if kept["activation"] in c.activations)
    return default.replace(**kept)


#: What each cached analysis depends on; the rest of the config does not change its result.
SWEEP_FIELDS = ("activation", "hidden_size", "input_size", "forget_bias", "seed", *INIT_OPTIONS)
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
    *INIT_OPTIONS,
)


def last_loss_gradient(config: RunConfig, params: Params | None = None) -> np.ndarray:
    """``||d l_T / d h_t||`` for t = 0 .. T-1: the gradient of one loss, at the last step T* with a valid token
    (the vocabulary's "last_loss_gradient").

    Unlike ``||dL/dh_t||``, which every step's own loss props up, this curve shows how much of one
    loss's gradient survives the way back: the quantity that vanishes or explodes. 0 after T*, and
    0 before the last truncation window (the run cuts the recurrence there, as ``h.detach()``).

    Returns
    -------
    ndarray of shape (T,)
    """
    return last_loss_row(config, *flow(config, params))


def last_loss_row(config: RunConfig, origins: np.ndarray, F: np.ndarray) -> np.ndarray:
    """:func:`last_loss_gradient` read off :func:`flow`'s rows (which always include t*), 0 before the last
    truncation window."""
    t_star = last_valid_step(config)
    curve = F[int(np.searchsorted(origins, t_star))].copy()
    curve[: window_start(config, t_star)] = 0.0  # l_T does not reach past the last cut
    return curve
