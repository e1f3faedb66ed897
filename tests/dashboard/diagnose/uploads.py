"""Files as a user uploads them: bytes of ``.npz`` and ``.npy`` archives; the reproduce script run on its own."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

import bptt_core as bc
from dashboard.diagnose import reproduce


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def assert_the_script_reproduces(folder, model, seqs, report, weights_name: str, weights: bytes) -> None:
    """Write the reproduce script, its data and the weights file to ``folder``, run it in a fresh Python and check
    that it prints the report's loss, gradient norms and dh_norms."""
    (folder / "reproduce.py").write_text(reproduce.script(model, weights_name, seqs.loss))
    (folder / "diagnose_data.npz").write_bytes(reproduce.data_npz(seqs))
    (folder / weights_name).write_bytes(weights)
    done = subprocess.run(
        [sys.executable, "reproduce.py", weights_name, "diagnose_data.npz"], cwd=folder, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["loss"] == pytest.approx(report.loss, rel=1e-10)
    assert bc.relative_error(np.array(printed["dh_norms"]), report.dh_norms) < 1e-8
    for key, norm in report.grad_norms.items():
        assert printed["grad_norms"][key] == pytest.approx(norm, rel=1e-8), key
