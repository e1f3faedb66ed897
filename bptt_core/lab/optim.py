"""Optimizers as pure functions of (params, grads, state): SGD, momentum, Adagrad, Adam."""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")


def init_state(name: str, params: dict[str, np.ndarray]) -> dict:
    """Zeroed optimizer state for ``params``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    zeros = {k: np.zeros_like(v) for k, v in params.items()}
    if name == "sgd":
        return {"t": 0}
    if name in ("momentum", "adagrad"):
        return {"t": 0, "acc": zeros}
    return {"t": 0, "m": zeros, "v": {k: np.zeros_like(v) for k, v in params.items()}}


def step(
    name: str,
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    state: dict,
    lr: float,
    *,
    beta: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[dict, dict]:
    """One update; returns new params and new state (the inputs are not modified).

    * sgd: ``p - lr g``
    * momentum (heavy ball): ``v = beta v + g``, ``p - lr v``
    * adagrad (Duchi et al. 2011): ``G += g^2``, ``p - lr g / (sqrt(G) + eps)``
    * adam (Kingma & Ba 2015): bias-corrected first and second moments
    """
    t = state["t"] + 1
    if name == "sgd":
        return {k: p - lr * grads[k] for k, p in params.items()}, {"t": t}
    if name == "momentum":
        acc = {k: beta * state["acc"][k] + grads[k] for k in params}
        return {k: p - lr * acc[k] for k, p in params.items()}, {"t": t, "acc": acc}
    if name == "adagrad":
        acc = {k: state["acc"][k] + grads[k] ** 2 for k in params}
        return {k: p - lr * grads[k] / (np.sqrt(acc[k]) + eps) for k, p in params.items()}, {"t": t, "acc": acc}
    m = {k: beta * state["m"][k] + (1 - beta) * grads[k] for k in params}
    v = {k: beta2 * state["v"][k] + (1 - beta2) * grads[k] ** 2 for k in params}
    mhat, vhat = 1 - beta**t, 1 - beta2**t
    new = {k: p - lr * (m[k] / mhat) / (np.sqrt(v[k] / vhat) + eps) for k, p in params.items()}
    return new, {"t": t, "m": m, "v": v}
