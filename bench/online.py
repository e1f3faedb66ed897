"""``python -m bench online``: each gradient method's time, memory and FLOPs at a few sizes.

Every registered cell, one layer, B = 1 (online learning follows one stream), I = O = 4, mse; the exact
``diagonal`` method where the cell's recurrence is diagonal (it refuses the others). Time is the median of
interleaved repetitions (the reference, BPTT, measured in the same rounds); memory is each call's
ledger: ``held`` its peak, ``stored`` what it keeps to form its gradient (BPTT's tape, an online
method's influence); FLOPs are counted (:mod:`bptt_core.online.costs`).
"""

from __future__ import annotations

import numpy as np

import bptt_core as bc
from bptt_core.budget import human
from bptt_core.online import METHODS, crossover_length, online_gradient, stored_crossover

from .run import interleaved, table

HIDDEN, LENGTHS = (8, 16, 32), (50, 200, 1000)
#: The methods timed, with their options (tbptt's window and bptt's checkpoints are this section's choice).
OPTIONS = {
    "rtrl": {},
    "uoro": {"seed": 0},
    "snap1": {},
    "diagonal": {},
    "tbptt": {"truncation": 20},
    "bptt": {},
    "sqrt": {},
}


def _problem(cell: str, H: int, T: int):
    spec = bc.RNNSpec(cell, 4, H, 4)
    rng = np.random.default_rng(0)
    return spec, bc.init_params(spec, seed=0), rng.standard_normal((T, 1, 4)), rng.standard_normal((T, 1, 4))


def _call(spec, params, x, y, name: str):
    """The method of a table row (``sqrt``: BPTT with sqrt(T) checkpoints)."""
    if name == "sqrt":
        return lambda: online_gradient(spec, params, x, y, "bptt", checkpoint="sqrt")
    return lambda: online_gradient(spec, params, x, y, name, **OPTIONS[name])


def _applies(spec, params, name: str) -> bool:
    """Whether the method runs on this network (``diagonal`` refuses a recurrence that couples units)."""
    try:
        _call(spec, params, *_problem(spec.cell, spec.hidden_size, 2)[2:], name)()
    except ValueError:
        return False
    return True


def online_section(repeat: int) -> None:
    """Print one table per cell (rows: H, T, method) and the crossover lengths."""
    assert set(OPTIONS) - {"sqrt"} <= set(METHODS)
    for cell in bc.CELLS:
        rows = []
        for H in HIDDEN:
            for T in LENGTHS:
                spec, params, x, y = _problem(cell, H, T)
                fns = {name: _call(spec, params, x, y, name) for name in OPTIONS if _applies(spec, params, name)}
                times = interleaved(fns, max(1, repeat // 3))
                for name, fn in fns.items():
                    res = fn()
                    rows.append(
                        [
                            H,
                            T,
                            name if name != "sqrt" else "bptt, sqrt checkpoints",
                            f"{times[name] * 1e3:.1f}",
                            f"{times[name] / times['bptt']:.1f}",
                            human(res.memory_bytes),
                            human(res.stored_bytes),
                            f"{res.flops / 1e6:.1f}",
                            f"{res.flops / times[name] / 1e9:.2f}",
                        ]
                    )
        table(
            f"Online gradients, {cell}: one gradient of a sequence (B = 1, I = O = 4), median of "
            f"{max(1, repeat // 3)} interleaved runs; tbptt with k = {OPTIONS['tbptt']['truncation']}",
            ["H", "T", "method", "ms", "time / bptt", "held", "stored", "MFLOP", "GFLOP/s"],
            rows,
        )
        crossings = []
        for H in HIDDEN:
            spec = bc.RNNSpec(cell, 4, H, 4)
            crossings.append([H, crossover_length(spec), crossover_length(spec, what="stored"), stored_crossover(spec)])
        table(
            f"Crossover, {cell}: the shortest T at which BPTT holds more than RTRL (B = 1)",
            ["H", "T* held (ledgers)", "T* stored (ledgers)", "T* stored (closed form (S N - v H) / (w H))"],
            crossings,
        )
