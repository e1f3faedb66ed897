"""Gradients through a sampling node: REINFORCE, straight-through and Gumbel-softmax.

The small model: logits ``theta`` -> probabilities ``p`` -> a sample ``z`` ->
an objective ``f(z)``. We want ``d/dtheta E_z[f(z)]``, which sampling blocks.

* Bernoulli: ``p = sigmoid(theta)``, ``f(z) = (z - target)^2``;
  exact gradient ``p (1 - p) (f(1) - f(0))``.
* Categorical: ``p = softmax(theta)``, ``f(z) = ||onehot(z) - target||^2``;
  exact gradient ``p * (f - p . f)`` with ``f_k = f(k)``.

The Bernoulli objective is ``(z - t)^2`` (not ``||onehot(z) - [1 - t, t]||^2``, which is twice it): the
two-class form below carries a factor 1/2 so both describe the same ``f``.

Estimators (each returns one estimate per sample):

* REINFORCE / score function (Williams 1992): ``(f(z) - b) d log p(z) / d theta``,
  unbiased; ``b`` is a leave-one-out mean baseline (still unbiased, lower variance).
* Straight-through (Bengio, Leonard & Courville 2013): forward the hard sample,
  backward as if ``z`` were ``p``: ``f'(z) dp/dtheta``; biased for nonlinear ``f``.
* Gumbel-softmax / concrete (Jang et al. 2016; Maddison et al. 2016): the relaxed
  sample ``y = softmax((theta + g) / tau)``, ``g`` Gumbel noise, differentiated
  exactly: ``f'(y) dy/dtheta``. Bias shrinks as ``tau -> 0`` while variance grows.
"""

from __future__ import annotations

import numpy as np

from .. import limits
from .. import validate as v
from ..limits import array_bytes

ESTIMATORS = ("reinforce", "reinforce_baseline", "straight_through", "gumbel_softmax")
KINDS = ("bernoulli", "categorical")
#: Arrays of n x K numbers one call of :func:`estimates` holds at once (samples, noise, one-hots, gradients).
SAMPLE_COPIES = 8


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _as_logits(kind: str, theta: np.ndarray | float) -> np.ndarray:
    """Bernoulli as the 2-class categorical with logits [0, theta] (so p(1) = sigmoid(theta))."""
    v.check_choice("kind", kind, KINDS)
    if kind == "bernoulli":
        return np.array([0.0, v.check_number("theta", theta)])
    logits = v.check_array("theta", theta, (None,), np.float64)
    if logits.size < 2:
        raise ValueError(f"theta must hold at least 2 logits for a categorical, got {logits.size}")
    return logits


def _target(kind: str, target: np.ndarray | float, K: int) -> np.ndarray:
    if kind == "bernoulli":
        t = v.check_number("target", target)
        return np.array([1.0 - t, t])  # f(z) = (z - t)^2 = ||onehot(z) - [1-t, t]||^2 / 2
    return v.check_array("target", target, (K,), np.float64)


def _f(y: np.ndarray, tgt: np.ndarray, kind: str) -> np.ndarray:
    """Objective of a (relaxed) one-hot ``y`` (..., K)."""
    scale = 0.5 if kind == "bernoulli" else 1.0
    return scale * np.sum((y - tgt) ** 2, axis=-1)


def _df_dy(y: np.ndarray, tgt: np.ndarray, kind: str) -> np.ndarray:
    """Derivative of :func:`_f` with respect to the (relaxed) one-hot ``y`` (..., K)."""
    return 2 * (y - tgt) * (0.5 if kind == "bernoulli" else 1.0)


def _straight_through(onehot: np.ndarray, p: np.ndarray, tgt: np.ndarray, kind: str) -> np.ndarray:
    """``f'(z) dp/dtheta`` for hard samples ``onehot`` (n, K): the backward pass pretends ``z`` was ``p``."""
    jac = np.diag(p) - np.outer(p, p)  # d softmax / d logits, symmetric
    return _grad_theta(kind, _df_dy(onehot, tgt, kind) @ jac)


def _grad_theta(kind: str, g_logits: np.ndarray) -> np.ndarray:
    """Map a gradient w.r.t. the K logits to the parameters (theta for Bernoulli is the logit of class 1)."""
    return g_logits[..., 1:2] if kind == "bernoulli" else g_logits


def probabilities(kind: str, theta: np.ndarray | float) -> np.ndarray:
    """The probabilities of the K outcomes, shape (K,) (Bernoulli: ``[1 - p, p]``)."""
    return _softmax(_as_logits(kind, theta))


def exact_gradient(kind: str, theta: np.ndarray | float, target: np.ndarray | float) -> np.ndarray:
    """``d/dtheta E_z[f(z)]``, summing over the outcomes."""
    logits = _as_logits(kind, theta)
    K = logits.size
    p, tgt = _softmax(logits), _target(kind, target, K)
    f = _f(np.eye(K), tgt, kind)
    return _grad_theta(kind, p * (f - p @ f))


