"""One training loop that records what BPTT did at every iteration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import budget
from .. import validate as v
from ..bptt import bptt
from ..init import INITS, init_params
from ..norms import global_norm, scaled_norm
from ..online.costs import ONLINE, online_bytes, online_work
from ..online.gradient import online_gradient
from ..spec import RNNSpec
from ..workspace import Workspace
from . import optim
from .tasks import Batch, make_batch, sequence_length, task_sizes

#: How a training run computes its gradients: BPTT (truncated when ``truncation`` is set) or an online method.
GRADIENT_METHODS = ("bptt", *ONLINE)


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how. ``clip`` and ``truncation`` of None mean off. ``method`` computes the gradients:
    ``"bptt"`` (truncated when ``truncation`` is set) or an online method of :mod:`bptt_core.online`, whose
    gradient is clipped like BPTT's (UORO draws its signs from a generator of its own, so every method sees the
    same batches). ``init_options``: the cell's own init options as (name, value) pairs (the LRU's ``r_min``, ...).
    """

    task: str = "adding"
    cell: str = "lstm"
    T: int = 20
    hidden_size: int = 16
    batch_size: int = 32
    iterations: int = 500
    lr: float = 0.01
    optimizer: str = "adam"
    clip: float | None = None
    truncation: int | None = None
    init: str = "uniform"
    forget_bias: float = 1.0
    seed: int = 0
    delay: int = 5
    activation: str = "tanh"
    num_layers: int = 1
    bidirectional: bool = False
    scale: float = 1.0
    method: str = "bptt"
    init_options: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        self.spec  # noqa: B018  (checks task, cell, hidden_size, activation, num_layers, bidirectional)
        v.check_choice("optimizer", self.optimizer, optim.OPTIMIZERS)
        v.check_choice("init", self.init, INITS)
        for name in ("T", "batch_size", "iterations"):
            v.check_positive_int(name, getattr(self, name))
        v.check_number("lr", self.lr, 0.0, lo_open=True)
        v.check_positive_float("clip", self.clip)
        v.check_positive_int("truncation", self.truncation, allow_none=True)  # (combinations: when it trains)
        v.check_number("forget_bias", self.forget_bias)
        v.check_number("scale", self.scale, 0.0)
        v.check_int("seed", self.seed, 0)
        v.check_int("delay", self.delay, 0)
        v.check_choice("method", self.method, GRADIENT_METHODS)
        if self.method != "bptt" and self.truncation is not None:
            raise ValueError(f"truncation applies to method='bptt' only, not {self.method!r}")

    @property
    def spec(self) -> RNNSpec:
        i, o = task_sizes(self.task)
        return RNNSpec(
            self.cell,
            i,
            self.hidden_size,
            o,
            self.activation,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
        )


@dataclass(frozen=True)
class TrainHistory:
    """Per-iteration records of a training run.

    Attributes
    ----------
    loss : ndarray of shape (N,)
    grad_norm : ndarray of shape (N,)
        Global gradient norm before clipping.
    clipped_norm : ndarray of shape (N,)
        The norm of the update direction actually used (after clipping).
    dh_norms : ndarray of shape (N, T)
        ``||dL/dh_t||`` over t at every iteration (NaN for an online method: it forms no ``dL/dh_t``).
    params : dict of ndarray
        The final weights.
    stopped_at : int or None
        Iteration at which a callback stopped the run early.
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    clipped_norm: np.ndarray
    dh_norms: np.ndarray
    params: dict
    stopped_at: int | None = None


def train(
    config: TrainConfig, callback: Callable[[int, TrainHistory], bool] | None = None, every: int = 25
) -> TrainHistory:
    """Train ``config.spec`` on ``config.task``; deterministic for a seed.

    Parameters
    ----------
    config : TrainConfig
    callback : callable(iteration, history so far) -> bool, optional
        Called every ``every`` iterations and at the end; returning False stops training.

    Returns
    -------
    TrainHistory
        Arrays cut at the last iteration run.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    if callback is not None:
        v.check_callable("callback", callback)
    every = v.check_positive_int("every", every)
    rng = np.random.default_rng(config.seed)
    spec = config.spec
    _check_budget(config, spec)
    preset = {"init": config.init, "scale": config.scale, "forget_bias": config.forget_bias}
    params = init_params(spec, config.seed, **preset, **dict(config.init_options))
    return fit(
        spec,
        params,
        lambda i: make_batch(config.task, config.T, config.batch_size, rng, delay=config.delay),
        config.iterations,
        optimizer=config.optimizer,
        lr=config.lr,
        clip=config.clip,
        truncation=config.truncation,
        method=config.method,
        signs=np.random.default_rng([config.seed, 1]),  # UORO's own draws: the batches stay the same for every method
        callback=callback,
        every=every,
    )


