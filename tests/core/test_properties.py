"""Property-based tests: random cells, sizes, options and inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bptt_core as bc
from bptt_core.analysis.gradcheck import directional_check

CELL_ACT = st.sampled_from([("rnn", a) for a in bc.ACTIVATIONS] + [("lstm", "tanh"), ("gru", "tanh")])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    cell, act = draw(CELL_ACT)
    T, B = draw(st.integers(1, 7)), draw(st.integers(1, 3))
    I, H, O = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    loss = draw(st.sampled_from(bc.LOSSES))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    spec = bc.RNNSpec(cell, I, H, O, act)
    params = bc.init_params(spec, seed=seed, init=draw(st.sampled_from(bc.INITS)), scale=draw(st.floats(0.1, 1.5)))
    x = rng.standard_normal((T, B, I)) * draw(st.floats(0.1, 2.0))
    y = rng.integers(0, O, (T, B)) if loss == "cross_entropy" else rng.standard_normal((T, B, O))
    mask = (rng.random((T, B)) < 0.8).astype(float) if draw(st.booleans()) else None
    options = {
        "loss": loss,
        "reduction": draw(st.sampled_from(bc.REDUCTIONS)),
        "mask": mask,
        "truncation": draw(st.one_of(st.none(), st.integers(1, 8))),
        "checkpoint": draw(st.one_of(st.none(), st.just("sqrt"), st.integers(1, 8))),
        "h0": rng.standard_normal((B, H)) if draw(st.booleans()) else None,
    }
    return spec, params, x, y, options, seed


def near_relu_kink(spec, params, x, h0, tol=1e-4) -> bool:
    """True when a relu pre-activation is within ``tol`` of 0, where central differences straddle the kink."""
    if spec.activation != "relu" or not bc.CELLS[spec.cell].chooses_activation:
        return False
    h = np.zeros((x.shape[1], spec.hidden_size)) if h0 is None else h0
    for x_t in x:
        z = x_t @ params["weight_ih_l0"].T + params["bias_ih_l0"] + h @ params["weight_hh_l0"].T + params["bias_hh_l0"]
        if np.any(np.abs(z) < tol):
            return True
        h = np.maximum(z, 0)
    return False


@SETTINGS
@given(problems())
def test_gradients_match_central_differences_along_a_random_direction(problem):
    spec, params, x, y, options, seed = problem
    res = bc.bptt(spec, params, x, y, **options)
    assume(res.finite and not near_relu_kink(spec, params, x, options["h0"]))
    rng = np.random.default_rng(seed)
    for key in ("weight_hh_l0", "weight_ih_l0", "bias_hh_l0", "weight_out"):
        if options["truncation"] is not None and key in ("weight_hh_l0",):
            continue  # truncated gradients are not the loss's gradient (checked against a surrogate elsewhere)
        numeric, analytic = directional_check(
            lambda: bc.bptt(spec, params, x, y, **options).loss, params[key], res.grads[key], rng
        )
        if options["truncation"] is None:
            assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(numeric)), key


@SETTINGS
@given(problems())
def test_checkpointing_never_changes_the_result(problem):
    spec, params, x, y, options, _ = problem
    a = bc.bptt(spec, params, x, y, **{**options, "checkpoint": None})
    b = bc.bptt(spec, params, x, y, **options)
    assume(a.finite)
    for k in a.grads:
        np.testing.assert_allclose(b.grads[k], a.grads[k], rtol=1e-10, atol=1e-14)
    stored = ("checkpoints", "hidden states h", "cell states c", "gate activations", "pre-activations / tanh(c)")
    peak = lambda r: max(sum(g.get(k, 0) for k in stored) for g in r.memory_timeline_by_tensor)  # noqa: E731
    a, b = (
        bc.bptt(spec, params, x, y, **{**options, "checkpoint": ck}, return_sequences=False)
        for ck in (None, options["checkpoint"])
    )
    assert peak(b) <= peak(a)  # checkpoints plus one segment never outweigh the whole tape


BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.just(np.full((2, 2), np.nan)),
    st.just(np.zeros((1, 1, 1, 1))),
    st.just(object()),
)
ARGUMENTS = [
    "x",
    "y",
    "loss",
    "reduction",
    "mask",
    "truncation",
    "clip",
    "checkpoint",
    "h0",
    "c0",
    "random_truncation",
    "clip_value",
    "dtype",
    "seed",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ARGUMENTS), BAD_VALUES, CELL_ACT)
def test_invalid_arguments_raise_value_error_and_nothing_else(argument, value, cell_act):
    spec = bc.RNNSpec(cell_act[0], 2, 3, 2, cell_act[1])
    params = bc.init_params(spec)
    kwargs = {"x": np.zeros((4, 2, 2)), "y": np.zeros((4, 2, 2)), argument: value}
    try:
        bc.bptt(spec, params, **kwargs)
    except ValueError:
        pass  # the only acceptable failure; valid combinations simply run


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["cell", "input_size", "hidden_size", "output_size", "activation"]), BAD_VALUES)
def test_invalid_spec_fields_raise_value_error_and_nothing_else(field, value):
    try:
        bc.RNNSpec(**{field: value})
    except ValueError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["init", "scale", "forget_bias", "seed"]), BAD_VALUES)
def test_invalid_init_arguments_raise_value_error_and_nothing_else(argument, value):
    try:
        bc.init_params(bc.RNNSpec("lstm", 2, 3, 1), **{argument: value})
    except ValueError:
        pass
