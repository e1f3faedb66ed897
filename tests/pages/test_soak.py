"""Soak: hundreds of random widget changes across all pages in one session."""

from __future__ import annotations

import json
import os
import random
import resource
import time
from pathlib import Path

import pytest

import bptt_core as bc
from bptt_core.lab.signals import SIGNALS
from dashboard.config import CHECKPOINTS
from tests.apptest import PAGES, open_app

pytestmark = pytest.mark.slow
ACTIONS = 300
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
PEAK_RSS_LIMIT = 3 * 2**30
CHOICES = {  # widget kind, key, values
    "T": ("slider", [1, 2, 7, 30, 64, 200, 1000]),
    "hidden_size": ("number_input", [1, 2, 8, 16, 33, 64]),
    "batch_size": ("number_input", [1, 2, 4, 8]),
    "input_size": ("number_input", [1, 3, 8]),
    "output_size": ("number_input", [1, 2, 5]),
    "cell": ("segmented_control", list(bc.CELLS)),
    "activation": ("selectbox", list(bc.ACTIVATIONS)),
    "init": ("selectbox", list(bc.INITS)),
    "scale": ("slider", [0.0, 0.5, 1.0, 1.5, 3.0]),
    "seed": ("number_input", [0, 1, 99]),
    "signal": ("selectbox", list(SIGNALS)),
    "delay": ("slider", [0, 1, 5, 50]),
    "ragged": ("toggle", [True, False]),
    "loss": ("selectbox", list(bc.LOSSES)),
    "reduction": ("radio", list(bc.REDUCTIONS)),
    "truncation": ("number_input", [0, 1, 5, 2000 // 2]),
    "clip": ("number_input", [0.0, 0.5, 10.0]),
    "checkpoint": ("selectbox", list(CHECKPOINTS)),
    "dtype": ("radio", ["float64", "float32"]),
}


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_random_session_never_breaks():
    rng = random.Random(20261126)
    at = open_app()
    start, t0 = peak_rss(), time.perf_counter()
    log = []
    for i in range(ACTIONS):
        if rng.random() < 0.25:
            page = rng.choice(PAGES)
            at.switch_page(page)
            log.append(page)
        else:
            name = rng.choice(list(CHOICES))
            kind, values = CHOICES[name]
            widget = getattr(at, kind)(key=f"cfg.{name}")
            if widget.disabled:
                continue
            value = rng.choice(values)
            widget.set_value(value)
            log.append(f"{name}={value}")
        t = time.perf_counter()
        at.run()
        if os.environ.get("SOAK_LOG"):
            with open(os.environ["SOAK_LOG"], "a") as f:
                f.write(f"{i} {time.perf_counter() - t:.2f}s {log[-1]} {at.session_state['run_config']}\n")
        assert not at.exception, (i, log[-5:], [e.value for e in at.exception])
    report = {
        "actions": ACTIONS,
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mib": round(peak_rss() / 2**20),
        "rss_at_start_mib": round(start / 2**20),
    }
    print("soak:", json.dumps(report))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "soak.json").write_text(json.dumps(report))  # .ci/run prints it
    assert peak_rss() < PEAK_RSS_LIMIT, report
