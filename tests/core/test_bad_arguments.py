"""Bad arguments raise ValueError naming the argument; overflow is a result, not an error."""

import re
import tracemalloc
import warnings

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.jacobians import jacobian_products, local_jacobians
from bptt_core.lab.tasks import make_batch
from bptt_core.lab.train import TrainConfig
from bptt_core.online import method_table
from bptt_core.reference import reference_bptt

from .problems import Problem, make_problem

P = make_problem("lstm", T=4, B=2, I=3, H=4, O=3, seed=0)
CE = make_problem("gru", "tanh", "cross_entropy", T=4, B=2, I=3, H=4, O=3, seed=0)
LRU = make_problem("lru", T=4, B=2, I=3, H=4, O=3, seed=0)
BI_SPEC = bc.RNNSpec("gru", 3, 4, 3, bidirectional=True)
BI = Problem(BI_SPEC, bc.init_params(BI_SPEC, seed=0), P.x, P.y, "mse")
GAP = np.array([[1, 1], [0, 1], [1, 1], [0, 0]])  # sequence 0: a valid step after padding
#: Inputs of the sizes the issue tried, as broadcast views: nothing of their size exists before the call.
LONG, LONG_Y = np.broadcast_to(0.0, (10**8, 1, 3)), np.broadcast_to(0.0, (10**8, 1, 3))
WIDE, WIDE_Y = np.broadcast_to(0.0, (4, 2 * 10**7, 3)), np.broadcast_to(0.0, (4, 2 * 10**7, 3))
MINGRU = make_problem("mingru", T=4, B=2, I=3, H=4, O=3, seed=0)


def call(p=P, **changes):
    kw = {"spec": p.spec, "params": p.params, "x": p.x, "y": p.y, "loss": p.loss} | changes
    return bc.bptt(**kw)


def wrong_shape(key):
    params = dict(P.params)
    params[key] = np.zeros((2, 2))
    return params


