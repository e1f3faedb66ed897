"""The diagnosis as panels and as a headless command.

    python -m dashboard.diagnose WEIGHTS --inputs X [--targets Y] [--loss mse|cross_entropy]
                                 [--batch-first] [--alphabet CHARS] [--next-token] [--out DIR]

writes ``DIR/report.json`` and ``DIR/report.html`` (the page's figures, self-contained). A bad file
is one line on stderr naming the problem, exit code 2, and nothing written.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio

import bptt_core as bc
from dashboard.catalog.panels import Panel
from dashboard.diagnose.measurements import Report, diagnose, positive_median, to_json, where
from dashboard.diagnose.model_files import Model, UploadError, describe, read_model
from dashboard.diagnose.sequence_files import Sequences, read_sequences
from dashboard.figures import depth as fd
from dashboard.figures import diagnose as fdx

#: The diagnosis's panels, in page order.
PANEL_NAMES = (
    "diagnose_gradients",
    "diagnose_jacobians",
    "diagnose_lyapunov",
    "diagnose_saturation",
    "diagnose_batches",
    "diagnose_connectivity",
)


def _label(report: Report, l: int, d: int) -> str:
    return where(report.spec, l, d)


def gradients_panel(report: Report) -> Panel:
    """``||dL/dh_t||`` (or the read-out's sensitivity) over layers and time."""
    spec, G = report.spec, report.gradient
    L, D, T = G.shape
    df = pd.DataFrame(
        {
            "layer": np.repeat(np.arange(L), D * T),
            "direction": np.tile(np.repeat(np.arange(D), T), L),
            "t": np.tile(np.arange(T), L * D),
            "grad_norm": G.reshape(-1),
        }
    )
    quantity = "∂L/∂h_t" if report.dh_norms is not None else "∂ŷ_T/∂h_t"
    medians = positive_median(G, axis=2)
    finite = np.where(np.isfinite(medians), medians, np.inf)
    l, d = np.unravel_index(np.argmin(finite), finite.shape)
    caption = (
        f"‖{quantity}‖ per layer and step, Frobenius over your {report.B} sequence(s) and the "
        f"{spec.hidden_size} units. "
        + (f"Smallest median: {_label(report, l, d)} ({medians[l, d]:.3g})." if np.isfinite(medians[l, d]) else "")
    )
    fig = fd.layer_time_heatmap(df, quantity=quantity)
    return Panel("diagnose_gradients", "Gradients over time and depth", caption, fig, df)


def jacobians_panel(report: Report) -> Panel:
    """The Jacobian products' spectral norm against the lag, per layer and direction, with each horizon."""
    rows = []
    for l, d in report.spec.layers():
        rows.append(
            pd.DataFrame(
                {
                    "label": _label(report, l, d),
                    "layer": l,
                    "direction": d,
                    "lag": report.lags,
                    "log10_spectral": report.jacobian[l, d],
                }
            )
        )
    df = pd.concat(rows, ignore_index=True)
    parts = [
        f"{_label(report, l, d)}: {'beyond the ' + str(report.T) + ' steps' if h < 0 else f'{h} steps'}"
        for (l, d), h in zip(report.spec.layers(), report.horizon.reshape(-1))
    ]
    caption = (
        f"‖∂h_t/∂h_k‖ of the products of your model's step Jacobians on {report.analysed} sequence(s). "
        f"Horizon (falls below 10⁻³ of its peak): {'; '.join(parts)}."
    )
    return Panel("diagnose_jacobians", "Jacobian products", caption, fd.layer_jacobians(df), df)


def lyapunov_panel(report: Report) -> Panel:
    """The leading Lyapunov exponents of each layer and direction."""
    k = report.lyapunov.shape[-1]
    df = pd.DataFrame(
        [
            {
                "label": _label(report, l, d),
                "layer": l,
                "direction": d,
                "i": i + 1,
                "exponent": report.lyapunov[l, d, i],
            }
            for l, d in report.spec.layers()
            for i in range(k)
        ]
    )
    lead = df[df["i"] == 1]
    top = lead.loc[lead["exponent"].fillna(-np.inf).idxmax()]
    sign = "grow" if top["exponent"] > 0 else "shrink"
    caption = (
        f"Leading exponent λ₁ = {top['exponent']:+.3f} per step in {top['label']}: along its most expanding "
        f"direction, perturbations (and gradients) {sign} by e^λ₁ = {np.exp(top['exponent']):.3g}× per step. "
        "Every λ below 0: all directions shrink."
        if top["exponent"] < 0
        else f"Leading exponent λ₁ = {top['exponent']:+.3f} per step in {top['label']}: along its most expanding "
        f"direction, perturbations (and gradients) {sign} by e^λ₁ = {np.exp(top['exponent']):.3g}× per step."
    )
    return Panel("diagnose_lyapunov", "Lyapunov spectrum", caption, fdx.lyapunov_spectrum(df), df)


def saturation_panel(report: Report) -> Panel | None:
    """Per gate, the share of units near each limit of its non-linearity (None for a cell without gates)."""
    cell = bc.CELLS[report.spec.cell]
    if not cell.gates:
        return None
    names = cell.gate_names if cell.gates > 1 else (report.spec.activation,)
    rows = [
        {"label": _label(report, l, d), "gate": names[g], "side": side, "share": report.saturation[l, d, g, s]}
        for l, d in report.spec.layers()
        for g in range(cell.gates)
        for s, side in enumerate(("near the lower limit", "near the upper limit"))
    ]
    df = pd.DataFrame(rows).fillna({"share": 0.0})
    total = df.groupby(["label", "gate"], sort=False)["share"].sum()
    (label, gate), share = total.idxmax(), total.max()
    caption = f"Most saturated: {label}, gate {gate}, with {share:.0%} of its values within 0.01 of a limit."
    return Panel("diagnose_saturation", "Gate saturation", caption, fdx.gate_saturation(df), df)


def batches_panel(report: Report) -> Panel | None:
    """The global gradient norm of each batch, with the advised clip threshold (with targets only)."""
    if not report.batch_norms.size:
        return None
    df = pd.DataFrame({"batch": np.arange(report.batch_norms.size), "grad_norm": report.batch_norms})
    clip = next((r.evidence.get("median_norm") for r in report.recommendations if "median_norm" in r.evidence), None)
    ok = report.batch_norms[np.isfinite(report.batch_norms)]
    caption = (
        f"{report.batch_norms.size} batch(es): median {np.median(ok):.3g}, largest {ok.max():.3g} "
        f"({ok.max() / np.median(ok):.3g}× the median)."
        if ok.size and np.median(ok) > 0
        else "No finite gradient norm."
    )
    return Panel("diagnose_batches", "Gradient norm per batch", caption, fdx.batch_norms(df, clip=clip), df)


def connectivity_panel(report: Report, seqs: Sequences) -> Panel:
    """How the first sequence's last read-out depends on each input step (labelled with its characters for
    text, its token ids for ids)."""
    n = report.connectivity.size
    if seqs.text:
        tokens = list(seqs.text[0][:n])
    else:  # token ids where the inputs were ids, else the step
        tokens = [str(v) for v in (seqs.tokens[:n, 0] if seqs.tokens is not None else range(n))]
    df = pd.DataFrame({"k": np.arange(n), "token": tokens, "norm": report.connectivity})
    finite = np.where(np.isfinite(df["norm"]), df["norm"], -np.inf)
    k = int(np.argmax(finite))
    caption = (
        f"‖∂ŷ_t/∂x_k‖ for the read-out at t = {report.connectivity_step} of the first sequence: largest at step {k} "
        f"({df['token'][k]!r}, {df['norm'][k]:.3g})"
        + (f", {df['norm'][k] / df['norm'][0]:.3g}× step 0's." if df["norm"][0] > 0 else ".")
    )
    fig = fdx.input_connectivity(df, step=report.connectivity_step)
    return Panel("diagnose_connectivity", "Input connectivity", caption, fig, df)


def panels(report: Report, seqs: Sequences) -> list[Panel]:
    """Every panel of the diagnosis, in page order (the batch norms only with targets)."""
    built = [
        gradients_panel(report),
        jacobians_panel(report),
        lyapunov_panel(report),
        saturation_panel(report),
        batches_panel(report),
        connectivity_panel(report, seqs),
    ]
    return [p for p in built if p is not None]


def report_html(report: Report, seqs: Sequences) -> str:
    """A self-contained HTML report: the settings, the recommendations with their evidence, every figure."""
    recs = (
        "".join(
            f"<li><b>{html.escape(r.what)}</b><br>{html.escape(r.why)}<br><code>{html.escape(json.dumps(r.evidence))}</code></li>"
            for r in report.recommendations
        )
        or "<li>Nothing to change: no measurement crossed a threshold.</li>"
    )
    figures = "".join(
        f"<section><h2>{html.escape(p.title)}</h2>"
        + pio.to_html(p.figure, include_plotlyjs=i == 0, full_html=False)
        + f"<p>{html.escape(p.caption)}</p></section>"
        for i, p in enumerate(panels(report, seqs))
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto}li{margin-bottom:.6em}code{font-size:12px}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>BPTT diagnosis</title><style>{style}</style></head>"
        f"<body><h1>Diagnosis of {html.escape(describe(report.spec))}</h1><ul>{notes}</ul>"
        f"<h2>Recommendations</h2><ol>{recs}</ol>{figures}</body></html>"
    )


