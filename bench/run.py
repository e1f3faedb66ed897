"""Benchmarks of the engine, the sweeps and the app's figure building.

Every number is a median of interleaved repetitions, and each table carries a
reference measured in the same run (PyTorch when installed, a matrix multiply of
the same shapes, one BPTT call, or the target from the issue tracker).

    python -m bench                # everything
    python -m bench engine app     # some sections
    python -m bench online         # RTRL, UORO, SnAp-1, truncated BPTT and BPTT side by side
    python -m bench --quick        # fewer repetitions
    python -m bench scan           # the associative scan against the loop (LRU, minGRU)
    python -m bench diagnose       # the advice benchmark on a zoo of trained models (bench/diagnose.py)
    python -m bench diagnose-fixes # and every recommendation tried on its model
    python -m bench papers         # six published results beside the engine's reproductions (README table)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

import bptt_core as bc
from bptt_core.analysis.sweeps import gradient_ratio_sweep

SHAPE = {"T": 1000, "B": 32, "I": 16, "H": 128}


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median time of each function, alternating them so drift hits all alike."""
    for fn in fns.values():
        fn()
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in samples.items()}


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n## {title}\n")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")


def problem(cell: str, T: int, B: int, I: int, H: int, seed: int = 0):
    spec = bc.RNNSpec(cell, I, H, I)
    rng = np.random.default_rng(seed)
    return spec, bc.init_params(spec, seed=seed), rng.standard_normal((T, B, I)), rng.standard_normal((T, B, I))


def flops(cell: str, T: int, B: int, I: int, H: int) -> float:
    """Floating-point operations of the matrix products of one forward + backward (2 per multiply-add):
    input projection, recurrent product forward and backward, the two weight gradients, the read-out
    and its gradients."""
    GH = bc.CELLS[cell].gates * H
    per_step = B * GH * (I + 1) + 2 * B * GH * H + B * GH * (H + I) + 3 * B * H * I
    return 2.0 * T * per_step


def matmul_floor(cell: str, T: int, B: int, I: int, H: int, dtype: str) -> Callable[[], object]:
    """The same matrix products as one forward + backward, back to back, into preallocated outputs in
    their fastest layouts: what the hardware allows for this problem with nothing else to do."""
    from bptt_core.checkpoint import gradient_chunk

    rng = np.random.default_rng(1)
    GH, c = bc.CELLS[cell].gates * H, min(gradient_chunk(B), T)
    x1, w1 = rng.standard_normal((T * B, I + 1)).astype(dtype), rng.standard_normal((I + 1, GH)).astype(dtype)
    xw = np.empty((T * B, GH), dtype)
    h, w_t = rng.standard_normal((B, H)).astype(dtype), rng.standard_normal((H, GH)).astype(dtype)
    w = np.ascontiguousarray(w_t.T)
    a, dh = np.empty((B, GH), dtype), np.empty((B, H), dtype)
    d_chunk, h_chunk = rng.standard_normal((c * B, GH)).astype(dtype), rng.standard_normal((c * B, H)).astype(dtype)
    x_chunk = rng.standard_normal((c * B, I)).astype(dtype)
    gw, gi = np.empty((GH, H), dtype), np.empty((GH, I), dtype)
    hs, wo = rng.standard_normal((T * B, H)).astype(dtype), rng.standard_normal((I, H)).astype(dtype)
    ys, go, dhs = np.empty((T * B, I), dtype), np.empty((I, H), dtype), np.empty((T * B, H), dtype)

    def run() -> None:
        np.matmul(x1, w1, out=xw)
        for _ in range(T):
            np.matmul(h, w_t, out=a)
        np.matmul(hs, wo.T, out=ys)  # read-out
        np.matmul(ys, wo, out=dhs)  # its gradient into h
        np.matmul(ys.T, hs, out=go)  # and into W_out
        for t in range(T):
            np.matmul(a, w, out=dh)
            if t % c == 0:
                np.matmul(d_chunk.T, h_chunk, out=gw)
                np.matmul(d_chunk.T, x_chunk, out=gi)

    return run


def torch_runner(cell: str, T: int, B: int, I: int, H: int, dtype: str, layers: int = 1, bidirectional: bool = False):
    if bc.CELLS[cell].torch_module is None:  # no PyTorch module to compare with (the LRU, minGRU)
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    module = getattr(torch.nn, bc.CELLS[cell].torch_module)(I, H, num_layers=layers, bidirectional=bidirectional).to(
        tdtype
    )
    head = torch.nn.Linear(H * (2 if bidirectional else 1), I).to(tdtype)
    x = torch.randn(T, B, I, dtype=tdtype)
    y = torch.randn(T, B, I, dtype=tdtype)

    def step():
        module.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        out, _ = module(x)
        loss = ((head(out) - y) ** 2).mean()
        loss.backward()

    return step


