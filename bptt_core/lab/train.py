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
from ..spec import RNNSpec
from ..workspace import Workspace
from . import optim
from .tasks import make_batch, task_sizes


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how. ``clip`` and ``truncation`` of None mean off."""

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
        ``||dL/dh_t||`` over t at every iteration.
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
    params = init_params(spec, seed=config.seed, init=config.init, scale=config.scale, forget_bias=config.forget_bias)
    state = optim.init_state(config.optimizer, params)
    N, T = config.iterations, config.T
    loss, norm, used, dh = np.zeros(N), np.zeros(N), np.zeros(N), np.zeros((N, T))
    stopped, work = None, Workspace()  # the same shapes every iteration: reuse the buffers
    for i in range(N):
        batch = make_batch(config.task, T, config.batch_size, rng, delay=config.delay)
        res = bptt(
            spec,
            params,
            batch.x,
            batch.y,
            loss=batch.loss,
            mask=batch.mask,
            clip=config.clip,
            truncation=config.truncation,
            workspace=work,
        )
        loss[i], norm[i], used[i] = res.loss, res.grad_norm, global_norm(res.grads)
        with np.errstate(over="ignore", invalid="ignore"):
            dh[i] = scaled_norm(res.dh, axis=(1, 2))
        if not res.finite:  # diverged: stop here rather than carry NaN weights
            stopped = i + 1
            break
        params, state = optim.step(config.optimizer, params, res.grads, state, config.lr)
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
    N, T, B = config.iterations, config.T, config.batch_size
    I, O = task_sizes(config.task)
    records = budget.array_bytes(N, T + 3)  # loss, norms and dh_norms per iteration
    batch = budget.array_bytes(T + 1, B, 2 * I + O + 1)
    run = budget.bptt_bytes(spec, T, B, truncation=config.truncation) + 8 * budget.array_bytes(spec.n_params())
    budget.check(records + batch + run, f"training {N} iterations", "lower iterations, T or the sizes", per_call=False)
    work = N * budget.bptt_work(spec, T, B, truncation=config.truncation)
    budget.check_work(work, f"training {N} iterations", "lower iterations, T, the batch or the sizes")


def _cut(loss, norm, used, dh, params, n, stopped=None) -> TrainHistory:
    return TrainHistory(loss[:n].copy(), norm[:n].copy(), used[:n].copy(), dh[:n].copy(), params, stopped)
