"""One training loop that records what BPTT did at every iteration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..bptt import bptt
from ..init import init_params
from ..norms import global_norm, scaled_norm
from ..online.costs import ONLINE
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
    same batches)."""

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

    def __post_init__(self) -> None:
        task_sizes(self.task)
        optim.init_state(self.optimizer, {})
        if self.method not in GRADIENT_METHODS:
            raise ValueError(f"method must be one of {GRADIENT_METHODS}, got {self.method!r}")
        if self.method != "bptt" and self.truncation is not None:
            raise ValueError(f"truncation applies to method='bptt' only, not {self.method!r}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations!r}")

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
    rng = np.random.default_rng(config.seed)
    spec = config.spec
    params = init_params(spec, seed=config.seed, init=config.init, scale=config.scale, forget_bias=config.forget_bias)
    state = optim.init_state(config.optimizer, params)
    N, T = config.iterations, config.T
    steps = sequence_length(config.task, T)  # the copy task's T is its lag: its batches have T + 20 steps
    loss, norm, used, dh = np.zeros(N), np.zeros(N), np.zeros(N), np.zeros((N, steps))
    stopped, work = None, Workspace()  # the same shapes every iteration: reuse the buffers
    signs = np.random.default_rng([config.seed, 1])  # UORO's own draws: the batches stay the same for every method
    for i in range(N):
        batch = make_batch(config.task, T, config.batch_size, rng, delay=config.delay)
        loss[i], norm[i], grads, dh[i], finite = _gradient(config, spec, params, batch, work, signs)
        used[i] = global_norm(grads)
        if not finite:  # diverged: stop here rather than carry NaN weights
            stopped = i + 1
            break
        params, state = optim.step(config.optimizer, params, grads, state, config.lr)
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


def _gradient(config: TrainConfig, spec: RNNSpec, params: dict, batch: Batch, work: Workspace, signs):
    """One batch's loss, gradient norm before clipping, the (clipped) gradients, ``||dL/dh_t||`` and whether it
    stayed finite: BPTT as the engine computes it, or the online method's gradient clipped alike."""
    if config.method == "bptt":
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
        with np.errstate(over="ignore", invalid="ignore"):
            return res.loss, res.grad_norm, res.grads, scaled_norm(res.dh, axis=(1, 2)), res.finite
    res = online_gradient(spec, params, batch.x, batch.y, config.method, loss=batch.loss, mask=batch.mask, seed=signs)
    grads = res.grads
    if config.clip is not None and res.grad_norm > config.clip:  # global-norm clipping, as bptt's clip=
        grads = {k: g * (config.clip / res.grad_norm) for k, g in grads.items()}
    return res.loss, res.grad_norm, grads, np.nan, res.finite


def _cut(loss, norm, used, dh, params, n, stopped=None) -> TrainHistory:
    return TrainHistory(loss[:n].copy(), norm[:n].copy(), used[:n].copy(), dh[:n].copy(), params, stopped)
