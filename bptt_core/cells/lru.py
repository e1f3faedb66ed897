"""The Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting recurrent neural networks for long
sequences", arXiv 2303.06349) as a step pair and a scan.

Equations
---------
.. math::

    \\lambda &= \\exp(-e^{\\nu} + i e^{\\theta}), \\qquad \\gamma = e^{\\gamma_{\\log}} \\\\
    x_t &= \\lambda \\odot x_{t-1} + \\gamma \\odot (B u_t), \\qquad B = B_{re} + i B_{im} \\\\
    y_t &= \\mathrm{Re}(C x_t) + D u_t, \\qquad C = C_{re} + i C_{im}

The state ``x_t`` is complex, ``N = H`` units, stored as ``[Re x, Im x]`` (B, 2H); the layer's
output ``y_t`` (H wide) is what the read-out and the layer above read. The recurrence is diagonal
and linear: ``d x_t / d x_{t-k} = diag(lambda^k)``, so a gradient travelling back ``k`` steps is
scaled by exactly ``|lambda|^k`` per unit (the step Jacobians follow ``x``; ``y_{t-1}`` feeds
nothing, so the state part ``h`` = ``y`` has a zero Jacobian and ``h0`` no effect). The
whole sequence runs as an associative scan (:mod:`bptt_core.scan`).

Parameters (per layer and direction; PyTorch has no module for it)
------------------------------------------------------------------
The names and layout of the paper's reference implementation (its appendix A):
``nu_log``, ``theta_log``, ``gamma_log`` (N,); ``B_re``, ``B_im`` (N, I); ``C_re``, ``C_im`` (H, N);
``D``. Generalisations: ``N = H`` (the state is as wide as the output); ``D`` is a full (H, I)
matrix, since the input width ``I`` (or ``D*H`` above the first layer) may differ from ``H`` (the
reference's ``D`` is the diagonal (H,) of the case ``I = H``); ``gamma_log`` is trained, as in the
reference, and starts at the normalisation ``log sqrt(1 - |lambda|^2)`` that keeps ``E|x_t|^2``
independent of ``|lambda|`` for white-noise inputs.

Initialisation (:func:`init_layer`): ``|lambda|`` uniform on the ring ``r_min <= |lambda| <= r_max``
(uniform in area: ``|lambda|^2`` uniform on ``[r_min^2, r_max^2]``), phase uniform in
``[0, max_phase]``; ``B`` ~ N(0, 1/(2I)) per part, ``C`` ~ N(0, 1/N) per part, ``D`` ~ N(0, 1/I). The
defaults are the paper's long-range setting, ``r_min = 0.9``, ``r_max = 0.999``, ``max_phase = pi/10``
(its reference code defaults to ``0, 1, 2 pi``, used for the shorter tasks): this tool is about
gradients that must survive hundreds of steps. ``init_params(spec, r_min=0, r_max=1,
max_phase=2 * np.pi)`` gives the other.
"""

from __future__ import annotations

import math

import numpy as np

from .. import validate as v
from ..scan import linear_scan, reverse_linear_scan
from ..workspace import Workspace, buffer, common_shape, field, matmul, transposed
from . import dense
from .protocol import Buffers, Cell, InitPreset, Params, State, functions_in

Work = Workspace | None

#: What a step stores: the output ``h`` (= y) and the state ``x`` as [Re, Im]; both are state parts.
TAPE = {"h": 1, "x": 2}
#: ``init_params`` options and their defaults: the paper's long-range ring and phase.
INIT_OPTIONS = {"r_min": 0.9, "r_max": 0.999, "max_phase": math.pi / 10}
#: |lambda|^2 is kept in [TINY, 1 - EPS] at init, so that nu_log and gamma_log stay finite.
TINY, EPS = 1e-300, 1e-12


