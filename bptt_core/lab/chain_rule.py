"""The chain rule, spelled out: a scalar network's factors, and the Jacobian shapes of an RNN step."""

from __future__ import annotations

import numpy as np

from .. import validate as v
from ..activations import apply, derivative_from_output
from ..spec import ACTIVATIONS


def scalar_chain(
    x: float,
    y: float,
    w1: float,
    w2: float,
    hidden: str = "tanh",
    output: str = "sigmoid",
    backward_hidden: str | None = None,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Every factor of ``dE/dw1`` and ``dE/dw2`` for ``x -> h = phi(w1 x) -> yhat = psi(w2 h)``.

    ``E = (yhat - y)^2 / 2``. ``backward_hidden`` uses another activation's derivative
    in the backward pass, to show what goes wrong when backward does not match forward.

    Returns
    -------
    dict of str to float
        ``h``, ``yhat``, ``E``; factors ``error`` (yhat - y), ``dpsi`` (psi'), ``w2``,
        ``dphi`` (phi'), ``x``; ``dE_dw2 = error * dpsi * h``,
        ``dE_dw1 = error * dpsi * w2 * dphi * x``; and the central differences
        ``fd_dw1``, ``fd_dw2``.
    """

    x, y, w1, w2 = (v.check_number(name, value) for name, value in zip(("x", "y", "w1", "w2"), (x, y, w1, w2)))
    hidden, output = v.check_choice("hidden", hidden, ACTIVATIONS), v.check_choice("output", output, ACTIVATIONS)
    if backward_hidden is not None:
        v.check_choice("backward_hidden", backward_hidden, ACTIVATIONS)
    eps = v.check_number("eps", eps, 0.0, lo_open=True)

    def forward(a: float, b: float) -> tuple[float, float, float]:
        h = float(apply(hidden, np.array(a * x)))
        yhat = float(apply(output, np.array(b * h)))
        return h, yhat, 0.5 * (yhat - y) ** 2

    h, yhat, E = forward(w1, w2)
    dpsi = float(np.broadcast_to(derivative_from_output(output, np.array(yhat)), ()))
    h_for_backward = float(apply(backward_hidden, np.array(w1 * x))) if backward_hidden else h
    dphi = float(np.broadcast_to(derivative_from_output(backward_hidden or hidden, np.array(h_for_backward)), ()))
    error = yhat - y
    return {
        "x": x,
        "y": y,
        "w1": w1,
        "w2": w2,
        "h": h,
        "yhat": yhat,
        "E": E,
        "error": error,
        "dpsi": dpsi,
        "dphi": dphi,
        "dE_dw2": error * dpsi * h,
        "dE_dw1": error * dpsi * w2 * dphi * x,
        "fd_dw1": (forward(w1 + eps, w2)[2] - forward(w1 - eps, w2)[2]) / (2 * eps),
        "fd_dw2": (forward(w1, w2 + eps)[2] - forward(w1, w2 - eps)[2]) / (2 * eps),
    }
