"""Step Jacobians ``d s_t / d s_{t-1}`` and their products over lags.

The state ``s_t`` is the cell's ``jacobian_parts``: ``h_t`` (rnn, gru, mingru), ``[h_t, c_t]``
(lstm, S = 2H) or the LRU's complex state ``x_t`` as ``[Re x_t, Im x_t]`` (S = 2H). Local
Jacobians are read off the cells' own ``backward_step``: pushing the rows of the
identity through it returns the rows of ``J_t`` (a vector-Jacobian product per
row), so no derivative formula is written twice.

For the vanilla RNN, ``J_t = diag(phi'(z_t)) W_hh`` (Pascanu, Mikolov & Bengio 2013).
Products ``d h_t / d h_k = J_t ... J_{k+1}`` are accumulated with renormalisation,
so their norms are returned as log10 and stay finite when the values overflow.

The same batched call returns the step's Jacobians with respect to its pre-activations, from which
those with respect to its parameters (the cell's ``parameter_factors``, :func:`parameter_jacobian`) and
its input (the cell's projection, :func:`input_jacobian`) follow: the influence matrices of the online
methods (:mod:`bptt_core.online`) are built from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import inputs, prepare
from ..cells import CELLS, Cell
from ..limits import array_bytes, check, memory_limit
from ..spec import RNNSpec, check_spec, layer_params
from ..unroll import layer_inputs, unroll
from ..workspace import matmul


def iter_local_jacobians(
    spec: RNNSpec,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    layer: int = 0,
    direction: int = 0,
    memory_budget: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield ``J_t = d s_t / d s_{t-1}`` of shape (B, S, S) for t = 0, 1, ..., T-1 of one layer.

    The arguments are checked (and the budgets) when this is called, not at the first step.

    Parameters
    ----------
    spec, params, memory_budget : as in :func:`bptt_core.bptt`
    x : ndarray of shape (T, B, I)
        The network's inputs (the layers below ``layer`` run first).
    h0, c0 : ndarray of shape (L*D, B, H), optional
    layer, direction : int
        Which layer-direction; the steps are in its own order (T - 1 first for the reverse direction).

    Yields
    ------
    ndarray of shape (B, S, S)
        ``S = spec.jacobian_width``: ``H`` (rnn, gru, mingru), ``2H`` (lstm, state ``[h, c]``; lru,
        ``[Re x, Im x]``).
    """
    return budgeted_jacobians(spec, params, x, h0, c0, layer, direction, memory_budget, "these step Jacobians")


def budgeted_jacobians(
    spec, params, x, h0, c0, layer, direction, memory_budget, what: str, kept: int = 0, work: int = 0
) -> Iterator[np.ndarray]:
    """:func:`iter_local_jacobians` for a caller that also keeps ``kept`` bytes and does ``work`` multiply-adds
    per step (budgeted with the steps themselves)."""
    check_spec(spec)
    layer = v.check_int("layer", layer, 0, spec.num_layers - 1)
    direction = v.check_int("direction", direction, 0, spec.directions - 1)
    memory_budget = v.check_budget("memory_budget", memory_budget)

    def need(T: int, B: int, copies: int) -> None:
        cell, H = CELLS[spec.cell], spec.hidden_size
        S, GH, W = spec.jacobian_width, cell.width * H, cell.state_width * H
        per_step = array_bytes(B, S, S) + array_bytes(S, B, 2 * GH + 4 * W)  # J_t, the VJP's scratch
        needed = copies + budget.unroll_bytes(spec, T, B, layer) + per_step + T * kept
        steps = budget.unroll_work(spec, T, B, layer) + T * (2 * budget.step_cost(S * B, GH, spec.hidden_size) + work)
        budget.check_analysis(needed, steps, budget.sized(what, T, B), memory_budget)

    args = prepare(spec, params, x, None, None, None, h0, c0, "float64", need)
    return _jacobians(spec, args, layer, direction)


