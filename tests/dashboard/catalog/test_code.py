"""The Unroll page's code view: the lines it lights are the reference module's own loops, frame by frame,
with the step's numbers; its caption's agreement is measured."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import bptt_core as bc
from bptt_core import reference
from dashboard.catalog import code, compute, panels
from dashboard.config import RunConfig
from tests.dashboard.catalog.test_claims import random_settings

ROOT = Path(__file__).parents[3]


def test_the_lit_lines_are_the_marked_loops_of_the_files_own_source():
    lines, first_number, loops = code.reference_body()
    in_file = (ROOT / "bptt_core" / "reference.py").read_text().splitlines()
    assert lines == in_file[first_number - 1 : first_number - 1 + len(lines)]  # as written, numbered as in the file
    assert lines[-1].strip().startswith("return Reference(")
    forward, backward = (lines[a : b + 1] for a, b in (loops["forward"], loops["backward"]))
    assert forward[0].strip().startswith("for t in range(T):  # [forward]")
    assert backward[0].strip().startswith("for t in reversed(range(T)):  # [backward]")
    for loop, (_, b) in zip((forward, backward), (loops["forward"], loops["backward"])):
        indent = len(loop[0]) - len(loop[0].lstrip())
        assert all(len(line) - len(line.lstrip()) > indent for line in loop[1:] if line.strip())  # the body
        assert len(lines[b + 1]) - len(lines[b + 1].lstrip()) <= indent  # and nothing after it
    assert any("cell.forward_step(" in line for line in forward)
    assert any("cell.backward_step(" in line for line in backward)


def _two_loops(xs):
    """A function with its loops marked the other way round."""
    total = 0
    for x in reversed(xs):  # [backward]
        total -= x
    for x in xs:  # [forward]
        total += x
    return total


def test_the_loops_are_found_by_their_markers_wherever_they_are():
    lines, _, loops = code.reference_body(_two_loops)
    assert lines[loops["backward"][0]].strip().startswith("for x in reversed(xs)")
    assert loops["backward"] == (1, 2) and loops["forward"] == (3, 4)
    with pytest.raises(ValueError, match="must mark one loop"):
        code.reference_body(random_settings)


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_each_frame_lights_its_pass_loop_with_its_steps_numbers(cell):
    config = RunConfig(cell=cell, T=15, hidden_size=4)
    res, stored = compute.run(config), compute.stored_run(config)
    panel = code.unroll_code(config, None, res, stored)
    _, _, loops = code.reference_body()
    steps = panels.steps_table(config, res)
    names = [f.name for f in panel.figure.frames]
    assert names == panel.data["name"].tolist() and len(names) == 2 * config.T
    band = {p: next(i for i, t in enumerate(panel.figure.data) if t.name == f"{p} lines") for p in code.MARKERS}
    for frame, row in zip(panel.figure.frames, panel.data.itertuples()):
        t = int(frame.name[1:])
        phase = "forward" if frame.name[0] == "f" else "backward"
        assert (row.phase, row.t) == (phase, t)
        lit = frame.data[list(frame.traces).index(band[phase])]
        first, last = loops[phase]
        assert (min(lit.y), max(lit.y)) == (first - 0.5, last + 0.5)
        if phase == "forward":
            assert f"RMS |h_t| = {steps['h_rms'][t]:.3g}" in row.note and f"l_t = {steps['loss'][t]:.3g}" in row.note
        else:
            assert f"||∂L/∂h_t|| = {steps['grad_norm'][t]:.3g}" in row.note
        assert f"t = {t} " in row.note
    assert panel.data["first_line"].min() > 1 and (panel.data["last_line"] >= panel.data["first_line"]).all()


def test_code_caption_states_the_measured_agreement():
    """'its gradients equal the engine's to a relative e': e is the largest relative difference of the loop's
    gradients and the engine's on the page's own problem, at most 1e-10 in float64; the options only the
    engine has are named instead."""
    seen = 0
    for drawn in random_settings(12, seed=26, max_T=300):
        config = drawn.replace(truncation=0, clip=0.0, num_layers=1, bidirectional=False)  # the loop's own options
        res = compute.run(config)
        error = code.agreement(config, None, res)
        caption = code.code_caption(config, error)
        if error is None:
            assert "relative" not in caption
            continue
        seen += 1
        p = compute.problem(config)
        with np.errstate(all="ignore"):
            ref = reference.reference_bptt(p.spec, p.params, p.x, p.y, config.loss, config.reduction, p.mask)
        assert error == max(bc.relative_error(ref.grads[k], g) for k, g in res.grads.items())
        assert error < (1e-10 if config.dtype == "float64" else 1e-4)  # float32 runs the engine in float32
        assert re.search(rf"equal the engine's to a relative {error:.0e}\.", caption)
    assert seen >= 3


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"truncation": 4}, "truncation every 4 steps"),
        ({"clip": 0.5}, "clipping at 0.5"),
        ({"checkpoint": "sqrt"}, "checkpointing (sqrt; the same gradients)"),
        ({"dtype": "float32"}, "float32"),
    ],
)
def test_the_caption_names_what_the_engine_adds(changes, named):
    config = RunConfig(T=12, **changes)
    error = code.agreement(config, None, compute.run(config))
    caption = code.code_caption(config, error)
    assert f"The engine adds to it here: {named}." in caption
    if "truncation" in changes or "clip" in changes:
        assert error is None
    else:  # checkpointing keeps the gradients; float32 rounds them
        assert error < (1e-10 if "checkpoint" in changes else 1e-4)


def test_a_large_run_skips_the_live_check():
    config = RunConfig(T=1000, hidden_size=128, batch_size=32)
    assert 3 * config.T * config.batch_size * config.spec.n_params() > code.AGREEMENT_WORK
    assert code.agreement(config, None, None) is None  # decided before anything runs
    assert "relative" not in code.code_caption(config, None)
