"""Online gradients (bptt_core.online): RTRL is BPTT, UORO is unbiased, SnAp-1 is exact on diagonal recurrences.

Every test iterates the cell registry, so a new cell is checked without editing this file.
"""

import warnings
from operator import itemgetter
from pathlib import Path

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.jacobians import local_jacobians
from bptt_core.lab.signals import ragged_mask
from bptt_core.online import gradient_statistics, method_table, online_gradient
from bptt_core.online.costs import flop_counts
from bptt_core.result import flatten_grads

from .problems import CELL_ACTIVATIONS

CELLS = list(bc.CELLS)


def network(cell, activation="tanh", *, T=7, B=3, I=3, H=4, O=3, L=1, loss="mse", seed=0, states=True):
    """A seeded problem with a ragged mask and random initial states (so every option is exercised)."""
    spec = bc.RNNSpec(cell, I, H, O, activation, num_layers=L)
    rng = np.random.default_rng(seed)
    params = bc.init_params(spec, seed=seed, init="normal", scale=1.0)
    x = rng.standard_normal((T, B, I))
    y = rng.integers(0, O, (T, B)) if loss == "cross_entropy" else rng.standard_normal((T, B, O))
    kw = {"loss": loss, "mask": ragged_mask(T, B, seed=seed)}
    if states:
        kw["h0"] = rng.standard_normal((L, B, H))
        if spec.has_cell_state:
            kw["c0"] = rng.standard_normal((L, B, H))
    return spec, params, x, y, kw


def relative(a: dict, b: dict) -> float:
    fa, fb = flatten_grads(a), flatten_grads(b)
    return float(np.linalg.norm(fa - fb) / np.linalg.norm(fb))


def diagonalised(params: dict, H: int) -> dict:
    """The same network with every H x H gate block of W_hh diagonal, where there is one: each unit hears only
    its own past (the LRU's and minGRU's recurrences are diagonal already)."""
    out = dict(params)
    for key in [k for k in params if k.startswith("weight_hh")]:
        w = params[key]
        out[key] = (w.reshape(-1, H, H) * np.eye(H)).reshape(w.shape)
    return out


@pytest.mark.parametrize(("cell", "activation"), CELL_ACTIVATIONS)
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_rtrl_equals_bptt_to_1e10_with_masks_and_initial_states(cell, activation, loss, reduction):
    spec, params, x, y, kw = network(cell, activation, loss=loss)
    exact = bc.bptt(spec, params, x, y, reduction=reduction, **kw)
    res = online_gradient(spec, params, x, y, "rtrl", reduction=reduction, **kw)
    assert relative(res.grads, exact.grads) < 1e-10
    assert res.loss == pytest.approx(exact.loss, rel=1e-12)
    assert res.finite and res.method == "rtrl"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [2, 3])
def test_rtrl_equals_bptt_for_stacks(cell, layers):
    """Layer l carries the influence of the parameters of layers 0..l, through its input from below."""
    spec, params, x, y, kw = network(cell, L=layers, seed=layers)
    exact = bc.bptt(spec, params, x, y, reduction="sum", **kw)
    assert relative(online_gradient(spec, params, x, y, "rtrl", reduction="sum", **kw).grads, exact.grads) < 1e-10


@pytest.mark.parametrize("cell", CELLS)
def test_rtrl_at_the_edges_one_step_and_five_hundred_steps(cell):
    for T, B in ((1, 1), (500, 1)):
        spec, params, x, y, kw = network(cell, T=T, B=B, H=3, states=False)
        assert (
            relative(online_gradient(spec, params, x, y, "rtrl", **kw).grads, bc.bptt(spec, params, x, y, **kw).grads)
            < 1e-10
        )


def test_rtrl_in_float32_matches_bptt_in_float32():
    spec, params, x, y, kw = network("lstm")
    exact = bc.bptt(spec, params, x, y, dtype="float32", **kw)
    res = online_gradient(spec, params, x, y, "rtrl", dtype="float32", **kw)
    assert res.grads["weight_hh_l0"].dtype == np.float32
    assert relative(res.grads, exact.grads) < 1e-4


@pytest.mark.parametrize("cell", CELLS)
def test_overflow_is_a_result_not_an_error(cell):
    spec = bc.RNNSpec(cell, 2, 8, 2, "linear" if "linear" in bc.CELLS[cell].activations else "tanh")
    params = bc.init_params(spec, seed=0, init="orthogonal", scale=30.0)
    params["weight_out"] *= 1e300
    x = np.random.default_rng(0).standard_normal((120, 1, 2)) * 1e3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        for method in ("rtrl", "uoro", "snap1"):
            assert not online_gradient(spec, params, x, np.zeros((120, 1, 2)), method, seed=0).finite


