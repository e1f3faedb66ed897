"""The textbook loop (bptt_core.reference) equals the engine, and stays a textbook loop."""

import ast
import inspect
import itertools

import numpy as np
import pytest

import bptt_core as bc
from bptt_core import reference
from bptt_core.lab.signals import ragged_mask
from bptt_core.reference import reference_bptt

from .problems import CELL_ACTIVATIONS, make_problem

TOL = 1e-10


@pytest.mark.parametrize(("cell", "activation"), CELL_ACTIVATIONS)
@pytest.mark.parametrize(("loss", "reduction"), list(itertools.product(bc.LOSSES, bc.REDUCTIONS)))
@pytest.mark.parametrize("masked", [False, True], ids=["full", "padded"])
def test_reference_equals_engine(cell, activation, loss, reduction, masked):
    """Loss, every parameter's gradient, h_t and dL/dh_t, for every registered cell and activation."""
    p = make_problem(cell, activation, loss, T=13, B=4, I=3, H=5, O=3, seed=7, scale=1.3)
    mask = ragged_mask(13, 4, seed=3) if masked else None
    engine = bc.bptt(p.spec, p.params, p.x, p.y, loss=loss, reduction=reduction, mask=mask)
    ref = reference_bptt(p.spec, p.params, p.x, p.y, loss=loss, reduction=reduction, mask=mask)
    assert abs(ref.loss - engine.loss) <= TOL * abs(engine.loss)
    assert set(ref.grads) == set(engine.grads)
    for key, grad in engine.grads.items():
        assert bc.relative_error(ref.grads[key], grad) < TOL, key
        assert np.abs(grad).max() > 0, key  # every parameter gets a gradient: the comparison has content
    assert bc.relative_error(ref.h, engine.h) < TOL
    assert bc.relative_error(ref.dh, engine.dh) < TOL


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_reference_equals_engine_on_a_long_sequence(cell):
    """T = 200 with the mean reduction: the carried gradient stays equal over many steps."""
    p = make_problem(cell, bc.CELLS[cell].activations[0], "mse", T=200, B=2, I=2, H=6, O=2, seed=11)
    engine = bc.bptt(p.spec, p.params, p.x, p.y)
    ref = reference_bptt(p.spec, p.params, p.x, p.y)
    for key, grad in engine.grads.items():
        assert bc.relative_error(ref.grads[key], grad) < TOL, key
    assert bc.relative_error(ref.dh, engine.dh) < TOL


def test_padding_changes_the_reference_as_it_changes_the_engine():
    """A mask is not ignored: the padded and the full loss differ, and both match the engine."""
    p = make_problem("rnn", "tanh", "mse", T=9, B=3, seed=4)
    mask = ragged_mask(9, 3, seed=5)
    assert mask.min() == 0
    full, padded = (reference_bptt(p.spec, p.params, p.x, p.y, mask=m).loss for m in (None, mask))
    assert abs(full - padded) > 1e-6
    assert padded == pytest.approx(bc.bptt(p.spec, p.params, p.x, p.y, mask=mask).loss, rel=TOL)


@pytest.mark.parametrize("changes", [{"num_layers": 2}, {"bidirectional": True}])
def test_reference_refuses_what_only_the_engine_runs(changes):
    spec = bc.RNNSpec(**{"cell": "rnn", "input_size": 2, "hidden_size": 3, "output_size": 1, **changes})
    params = bc.init_params(spec, seed=0)
    with pytest.raises(ValueError, match="spec must have one layer and one direction"):
        reference_bptt(spec, params, np.zeros((3, 1, 2)), np.zeros((3, 1, 1)))


@pytest.mark.parametrize(("loss", "reduction"), [("mae", "mean"), ("mse", "max")])
def test_reference_names_a_bad_loss_or_reduction(loss, reduction):
    p = make_problem("gru", "tanh", "mse", T=3)
    with pytest.raises(ValueError, match="loss must be" if loss == "mae" else "reduction must be"):
        reference_bptt(p.spec, p.params, p.x, p.y, loss=loss, reduction=reduction)


def _code_lines(source: str) -> int:
    """Lines of code: not blank, not a comment, not inside a docstring."""
    tree = ast.parse(source)
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            docs.update(range(node.body[0].lineno, node.body[0].end_lineno + 1))
    code = [line.strip() for i, line in enumerate(source.splitlines(), 1) if i not in docs]
    return sum(1 for line in code if line and not line.startswith("#"))


def test_reference_stays_a_textbook_loop():
    """At most 80 lines of code; no workspace, ledger, tape or checkpoint; no cell named; both loops marked."""
    source = inspect.getsource(reference)
    assert _code_lines(source) <= 80
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert imported <= {"__future__", "typing", "arguments", "cells", "losses", "spec", "validate"}, imported
    for name in bc.CELLS:
        assert f'"{name}"' not in source and f"'{name}'" not in source, name
    body = inspect.getsource(reference_bptt)
    assert "for t in range(T):  # [forward]" in body
    assert "for t in reversed(range(T)):  # [backward]" in body
