"""Optimizers as pure functions of (params, grads, state): SGD, momentum, Adagrad, Adam."""

from __future__ import annotations

import numpy as np

from .. import validate as v

OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")


def init_state(name: str, params: dict[str, np.ndarray]) -> dict:
    """Zeroed optimizer state for ``params``."""
    v.check_choice("name", name, OPTIMIZERS)
    params = _arrays("params", params)
    zeros = {k: np.zeros_like(a) for k, a in params.items()}
    if name == "sgd":
        return {"t": 0}
    if name in ("momentum", "adagrad"):
        return {"t": 0, "acc": zeros}
    return {"t": 0, "m": zeros, "v": {k: np.zeros_like(a) for k, a in params.items()}}


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
    params, grads, state = _checked_step(name, params, grads, state)
    lr, eps = v.check_number("lr", lr, 0.0, lo_open=True), v.check_number("eps", eps, 0.0, lo_open=True)
    beta, beta2 = (
        v.check_number("beta", beta, 0.0, 1.0, hi_open=True),
        v.check_number("beta2", beta2, 0.0, 1.0, hi_open=True),
    )
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
    second = {k: beta2 * state["v"][k] + (1 - beta2) * grads[k] ** 2 for k in params}
    mhat, vhat = 1 - beta**t, 1 - beta2**t
    new = {k: p - lr * (m[k] / mhat) / (np.sqrt(second[k] / vhat) + eps) for k, p in params.items()}
    return new, {"t": t, "m": m, "v": second}


def _arrays(name: str, value: object) -> dict[str, np.ndarray]:
    """A dict of real arrays (lists read as NumPy reads them)."""
    return {k: v.as_array(f"{name}[{k!r}]", a, kinds="fiu") for k, a in v.check_dict(name, value).items()}


def _checked_step(name: str, params: object, grads: object, state: object) -> tuple[dict, dict, dict]:
    """The arguments of :func:`step`: ``grads`` with the keys and shapes of ``params``, ``state`` as
    :func:`init_state` made it for ``name``."""
    v.check_choice("name", name, OPTIMIZERS)
    params, grads = _arrays("params", params), _arrays("grads", grads)
    if set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params, {sorted(params)}, got {sorted(grads)}")
    for k, g in grads.items():
        v.check_shape(f"grads[{k!r}]", g, params[k].shape)
    wanted = init_state(name, {})
    if not isinstance(state, dict) or set(state) != set(wanted):
        raise ValueError(f"state must be init_state({name!r}, params) or the state step returned, got {v.show(state)}")
    v.check_int("state['t']", state["t"], 0)
    for key in set(wanted) - {"t"}:
        moments = _arrays(f"state[{key!r}]", state[key])
        if set(moments) != set(params) or any(moments[k].shape != params[k].shape for k in params):
            raise ValueError(f"state[{key!r}] does not match params: make it with init_state({name!r}, params)")
    return params, grads, state
