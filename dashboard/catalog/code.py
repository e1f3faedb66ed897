"""The code you can read: :func:`bptt_core.reference.reference_bptt` beside the Unroll page's animation,
the loop each frame runs highlighted, with the step's numbers.

Which lines a frame highlights is read from the reference module's own source: the ``for`` loop whose
line carries the pass's marker (``# [forward]``, ``# [backward]``), from its header to its last line.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core import reference
from dashboard.catalog import panels
from dashboard.catalog.compute import Params, problem
from dashboard.catalog.panels import Panel
from dashboard.config import RunConfig
from dashboard.figures.code import code_beside

#: The comment that marks each loop of :func:`~bptt_core.reference.reference_bptt`, by pass.
MARKERS = {"forward": "# [forward]", "backward": "# [backward]"}
#: The file the code view shows (and exports write beside the figures).
REFERENCE_FILE = "bptt_core/reference.py"
#: Steps the animation beside the code shows at once (the page's own shows 12).
WINDOW = 8
#: Multiply-adds (about 3 per parameter, step and sequence) the caption's live check of the loop against
#: the engine may spend: the loop runs step by step in Python; a larger run's caption states the tests' bound.
AGREEMENT_WORK = 1e8


def reference_source() -> str:
    """The text of ``bptt_core/reference.py``, as the code view reads it."""
    return inspect.getsource(reference)


def reference_body(function=reference.reference_bptt) -> tuple[list[str], int, dict[str, tuple[int, int]]]:
    """The lines of ``function`` after its signature and docstring, and where its marked loops are.

    Returns
    -------
    lines : list of str
        The body, as written.
    first_number : int
        The file's line number of ``lines[0]``.
    loops : dict of str to (int, int)
        For each pass of :data:`MARKERS`, the first and last index into ``lines`` of its loop.
    """
    source, start = inspect.getsourcelines(function)
    tree = ast.parse(textwrap.dedent("".join(source))).body[0]
    statements = tree.body[1:] if ast.get_docstring(tree) else tree.body
    skip = statements[0].lineno - 1  # source lines before the body's first statement
    loops = {}
    for node in ast.walk(tree):
        for phase, marker in MARKERS.items():
            if isinstance(node, ast.For) and marker in source[node.lineno - 1]:
                loops[phase] = (node.lineno - 1 - skip, node.end_lineno - 1 - skip)
    if set(loops) != set(MARKERS):
        raise ValueError(f"function must mark one loop with each of {list(MARKERS.values())}")
    return [line.rstrip("\n") for line in source[skip:]], start + skip, loops


def frame_table(frame_names: list[str], steps: pd.DataFrame) -> pd.DataFrame:
    """One row per animation frame (named ``f<t>`` forward, ``b<t>`` backward): its pass, step, the lines of
    the loop it runs and the step's numbers from ``steps`` (the animation's own table: ``h_rms``, ``loss``,
    ``grad_norm`` per step)."""
    _, first_number, loops = reference_body()
    rows = []
    for name in frame_names:
        match = re.fullmatch(r"([fb])(\d+)", name or "")
        if match is None:
            raise ValueError(f"frame_names must be f<t> or b<t>, got {name!r}")
        phase, t = ("forward" if match[1] == "f" else "backward"), int(match[2])
        step = steps.iloc[t]
        if phase == "forward":
            note = f"forward loop · t = {t} · RMS |h_t| = {step['h_rms']:.3g} · l_t = {step['loss']:.3g}"
        else:
            note = f"backward loop · t = {t} · ||∂L/∂h_t|| = {step['grad_norm']:.3g}"
        first, last = loops[phase]
        rows.append({"name": name, "phase": phase, "t": t, "first": first, "last": last, "note": note})
    table = pd.DataFrame(rows, columns=["name", "phase", "t", "first", "last", "note"])
    return table.assign(first_line=table["first"] + first_number, last_line=table["last"] + first_number)


def agreement(config: RunConfig, params: Params | None, res: bc.BPTTResult) -> float | None:
    """Largest relative difference between the loop's gradients and the engine's ``res`` on this page's
    problem; None when the run uses an option only the engine has (truncation, clipping), is larger than
    :data:`AGREEMENT_WORK`, or overflows."""
    if config.truncation or config.clip or config.num_layers > 1 or config.bidirectional:
        return None
    if 3 * config.T * config.batch_size * config.spec.n_params() > AGREEMENT_WORK:
        return None
    p = problem(config, params)
    with np.errstate(all="ignore"):
        ref = reference.reference_bptt(p.spec, p.params, p.x, p.y, config.loss, config.reduction, p.mask)
        errors = [bc.relative_error(ref.grads[k], g) for k, g in res.grads.items()]
    return max(errors) if np.isfinite(errors).all() else None


def engine_extras(config: RunConfig) -> list[str]:
    """The options of this run that the engine adds to the loop."""
    extras = [f"truncation every {config.truncation} steps"] if config.truncation else []
    extras += [f"clipping at {config.clip:g}"] if config.clip else []
    extras += [f"checkpointing ({config.checkpoint}; the same gradients)"] if config.checkpoint != "none" else []
    return extras + (["float32"] if config.dtype == "float32" else [])


def code_caption(config: RunConfig, error: float | None) -> str:
    """What the code is, what the highlight follows, and how this run relates to it."""
    text = (
        f"The code is `{REFERENCE_FILE}`: BPTT as a textbook loop, for any registered cell, tested equal to "
        "the engine to 1e-10. While ▶ plays, the blue band marks the forward loop computing step t and the "
        "red band the backward loop carrying ∂L/∂h_t from t+1 back to t; above the code, that step's numbers."
    )
    if error is not None:
        text += f" On these settings its gradients equal the engine's to a relative {error:.0e}."
    extras = engine_extras(config)
    if extras:
        text += f" The engine adds to it here: {', '.join(extras)}."
    return text


def unroll_code(config: RunConfig, params: Params | None, res: bc.BPTTResult, stored: bc.BPTTResult) -> Panel:
    """The Unroll page's animation of one layer (:func:`~dashboard.catalog.panels.unroll`'s, over a window of
    :data:`WINDOW` steps so that the code fits beside it) with the reference loop on its right."""
    animation = panels.unroll(config, res, stored, window=WINDOW)
    lines, first_number, _ = reference_body()
    frames = frame_table([f["name"] for f in animation.figure["frames"]], animation.data)
    fig = code_beside(
        animation.figure,
        lines,
        first_number,
        frames,
        title="The unrolled network and the loop that computes it",
        heading=f"{REFERENCE_FILE} · reference_bptt",
    )
    caption = code_caption(config, agreement(config, params, res))
    return Panel("unroll_code", "Unrolled network and its code", caption, fig, frames)