def engine(repeat: int) -> None:
    T, B, I, H = SHAPE["T"], SHAPE["B"], SHAPE["I"], SHAPE["H"]
    repeat = max(repeat, 9)  # a 2-core VM is noisy: more interleaved rounds for the headline table
    rows = []
    for dtype in ("float64", "float32"):
        for cell in bc.CELLS:
            spec, params, x, y = problem(cell, T, B, I, H)
            work = bc.Workspace()  # reused from call to call, as a training loop does
            fns = {
                "ours": lambda: bc.bptt(spec, params, x, y, dtype=dtype, workspace=work),
                "fresh": lambda: bc.bptt(spec, params, x, y, dtype=dtype),
                "sqrt": lambda: bc.bptt(spec, params, x, y, dtype=dtype, checkpoint="sqrt", workspace=work),
                "matmul": matmul_floor(cell, T, B, I, H, dtype),
            }
            runner = torch_runner(cell, T, B, I, H, dtype)
            if runner:
                fns["torch"] = runner
            t = interleaved(fns, repeat)
            flop = flops(cell, T, B, I, H)
            full = bc.bptt(spec, params, x, y, dtype=dtype, return_sequences=False)
            ck = bc.bptt(spec, params, x, y, dtype=dtype, checkpoint="sqrt", return_sequences=False)
            vs = (lambda k: f"{t[k] / t['torch']:.2f}") if "torch" in t else (lambda k: "–")
            rows.append(
                [
                    cell,
                    dtype,
                    f"{t['ours'] * 1e3:.0f}",
                    f"{t['fresh'] * 1e3:.0f}",
                    f"{t['torch'] * 1e3:.0f}" if "torch" in t else "–",
                    vs("ours"),
                    vs("fresh"),
                    f"{flop / t['ours'] / 1e9:.1f}",
                    f"{flop / t['matmul'] / 1e9:.1f}",
                    f"{t['matmul'] / t['ours']:.0%}",
                    f"{t['sqrt'] / t['ours']:.2f}",
                    f"{ck.memory_bytes / full.memory_bytes:.1%}",
                ]
            )
    table(
        f"Engine: one forward + backward, (T, B, I, H) = ({T}, {B}, {I}, {H}), median of {repeat} interleaved runs",
        [
            "cell",
            "dtype",
            "ours ms",
            "no workspace ms",
            "torch ms",
            "ours/torch",
            "no workspace/torch",
            "GFLOP/s",
            "matmul-only GFLOP/s",
            "of matmul",
            "sqrt time ratio",
            "sqrt memory",
        ],
        rows,
    )

    rows = []
    for cell in bc.CELLS:
        spec, params, x, y = problem(cell, 500, 8, 16, 64)
        t = interleaved(
            {"bptt": lambda: bc.bptt(spec, params, x, y), "flow": lambda: bc.flow_matrix(spec, params, x, y)},
            max(3, repeat // 2),
        )
        # the flow matrix pushes T (T + 1) / 2 adjoints through a step, bptt does 3 T products: (T + 1) / 6
        rows.append(
            [
                cell,
                f"{t['bptt'] * 1e3:.0f}",
                f"{t['flow'] * 1e3:.0f}",
                f"{t['flow'] / t['bptt']:.1f}",
                f"{(500 + 1) / 6:.0f}",
            ]
        )
    table(
        "flow_matrix (T = 500, B = 8, H = 64) against one bptt call",
        ["cell", "bptt ms", "flow_matrix ms", "ratio", "ratio of matrix-product work"],
        rows,
    )


def deep(repeat: int) -> None:
    """A 2-layer bidirectional LSTM, (T, B, I, H) = (500, 32, 16, 128), against torch in the same run."""
    T, B, I, H = 500, 32, 16, 128
    spec = bc.RNNSpec("lstm", I, H, I, num_layers=2, bidirectional=True)
    params = bc.init_params(spec)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, I))
    rows = []
    for dtype in ("float64", "float32"):
        work = bc.Workspace()
        fns = {"ours": lambda: bc.bptt(spec, params, x, y, dtype=dtype, workspace=work)}
        runner = torch_runner("lstm", T, B, I, H, dtype, layers=2, bidirectional=True)
        if runner:
            fns["torch"] = runner
        t = interleaved(fns, max(repeat, 5))
        ratio = f"{t['ours'] / t['torch']:.2f}" if "torch" in t else "–"
        torch_ms = f"{t['torch'] * 1e3:.0f}" if "torch" in t else "–"
        rows.append(["lstm, 2 layers, bidirectional", dtype, f"{t['ours'] * 1e3:.0f}", torch_ms, ratio])
    table(
        f"Deep network: one forward + backward, (T, B, I, H) = ({T}, {B}, {I}, {H})",
        ["network", "dtype", "ours ms", "torch ms", "ours/torch"],
        rows,
    )


def sweeps(repeat: int) -> None:
    radii, lengths = np.linspace(0.1, 3.0, 20), np.linspace(10, 200, 20).astype(int)
    rows = []
    for cell in bc.CELLS:
        t = median_time(lambda: gradient_ratio_sweep(cell, radii, lengths, hidden_size=32), repeat)
        spec, params, x, y = problem(cell, 200, 4, 4, 32)
        one = median_time(lambda: bc.bptt(spec, params, x, y), repeat)
        rows.append([cell, f"{t:.2f}", f"{one * 1e3:.1f}", f"{t / one:.0f}", "5.00", "yes" if t < 5 else "NO"])
    table(
        "Phase-diagram sweep: 20 x 20 grid, T up to 200, H = 32",
        ["cell", "sweep s", "one bptt ms (T=200)", "sweep / bptt", "target s", "met"],
        rows,
    )


