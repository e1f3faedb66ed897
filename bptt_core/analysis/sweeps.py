"""The phase diagram of vanishing and exploding gradients.

For each weight scale (spectral radius ``rho`` of every ``W_hh`` gate block) and
sequence length ``T``: ``log10 ||dL/dh_0|| / ||dL/dh_{T-1}||`` for a loss at the
last step only (``h`` the cell's hidden state; cells without ``W_hh`` ignore ``rho``).
One forward pass per ``rho`` serves every ``T``: the adjoints of all lengths travel
back together, stacked on a leading axis (batched adjoints), and all radii run at
once as a stack of weight sets that the cells broadcast over.
"""

from __future__ import annotations

import numpy as np

from .. import budget
from .. import validate as v
from ..cells import CELLS
from ..init import init_params
from ..limits import array_bytes
from ..spec import RNNSpec, layer_params


def gradient_ratio_sweep(
    cell: str,
    radii: np.ndarray,
    lengths: np.ndarray,
    *,
    hidden_size: int = 32,
    input_size: int = 4,
    batch: int = 4,
    activation: str = "tanh",
    forget_bias: float = 1.0,
    input_scale: float = 1.0,
    seed: int = 0,
    init_options: dict | None = None,
) -> np.ndarray:
    """log10 of the end-to-start gradient ratio over a grid of radius x length.

    Parameters
    ----------
    cell : str
        A key of :data:`bptt_core.CELLS`.
    radii : ndarray of shape (R,)
        Spectral radius of each ``W_hh`` block (``init="spectral"``); a cell without ``init_presets`` (no ``W_hh``:
        the LRU, minGRU) ignores it, every row is the same.
    lengths : ndarray of shape (L,)
        Sequence lengths ``T >= 1``.
    hidden_size, input_size, batch : int
    activation : str
        Vanilla RNN only.
    forget_bias : float
        Added to the LSTM forget gate (Gers et al. 2000); 1 keeps the constant
        error carousel open (Hochreiter & Schmidhuber 1997).
    input_scale : float
        Standard deviation of the random inputs.
    seed : int
        Seeds the inputs, the weights and the probe direction.
    init_options : dict, optional
        The cell's own init options (``Cell.init_options``: the LRU's ``r_min``, ``r_max``, ``max_phase``).

    Returns
    -------
    ndarray of shape (R, L)
        ``log10(||dL/dh_0|| / ||dL/dh_{T-1}||)``: below 0 vanishing, above 0 exploding;
        -inf where it underflowed to 0, nan where it overflowed.
    """
    radii, lengths = v.check_vector("radii", radii, 0.0), v.check_int_vector("lengths", lengths, 1)
    spec = RNNSpec(cell, input_size, hidden_size, 1, activation)
    batch, seed = v.check_positive_int("batch", batch), v.check_int("seed", seed, 0)
    forget_bias, input_scale = (
        v.check_number("forget_bias", forget_bias),
        v.check_number("input_scale", input_scale, 0.0),
    )
    _check_sweep_budget(spec, radii.size, lengths, batch)
    steps = CELLS[cell]
    rng = np.random.default_rng(seed)
    T_max = int(lengths.max())
    x = input_scale * rng.standard_normal((T_max, batch, input_size))
    probe = rng.standard_normal((batch, hidden_size))
    probe /= np.linalg.norm(probe)
    params, xw = _stacked(spec, radii, x, seed, forget_bias, init_options or {})
    R = radii.size
    with np.errstate(all="ignore"):
        state = tuple(np.zeros((R, batch, steps.tape[part] * hidden_size)) for part in steps.state_parts)
        caches = []
        for t in range(T_max):
            state, cache = steps.forward_step(params, xw[t], state, activation)
            caches.append(cache)
        order = np.argsort(lengths, kind="stable")
        ends = lengths[order] - 1  # sorted last steps: at step k the live lengths are a suffix
        adj = [np.zeros((lengths.size, *part.shape)) for part in state]  # (L, R, B, w*H)
        for k in reversed(range(T_max)):
            first = np.searchsorted(ends, k)
            adj[0][first:][ends[first:] == k] = probe  # each length's loss enters at its last step
            if k > 0 and first < lengths.size:
                back = steps.backward_step(params, tuple(a[first:] for a in adj), caches[k])[0]
                for a, b in zip(adj, back):
                    a[first:] = b
        norms = np.empty((lengths.size, R))
        norms[order] = np.linalg.norm(steps.hidden_grad(params, adj).reshape(lengths.size, R, -1), axis=2)
        seeds = (np.broadcast_to(probe, state[0].shape), *(np.zeros_like(part) for part in state[1:]))
        start = np.linalg.norm(steps.hidden_grad(params, seeds).reshape(R, -1), axis=1)  # 1 where h is the state
        return np.log10(norms / start).T


def _stacked(
    spec: RNNSpec, radii: np.ndarray, x: np.ndarray, seed: int, forget_bias: float, options: dict
) -> tuple[dict, np.ndarray]:
    """One weight set per radius stacked on a leading axis (vectors as (R, 1, n), to broadcast over the batch),
    and the input projections ``xw`` (T, R, B, width*H)."""
    cell = CELLS[spec.cell]
    preset = {"init": "spectral", "forget_bias": forget_bias, **options}
    sets = [init_params(spec, seed=seed, scale=rho, **preset) for rho in radii]
    layers = [layer_params(p) for p in sets]
    params = {k: np.stack([p[k] for p in layers]) for k in layers[0]}
    params = {k: v[:, None] if v.ndim == 2 else v for k, v in params.items()}
    w1 = np.stack([cell.projection(p) for p in layers])  # (R, I + 1, width*H)
    xw = x[:, None] @ w1[:, :-1] + w1[:, -1][:, None, :]
    return params, xw


def _check_sweep_budget(spec: RNNSpec, R: int, lengths: np.ndarray, batch: int) -> None:
    """Refuse a sweep whose weight sets, caches (every step of every radius) or work exceed the budgets,
    before it runs."""
    cell = CELLS[spec.cell]
    T, B, H = int(lengths.max()), R * batch, spec.hidden_size
    GH, W = cell.width * H, cell.state_width * H
    tape = array_bytes(T, B, cell.tape_width * H + W + GH)  # caches (with the states entering) and projections
    sets = array_bytes(R, spec.n_params()) + array_bytes(T, batch, spec.input_size)
    needed = tape + sets + budget.unroll_bytes(spec, T, 1, 0) + array_bytes(lengths.size, B, W)
    work = T * (budget.step_cost(B, GH, spec.input_size + H) + 2 * budget.step_cost(lengths.size * B, GH, W))
    budget.check_analysis(needed, work, "this radius x length sweep", None, per_call=False)