def _jacobians(spec: RNNSpec, args, layer: int, direction: int) -> Iterator[np.ndarray]:
    """The steps of :func:`iter_local_jacobians`, from checked arguments."""
    P, x, states = args.P, args.x, args.states
    state = states[layer * spec.directions + direction]
    cell, p = CELLS[spec.cell], layer_params(P, layer, direction)
    seeds, parts = identity_seeds(cell, x.shape[1], spec.hidden_size)
    with np.errstate(all="ignore"):
        inputs = layer_inputs(spec, P, x, states, layer)
        caches, _ = unroll(spec, P, inputs[::-1] if direction else inputs, state, layer, direction)
        for cache in caches:
            yield step_jacobians(cell, p, cache, seeds, parts=parts)[0]


def identity_seeds(
    cell: Cell, B: int, H: int, dtype: type = np.float64, extra: tuple[str, ...] = ()
) -> tuple[tuple[np.ndarray, ...], list[int]]:
    """The rows of the ``K x K`` identity over the cell's Jacobian parts (``S`` wide) and then the state parts
    ``extra`` that are not among them, as a gradient of every state part (zero on the parts left out), and the
    indices of the Jacobian parts.

    ``extra=("h",)`` adds the rows of the layer's output where it is not a Jacobian part (the LRU's ``y``): the
    step's Jacobians of its output, which a layer above reads.

    Returns
    -------
    seeds : tuple of ndarray of shape (K, B, w*H)
        ``seeds[p][j]`` is part p of row j, for every batch element; read-only broadcast views of one
        identity (nothing of size K x B x w*H is allocated for a part).
    parts : list of int
        The positions of :attr:`Cell.jacobian_parts` among :attr:`Cell.state_parts` (the Jacobians' columns).
    """
    rows = cell.jacobian_parts + tuple(p for p in extra if p not in cell.jacobian_parts)
    K = cell.part_width(rows) * H
    eye, seeds = np.eye(K, dtype=dtype), []
    for part in cell.state_parts:
        w = cell.tape[part] * H
        if part in rows:
            col = cell.part_width(rows[: rows.index(part)]) * H
            seeds.append(np.broadcast_to(eye[:, None, col : col + w], (K, B, w)))
        else:
            seeds.append(np.broadcast_to(np.zeros((1, 1, w), dtype), (K, B, w)))
    return tuple(seeds), [i for i, part in enumerate(cell.state_parts) if part in cell.jacobian_parts]


def state_gradient(cell: Cell, given: dict[str, np.ndarray], K: int, B: int, H: int, dtype) -> tuple[np.ndarray, ...]:
    """K adjoints of every state part, the arrays ``given`` (K, B, w*H) by part name and zero on the others
    (read-only broadcast views): the ``d_state`` of a batched ``backward_step``."""
    zero = np.zeros((1, 1, 1), dtype)
    return tuple(
        given[part] if part in given else np.broadcast_to(zero, (K, B, cell.tape[part] * H))
        for part in cell.state_parts
    )


def part_columns(cell: Cell, H: int) -> dict[str, slice]:
    """Where each Jacobian part sits among the ``S`` columns of the step Jacobians (and the rows of
    :func:`identity_seeds`)."""
    parts, out = cell.jacobian_parts, {}
    for i, part in enumerate(parts):
        col = cell.part_width(parts[:i]) * H
        out[part] = slice(col, col + cell.tape[part] * H)
    return out