def write(report: Report, seqs: Sequences, out: Path) -> None:
    """``report.json`` and ``report.html`` into the folder ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(to_json(report), indent=1))
    (out / "report.html").write_text(report_html(report, seqs))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line and exit code 2 (argparse's own error also prints the usage)."""
        self.exit(2, f"error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dashboard.diagnose", description="Diagnose a trained RNN on its own sequences.")
    p.add_argument("weights", help="a torch.nn.RNN/LSTM/GRU state dict: .pt, .safetensors or .npz")
    p.add_argument("--inputs", required=True, help="sequences: .npy/.npz (T, B, I) or ids (T, B), .csv, or text")
    p.add_argument("--targets", help="targets: .npy or .csv (per step, or one per sequence)")
    p.add_argument("--loss", choices=bc.LOSSES, help="checked against the targets (class ids: cross_entropy)")
    p.add_argument("--batch-first", action="store_true", help="arrays are (B, T, ...)")
    p.add_argument("--alphabet", help="for text: the characters in token-id order")
    p.add_argument("--next-token", action="store_true", help="targets are the next token (a character model)")
    p.add_argument("--nonlinearity", choices=("tanh", "relu"), default="tanh", help="nn.RNN's non-linearity")
    p.add_argument("--readout", help="the state-dict key of the read-out's weight, or 'none'")
    p.add_argument("--embedding", help="the state-dict key of the embedding's weight, or 'none'")
    p.add_argument("--out", default="diagnosis", help="output folder (default: ./diagnosis)")
    return p


def load(args: argparse.Namespace) -> tuple[Model, Sequences]:
    """The model and sequences the command's arguments name (UploadError or OSError when they cannot be read)."""
    model = read_model(
        Path(args.weights).read_bytes(), readout=args.readout, embedding=args.embedding, nonlinearity=args.nonlinearity
    )
    targets = Path(args.targets).read_bytes() if args.targets else None
    seqs = read_sequences(
        Path(args.inputs).read_bytes(),
        Path(args.inputs).name,
        model,
        batch_first=args.batch_first,
        alphabet=args.alphabet,
        targets=targets,
        targets_name=Path(args.targets).name if args.targets else "",
        next_token=args.next_token,
    )
    if args.loss and seqs.loss and args.loss != seqs.loss:
        raise UploadError(f"--loss {args.loss} does not fit the targets, which are for {seqs.loss}")
    return model, seqs


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        model, seqs = load(args)
        report = diagnose(model, seqs)  # a memory-budget refusal is a ValueError, before anything is written
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write(report, seqs, Path(args.out))
    print(f"wrote {args.out}/report.json and report.html: {len(report.recommendations)} recommendation(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