#: The inputs issue 25 found not refused, or refused in NumPy's words (analysis functions, budgets, lab).
ISSUE_25 = {
    "complex x": (lambda: call(x=P.x + 1j), "x"),
    "complex y (imaginary part 0)": (lambda: call(y=P.y + 0j), "y"),
    "ragged x": (lambda: call(x=[P.x[0].tolist(), P.x[1, :1].tolist()]), "x"),
    "memory_budget not a number": (lambda: call(memory_budget="a lot"), "memory_budget"),
    "step_contributions not a boolean": (lambda: call(step_contributions=1), "step_contributions"),
    "bidirectional mask with a gap": (lambda: call(BI, mask=GAP), "mask"),
    "init_params given a dict as spec": (lambda: bc.init_params({"cell": "rnn"}), "spec"),
    "lyapunov_spectrum layer=True": (lambda: bc.lyapunov_spectrum(P.spec, P.params, P.x, layer=True), "layer"),
    "lyapunov_spectrum k=2.5": (lambda: bc.lyapunov_spectrum(P.spec, P.params, P.x, k=2.5), "k"),
    "lyapunov_spectrum k=nan": (lambda: bc.lyapunov_spectrum(P.spec, P.params, P.x, k=float("nan")), "k"),
    "output_sensitivity t=True": (lambda: bc.output_sensitivity(P.spec, P.params, P.x, t=True), "t"),
    "flow_matrix origins=[1.5]": (lambda: bc.flow_matrix(P.spec, P.params, P.x, P.y, origins=[1.5]), "origins"),
    "gradient_contributions direction=nan": (
        lambda: bc.gradient_contributions(P.spec, P.params, P.x, P.y, direction=np.full((16, 4), np.nan)),
        "direction",
    ),
    "checkpoint_schedule T = 0": (lambda: bc.checkpoint_schedule(0, 2), "T"),
    "checkpoint_schedule checkpoint = -1": (lambda: bc.checkpoint_schedule(10, -1), "checkpoint"),
    "jacobian_products hidden_size unlike the Jacobians'": (
        lambda: jacobian_products(np.ones((3, 2, 4, 4)), hidden_size=3),
        "hidden_size",
    ),
    "jacobian_products of no Jacobian": (lambda: jacobian_products([], hidden_size=4), "jacobians"),
    "lyapunov_from_jacobians 2-d J": (lambda: bc.lyapunov_from_jacobians([np.eye(3)]), "jacobians"),
    "lyapunov_from_jacobians non-square J": (lambda: bc.lyapunov_from_jacobians([np.ones((1, 3, 2))]), "jacobians"),
    "lyapunov_from_jacobians J changing size": (
        lambda: bc.lyapunov_from_jacobians([np.ones((1, 3, 3)), np.ones((1, 2, 2))]),
        "jacobians",
    ),
    "relative_error of two shapes": (lambda: bc.relative_error(np.ones(3), np.ones(4)), "a"),
    "Workspace output_bytes = -1": (lambda: bc.Workspace(output_bytes=-1), "output_bytes"),
    "bptt B = 2e7 (memory budget)": (lambda: bc.bptt(P.spec, P.params, WIDE, WIDE_Y), "B = 20000000"),
    "bptt T = 1e8, binomial (budget)": (
        lambda: bc.bptt(P.spec, P.params, LONG, LONG_Y, checkpoint="binomial", checkpoint_slots=2),
        "T = 100000000",
    ),
    "output_sensitivity T = 1e7 (memory budget)": (
        lambda: bc.output_sensitivity(P.spec, P.params, LONG[:10_000_000]),
        "T = 10000000",
    ),
    "output_sensitivity T = 1e8 (memory budget)": (
        lambda: bc.output_sensitivity(P.spec, P.params, LONG),
        "T = 100000000",
    ),
    "local_jacobians T = 1e7 (memory budget)": (
        lambda: local_jacobians(P.spec, P.params, LONG[:10_000_000]),
        "T = 10000000",
    ),
    "lyapunov_spectrum T = 1e7 (memory budget)": (
        lambda: bc.lyapunov_spectrum(P.spec, P.params, LONG[:10_000_000]),
        "T = 10000000",
    ),
    "gate_saturation T = 1e7 (memory budget)": (
        lambda: bc.gate_saturation(P.spec, P.params, LONG[:10_000_000]),
        "T = 10000000",
    ),
    "init_params H = 1e6 (memory budget)": (lambda: bc.init_params(bc.RNNSpec("rnn", 1, 10**6, 1)), "hidden_size"),
    "TrainConfig lr = 0": (lambda: TrainConfig(lr=0), "lr"),
    "make_batch T = 2.5": (lambda: make_batch("sine", 2.5, 2, np.random.default_rng(0)), "T"),
}

#: The cell protocol's new paths held to the same checks and budgets: the LRU and minGRU, the scan, the
#: online methods and the textbook loop.
NEW_PATHS = {
    "lru params complex": (lambda: call(LRU, params=LRU.params | {"D_l0": LRU.params["D_l0"] + 1j}), "D_l0"),
    "lru nu_log nan": (lambda: call(LRU, params=LRU.params | {"nu_log_l0": np.full(4, np.nan)}), "nu_log_l0"),
    "lru r_max not a number": (lambda: bc.init_params(LRU.spec, r_max="1"), "r_max"),
    "lru H = 1e6 (memory budget)": (lambda: bc.init_params(bc.RNNSpec("lru", 1, 10**6, 1)), "hidden_size"),
    "lru scan T = 1e8 (budget)": (lambda: call(LRU, x=LONG, y=LONG_Y, scan=True), "T = 100000000"),
    "mingru scan B = 2e7 (memory budget)": (lambda: call(MINGRU, x=WIDE, y=WIDE_Y, scan=True), "B = 20000000"),
    "mingru flow_matrix T = 1e8 (budget)": (
        lambda: bc.flow_matrix(MINGRU.spec, MINGRU.params, LONG, LONG_Y),
        "T = 100000000",
    ),
    "online_gradient unknown method": (lambda: bc.online_gradient(P.spec, P.params, P.x, P.y, "forward"), "method"),
    "online_gradient complex x": (lambda: bc.online_gradient(P.spec, P.params, P.x + 1j, P.y), "x"),
    "online_gradient lru h0 wrong shape": (
        lambda: bc.online_gradient(LRU.spec, LRU.params, LRU.x, LRU.y, h0=np.zeros((2, 4, 2))),
        "h0",
    ),
    "online_gradient rtrl T = 1e8 (work budget)": (
        lambda: bc.online_gradient(P.spec, P.params, LONG, LONG_Y, "rtrl"),
        "T = 100000000",
    ),
    "online_gradient uoro B = 2e7 (memory budget)": (
        lambda: bc.online_gradient(LRU.spec, LRU.params, WIDE, WIDE_Y, "uoro"),
        "B = 20000000",
    ),
    "method_table n_seeds = 10**9 (budget)": (
        lambda: method_table(P.spec, P.params, P.x, P.y, ("uoro",), n_seeds=10**9),
        "n_seeds",
    ),
    "reference_bptt T = 1e8 (memory budget)": (
        lambda: reference_bptt(MINGRU.spec, MINGRU.params, LONG, LONG_Y),
        "T = 100000000",
    ),
}

