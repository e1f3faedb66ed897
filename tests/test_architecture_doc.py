"""docs/architecture.md's recipes, kept true: the example cell is built from the recipe's own code and
registered, and it works everywhere the recipe promises; the example quantity is a valid entry; every page
of the router has its script and its AppTest."""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import numpy as np
import pytest

import bptt_core as bc
from bptt_core.analysis.gradcheck import numerical_gradient
from bptt_core.analysis.jacobians import jacobian_products, local_jacobians
from bptt_core.reference import reference_bptt
from dashboard.catalog import sections
from dashboard.config import RunConfig, cell_views
from dashboard.vocabulary import quantities as Q
from tests.apptest import PAGES

ROOT = Path(__file__).parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def recipe(title: str) -> list[str]:
    """The python blocks of the recipe under ``## Recipe: <title>``, in order."""
    start = DOC.index(f"## Recipe: {title}")
    end = DOC.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", DOC[start : end if end > 0 else None], re.S)


def run_block(code: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"docs/architecture.md ({name})", "exec"), module.__dict__)
    return module


@pytest.fixture
def leaky(monkeypatch):
    """The recipe's cell and its presentation entry, registered as the recipe's steps 2 and 3 say."""
    cell_code, view_code = recipe("add a cell")
    cell = run_block(cell_code, "leaky").CELL
    view = run_block(view_code, "leaky_view").LEAKY_VIEW
    monkeypatch.setitem(bc.CELLS, cell.name, cell)
    monkeypatch.setitem(cell_views.VIEWS, cell.name, view)
    return cell


def problem(spec: bc.RNNSpec, T: int = 7, B: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = bc.init_params(spec, seed=seed)
    return params, rng.standard_normal((T, B, spec.input_size)), rng.standard_normal((T, B, spec.output_size))


def test_the_recipes_cell_is_exact(leaky):
    """Its gradient equals central differences and the textbook loop; every option the driver has runs."""
    spec = bc.RNNSpec("leaky", 3, 5, 2)
    params, x, y = problem(spec)
    res = bc.bptt(spec, params, x, y)
    for key in ("weight_hh_l0", "weight_ih_l0", "bias_hh_l0"):
        fd = numerical_gradient(lambda: bc.bptt(spec, params, x, y).loss, params[key])
        np.testing.assert_allclose(res.grads[key], fd, rtol=1e-6, atol=1e-9)
    ref = reference_bptt(spec, params, x, y)
    for key, g in ref.grads.items():
        np.testing.assert_allclose(res.grads[key], g, rtol=1e-10, atol=1e-13)
    stack = bc.RNNSpec("leaky", 3, 4, 2, num_layers=2, bidirectional=True)
    params, x, y = problem(stack)
    full = bc.bptt(stack, params, x, y)
    checkpointed = bc.bptt(stack, params, x, y, checkpoint="sqrt")
    for key, g in full.grads.items():
        np.testing.assert_allclose(checkpointed.grads[key], g, rtol=1e-10, atol=1e-13)
    assert checkpointed.stored_bytes < full.stored_bytes


def test_the_recipes_cell_reaches_the_analyses_and_a_page(leaky):
    """Its Jacobian products follow its own step (the leak keeps 1 - alpha of the state), and the Gradient flow
    page's first section draws with it, captions and all."""
    spec = bc.RNNSpec("leaky", 3, 5, 2)
    params, x, _ = problem(spec)
    params = {**params, "weight_hh_l0": np.zeros_like(params["weight_hh_l0"])}  # only the leak carries h back
    jp = jacobian_products(local_jacobians(spec, params, x), spec.hidden_size)
    np.testing.assert_allclose(jp.log10_spectral[0][1:4], np.log10(0.5) * np.arange(1, 4), rtol=1e-9)
    built = sections.page_panels("gradient_flow", RunConfig(cell="leaky", T=12, hidden_size=4), section="")
    assert built and all(p.caption and p.figure.data for p in built.values())


def test_the_recipes_quantity_is_a_valid_entry():
    """The example has every field, a label no quantity has yet, and names a function that exists."""
    (code,) = recipe("add a quantity")
    quantity = run_block(code, "quantity").FIRST_STATE_GRADIENT
    assert isinstance(quantity, Q.Quantity) and all(getattr(quantity, f) for f in ("key", "label", "definition"))
    assert quantity.label not in {q.label for q in Q.QUANTITIES.values()}
    for entry in [quantity, *Q.QUANTITIES.values()]:
        module, function = entry.computed_by.split(":")
        assert callable(getattr(importlib.import_module(module), function)), entry.computed_by


def test_every_page_of_the_router_has_its_script_and_its_apptest():
    routed = [
        node.args[0].value
        for node in ast.walk(ast.parse((ROOT / "app.py").read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Page" and node.args
    ]
    assert routed and all((ROOT / page).exists() for page in routed), routed
    assert set(routed) == set(PAGES), set(routed) ^ set(PAGES)
