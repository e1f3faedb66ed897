"""The phase diagram of vanishing and exploding gradients.

For each weight scale (spectral radius ``rho`` of every ``W_hh`` gate block) and
sequence length ``T``: ``log10 ||dL/dh_0|| / ||dL/dh_{T-1}||`` for a loss at the
last step only. One forward pass per ``rho`` serves every ``T``: the adjoints of
all lengths travel back together, stacked on a leading axis (batched adjoints),
and all radii run at once as a stack of weight sets that the cells broadcast over.
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
) -> np.ndarray:
    """log10 of the end-to-start gradient ratio over a grid of radius x length.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    radii : ndarray of shape (R,)
        Spectral radius of each ``W_hh`` block (``init="spectral"``).
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
    # one weight set per radius, stacked on a leading axis: the cells broadcast over it
    sets = [init_params(spec, seed=seed, init="spectral", scale=rho, forget_bias=forget_bias) for rho in radii]
    params = {k: np.stack([layer_params(p)[k] for p in sets]) for k in layer_params(sets[0])}
    xw = x[:, None] @ params["weight_ih"].mT + steps.input_bias(params)[:, None, :]  # (T, R, B, G*H)
    params["bias_hh"] = params["bias_hh"][:, None, :]  # (R, 1, G*H) against states (R, B, H)
    R, n_parts = radii.size, 2 if spec.has_cell_state else 1
    with np.errstate(all="ignore"):
        state = tuple(np.zeros((R, batch, hidden_size)) for _ in range(n_parts))
        caches = []
        for t in range(T_max):
            state, cache = steps.forward_step(params, xw[t], state, activation)
            caches.append(cache)
        order = np.argsort(lengths, kind="stable")
        ends = lengths[order] - 1  # sorted last steps: at step k the live lengths are a suffix
        adj = [np.zeros((lengths.size, R, batch, hidden_size)) for _ in range(n_parts)]  # (L, R, B, H)
        for k in reversed(range(T_max)):
            first = np.searchsorted(ends, k)
            adj[0][first:][ends[first:] == k] = probe  # each length's loss enters at its last step
            if k > 0 and first < lengths.size:
                back = steps.backward_step(params, tuple(a[first:] for a in adj), caches[k])[0]
                for a, b in zip(adj, back):
                    a[first:] = b
        norms = np.empty((lengths.size, R))
        norms[order] = np.linalg.norm(adj[0].reshape(lengths.size, R, -1), axis=2)
        return np.log10(norms).T


def _check_sweep_budget(spec: RNNSpec, R: int, lengths: np.ndarray, batch: int) -> None:
    """Refuse a sweep whose caches (every step of every radius) or work exceed the budgets, before it runs."""
    T, B, H, GH = int(lengths.max()), R * batch, spec.hidden_size, spec.gates * spec.hidden_size
    tape = array_bytes(T, B, (CELLS[spec.cell].tape_width + spec.state_parts) * H + GH)  # caches and projections
    needed = tape + budget.unroll_bytes(spec, T, 1, 0) + array_bytes(lengths.size, B, spec.state_parts * H)
    work = T * (budget.step_cost(B, GH, spec.input_size + H) + 2 * budget.step_cost(lengths.size * B, GH, H))
    budget.check_analysis(needed, work, "this radius x length sweep", None, per_call=False)
