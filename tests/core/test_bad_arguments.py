"""Bad arguments raise ValueError naming the argument; overflow is a result, not an error."""

import warnings

import numpy as np
import pytest

import bptt_core as bc

from .problems import make_problem

P = make_problem("lstm", T=4, B=2, I=3, H=4, O=3, seed=0)
CE = make_problem("gru", "tanh", "cross_entropy", T=4, B=2, I=3, H=4, O=3, seed=0)
LRU = make_problem("lru", T=4, B=2, I=3, H=4, O=3, seed=0)


def call(p=P, **changes):
    kw = {"spec": p.spec, "params": p.params, "x": p.x, "y": p.y, "loss": p.loss} | changes
    return bc.bptt(**kw)


def wrong_shape(key):
    params = dict(P.params)
    params[key] = np.zeros((2, 2))
    return params


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
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_argument_raises_value_error_naming_it(name):
    fn, argument = BAD_CALLS[name]
    with pytest.raises(ValueError, match=argument):
        fn()


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