def fit(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    batches: Callable[[int], Batch],
    iterations: int,
    *,
    optimizer: str = "adam",
    lr: float = 0.01,
    clip: float | None = None,
    truncation: int | None = None,
    method: str = "bptt",
    signs: np.random.Generator | None = None,
    callback: Callable[[int, TrainHistory], bool] | None = None,
    every: int = 25,
) -> TrainHistory:
    """The training loop: ``iterations`` optimizer steps of ``params`` on ``batches(i)``.

    :func:`train` runs it from an initialisation on a task; the diagnosis runs it from a user's
    trained weights on the user's own sequences.

    Parameters
    ----------
    spec : RNNSpec
    params : dict of ndarray
        The starting weights (not modified).
    batches : callable(iteration) -> Batch
        The batch of each iteration, every one of the same length T.
    iterations : int
    optimizer, lr : as in :class:`TrainConfig`
    clip, truncation : as in :func:`bptt_core.bptt` (None: off)
    method : str
        ``"bptt"`` or an online method (see :class:`TrainConfig`); ``signs`` is UORO's generator.
    callback : callable(iteration, history so far) -> bool, optional
        Called every ``every`` iterations and at the end; returning False stops training.

    Returns
    -------
    TrainHistory
        Arrays cut at the last iteration run; training stops where the loss or a gradient stops being finite.
    """
    if not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    state = optim.init_state(optimizer, params)
    N = iterations
    loss, norm, used, dh = np.zeros(N), np.zeros(N), np.zeros(N), None
    stopped, work = None, Workspace()  # the same shapes every iteration: reuse the buffers
    for i in range(N):
        batch = batches(i)
        dh = np.zeros((N, batch.x.shape[0])) if dh is None else dh
        loss[i], norm[i], grads, dh[i], finite = _gradient(spec, params, batch, method, clip, truncation, work, signs)
        used[i] = global_norm(grads)
        if not finite:  # diverged: stop here rather than carry NaN weights
            stopped = i + 1
            break
        params, state = optim.step(optimizer, params, grads, state, lr)
        done = i + 1
        if (
            callback
            and (done % every == 0 or done == N)
            and callback(done, _cut(loss, norm, used, dh, params, done)) is False
        ):
            stopped = done
            break
    n = stopped or N
    return _cut(loss, norm, used, dh, params, n, stopped)


def _check_budget(config: TrainConfig, spec: RNNSpec) -> None:
    """Refuse a run whose records, batches or BPTT calls exceed the memory budget, or whose iterations exceed
    the work budget, before the first one."""
    N, B = config.iterations, config.batch_size
    T = sequence_length(config.task, config.T)  # the steps of a batch (the copy task's T is its lag)
    I, O = task_sizes(config.task)
    records = budget.array_bytes(N, T + 3)  # loss, norms and dh_norms per iteration
    batch = budget.array_bytes(T + 1, B, 2 * I + O + 1)
    if config.method == "bptt":
        run = budget.bptt_bytes(spec, T, B, truncation=config.truncation)
        work = N * budget.bptt_work(spec, T, B, truncation=config.truncation)
    else:
        run, work = online_bytes(spec, B, config.method), N * online_work(spec, T, B, config.method)
    run += 8 * budget.array_bytes(spec.n_params())
    budget.check(records + batch + run, f"training {N} iterations", "lower iterations, T or the sizes", per_call=False)
    budget.check_work(work, f"training {N} iterations", "lower iterations, T, the batch or the sizes")


def _gradient(spec, params, batch: Batch, method, clip, truncation, work: Workspace, signs):
    """One batch's loss, gradient norm before clipping, the (clipped) gradients, ``||dL/dh_t||`` and whether it
    stayed finite: BPTT as the engine computes it, or the online method's gradient clipped alike."""
    if method == "bptt":
        res = bptt(
            spec, params, batch.x, batch.y, loss=batch.loss, mask=batch.mask, clip=clip, truncation=truncation,
            workspace=work,
        )  # fmt: skip
        with np.errstate(over="ignore", invalid="ignore"):
            return res.loss, res.grad_norm, res.grads, scaled_norm(res.dh, axis=(1, 2)), res.finite
    res = online_gradient(spec, params, batch.x, batch.y, method, loss=batch.loss, mask=batch.mask, seed=signs)
    grads = res.grads
    if clip is not None and res.grad_norm > clip:  # global-norm clipping, as bptt's clip=
        grads = {k: g * (clip / res.grad_norm) for k, g in grads.items()}
    return res.loss, res.grad_norm, grads, np.nan, res.finite


def _cut(loss, norm, used, dh, params, n, stopped=None) -> TrainHistory:
    return TrainHistory(loss[:n].copy(), norm[:n].copy(), used[:n].copy(), dh[:n].copy(), params, stopped)
