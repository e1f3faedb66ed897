"""How much of the true gradient truncated BPTT keeps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import budget
from .. import validate as v
from ..arguments import check_checkpoint, inputs
from ..bptt import bptt
from ..norms import scaled_norm
from ..result import flatten_grads
from ..spec import RNNSpec, check_spec


def compare_gradients(estimate: np.ndarray, full: np.ndarray) -> tuple[float, float]:
    """Relative error ``||estimate - full|| / ||full||`` and cosine similarity of two flat gradients
    (nan where they overflowed)."""
    with np.errstate(all="ignore"):
        return _compare_finite(estimate, full)


def _compare_finite(estimate: np.ndarray, full: np.ndarray) -> tuple[float, float]:
    norm, est_norm = scaled_norm(full), scaled_norm(estimate)
    rel = scaled_norm(estimate - full) / norm if norm > 0 else est_norm
    cos = float((estimate / est_norm) @ (full / norm)) if est_norm > 0 and norm > 0 else float("nan")
    return float(rel), cos


@dataclass(frozen=True)
class TruncationStudy:
    """Truncated against full gradients.

    Attributes
    ----------
    ks : ndarray of shape (K,)
    relative_error, cosine : ndarray of shape (K,)
        ``||g_k - g|| / ||g||`` and ``cos(g_k, g)`` over all parameters.
    """

    ks: np.ndarray
    relative_error: np.ndarray
    cosine: np.ndarray


def truncation_study(spec, params, x, y, ks, **bptt_kwargs) -> TruncationStudy:
    """Compare ``truncation=k`` with full BPTT for each ``k`` (Williams & Peng 1990).

    Parameters
    ----------
    spec, params, x, y : as in :func:`bptt_core.bptt`
    ks : sequence of int
        Truncation lengths >= 1.
    **bptt_kwargs
        Other :func:`bptt_core.bptt` options (loss, reduction, mask, ...).

    Returns
    -------
    TruncationStudy
    """
    ks = v.check_int_vector("ks", ks, 1, allow_empty=True)
    _check_study(spec, x, bptt_kwargs, ("truncation",), calls=ks.size + 1, kept=2)
    full = flatten_grads(bptt(spec, params, x, y, **bptt_kwargs).grads)
    rows = [
        compare_gradients(flatten_grads(bptt(spec, params, x, y, truncation=int(k), **bptt_kwargs).grads), full)
        for k in ks
    ]
    rel, cos = np.array(rows).T if rows else (np.empty(0), np.empty(0))
    return TruncationStudy(ks, rel, cos)


def _check_study(spec: RNNSpec, x: object, bptt_kwargs: dict, owned: tuple, calls: int, kept: int) -> None:
    """Refuse a study that sets what it varies through ``bptt_kwargs``, or whose ``calls`` BPTT runs (and
    ``kept`` flat gradients) exceed the work or memory budget, before the first run."""
    for name in owned:
        if name in bptt_kwargs:
            raise ValueError(f"{name} is what this study varies; leave it out of the bptt options")
    T, B, _ = inputs(check_spec(spec), x).shape
    checkpoint = check_checkpoint(bptt_kwargs.get("checkpoint"))
    mode = {
        "checkpoint": checkpoint,
        "slots": v.check_positive_int("checkpoint_slots", bptt_kwargs.get("checkpoint_slots"), allow_none=True),
    }
    needed = budget.bptt_bytes(spec, T, B, **mode) + budget.array_bytes(kept, spec.n_params())
    what, memory_budget = (
        f"this study ({calls} BPTT runs)",
        v.check_budget("memory_budget", bptt_kwargs.get("memory_budget")),
    )
    budget.check(needed, what, "ask for fewer runs or a smaller network", memory_budget)
    budget.check_work(calls * budget.bptt_work(spec, T, B, **mode), what, "ask for fewer runs or shorten T")


@dataclass(frozen=True)
class RandomTruncationStudy:
    """Bias and variance of randomized truncation (Tallec & Ollivier 2017).

    Attributes
    ----------
    probabilities : ndarray of shape (P,)
        Cut probability of each link.
    relative_bias : ndarray of shape (P,)
        ``||mean(g_i) - g|| / ||g||`` over the draws (shrinks like 1/sqrt(n) if unbiased).
    relative_variance : ndarray of shape (P,)
        ``mean ||g_i - mean(g_i)||^2 / ||g||^2``.
    standard_error : ndarray of shape (P,)
        ``sqrt(relative_variance / n)``: the bias expected from sampling alone.
    """

    probabilities: np.ndarray
    relative_bias: np.ndarray
    relative_variance: np.ndarray
    standard_error: np.ndarray


def random_truncation_study(
    spec, params, x, y, probabilities, n_draws: int = 200, seed: int = 0, **bptt_kwargs
) -> RandomTruncationStudy:
    """Draw ``n_draws`` randomized-truncation gradients per cut probability.

    Parameters
    ----------
    spec, params, x, y : as in :func:`bptt_core.bptt`
    probabilities : sequence of float in [0, 1)
    n_draws : int
    seed : int
        Draw i of every probability uses seed ``seed + i``.

    Returns
    -------
    RandomTruncationStudy
    """
    n_draws, seed = v.check_int("n_draws", n_draws, 2), v.check_int("seed", seed, 0)
    probabilities = v.check_vector("probabilities", probabilities, 0.0, 1.0, hi_open=True)
    owned = ("random_truncation", "seed")
    _check_study(spec, x, bptt_kwargs, owned, calls=1 + probabilities.size * n_draws, kept=2 * n_draws + 2)
    full = flatten_grads(bptt(spec, params, x, y, **bptt_kwargs).grads)
    scale = max(float(full @ full), 1e-300)
    bias, var = [], []
    for p in probabilities:
        draws = np.stack(
            [
                flatten_grads(bptt(spec, params, x, y, random_truncation=float(p), seed=seed + i, **bptt_kwargs).grads)
                for i in range(n_draws)
            ]
        )
        mean = draws.mean(axis=0)
        bias.append(np.linalg.norm(mean - full) / np.sqrt(scale))
        var.append(np.mean(np.sum((draws - mean) ** 2, axis=1)) / scale)
    var = np.array(var)
    return RandomTruncationStudy(probabilities, np.array(bias), var, np.sqrt(var / n_draws))