@pytest.mark.parametrize("cell", CELLS)
def test_uoro_mean_over_seeds_equals_the_exact_gradient_within_its_standard_error(cell):
    """A z-test per coordinate at a fixed seed set, with a Bonferroni margin (alpha = 1e-3 over all
    coordinates): the randomness is the seeds' signs, so the draws are the same on every CPU up to
    rounding. The same draws are inconsistent with a biased gradient (truncated BPTT), so the test has power."""
    spec, params, x, y, kw = network(cell, T=6, B=1, I=2, H=2, states=False)
    exact = flatten_grads(bc.bptt(spec, params, x, y, **kw).grads)
    draws = np.stack(
        [flatten_grads(online_gradient(spec, params, x, y, "uoro", seed=s, **kw).grads) for s in range(300)]
    )
    stats = gradient_statistics(draws, exact)
    assert stats.consistent, (np.abs(stats.z).max(), stats.z_critical)
    assert stats.relative_bias < 4 * stats.relative_standard_error + 1e-12
    truncated = flatten_grads(online_gradient(spec, params, x, y, "tbptt", truncation=1, **kw).grads)
    assert not gradient_statistics(draws, truncated).consistent


def test_uoro_is_a_function_of_its_seed():
    spec, params, x, y, kw = network("gru", B=2)
    a, b = (online_gradient(spec, params, x, y, "uoro", seed=7, **kw) for _ in range(2))
    c = online_gradient(spec, params, x, y, "uoro", seed=np.random.default_rng(7), **kw)
    d = online_gradient(spec, params, x, y, "uoro", seed=8, **kw)
    assert all(np.array_equal(a.grads[k], b.grads[k]) for k in a.grads)
    assert relative(a.grads, c.grads) < 1e-14  # a seed and the generator it seeds draw the same signs
    assert relative(a.grads, d.grads) > 1e-6
    assert a.grads["weight_out"] == pytest.approx(d.grads["weight_out"])  # the read-out's gradient is exact


def unit_coupling(spec, params, x, kw) -> float:
    """The largest entry of the step Jacobians between two units (0 for a diagonal recurrence): state entry j
    belongs to unit j mod H (the LSTM's [h, c], the LRU's [Re x, Im x])."""
    states = {k: kw[k] for k in ("h0", "c0") if k in kw}
    J = local_jacobians(spec, params, x, **states)  # (T, B, S, S)
    unit = np.arange(J.shape[-1]) % spec.hidden_size
    return float(np.max(np.abs(J[..., unit[:, None] != unit[None, :]]), initial=0.0))


@pytest.mark.parametrize(("cell", "activation"), CELL_ACTIVATIONS)
def test_diagonal_equals_rtrl_and_bptt_when_the_jacobians_are_diagonal(cell, activation):
    """Each unit hears only its own past (the LRU's and minGRU's recurrences; diagonal W_hh blocks for the
    others): SnAp-1 drops nothing, and method='diagonal' is the exact gradient (Zucchet et al. 2023)."""
    spec, params, x, y, kw = network(cell, activation, T=9)
    diag = diagonalised(params, spec.hidden_size)
    assert unit_coupling(spec, diag, x, kw) == 0
    exact = bc.bptt(spec, diag, x, y, **kw).grads
    assert relative(online_gradient(spec, diag, x, y, "rtrl", **kw).grads, exact) < 1e-10
    for method in ("snap1", "diagonal"):
        assert relative(online_gradient(spec, diag, x, y, method, **kw).grads, exact) < 1e-10


@pytest.mark.parametrize(("cell", "activation"), CELL_ACTIVATIONS)
def test_diagonal_refuses_a_recurrence_that_couples_units_and_snap1_is_then_biased(cell, activation):
    spec, params, x, y, kw = network(cell, activation, T=9)
    exact = bc.bptt(spec, params, x, y, **kw).grads
    if unit_coupling(spec, params, x, kw) > 0:
        assert relative(online_gradient(spec, params, x, y, "snap1", **kw).grads, exact) > 1e-3
        with pytest.raises(ValueError, match=r"diagonal recurrence.*at step 0 "):
            online_gradient(spec, params, x, y, "diagonal", **kw)
    else:
        assert relative(online_gradient(spec, params, x, y, "diagonal", **kw).grads, exact) < 1e-10


