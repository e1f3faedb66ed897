"""Bad values of each kind of argument, as hypothesis strategies (built from the valid value)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

T, B = 4, 2  # the sizes of the valid calls in public_calls.py

SCALARS = {
    "pos_int": [0, -3, 2.5, 2.0, True, "3", float("nan"), 1j, [2], np.array([2]), None],
    "count": [1, 0, 2.5, True, "4", 1j, None],
    "nonneg_int": [-1, 1.5, True, "1", 1j, float("inf"), None],
    "index": [-1, 99, 1.5, True, "0", 1j, None],
    "pos_number": [0, -1.0, float("nan"), float("inf"), True, "1", 1j, [1.0], None],
    "number": [float("nan"), float("inf"), -float("inf"), True, "1", 1j, None, [1.0]],
    "nonneg_number": [-0.5, float("nan"), float("inf"), True, "1", 1j, None],
    "unit_open": [0, 1, -0.1, 1.5, float("nan"), True, "0.5", 1j, None],
    "unit_right_open": [1, -0.1, 1.5, float("nan"), True, "0.5", 1j, None],
    "prob": [1.0, -0.1, float("nan"), True, "0.5", 1j],
    "bool": [0, 1, "True", None, 1.0, np.array([True, False])],
    "choice": ["nope", 3, None, ["mse"], b"x", 1j],
    "name": [3, None, b"x", 1j, ["weight_hh"]],
    "budget": [-1, 1.5, "a lot", True, 1j, float("inf")],
    "rng": [0, None, "rng", np.random.RandomState(0)],
    "callable": [3, None, "f", lambda: "one"],
    "callable_or_none": [3, "f"],
    "dict": [None, [], "params", 3, {"a": np.ones(2) + 1j}, {"a": [1, [2, 3]]}],
    "spec": [None, {"cell": "rnn"}, "rnn", 3],
    "workspace": [{}, 3, "work"],
    "dtype": ["float16", 3, None, "int64", np.int32],
    "checkpoint": [0, -1, 2.5, "log", True, 1j],
    "positive_ints": [[1.5], [True], [0], [-1], [[1]], "a", [1j], None],
    "origins": [[1.5], [True], [-1], [T], [[1]], "a", [1j], []],
    "perturbable": [[1.0, 2.0], np.ones(3, np.float32), np.ones(3, int), np.ones(3)[::2], None, "x", np.ones(3) + 1j],
    "methods": ["rtrl", ("rtrl", "nope"), (), [3], 3, b"x", {"rtrl": 1}],
    "any_array": [np.ones(3) + 1j, np.array(["a"]), [[1.0], [1.0, 2.0]], None, "array", {"a": 1}],
    "axis": [1.5, "0", 99, (0, 5), [0], True, 1j],
    "values": [np.ones(3) + 1j, np.array(["a"]), [[1.0], [1.0, 2.0]], None, np.float64(1.0), np.zeros((0, 2))],
}
OPTIONAL = {"opt_pos_int": "pos_int", "opt_nonneg_int": "nonneg_int", "opt_pos_number": "pos_number"}
OPTIONAL |= {"opt_index": "index", "opt_choice": "choice"}
#: Vectors of free length: the values each refuses besides the wrong ones every vector refuses.
VECTORS = {"vector": [], "nonneg_vector": [[-1.0]], "pos_vector": [[0.0], [-1.0]], "prob_vector": [[1.0], [-0.1]]}


def poisoned(valid: np.ndarray) -> st.SearchStrategy:
    """``valid`` with a NaN or an inf at some entry."""

    def make(args: tuple) -> np.ndarray:
        i, value = args
        out = valid.astype(np.float64).reshape(-1)
        out[i] = value
        return out.reshape(valid.shape)

    return st.tuples(st.integers(0, valid.size - 1), st.sampled_from([np.nan, np.inf, -np.inf])).map(make)


def bad_arrays(valid: object, *, fixed: bool = True, finite: bool = True, extra: tuple = ()) -> st.SearchStrategy:
    """Arrays like ``valid`` but wrong: complex, text, ragged, None, another number of dimensions; when the
    shape is ``fixed`` a wrong last size; when they must be ``finite`` a NaN or inf somewhere."""
    valid = np.asarray(valid, dtype=np.float64)
    wrong = [valid + 1j, valid.astype(str), valid[..., None], [valid.tolist(), [1.0]], None, "array", *extra]
    if fixed and valid.ndim:
        wrong.append(np.concatenate([valid, valid], axis=-1))
    if not fixed and valid.ndim == 1:
        wrong.append(np.zeros(0))
    strategies = [st.sampled_from(wrong)]
    if finite and valid.size:
        strategies.append(poisoned(valid))
    return st.one_of(*strategies)


def bad_params(valid: dict) -> st.SearchStrategy:
    key = st.sampled_from(sorted(valid))
    return st.one_of(
        key.map(lambda k: {q: a for q, a in valid.items() if q != k}),
        st.just(valid | {"weight_zz_l0": np.ones(2)}),
        key.map(lambda k: valid | {k: np.ones((7, 7))}),
        key.map(lambda k: valid | {k: np.full(np.shape(valid[k]), np.nan)}),
        key.map(lambda k: valid | {k: np.asarray(valid[k]) + 1j}),
        key.map(lambda k: valid | {k: np.asarray(valid[k]).astype(str)}),
        st.just(list(valid.values())),
        st.just(None),
    )


def bad_jacobians(valid: list) -> st.SearchStrategy:
    return st.sampled_from(
        [
            [J[0] for J in valid],  # 2-d
            [J[:, :, :2] for J in valid],  # not square
            [*valid[:2], np.ones((B, 4, 4))],  # the size changes
            [],
            5,
            [J + 1j for J in valid],
            [J.astype(str) for J in valid],
        ]
    )


def bad_values(kind: str, valid: object) -> st.SearchStrategy:
    """Values of ``kind`` that must be refused, given the valid one."""
    if kind in OPTIONAL:
        return st.sampled_from([v for v in SCALARS[OPTIONAL[kind]] if v is not None])
    if kind in SCALARS:
        return st.sampled_from(SCALARS[kind])
    if kind in VECTORS:
        return bad_arrays(valid, fixed=False, extra=tuple(VECTORS[kind]))
    special = {"params": bad_params, "jacobians": bad_jacobians}
    if kind in special:
        return special[kind](valid)
    if kind == "mask":
        return st.one_of(bad_arrays(valid).filter(lambda a: a is not None), st.just(np.full((T, B), 0.5)))
    if kind == "opt_array":  # None stands for the default
        return bad_arrays(valid).filter(lambda a: a is not None)
    if kind == "x":
        return bad_arrays(valid, extra=(np.asarray(valid)[:0],))
    if kind == "x_free":  # a (T, B, I) array of any sizes
        return bad_arrays(valid, fixed=False, extra=(np.asarray(valid)[0],))
    return bad_arrays(valid, finite=kind != "array_any")