def param_shapes(H: int, I: int) -> dict[str, tuple[int, ...]]:
    """The reference's order: ``nu_log``, ``theta_log``, ``B_re``, ``B_im``, ``C_re``, ``C_im``, ``D``,
    ``gamma_log``."""
    return {
        "nu_log": (H,),
        "theta_log": (H,),
        "B_re": (H, I),
        "B_im": (H, I),
        "C_re": (H, H),
        "C_im": (H, H),
        "D": (H, I),
        "gamma_log": (H,),
    }


def sizes(shapes: dict) -> tuple[int, int]:
    """``(H, I)`` read off ``D``."""
    return shapes["D"]


def eigenvalues(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(Re lambda, Im lambda)``, each shaped like ``nu_log``."""
    modulus, phase = np.exp(-np.exp(params["nu_log"])), np.exp(params["theta_log"])
    return modulus * np.cos(phase), modulus * np.sin(phase)


def _eigenvalues(params: dict[str, np.ndarray], work: Workspace | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`eigenvalues`, once per call of the engine when a workspace is given."""
    if work is None:
        return eigenvalues(params)
    return work.derived(params["nu_log"], f"lambda {id(params['theta_log'])}", lambda _: eigenvalues(params))


def _check_options(r_min: float, r_max: float, max_phase: float) -> None:
    """The ring ``0 <= r_min <= r_max <= 1`` (``r_min < 1``) and a phase in ``(0, 2 pi]``."""
    r_min, r_max = v.check_number("r_min", r_min), v.check_number("r_max", r_max)
    if not 0 <= r_min <= r_max <= 1 or r_min == 1:
        raise ValueError(f"r_min and r_max must satisfy 0 <= r_min <= r_max <= 1, r_min < 1; got {r_min}, {r_max}")
    v.check_number("max_phase", max_phase, 0.0, 2 * math.pi, lo_open=True)


def init_layer(rng: np.random.Generator, H: int, I: int, preset: InitPreset) -> dict[str, np.ndarray]:
    """The paper's initialisation (module docstring); ``preset.options`` holds ``r_min``, ``r_max``,
    ``max_phase`` (no ``weight_hh``: the preset's ``init`` and ``scale`` do not apply)."""
    r_min, r_max, max_phase = (preset.options[k] for k in INIT_OPTIONS)
    _check_options(r_min, r_max, max_phase)
    u1, u2 = rng.uniform(size=H), rng.uniform(size=H)
    modulus2 = np.clip(u1 * (r_max**2 - r_min**2) + r_min**2, TINY, 1 - EPS)
    nu_log = np.log(-0.5 * np.log(modulus2))
    theta_log = np.log(np.maximum(max_phase * u2, TINY))
    B_re, B_im = (rng.standard_normal((H, I)) / np.sqrt(2 * I) for _ in range(2))
    C_re, C_im = (rng.standard_normal((H, H)) / np.sqrt(H) for _ in range(2))
    D = rng.standard_normal((H, I)) / np.sqrt(I)
    gamma_log = 0.5 * np.log1p(-np.exp(-2 * np.exp(nu_log)))  # log sqrt(1 - |lambda|^2)
    layer = {"nu_log": nu_log, "theta_log": theta_log, "B_re": B_re, "B_im": B_im, "C_re": C_re, "C_im": C_im}
    return layer | {"D": D, "gamma_log": gamma_log}


def projection(params: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """``[(gamma B_re)^T, (gamma B_im)^T, D^T; 0]`` (I + 1, 3H):
    ``xw_t = [gamma Re(B u_t), gamma Im(B u_t), D u_t]``."""
    H, I = params["D"].shape
    out = np.empty((I + 1, 3 * H), params["D"].dtype) if out is None else out
    gamma = np.exp(params["gamma_log"])
    out[:-1, :H] = (gamma[:, None] * params["B_re"]).T
    out[:-1, H : 2 * H] = (gamma[:, None] * params["B_im"]).T
    out[:-1, 2 * H :] = params["D"].T
    out[-1] = 0.0  # no bias
    return out


def forward_step(
    params: Params, xw_t: np.ndarray, state: State, activation: str = "tanh", out: Buffers = None, work: Work = None
) -> tuple[State, dict]:
    """One step forward: ``x_t = lambda x_{t-1} + gamma B u_t``, then ``y_t = Re(C x_t) + D u_t``.

    The state's step Jacobian is ``diag(lambda)`` whatever the input: nothing in the step saturates.

    Parameters
    ----------
    xw_t : ndarray of shape (B, 3H)
        ``[gamma Re(B u_t), gamma Im(B u_t), D u_t]`` (:func:`projection`).
    state : tuple (h_prev, x_prev) of shapes (B, H), (B, 2H)
        ``h_prev`` (the previous output) is not read.
    out : dict of ndarray, optional
        Buffers ``"h"`` (B, H) and ``"x"`` (B, 2H).

    Returns
    -------
    state_next : tuple (y_t, x_t)
    cache : dict
        ``h_prev``, ``x_prev``, ``h`` (= y_t) and ``x``.
    """
    h_prev, x_prev = state
    H, dt = h_prev.shape[-1], h_prev.dtype
    lam_re, lam_im = _eigenvalues(params, work)
    x = field(out, "x", x_prev.shape, dt)
    tmp = buffer(work, "fwd_tmp", x_prev.shape[:-1] + (H,), dt)
    a_re, a_im, x_re, x_im = x_prev[..., :H], x_prev[..., H:], x[..., :H], x[..., H:]
    # x_t = lambda x_{t-1} + gamma B u_t, in real and imaginary parts
    np.multiply(lam_re, a_re, out=x_re)
    x_re -= np.multiply(lam_im, a_im, out=tmp)
    x_re += xw_t[..., :H]
    np.multiply(lam_im, a_re, out=x_im)
    x_im += np.multiply(lam_re, a_im, out=tmp)
    x_im += xw_t[..., H : 2 * H]
    # y_t = Re(C x_t) + D u_t
    y = matmul(x_re, transposed(work, params["C_re"]), out=field(out, "h", h_prev.shape, dt))
    y -= matmul(x_im, transposed(work, params["C_im"]), out=tmp)
    y += xw_t[..., 2 * H :]
    return (y, x), {"h_prev": h_prev, "x_prev": x_prev, "h": y, "x": x}


def backward_step(
    params: Params, d_state: State, cache: dict, out: Buffers = None, work: Work = None
) -> tuple[State, np.ndarray, np.ndarray]:
    """One step backward: ``y``'s gradient joins ``x``'s, which goes back through ``conj(lambda)``.

    In real and imaginary parts, ``conj(lambda) g = (lam_re g_re + lam_im g_im, lam_re g_im - lam_im g_re)``.

    Parameters
    ----------
    d_state : tuple (dy, dx) of shapes (..., B, H), (..., B, 2H)
        The gradient at the output ``y_t`` and at the state ``x_t`` (from step t + 1).

    Returns
    -------
    d_state_prev : tuple (0, dx_prev)
        ``dx_prev = conj(lambda) * g`` with ``g = dx + C^H dy`` the total gradient of ``x_t`` (gradients of a
        complex state written ``dL/dRe + i dL/dIm``); ``y_{t-1}`` feeds nothing, its gradient is 0.
    d_xw, d_hw : ndarray of shape (..., B, 3H)
        ``[Re g, Im g, dy]``: the gradient of the projection (the same array twice).
    """
    dy, dx = d_state
    x_prev = cache["x_prev"]
    H, dt = dy.shape[-1], x_prev.dtype
    shape = common_shape(dx.shape, (*dy.shape[:-1], 2 * H), x_prev.shape)
    d_xw = field(out, "d_xw", (*shape[:-1], 3 * H), dt)
    g_re, g_im = d_xw[..., :H], d_xw[..., H : 2 * H]
    # backprop through y = C_re x_re - C_im x_im into the state's total gradient
    np.matmul(dy, params["C_re"], out=g_re)
    g_re += dx[..., :H]
    np.matmul(dy, params["C_im"], out=g_im)
    np.subtract(dx[..., H:], g_im, out=g_im)
    np.copyto(d_xw[..., 2 * H :], dy)
    # backprop into the previous state through x_t = lambda x_{t-1}: multiply by conj(lambda)
    lam_re, lam_im = _eigenvalues(params, work)
    dx_prev = buffer(work, "bwd_dx_prev", shape, dt)
    tmp = buffer(work, "bwd_tmp", (*shape[:-1], H), dt)
    np.multiply(lam_re, g_re, out=dx_prev[..., :H])
    dx_prev[..., :H] += np.multiply(lam_im, g_im, out=tmp)
    np.multiply(lam_re, g_im, out=dx_prev[..., H:])
    dx_prev[..., H:] -= np.multiply(lam_im, g_re, out=tmp)
    dh_prev = buffer(work, "bwd_dh_prev", (*shape[:-1], H), dt)
    dh_prev.fill(0.0)
    return (dh_prev, dx_prev), d_xw, d_xw


def hidden_gradient(params: dict[str, np.ndarray], d_state: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The total gradient of ``x_t`` as ``[Re, Im]``: ``dx + C^H dy`` (..., B, 2H)."""
    dy, dx = d_state
    return dx + np.concatenate([dy @ params["C_re"], -(dy @ params["C_im"])], axis=-1)


def _output_map(params: dict[str, np.ndarray], work: Workspace | None) -> np.ndarray:
    """``[C_re^T; -C_im^T]`` (2H, H), so that ``y = [x_re, x_im] @ it`` (once per call with a workspace)."""
    stack = lambda _: np.concatenate([params["C_re"].T, -params["C_im"].T])  # noqa: E731
    return stack(None) if work is None else work.derived(params["C_re"], f"output map {id(params['C_im'])}", stack)


def _complex(a: np.ndarray, H: int, work: Workspace | None, name: str) -> np.ndarray:
    """``a[..., :H] + i a[..., H:2H]`` in a complex buffer."""
    c = buffer(work, name, (*a.shape[:-1], H), np.result_type(a.dtype, np.complex64))
    c.real, c.imag = a[..., :H], a[..., H : 2 * H]
    return c


def forward_scan(params: Params, xw: np.ndarray, state: State, rows: dict, work: Work = None) -> None:
    """Steps 0..n-1 of a run at once (the protocol's ``forward_scan``): ``x = scan(lambda, gamma B u)`` from
    ``state``, then ``y``; ``rows["h"]`` (n, B, H) and ``rows["x"]`` (n, B, 2H) receive them."""
    H = xw.shape[-1] // 3
    lam_re, lam_im = eigenvalues(params)
    x = _complex(xw, H, work, "scan_x")
    linear_scan((lam_re + 1j * lam_im)[None, None], x, _complex(state[1], H, work, "scan_x0"), out=x, work=work)
    out_x = rows["x"]
    out_x[..., :H], out_x[..., H:] = x.real, x.imag
    y = matmul(out_x, _output_map(params, work), out=rows["h"])
    y += xw[..., 2 * H :]


def backward_scan(
    params: Params, dh: np.ndarray, d_rest: State, rows: dict, d_xw: np.ndarray, work: Work = None
) -> State:
    """Steps n-1..0 of a run at once (:mod:`bptt_core.cells.protocol`'s ``backward_scan``): the totals
    ``g_t = C^H dy_t + conj(lambda) g_{t+1}`` by the reverse scan. ``dh`` holds ``dL/dy_t``, already total (``y``
    does not recur); ``d_rest`` is ``(dx,)``, the gradient reaching the run's last state ``x`` (B, 2H).
    Returns ``(0, dx_prev)``."""
    H, dt = dh.shape[-1], dh.dtype
    e = buffer(work, "scan_x", dh.shape, np.result_type(dt, np.complex64))
    tmp = buffer(work, "scan_tmp", dh.shape, dt)
    e.real = matmul(dh, params["C_re"], out=tmp)  # C^H dy, as [Re, Im]: [C_re^T dy, -C_im^T dy]
    e.imag = np.negative(matmul(dh, params["C_im"], out=tmp), out=tmp)
    lam_re, lam_im = eigenvalues(params)
    conj = (lam_re - 1j * lam_im)[None, None]
    reverse_linear_scan(conj, e, _complex(d_rest[0], H, work, "scan_x0"), out=e, work=work)
    d_xw[..., :H], d_xw[..., H : 2 * H], d_xw[..., 2 * H :] = e.real, e.imag, dh
    first = conj[0, 0] * e[0]
    return np.zeros(dh.shape[1:], dt), np.concatenate([first.real, first.imag], axis=-1).astype(dt)


def recurrence(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The recurrent linear map ``diag(lambda)`` (complex, N x N)."""
    lam_re, lam_im = eigenvalues(params)
    return {"lambda": np.diag(lam_re + 1j * lam_im)}


def decay(params: Params, cache: dict) -> np.ndarray:
    """``|lambda|`` (B, N) for every step: ``d x_t / d x_{t-k} = diag(lambda^k)``, whatever the inputs."""
    return np.broadcast_to(np.exp(-np.exp(params["nu_log"])), cache["h"].shape)


def _lambda_grads(params: dict, g: np.ndarray, x_prev: np.ndarray, sums: str) -> tuple[np.ndarray, np.ndarray]:
    """``(dL/dnu_log, dL/dtheta_log)`` from the states' total gradients ``g`` and the states entering the steps
    (both [Re, Im]), summed by the einsum ``sums`` (e.g. ``"nh,nh->h"``): ``dlambda = sum g conj(x_prev)``, then
    ``dlambda/dnu = -e^nu lambda`` and ``dlambda/dtheta = i e^theta lambda``. No temporaries of the size of ``g``."""
    H = x_prev.shape[-1] // 2
    g_re, g_im, a_re, a_im = g[..., :H], g[..., H:], x_prev[..., :H], x_prev[..., H:]
    d_re = np.einsum(sums, g_re, a_re) + np.einsum(sums, g_im, a_im)  # Re of sum g conj(x_prev)
    d_im = np.einsum(sums, g_im, a_re) - np.einsum(sums, g_re, a_im)
    lam_re, lam_im = eigenvalues(params)
    d_nu = -np.exp(params["nu_log"]) * (d_re * lam_re + d_im * lam_im)
    d_theta = np.exp(params["theta_log"]) * (d_im * lam_re - d_re * lam_im)
    return d_nu, d_theta


def accumulate(params, grads, d_xw, d_hw, x, rows, terms=None) -> None:
    """Every parameter's gradient from a chunk of m steps (see :attr:`Cell.accumulate`): ``d_xw`` holds the
    states' total gradients ``g`` (2H) and ``dy`` (H); ``rows`` the states ``x_prev`` and ``x``."""
    m, B, _ = d_xw.shape
    n, H = m * B, d_xw.shape[-1] // 3
    flat, u = d_xw.reshape(n, 3 * H), x.reshape(n, -1)
    d_nu, d_theta = _lambda_grads(params, flat[:, : 2 * H], rows["x_prev"].reshape(n, 2 * H), "nh,nh->h")
    grads["nu_log"] += d_nu
    grads["theta_log"] += d_theta
    d_c = flat[:, 2 * H :].T @ rows["x"].reshape(n, 2 * H)  # dy^T [x_re, x_im]
    grads["C_re"] += d_c[:, :H]
    grads["C_im"] -= d_c[:, H:]
    d_w = flat.T @ u  # the gradient of the projection's rows: gamma B_re, gamma B_im, D
    gamma = np.exp(params["gamma_log"])
    grads["B_re"] += gamma[:, None] * d_w[:H]
    grads["B_im"] += gamma[:, None] * d_w[H : 2 * H]
    grads["D"] += d_w[2 * H :]
    grads["gamma_log"] += gamma * np.sum(d_w[:H] * params["B_re"] + d_w[H : 2 * H] * params["B_im"], axis=1)
    if terms is not None:
        per_step = _lambda_grads(params, d_xw[..., : 2 * H], rows["x_prev"], "mbh,mbh->mh")
        for name, term in zip(("nu_log", "theta_log"), per_step):
            terms[name][:] = np.linalg.norm(term, axis=-1)
        terms["B_re"][:] = dense.step_term_norms(d_xw[..., :H] * gamma, x)
        terms["B_im"][:] = dense.step_term_norms(d_xw[..., H : 2 * H] * gamma, x)


def parameter_factors(params: Params, d_xw: np.ndarray, d_hw: np.ndarray, x: np.ndarray, cache: dict) -> dict:
    """Each parameter's immediate Jacobian per adjoint (see :attr:`Cell.parameter_factors`), from the total
    gradients ``g`` of ``x_t`` and ``dy`` in ``d_xw`` (K, B, 3H): ``B`` and ``gamma_log`` through ``gamma B u_t``,
    ``nu_log`` and ``theta_log`` through ``lambda x_{t-1}``, ``C`` and ``D`` through ``y_t``."""
    H = d_xw.shape[-1] // 3
    g, dy = d_xw[..., : 2 * H], d_xw[..., 2 * H :]
    d_nu, d_theta = _lambda_grads(params, g, cache["x_prev"], "kbh,bh->kbh")
    gamma, state = np.exp(params["gamma_log"]), cache["x"]
    a_re, a_im = g[..., :H] * gamma, g[..., H:] * gamma  # d x_t / d (gamma B u_t), per unit
    d_gamma = a_re * (x @ params["B_re"].T) + a_im * (x @ params["B_im"].T)
    return {
        "nu_log": (d_nu, None),
        "theta_log": (d_theta, None),
        "B_re": (a_re, x),
        "B_im": (a_im, x),
        "C_re": (dy, state[..., :H]),
        "C_im": (np.negative(dy), state[..., H:]),
        "D": (dy, x),
        "gamma_log": (d_gamma, None),
    }


def project_term(params: dict, name: str, D: np.ndarray, back: dict) -> np.ndarray:
    """``<C_t, D>`` for each adjoint, ``C_t`` the term step t adds to the gradient of ``name`` (``term_params``)."""
    d_xw = back["d_xw"]
    H = d_xw.shape[-1] // 3
    if name in ("nu_log", "theta_log"):  # linear in g: sum over the units of D times each unit's term
        d_nu, d_theta = _lambda_grads(params, d_xw[..., : 2 * H], back["cache"]["x_prev"], "nbh,bh->nh")
        return np.einsum("nh,h->n", d_nu if name == "nu_log" else d_theta, D, dtype=np.float64)
    part = d_xw[..., :H] if name == "B_re" else d_xw[..., H : 2 * H]
    operand = back["x"] @ (np.exp(params["gamma_log"])[:, None] * D).T  # (B, H): <g^T u, gamma D>
    return np.einsum("nbh,bh->n", part, operand, dtype=np.float64)


CELL = Cell(
    name="lru",
    gate_names=(),
    state_parts=("h", "x"),
    tape=TAPE,
    width=3,
    activations=("tanh",),
    term_params=("nu_log", "theta_log", "B_re", "B_im"),
    tape_groups={"x": "complex states x"},
    pascanu_bound=True,
    gamma=1.0,
    init_options=INIT_OPTIONS,
    check_options=_check_options,
    hidden_parts=("x",),
    dynamic_parts=("x",),
    **functions_in(globals()),
)