def test_the_lru_and_mingru_recurrences_are_diagonal_and_the_classic_cells_are_not():
    """What the two tests above branch on, at the registry's random networks."""
    coupled = {cell: unit_coupling(*itemgetter(0, 1, 2, 4)(network(cell))) > 0 for cell in CELLS}
    assert not coupled["lru"] and not coupled["mingru"]
    assert coupled["rnn"] and coupled["lstm"] and coupled["gru"]


def test_diagonal_names_the_first_step_that_couples_units():
    """A ReLU RNN whose units are all off at step 0 (zero input and state, negative biases) has J_0 = 0:
    the coupling through W_hh appears at step 1, and the refusal says so."""
    spec, params, x, y, kw = network("rnn", "relu", T=4, states=False)
    params = {**params, "bias_ih_l0": -np.ones(spec.hidden_size), "bias_hh_l0": np.zeros(spec.hidden_size)}
    x = x.copy()
    x[0] = 0.0
    x[1:] *= 10.0
    with pytest.raises(ValueError, match="at step 1 "):
        online_gradient(spec, params, x, y, "diagonal", **kw)


@pytest.mark.parametrize("cell", CELLS)
def test_parameter_factors_summed_are_the_cells_accumulate(cell):
    """The protocol's two ways to a parameter's gradient agree: the per-adjoint factors the online methods
    read, summed over adjoints and batch, are what accumulate adds for the step."""
    spec, params, x, *_ = network(cell, B=2)
    c, rng = bc.CELLS[cell], np.random.default_rng(1)
    p = {k[: -len("_l0")]: v for k, v in params.items() if k.endswith("_l0")}
    state = tuple(rng.standard_normal((2, c.tape[part] * spec.hidden_size)) for part in c.state_parts)
    xw = np.concatenate([x[0], np.ones((2, 1))], axis=1) @ c.projection(p)
    _, cache = c.forward_step(p, xw, state, spec.activation)
    seeds = tuple(rng.standard_normal((5, *s.shape)) for s in state)
    _, d_xw, d_hw = c.backward_step(p, seeds, cache)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    rows = {k: np.broadcast_to(v, (5, *v.shape)) for k, v in cache.items() if isinstance(v, np.ndarray)}
    c.accumulate(p, grads, d_xw, d_hw, np.broadcast_to(x[0], (5, *x[0].shape)), rows)
    factors = c.parameter_factors(p, d_xw, d_hw, x[0], cache)
    assert list(factors) == list(p)
    for name, (a, m) in factors.items():
        summed = a.sum(axis=(0, 1)) if m is None else np.einsum("kbr,bc->rc", a, m)
        np.testing.assert_allclose(summed.reshape(grads[name].shape), grads[name], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("method", ["rtrl", "uoro", "snap1", "tbptt", "bptt"])
def test_every_method_reports_the_same_loss_and_exact_read_out_gradient(cell, method):
    spec, params, x, y, kw = network(cell)
    exact = bc.bptt(spec, params, x, y, **kw)
    res = online_gradient(spec, params, x, y, method, seed=0, truncation=3 if method == "tbptt" else None, **kw)
    assert res.loss == pytest.approx(exact.loss, rel=1e-12)
    for key in ("weight_out", "bias_out"):
        np.testing.assert_allclose(res.grads[key], exact.grads[key], rtol=1e-10, atol=1e-14)
    assert set(res.grads) == set(exact.grads)
    assert sum(res.memory_by_tensor.values()) == res.memory_bytes


def test_tbptt_and_checkpointed_bptt_are_the_engines_options():
    spec, params, x, y, kw = network("gru", T=12)
    t = online_gradient(spec, params, x, y, "tbptt", truncation=4, **kw)
    assert relative(t.grads, bc.bptt(spec, params, x, y, truncation=4, **kw).grads) == 0
    c = online_gradient(spec, params, x, y, "bptt", checkpoint="sqrt", **kw)
    full = online_gradient(spec, params, x, y, "bptt", **kw)
    assert relative(c.grads, full.grads) < 1e-12
    assert c.stored_bytes < full.stored_bytes
    # recomputation costs exactly the forward steps it runs again
    again = bc.bptt(spec, params, x, y, checkpoint="sqrt", **kw).forward_steps - x.shape[0]
    forward_step = flop_counts(spec, 1, x.shape[1], "bptt")["forward"]
    assert c.flops - full.flops == again * forward_step


def test_flops_grow_like_the_literature_says():
    """Per step: RTRL's influence update O(H^4), SnAp-1's O(H^2), UORO's O(H^2); all linear in T."""

    def influence(method, H, T=10):
        return flop_counts(bc.RNNSpec("lstm", 4, H, 4), T, 1, method)["influence"]

    assert 13 < influence("rtrl", 256) / influence("rtrl", 128) <= 16
    for method in ("snap1", "uoro"):
        assert 3.5 < influence(method, 256) / influence(method, 128) <= 4
    for method in ("rtrl", "uoro", "snap1", "bptt"):
        spec = bc.RNNSpec("gru", 4, 16, 4)
        assert sum(flop_counts(spec, 200, 2, method).values()) == 2 * sum(flop_counts(spec, 100, 2, method).values())


def test_method_table_compares_every_applicable_method_with_bptt():
    spec, params, x, y, kw = network("rnn", T=6, B=2, states=False)
    rows = {r.method: r for r in method_table(spec, params, x, y, n_seeds=20, truncation=2, **kw)}
    assert list(rows) == ["rtrl", "uoro", "snap1", "tbptt", "bptt"]
    assert rows["rtrl"].relative_error < 1e-10 and rows["rtrl"].cosine == pytest.approx(1.0)
    assert rows["bptt"].relative_error == 0
    assert rows["snap1"].relative_error > 1e-3 and rows["tbptt"].relative_error > 1e-3
    uoro = rows["uoro"]
    assert uoro.statistics is not None and uoro.statistics.relative_variance > 0
    assert all(r.statistics is None for m, r in rows.items() if m != "uoro")
    assert rows["rtrl"].flops > rows["bptt"].flops and all(r.seconds > 0 for r in rows.values())
    stack = bc.RNNSpec("rnn", 3, 4, 3, num_layers=2)
    p2 = bc.init_params(stack)
    assert [r.method for r in method_table(stack, p2, x, y, n_seeds=2, **kw)] == ["rtrl", "bptt"]
    both = bc.RNNSpec("rnn", 3, 4, 3, bidirectional=True)
    assert [r.method for r in method_table(both, bc.init_params(both), x, y, n_seeds=2, **kw)] == ["bptt"]


P = network("lstm", states=False)


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"method": "sgd"}, "method"),
        ({"method": "rtrl", "truncation": 3}, "truncation"),
        ({"method": "tbptt"}, "truncation"),
        ({"method": "snap1", "checkpoint": "sqrt"}, "checkpoint"),
        ({"method": "uoro", "seed": -1}, "seed"),
        ({"method": "rtrl", "reduction": "avg"}, "reduction"),
        ({"method": "rtrl", "loss": "hinge"}, "loss"),
        ({"method": "rtrl", "x": np.zeros((7, 3, 5))}, "x"),
        ({"method": "uoro", "mask": np.full((7, 3), 2.0)}, "mask"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(changes, name):
    spec, params, x, y, kw = P
    call = {"spec": spec, "params": params, "x": x, "y": y, **kw, **changes}
    with pytest.raises(ValueError, match=name):
        online_gradient(**call)


def test_online_methods_refuse_what_they_cannot_compute():
    _, _, x, y, kw = P
    both = bc.RNNSpec("lstm", 3, 4, 3, bidirectional=True)
    with pytest.raises(ValueError, match="cannot read the future"):
        online_gradient(both, bc.init_params(both), x, y, "rtrl", **kw)
    stack = bc.RNNSpec("lstm", 3, 4, 3, num_layers=2)
    for method in ("uoro", "snap1", "diagonal"):
        with pytest.raises(ValueError, match="one recurrent layer"):
            online_gradient(stack, bc.init_params(stack), x, y, method, **kw)
    with pytest.raises(bc.MemoryBudgetError, match="memory budget"):
        online_gradient(*P[:4], "rtrl", memory_budget=1000, **kw)
    with pytest.raises(ValueError, match="n_seeds"):
        method_table(*P[:4], n_seeds=1)


def test_the_readme_online_example_runs_and_its_comments_hold():
    text = (Path(__file__).parents[2] / "README.md").read_text()
    start = text.index("```python\nimport numpy as np\nimport bptt_core as bc\nfrom bptt_core.online")
    code = text[start + len("```python\n") : text.index("```", start + 10)]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    spec, params, x, y, exact = (scope[k] for k in ("spec", "params", "x", "y", "exact"))
    assert relative(exact.grads, bc.bptt(spec, params, x, y).grads) < 1e-10
    assert [r.method for r in scope["rows"]] == ["rtrl", "uoro", "snap1", "tbptt", "bptt"]
    held = scope["crossover_length"](spec, B=2)
    assert f"# {held}: from this T on" in code
    assert f"# {scope['stored_crossover'](spec)}: the same" in code