def estimates(
    name: str,
    kind: str,
    theta: np.ndarray | float,
    target: np.ndarray | float,
    n: int,
    rng: np.random.Generator,
    tau: float = 0.5,
) -> np.ndarray:
    """``n`` independent gradient estimates, shape (n, dim) (dim 1 for Bernoulli, K for categorical)."""
    v.check_choice("name", name, ESTIMATORS)
    n, rng = v.check_int("n", n, 2), v.check_generator("rng", rng)
    tau = v.check_number("tau", tau, 0.0, lo_open=True)
    logits = _as_logits(kind, theta)
    K = logits.size
    limits.check(SAMPLE_COPIES * array_bytes(n, K), f"{n} estimates", "lower n", per_call=False)
    p, tgt = _softmax(logits), _target(kind, target, K)
    gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, (n, K))))
    z = np.argmax(logits + gumbel, axis=1)  # exact samples of Cat(p) (Gumbel-max)
    onehot = np.eye(K)[z]
    if name.startswith("reinforce"):
        f = _f(onehot, tgt, kind)
        b = (f.sum() - f) / (n - 1) if name == "reinforce_baseline" else 0.0  # leave-one-out
        return _grad_theta(kind, (f - b)[:, None] * (onehot - p))  # d log p(z) / d logits = onehot - p
    if name == "straight_through":
        return _straight_through(onehot, p, tgt, kind)
    y = _softmax((logits + gumbel) / tau)  # relaxed sample
    df_dy = _df_dy(y, tgt, kind)
    # dy/dlogits = (diag(y) - y y^T) / tau, applied row by row
    g = (df_dy * y - y * np.sum(df_dy * y, axis=1, keepdims=True)) / tau
    return _grad_theta(kind, g)


#: Quadrature grid for the Bernoulli Gumbel-softmax expectation, in units of the relaxed logit: the
#: integrand carries sigmoid'(s) <= exp(-|s|), below 1e-17 beyond |s| = 40.
_QUADRATURE_S = np.linspace(-40.0, 40.0, 16_001)


def expected_estimate(
    name: str, kind: str, theta: np.ndarray | float, target: np.ndarray | float, tau: float = 0.5
) -> np.ndarray:
    """The exact expectation of estimator ``name`` (what infinitely many samples would average to).

    REINFORCE, with or without its leave-one-out baseline, is unbiased: the exact gradient.
    Straight-through sums its estimate over the K outcomes, weighted by their probabilities.
    Gumbel-softmax on a Bernoulli node integrates over the logistic noise ``L = g_1 - g_0``: with
    ``s = (theta + L) / tau`` and ``y = sigmoid(s)``, its expectation is
    ``int 2 (y - t) y (1 - y) rho(tau s - theta) ds`` (``rho`` the logistic density), by the trapezoidal
    rule (exponentially accurate for this smooth, exponentially decaying integrand). A categorical
    Gumbel-softmax needs a (K-1)-dimensional integral and is refused (ValueError).

    Returns
    -------
    ndarray of shape (dim,)
        dim 1 for Bernoulli, K for categorical; ``expected_estimate - exact_gradient`` is the bias.
    """
    if name not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {name!r}")
    logits = _as_logits(kind, theta)
    K = logits.size
    p, tgt = _softmax(logits), _target(kind, target, K)
    if name.startswith("reinforce"):
        return exact_gradient(kind, theta, target)
    if name == "straight_through":
        return p @ _straight_through(np.eye(K), p, tgt, kind)
    if kind != "bernoulli":
        raise ValueError("kind must be 'bernoulli' for the exact Gumbel-softmax expectation")
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
    y = 1.0 / (1.0 + np.exp(-_QUADRATURE_S))
    noise = 1.0 / (1.0 + np.exp(-(tau * _QUADRATURE_S - logits[1])))
    integrand = 2 * (y - tgt[1]) * y * (1 - y) * noise * (1 - noise)
    step = _QUADRATURE_S[1] - _QUADRATURE_S[0]
    return np.array([step * (integrand.sum() - 0.5 * (integrand[0] + integrand[-1]))])


def estimator_study(kind: str, theta, target, taus: np.ndarray, n: int = 2000, seed: int = 0) -> dict:
    """Bias and variance of every estimator against the exact gradient.

    Returns
    -------
    dict
        ``exact`` (dim,), and per estimator ``bias`` and ``variance`` arrays of shape
        (len(taus),) (norm of mean minus exact; mean squared deviation from the mean) and
        ``standard_error``, ``sqrt(variance / n)``: the root-mean-square norm of the sampling error of
        the mean, the size a zero bias is measured at. Only Gumbel-softmax depends on tau; the others
        are drawn afresh at each tau (independent replications).
    """
    exact = exact_gradient(kind, theta, target)
    n, seed = v.check_int("n", n, 2), v.check_int("seed", seed, 0)
    taus = v.check_vector("taus", taus, 0.0)
    if taus.min() <= 0:
        raise ValueError(f"taus must be temperatures > 0, got {v.show(taus)}")
    limits.check_work(
        len(ESTIMATORS) * taus.size * n * _as_logits(kind, theta).size * 20, f"{n} samples per tau", "lower n"
    )
    out = {"exact": exact, "taus": taus}
    for name in ESTIMATORS:
        bias, var = [], []
        for i, tau in enumerate(out["taus"]):
            est = estimates(name, kind, theta, target, n, np.random.default_rng(seed + i), tau=float(tau))
            bias.append(np.linalg.norm(est.mean(axis=0) - exact))
            var.append(np.mean(np.sum((est - est.mean(axis=0)) ** 2, axis=1)))
        var = np.array(var)
        out[name] = {"bias": np.array(bias), "variance": var, "standard_error": np.sqrt(var / n)}
    return out
