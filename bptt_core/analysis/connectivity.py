"""How strongly one read-out depends on every earlier state and input: ``||d yhat_t / d h_k||`` and
``||d yhat_t / d x_k||``.

Distill's "Visualizing memorization in RNNs" (Madsen 2019) shades each input character by the second
norm. Here both are exact for any network (stacks and both directions included): the batch is
repeated once per output component ``o`` and the engine's own backward pass runs with the loss
gradient ``e_o`` at step t of copy o and 0 everywhere else, so one call returns every row of the
Jacobians ``d yhat_t / d h_k`` and ``d yhat_t / d x_k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import inputs, prepare
from ..bptt import bptt
from ..losses import token_loss_and_grad
from ..norms import scaled_norm
from ..spec import RNNSpec, check_spec


@dataclass(frozen=True)
class OutputSensitivity:
    """Norms of the read-out's Jacobians, Frobenius over output components, batch and units.

    Attributes
    ----------
    steps : ndarray of shape (B,) of int
        The read-out step t of each sequence.
    dh : ndarray of shape (L, D, T)
        ``||d yhat_t / d h_k^{(l, d)}||`` for every layer l, direction d and step k.
    dx : ndarray of shape (T,)
        ``||d yhat_t / d x_k||`` for every input step k.
    """

    steps: np.ndarray
    dh: np.ndarray
    dx: np.ndarray


def output_sensitivity(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    t: int | None = None,
    mask: np.ndarray | None = None,
    *,
    dtype: str = "float64",
    memory_budget: int | None = None,
) -> OutputSensitivity:
    """How the read-out at step ``t`` of each sequence depends on every state and input.

    Parameters
    ----------
    spec, params, mask, dtype, memory_budget : as in :func:`bptt_core.bptt`
    x : ndarray of shape (T, B, I)
    t : int, optional
        The read-out step, ``0 <= t < T``; by default each sequence's last valid step (the mask's).

    Returns
    -------
    OutputSensitivity
        The cost is one BPTT call on ``O * B`` sequences.
    """
    memory_budget = v.check_budget("memory_budget", memory_budget)

    def need(T: int, B: int, copies: int) -> None:
        if t is not None:
            v.check_int("t", t, 0, T - 1)
        OB, dt = spec.output_size * B, v.check_dtype(dtype)
        tiles = budget.array_bytes(T, OB, spec.input_size + 1 + 3 * spec.output_size)  # x, mask, targets, seed
        run = budget.bptt_bytes(spec, T, OB, dtype=np.dtype(dt).name, input_grad=True)
        work = 2 * budget.bptt_work(spec, T, OB)
        budget.check_analysis(copies + tiles + run, work, budget.sized("this output sensitivity", T, B), memory_budget)

    args = prepare(spec, params, x, None, None, mask, None, None, dtype, need)
    x, mask = args.x, args.mask
    T, B, O = x.shape[0], x.shape[1], spec.output_size
    steps = np.full(B, t) if t is not None else np.maximum(T - 1 - np.argmax(mask[::-1] > 0, axis=0), 0)
    x_rep, mask_rep = np.tile(x, (1, O, 1)), np.tile(mask, (1, O))  # copy o of sequence b is o * B + b
    run = {"loss": "mse", "reduction": "sum", "mask": mask_rep, "dtype": dtype, "memory_budget": memory_budget}
    yhat = bptt(spec, params, x_rep, np.zeros((T, O * B, O)), **run).yhat.astype(np.float64)
    _, unit = token_loss_and_grad("mse", np.ones((1, O)), np.zeros((1, O)))  # dl/dyhat per unit error
    seed = np.zeros((T, O * B, O))
    seed[np.tile(steps, O), np.arange(O * B), np.repeat(np.arange(O), B)] = O * B / unit[0, 0]  # weight 1 / (O B)
    res = bptt(spec, params, x_rep, yhat - seed, **run, input_grad=True)
    dh, dx = scaled_norm(res.dh_layers, axis=(3, 4)), scaled_norm(res.dx, axis=(1, 2))
    return OutputSensitivity(steps=steps, dh=dh, dx=dx)


def input_connectivity(
    spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, t: int, *, dtype: str = "float64"
) -> np.ndarray:
    """``C[k] = ||d yhat_t / d x_k||_F`` for k = 0 .. T-1, of the first sequence.

    Parameters
    ----------
    spec, params : as in :func:`bptt_core.bptt`
        Any network; a unidirectional one has ``C[k] = 0`` for k > t.
    x : ndarray of shape (T, B, I)
        Only the first sequence is read.
    t : int
        The output step, ``0 <= t < T``.

    Returns
    -------
    ndarray of shape (T,)
    """
    x = v.check_finite("x", inputs(check_spec(spec), x))  # all of it: a NaN in a sequence not read is still one
    if t is None:
        raise ValueError("t must be an integer in [0, T), got None (the output step to read)")
    return output_sensitivity(spec, params, x[:, :1], t, dtype=dtype).dx