def app(repeat: int) -> None:
    from dashboard.catalog import SECTIONS, page_panels
    from dashboard.config import RunConfig
    from dashboard.learning import lessons, stochastic

    rows = []
    for label, config, target in (
        ("default", RunConfig(), 0.3),
        ("T=1000, H=128", RunConfig(T=1000, hidden_size=128), 3.0),
    ):
        pages = {name: (lambda name=name: page_panels(name, config)) for name in SECTIONS}
        pages["losses"] = lambda: lessons.loss_panels(config)
        pages["stochastic"] = lambda: stochastic.estimator_panels(
            "bernoulli", 0.3, 0.2, np.geomspace(0.05, 2, 8), 2000, 0.5
        )
        for page, fn in pages.items():
            t = median_time(fn, max(1, repeat // 3))
            rows.append([label, page, f"{t:.3f}", f"{target:.1f}", "yes" if t < target else "NO"])
    table(
        "App: compute + build every figure of a page, no cache, no browser",
        ["config", "page", "seconds", "target s", "met"],
        rows,
    )


def training(repeat: int) -> None:
    from bptt_core.lab.train import TrainConfig, train

    config = TrainConfig()  # the training lab's default: adding problem, LSTM, T = 20, 500 iterations
    one = bc.bptt(
        config.spec,
        bc.init_params(config.spec),
        np.zeros((config.T, config.batch_size, 2)),
        np.zeros((config.T, config.batch_size, 1)),
    )
    assert one.finite
    t = median_time(lambda: train(config), max(1, repeat // 3))
    table(
        "Training lab: the default task, 500 iterations",
        ["task", "cell", "T", "B", "iterations", "seconds", "target s", "met"],
        [
            [
                config.task,
                config.cell,
                config.T,
                config.batch_size,
                config.iterations,
                f"{t:.2f}",
                "10.0",
                "yes" if t < 10 else "NO",
            ]
        ],
    )


def browser(repeat: int) -> None:
    from .browser import browser_section

    browser_section(repeat)


def scan(repeat: int) -> None:
    from .scan import scan_section

    scan_section(repeat)


def diagnose(repeat: int) -> None:
    from .diagnose import diagnose_section

    diagnose_section(repeat)


def diagnose_fixes(repeat: int) -> None:
    from .diagnose import fixes_section

    fixes_section(repeat)


def pages(repeat: int) -> None:
    from .pages import pages_section

    pages_section(repeat)


def load(repeat: int, **options) -> None:
    from .load import load_section

    load_section(repeat, **options)


def load_browser(repeat: int) -> None:
    from .load import load_browser_section

    load_browser_section(repeat)


def online(repeat: int) -> None:
    from .online import online_section

    online_section(repeat)


def papers(repeat: int) -> None:
    from .papers import papers_section

    papers_section(repeat)


SECTIONS = {
    "engine": engine,
    "deep": deep,
    "sweeps": sweeps,
    "app": app,
    "training": training,
    "scan": scan,
    "pages": pages,
    "browser": browser,
    "diagnose": diagnose,
    "diagnose-fixes": diagnose_fixes,
    "load": load,
    "load-browser": load_browser,
    "online": online,
    "papers": papers,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="BPTT dashboard benchmarks")
    parser.add_argument("sections", nargs="*", metavar="section", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    load_options = parser.add_argument_group("load: where the class connects (default: one server it starts)")
    load_options.add_argument("--url", help="a running deployment, e.g. python -m deploy's address")
    load_options.add_argument("--timing", help="with --url: the file its replicas time runs in (deploy --timing)")
    load_options.add_argument("--replicas", type=int, default=0, help="start this many replicas behind nginx")
    load_options.add_argument("--sessions", type=int, nargs="+", help="class sizes N (default 1 5 10 20)")
    load_options.add_argument("--classrooms", nargs="+", choices=("paced", "together"), help="default: both")
    load_options.add_argument("--query", default="", help="the class's settings, as in the address: T=300&cell=gru")
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    if args.url and args.replicas:
        parser.error("--url and --replicas exclude each other: measure a running deployment or start one")
    repeat = 3 if args.quick else 7
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    print(
        f"# Benchmarks · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
        f"numpy {np.__version__} · torch {torch_version}"
    )
    chosen = {"url": args.url, "timing": args.timing, "replicas": args.replicas, "query": args.query}
    chosen |= {k: tuple(v) for k, v in (("sessions", args.sessions), ("classrooms", args.classrooms)) if v}
    for name in args.sections or SECTIONS:
        SECTIONS[name](repeat, **chosen) if name == "load" else SECTIONS[name](repeat)
    return 0
