"""The chain rule, spelled out: a scalar network's factors, and the Jacobian shapes of an RNN step."""

from __future__ import annotations

import numpy as np

from .activations import apply, derivative_from_output
from .spec import RNNSpec


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


def jacobian_shapes(spec: RNNSpec, T: int, B: int) -> list[tuple[str, str, str]]:
    """The chain rule of one BPTT step for tensors: (quantity, expression, shape) rows.

    Shapes are per batch element where the Jacobian is block-diagonal over the batch.
    """
    H, I, O, GH = spec.hidden_size, spec.input_size, spec.output_size, spec.gates * spec.hidden_size
    rows = [
        ("∂L/∂ŷ_t", "loss gradient at step t", f"({B}, {O})"),
        ("∂ŷ_t/∂h_t", "W_out", f"({O}, {H})"),
        ("∂L/∂h_t", "∂L/∂ŷ_t · W_out + ∂L/∂h_{t+1} · ∂h_{t+1}/∂h_t", f"({B}, {H})"),
        (
            "∂h_t/∂a_t",
            "gate derivatives (diagonal per element)" if spec.cell != "rnn" else "diag φ'(a_t)",
            f"{B} × ({H}, {GH})" if spec.cell != "rnn" else f"{B} × ({H}, {H}) diagonal",
        ),
        ("∂a_t/∂h_{t-1}", "W_hh (pre-activations of all gates)", f"({GH}, {H})"),
        (
            "∂h_t/∂h_{t-1}",
            "the step Jacobian J_t",
            f"{B} × ({2 * H if spec.cell == 'lstm' else H}, "
            f"{2 * H if spec.cell == 'lstm' else H})" + (" over [h, c]" if spec.cell == "lstm" else ""),
        ),
        ("∂L/∂W_hh", "Σ_t δ_tᵀ h_{t-1} (tied weights: summed over the T steps)", f"({GH}, {H}) from {T} terms"),
        ("∂L/∂W_ih", "Σ_t δ_tᵀ x_t", f"({GH}, {I})"),
        ("∂L/∂W_out", "Σ_t (∂L/∂ŷ_t)ᵀ h_t", f"({O}, {H})"),
    ]
    return rows