BAD_CALLS = {
    "unknown cell": (lambda: bc.RNNSpec("transformer", 1, 1, 1), "cell"),
    "unknown activation": (lambda: bc.RNNSpec("rnn", 1, 1, 1, "gelu"), "activation"),
    "activation on lstm": (lambda: bc.RNNSpec("lstm", 1, 1, 1, "relu"), "activation"),
    "negative hidden size": (lambda: bc.RNNSpec("rnn", 1, -3, 1), "hidden_size"),
    "zero input size": (lambda: bc.RNNSpec("rnn", 0, 3, 1), "input_size"),
    "float size": (lambda: bc.RNNSpec("rnn", 1, 2.5, 1), "hidden_size"),
    "T = 0": (lambda: call(x=np.zeros((0, 2, 3)), y=np.zeros((0, 2, 3))), "x"),
    "B = 0": (lambda: call(x=np.zeros((4, 0, 3)), y=np.zeros((4, 0, 3))), "x"),
    "x wrong input size": (lambda: call(x=np.zeros((4, 2, 5))), "x"),
    "x 2-d": (lambda: call(x=np.zeros((4, 3))), "x"),
    "x with nan": (lambda: call(x=np.full((4, 2, 3), np.nan)), "x"),
    "x with inf": (lambda: call(x=np.full((4, 2, 3), np.inf)), "x"),
    "x strings": (lambda: call(x=np.full((4, 2, 3), "a")), "x"),
    "y wrong shape": (lambda: call(y=np.zeros((4, 2, 2))), "y"),
    "float classes for cross-entropy": (lambda: call(CE, y=np.zeros((4, 2))), "y"),
    "class out of range": (lambda: call(CE, y=np.full((4, 2), 3)), "y"),
    "negative class": (lambda: call(CE, y=np.full((4, 2), -1)), "y"),
    "unknown loss": (lambda: call(loss="hinge"), "loss"),
    "unknown reduction": (lambda: call(reduction="max"), "reduction"),
    "mask wrong shape": (lambda: call(mask=np.ones((4, 3))), "mask"),
    "mask not 0/1": (lambda: call(mask=np.full((4, 2), 0.5)), "mask"),
    "truncation 0": (lambda: call(truncation=0), "truncation"),
    "truncation float": (lambda: call(truncation=2.5), "truncation"),
    "clip 0": (lambda: call(clip=0), "clip"),
    "clip negative": (lambda: call(clip=-1.0), "clip"),
    "clip nan": (lambda: call(clip=float("nan")), "clip"),
    "clip_value 0": (lambda: call(clip_value=0.0), "clip_value"),
    "checkpoint 0": (lambda: call(checkpoint=0), "checkpoint"),
    "checkpoint word": (lambda: call(checkpoint="log"), "checkpoint"),
    "workspace not a Workspace": (lambda: call(workspace={}), "workspace"),
    "random_truncation 1": (lambda: call(random_truncation=1.0), "random_truncation"),
    "dtype float16": (lambda: call(dtype="float16"), "dtype"),
    "h0 wrong shape": (lambda: call(h0=np.zeros((3, 4))), "h0"),
    "c0 on gru": (lambda: call(CE, c0=np.zeros((2, 4))), "c0"),
    "missing param": (lambda: call(params={k: v for k, v in P.params.items() if k != "bias_hh_l0"}), "params"),
    "wrong param shape": (lambda: call(params=wrong_shape("weight_hh_l0")), "weight_hh_l0"),
    "nan param": (lambda: call(params=P.params | {"bias_out": np.full(3, np.nan)}), "bias_out"),
    "params not a dict": (lambda: call(params=[1, 2]), "params"),
    "flow_matrix bad loss": (lambda: bc.flow_matrix(P.spec, P.params, P.x, P.y, loss="l1"), "loss"),
    "init unknown preset": (lambda: bc.init_params(P.spec, init="xavier"), "init"),
    "init negative scale": (lambda: bc.init_params(P.spec, scale=-1.0), "scale"),
    "scan on lstm": (lambda: call(scan=True), "scan"),
    "scan not a bool": (lambda: call(LRU, scan="yes"), "scan"),
    "init option of another cell": (lambda: bc.init_params(P.spec, r_min=0.5), "r_min"),
    "lru ring reversed": (lambda: bc.init_params(LRU.spec, r_min=0.9, r_max=0.5), "r_min"),
    "lru phase 0": (lambda: bc.init_params(LRU.spec, max_phase=0.0), "max_phase"),
    "itemise a parameter the cell does not": (
        lambda: bc.gradient_contributions(LRU.spec, LRU.params, LRU.x, LRU.y, param="D"),
        "param",
    ),
    **ISSUE_25,
    **NEW_PATHS,
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_argument_raises_value_error_naming_it(name):
    fn, argument = BAD_CALLS[name]
    with pytest.raises(ValueError, match=re.escape(argument)):
        fn()


@pytest.mark.parametrize("name", [*ISSUE_25, *NEW_PATHS])
def test_refused_before_allocating(name):
    """The refusal comes before anything of the call's size is allocated (tracemalloc's peak during it)."""
    fn, _ = (ISSUE_25 | NEW_PATHS)[name]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        with pytest.raises(ValueError):
            fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak  # under 1 MiB: the inputs are small or broadcast views


def test_lists_are_read_like_arrays_everywhere():
    """A nested list is x as NumPy reads it, for the analyses as for bptt."""
    x = P.x.tolist()
    np.testing.assert_array_equal(
        bc.lyapunov_spectrum(P.spec, P.params, x), bc.lyapunov_spectrum(P.spec, P.params, P.x)
    )
    np.testing.assert_array_equal(bc.gate_saturation(P.spec, P.params, x), bc.gate_saturation(P.spec, P.params, P.x))
    assert bc.bptt(P.spec, P.params, x, P.y.tolist()).loss == bc.bptt(P.spec, P.params, P.x, P.y).loss


@pytest.mark.parametrize("cell", bc.CELLS)
def test_exploding_run_returns_flagged_non_finite_results(cell):
    spec = bc.RNNSpec(cell, 2, 8, 2, "linear" if bc.CELLS[cell].chooses_activation else "tanh")
    params = bc.init_params(spec, seed=0, init="orthogonal", scale=30.0)
    params["weight_out"] *= 1e300
    x = np.random.default_rng(0).standard_normal((200, 2, 2)) * 1e3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning spam either
        res = bc.bptt(spec, params, x, np.zeros((200, 2, 2)))
    assert not res.finite
    assert not np.isfinite(res.loss) or not np.isfinite(res.grad_norm)


def test_linear_rnn_overflow_step_is_reported():
    spec = bc.RNNSpec("rnn", 1, 2, 1, "linear")
    params = bc.init_params(spec, init="identity", scale=1e10)
    res = bc.bptt(spec, params, np.ones((100, 1, 1)), np.zeros((100, 1, 1)))
    assert not res.finite
    assert res.overflow_step is not None and 20 < res.overflow_step < 40
    assert np.all(np.isfinite(res.h[: res.overflow_step]))
