"""The engine against an earlier version of itself, interleaved call by call in one process.

    python -m bench.compare 121c0bf      # any commit of this repository

The machine's speed drifts by tens of percent over minutes (a shared VM), so two separate runs of
``python -m bench engine`` cannot show a few percent. Here the old ``bptt_core`` (from ``git archive``)
and the working tree's run alternately on the same problem, and the median of the per-pair ratios is
reported with its interquartile range: a range that spans 1.0 is no change beyond the noise.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]
CASES = [(c, d) for c in ("rnn", "gru", "lstm") for d in ("float64", "float32")]


def _old_engine(commit: str, folder: Path):
    """``bptt_core`` as it was at ``commit``, importable as ``bptt_old``."""
    archive = subprocess.run(["git", "archive", commit, "bptt_core"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "bptt_core").rename(folder / "bptt_old")
    sys.path.insert(0, str(folder))
    return importlib.import_module("bptt_old")


def compare(commit: str, pairs: int = 11, T: int = 1000, B: int = 32, I: int = 16, H: int = 128) -> list[list]:
    import bptt_core as new

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = _old_engine(commit, Path(tmp))
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, I))
        for cell, dtype in CASES:
            calls = []
            for bc in (old, new):
                spec, work = bc.RNNSpec(cell, I, H, I), bc.Workspace()
                params = bc.init_params(spec, seed=0)
                calls.append(lambda bc=bc, s=spec, p=params, w=work: bc.bptt(s, p, x, y, workspace=w, dtype=dtype))
                calls[-1]()
            times = np.empty((pairs, 2))
            for i in range(pairs):
                for j, call in enumerate(calls):
                    start = time.perf_counter()
                    call()
                    times[i, j] = time.perf_counter() - start
            ratio = times[:, 1] / times[:, 0]
            q1, q3 = np.percentile(ratio, [25, 75])
            rows.append([cell, dtype, f"{1e3 * np.median(times[:, 0]):.0f}", f"{1e3 * np.median(times[:, 1]):.0f}",
                         f"{np.median(ratio):.3f}", f"{q1:.3f}-{q3:.3f}"])  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    from .run import table

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.compare COMMIT", file=sys.stderr)
        return 2
    table(
        f"Engine: this tree against {args[0]}, (T, B, I, H) = (1000, 32, 16, 128), interleaved pairs",
        ["cell", "dtype", "old ms", "new ms", "new/old median", "new/old IQR"],
        compare(args[0]),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
