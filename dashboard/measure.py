"""The memory a BPTT run really takes, measured by ``tracemalloc`` in a separate process.

tracemalloc counts every allocation of the whole process while it runs, so measuring
inside a server that other sessions share would count their work too; a child process
runs only the measured call. ``python -m dashboard.measure '{"T": "200"}'`` (the URL's query
parameters as JSON) prints JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import bptt_core as bc

from .compute import bptt_options, problem
from .config import RunConfig, from_mapping

ROOT = Path(__file__).resolve().parents[1]
#: The memory modes measured, with the options each adds to the configuration's.
MODES = {
    "this run": {},
    "full storage": {"checkpoint": None, "truncation": None},
    "checkpoint sqrt(T)": {"checkpoint": "sqrt", "truncation": None},
}


def measure_here(config: RunConfig) -> dict[str, dict[str, int]]:
    """Ledger and tracemalloc peak of each mode of :data:`MODES`, in this process (without returned sequences).

    Returns
    -------
    dict mode -> {"ledger": bytes, "measured": bytes}
    """
    p = problem(config)
    out = {}
    for mode, extra in MODES.items():
        options = bptt_options(config) | extra
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            res = bc.bptt(p.spec, p.params, p.x, p.y, mask=p.mask, return_sequences=False, **options)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        out[mode] = {"ledger": int(res.memory_bytes), "measured": int(peak)}
    return out


def measured_peaks(config: RunConfig, timeout: float = 120.0) -> dict[str, dict[str, int]]:
    """:func:`measure_here` in a child process. The weights are the preset's: memory does not depend
    on their values."""
    query = json.dumps(config.to_query())
    try:  # run from the project root: the child imports the same code, wherever the server was started
        done = subprocess.run(
            [sys.executable, "-m", "dashboard.measure", query],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"measuring took longer than {timeout:.0f} s; lower T or the sizes") from None
    except OSError as err:
        raise ValueError(f"the memory measurement failed ({err})") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ValueError(f"the memory measurement failed ({reason})")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m dashboard.measure QUERY_JSON", file=sys.stderr)
        return 2
    try:
        values = json.loads(args[0])
    except json.JSONDecodeError as err:
        print(f"measure: QUERY_JSON is not JSON: {err}", file=sys.stderr)
        return 2
    config, problems = from_mapping(values)
    if problems:
        print(f"measure: {problems[0]}", file=sys.stderr)
        return 2
    print(json.dumps(measure_here(config)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