def step_jacobians(
    cell: Cell,
    params: dict[str, np.ndarray],
    cache: dict,
    seeds: tuple[np.ndarray, ...],
    out: dict | None = None,
    work=None,
    parts: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step's Jacobians from one batched ``backward_step`` (a vector-Jacobian product per seed row).

    Parameters
    ----------
    cell : Cell
    params : dict of ndarray
        The layer's parameters under the cells' short names.
    cache : dict
        What the cell's ``forward_step`` returned for this step.
    seeds : tuple of ndarray of shape (K, B, H)
        One array per state part: K adjoints of ``s_t`` (:func:`identity_seeds` for all of ``J_t``).
    out : dict of ndarray, optional
        ``"jacobian"`` (B, K, S), ``"d_xw"`` and ``"d_hw"`` (K, B, width*H; ``d_hw`` only where the cell keeps it
        apart, :attr:`~bptt_core.cells.Cell.separate_hw_grad`): where the results go.
    work : Workspace, optional
        The cell's scratch (``out`` is then required).
    parts : list of int, optional
        The state parts the Jacobian covers (every part when None; :func:`identity_seeds` gives them).

    Returns
    -------
    jacobian : ndarray of shape (B, K, S)
        ``seed_k^T d s_t / d s_{t-1}``; with the identity seeds, ``J_t[b, j, k] = d s_t[j] / d s_{t-1}[k]``.
    d_xw, d_hw : ndarray of shape (K, B, width*H)
        ``seed_k^T d s_t / d(xw_t)`` and ``/ d(hw_t)``: the Jacobians with respect to the input and
        recurrent pre-activation terms, from which :func:`parameter_jacobian` and :func:`input_jacobian` follow.
    """
    parts = range(len(seeds)) if parts is None else parts
    K, B = seeds[0].shape[:2]
    S = sum(seeds[q].shape[-1] for q in parts)
    jac = np.empty((B, K, S), seeds[0].dtype) if out is None else out["jacobian"]
    cell_out = None if out is None else {k: out[k] for k in ("d_xw", "d_hw") if k in out}
    rows, d_xw, d_hw = cell.backward_step(params, seeds, cache, out=cell_out, work=work)
    col = 0
    for q in parts:  # part q of every row, (K, B, w*H)
        w = rows[q].shape[-1]
        jac[:, :, col : col + w] = rows[q].transpose(1, 0, 2)
        col += w
    return jac, d_xw, d_hw


def parameter_jacobian(
    factor: tuple[np.ndarray, np.ndarray | None], rows: slice = slice(None), out: np.ndarray | None = None
) -> np.ndarray:
    """The immediate Jacobian of the step's state with respect to rows of one layer parameter.

    Parameters
    ----------
    factor : tuple (a, m)
        The parameter's entry of the cell's :attr:`~bptt_core.cells.Cell.parameter_factors`: ``a`` (K, B, R),
        ``m`` (B, C) or None for a vector.
    rows : slice
        Rows of the parameter (its first axis, of length R).
    out : ndarray of shape (B, K, R', C), optional

    Returns
    -------
    ndarray of shape (B, K, R', C)
        ``seed_k^T d s_t / d param[r, c] = a[k, b, r] m[b, c]`` holding ``s_{t-1}`` fixed; C = 1 for a vector.
    """
    a, m = factor
    d = a[:, :, rows].transpose(1, 0, 2)  # (B, K, R')
    if m is None:
        if out is None:
            return d[..., None].copy()
        out[..., 0] = d
        return out
    # the outer products as a batched matrix product: unlike a broadcast multiply, it takes no
    # iteration buffers, so what is allocated is what a ledger counts
    return np.matmul(d[..., None], m[:, None, None, :], out=out)


def input_jacobian(w1: np.ndarray, d_xw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``seed_k^T d s_t / d x_t`` (K, B, I): the layer's input enters only through its projection
    ``xw_t = [x_t, 1] @ w1`` (:attr:`~bptt_core.cells.Cell.projection`), so it is ``d_xw @ w1[:-1]^T``."""
    return matmul(d_xw, w1[:-1].T, out=out)


def local_jacobians(spec: RNNSpec, params: dict[str, np.ndarray], x: np.ndarray, **states) -> np.ndarray:
    """All step Jacobians at once: ndarray of shape (T, B, S, S) (memory ``T B S^2``, budgeted).

    See :func:`iter_local_jacobians` (same keyword arguments), which streams them instead.
    """
    unknown = set(states) - {"h0", "c0", "layer", "direction", "memory_budget"}
    if unknown:
        raise ValueError(f"local_jacobians takes h0, c0, layer, direction and memory_budget, not {sorted(unknown)}")
    kw = {"h0": None, "c0": None, "layer": 0, "direction": 0, "memory_budget": None} | states
    B, S = inputs(check_spec(spec), x).shape[1], spec.jacobian_width
    steps = budgeted_jacobians(spec, params, x, *kw.values(), "these step Jacobians", kept=2 * array_bytes(B, S, S))
    return np.stack(list(steps))


@dataclass(frozen=True)
class JacobianProducts:
    """Norms of ``d h_t / d h_k`` against the lag ``d = t - k``, from ``k = 0``.

    Attributes
    ----------
    lags : ndarray of shape (L,)
        The lags evaluated (all of ``0, 1, ..., T-1`` unless thinned).
    log10_spectral, log10_frobenius : ndarray of shape (B, L)
        log10 of the spectral and Frobenius norms of the h-block of the product,
        per batch element (finite even where the norm itself overflows float64).
    log10_spectral_mean, log10_frobenius_mean : ndarray of shape (L,)
        log10 of the batch mean of each norm.
    step_singular_values : ndarray of shape (L, B, S)
        Singular values of the local Jacobian ``J_t`` at each evaluated lag t, largest first.
    """

    lags: np.ndarray
    log10_spectral: np.ndarray
    log10_frobenius: np.ndarray
    log10_spectral_mean: np.ndarray
    log10_frobenius_mean: np.ndarray
    step_singular_values: np.ndarray


def _log10_mean(log10_values: np.ndarray) -> np.ndarray:
    """log10 of the mean over axis 0 of ``10**log10_values``, without overflow (-inf for zeros)."""
    with np.errstate(all="ignore"):
        top = np.max(log10_values, axis=0)
        finite_top = np.where(np.isfinite(top), top, 0.0)
        return finite_top + np.log10(np.mean(10.0 ** (log10_values - finite_top), axis=0))


def jacobian_products(
    jacobians: Iterable[np.ndarray], hidden_size: int, max_points: int | None = None, steps: int | None = None
) -> JacobianProducts:
    """Accumulate ``P_t = J_t P_{t-1}`` (``P_0 = I``) and report the norms of its h-block.

    Parameters
    ----------
    jacobians : iterable of ndarray of shape (B, S, S)
        ``J_0, J_1, ...`` as from :func:`iter_local_jacobians` (or an array (T, B, S, S));
        ``J_0`` (the step out of the initial state) is not used.
    hidden_size : int
        The size of the h-block ``P[:H, :H]``: ``spec.hidden_width`` (``H``; ``2H`` for the LRU, whose
        whole complex state is the block).
    max_points : int, optional
        Evaluate the norms (an SVD each) at most at this many lags, evenly spread;
        every lag when None.
    steps : int, optional
        The number of Jacobians, when ``jacobians`` is a generator: they are then streamed (one
        step in memory at a time) rather than listed.

    Returns
    -------
    JacobianProducts
        ``lags`` lists the lags evaluated.
    """
    H = v.check_positive_int("hidden_size", hidden_size)
    max_points = v.check_positive_int("max_points", max_points, allow_none=True)
    steps = v.check_positive_int("steps", steps, allow_none=True)
    jacobians = listed_steps(jacobians) if steps is None else step_iterator(jacobians)
    T = len(jacobians) if steps is None else steps
    lags = (
        np.arange(T)
        if max_points is None or max_points >= T
        else np.unique(np.linspace(0, T - 1, max_points).round().astype(int))
    )
    wanted = np.zeros(T, dtype=bool)
    wanted[lags] = True
    spec_log, frob_log, step_sv, prod = [], [], [], None
    with np.errstate(all="ignore"):
        for t, J in enumerate(jacobians):
            if t >= T:
                raise ValueError(f"jacobians holds more than steps = {T} Jacobians")
            J = check_step_jacobian(J, t, None if prod is None else prod.shape, H)
            if prod is None:
                B, S = J.shape[:2]
                prod = np.broadcast_to(np.eye(S), (B, S, S)).copy()
                log_scale = np.zeros(B)  # the true product is prod * 10**log_scale
            if t > 0:
                prod = J @ prod
                size = np.max(np.abs(prod), axis=(1, 2))
                size = np.where(np.isfinite(size) & (size > 0), size, 1.0)
                prod /= size[:, None, None]
                log_scale += np.log10(size)
            if not wanted[t]:
                continue
            spec_log.append(_log10_top_singular(prod[:, :H, :H]) + log_scale)
            frob_log.append(np.log10(np.linalg.norm(prod[:, :H, :H], axis=(1, 2))) + log_scale)
            step_sv.append(_singular_values(J))
    if len(spec_log) < lags.size:
        raise ValueError(f"jacobians held fewer Jacobians than steps = {T}")
    spec_log, frob_log = np.array(spec_log).T, np.array(frob_log).T
    return JacobianProducts(
        lags=lags,
        log10_spectral=spec_log,
        log10_frobenius=frob_log,
        log10_spectral_mean=_log10_mean(spec_log),
        log10_frobenius_mean=_log10_mean(frob_log),
        step_singular_values=np.array(step_sv),
    )


#: State sizes S a step Jacobian may have, in units of H: the registered cells' Jacobian widths.
JACOBIAN_WIDTHS = sorted({cell.part_width(cell.jacobian_parts) for cell in CELLS.values()})


def step_iterator(jacobians: object) -> Iterator:
    """An iterator over ``jacobians`` (a ValueError for something that cannot be iterated)."""
    try:
        return iter(jacobians)
    except TypeError:
        raise ValueError(
            f"jacobians must be an iterable of (B, S, S) arrays or an array (T, B, S, S), got {v.show(jacobians)}"
        ) from None


def listed_steps(jacobians: object) -> np.ndarray | list:
    """``jacobians`` as a list (an array as it is), non-empty, refused once it holds more than the memory budget
    (then stream it: give ``steps``)."""
    if isinstance(jacobians, np.ndarray):
        out = jacobians
    else:
        out, held, limit = [], 0, memory_limit()
        for J in step_iterator(jacobians):
            out.append(J)
            held += J.nbytes if isinstance(J, np.ndarray) else 0
            if held > limit:
                check(held, "listing these Jacobians", "pass steps=T to stream them instead", per_call=False)
    if len(out) == 0:
        raise ValueError("jacobians must hold at least one step Jacobian, got none")
    return out


def check_step_jacobian(J: object, t: int, shape: tuple | None, hidden_size: int | None = None) -> np.ndarray:
    """Step ``t``'s Jacobian: a real (B, S, S) array of the first one's ``shape`` (S = H or 2H when
    ``hidden_size`` is given). Non-finite entries are allowed: they are results, reported as nan."""
    arr = v.as_array(f"jacobians[{t}]", J)
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise ValueError(f"jacobians[{t}] has shape {arr.shape}, expected (B, S, S): a square Jacobian per sequence")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"jacobians[{t}] has shape {arr.shape}, unlike the first step's {shape}")
    if hidden_size is not None and arr.shape[1] not in [hidden_size * w for w in JACOBIAN_WIDTHS]:
        raise ValueError(
            f"hidden_size = {hidden_size} does not match the Jacobians' state size S = {arr.shape[1]} "
            f"(S is H, or 2H for the LSTM's [h, c] and the LRU's complex x)"
        )
    return arr


def _singular_values(m: np.ndarray) -> np.ndarray:
    """Singular values (B, S) of a stack (B, S, S); nan rows where the matrix is not finite."""
    ok = np.all(np.isfinite(m), axis=(1, 2))
    out = np.full(m.shape[:2], np.nan)
    if ok.any():
        out[ok] = np.linalg.svd(m[ok], compute_uv=False)
    return out


def _log10_top_singular(m: np.ndarray) -> np.ndarray:
    """log10 of the largest singular value of each matrix in a stack (B, H, H)."""
    return np.log10(_singular_values(m)[:, 0])
