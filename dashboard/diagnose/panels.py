"""The diagnosis shown: its panels (figure, tidy data, a caption read off the data), the rules table, and the
report files (``report.json``, ``report.html``)."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import plotly.io as pio

import bptt_core as bc
from dashboard.catalog.panels import Panel
from dashboard.diagnose.advice import RULES
from dashboard.diagnose.measurements import Report, layer_summary, positive_median, sequence_median, where
from dashboard.diagnose.model_files import describe
from dashboard.diagnose.sequence_files import Sequences
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
        + (f"Smallest median: {where(spec, l, d)} ({medians[l, d]:.3g})." if np.isfinite(medians[l, d]) else "")
    )
    fig = fd.layer_time_heatmap(df, quantity=quantity)
    return Panel("diagnose_gradients", "Gradients over time and depth", caption, fig, df)


def dynamics_sentence(report: Report, l: int, d: int) -> str:
    """What one layer-direction's curves do over the analysed sequences, with the median and the worst."""
    s = layer_summary(report, l, d)
    n, parts = s["sequences"], []
    if s["regimes"]["decaying"]:
        med, worst = s["horizon"]
        shown = f"horizon median {med:.0f}" if np.isfinite(med) else "horizon median beyond the sequence"
        parts.append(f"{s['regimes']['decaying']} of {n} decay ({shown}, shortest {worst:.0f} steps)")
    if s["regimes"]["flat"]:
        parts.append(f"{s['regimes']['flat']} of {n} stay within 10³ of 1 over all {report.T} steps")
    if s["regimes"]["growing"]:
        parts.append(f"{s['regimes']['growing']} of {n} grow past 10³ (first at lag {s['blowup'][1]:.0f})")
    med, worst = s["growth"]
    return (
        f"{s['label']}: "
        + "; ".join(parts)
        + f"; growth per step median ×{np.exp(med):.3g}, worst ×{np.exp(worst):.3g}"
    )


def jacobians_panel(report: Report) -> Panel:
    """Every analysed sequence's Jacobian products against the lag, per layer and direction, and their median."""
    rows = [
        pd.DataFrame(
            {
                "label": where(report.spec, l, d),
                "layer": l,
                "direction": d,
                "sequence": s,
                "lag": report.lags,
                "log10_spectral": report.jacobian[l, d, s],
            }
        )
        for l, d in report.spec.layers()
        for s in range(report.analysed)
    ]
    df = pd.concat(rows, ignore_index=True)
    df["norm"] = 10.0 ** df["log10_spectral"]
    caption = (
        f"‖∂h_t/∂h_k‖ of each of {report.analysed} sequence(s) on its own (thin) and their median (thick). "
        "Horizon: where a curve falls below 10⁻³ of its peak so far; blow-up: where it rises past 10³. "
        + ". ".join(dynamics_sentence(report, l, d) for l, d in report.spec.layers())
        + "."
    )
    return Panel("diagnose_jacobians", "Jacobian products", caption, fdx.sequence_jacobians(df), df)


def lyapunov_panel(report: Report) -> Panel:
    """The leading Lyapunov exponents of each layer, direction and sequence; the caption gives λ₁'s spread."""
    k = report.lyapunov.shape[-1]
    df = pd.DataFrame(
        [
            {"label": where(report.spec, l, d), "layer": l, "direction": d, "sequence": s, "i": i + 1,
             "exponent": report.lyapunov[l, d, s, i]}
            for l, d in report.spec.layers()
            for s in range(report.analysed)
            for i in range(k)
        ]
    )  # fmt: skip
    parts = []
    for l, d in report.spec.layers():
        s = layer_summary(report, l, d)
        med, worst = s["lyapunov_1"]
        parts.append(
            f"{s['label']}: λ₁ median {med:+.3f}, largest {worst:+.3f} per step "
            f"({s['positive_lyapunov']} of {s['sequences']} sequences above 0)"
        )
    caption = (
        "Finite-time Lyapunov exponents of each sequence's input-driven Jacobians (thin) and their median (thick); "
        "along the most expanding direction perturbations (and gradients) change by e^λ₁ per step. "
        + "; ".join(parts)
        + "."
    )
    return Panel("diagnose_lyapunov", "Lyapunov spectrum", caption, fdx.lyapunov_spectrum(df), df)


def saturation_panel(report: Report) -> Panel | None:
    """Per gate, the share of units near each limit of its non-linearity (None for a cell without gates)."""
    cell = bc.CELLS[report.spec.cell]
    if not cell.gates:
        return None
    names = cell.gate_names if cell.gates > 1 else (report.spec.activation,)
    rows = [
        {"label": where(report.spec, l, d), "gate": names[g], "side": side, "share": report.saturation[l, d, g, s]}
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
    clip = next((r.evidence.get("median_norm") for r in report.recommendations if r.rule == "clip"), None)
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


def shown_value(value) -> str:
    """A rule's number as the report prints it ("not measured" for None)."""
    if value is None:
        return "not measured"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return "∞" if np.isinf(value) else f"{value:.4g}"
    return str(value)


def rules_table(report: Report) -> pd.DataFrame:
    """One row per condition of every rule: its number, threshold and whether it was met, and whether the rule
    fired ("any" rules fire on one met condition, "all" rules on every one)."""
    logic = {rule.name: rule.logic for rule in RULES}
    return pd.DataFrame(
        [
            {"rule": c.rule, "fired": "yes" if c.fired else "no", "combines": logic[c.rule], "condition": row["label"],
             "value": shown_value(row["value"]), "threshold": f"{row['op']} {shown_value(row['threshold'])}",
             "met": "yes" if row["met"] else "no"}
            for c in report.checks
            for row in c.rows
        ]
    )  # fmt: skip


def _plain(a):
    """JSON types: arrays as nested lists, non-finite numbers as None."""
    if isinstance(a, np.ndarray):
        if a.dtype.kind in "fc":
            return np.where(np.isfinite(a), a, None).tolist()
        return a.tolist()
    if isinstance(a, dict):
        return {k: _plain(v) for k, v in a.items()}
    if isinstance(a, (list, tuple)):
        return [_plain(v) for v in a]
    if isinstance(a, (float, np.floating)):
        return float(a) if np.isfinite(a) else None
    if isinstance(a, np.integer):
        return int(a)
    if isinstance(a, np.bool_):
        return bool(a)
    return a


def to_json(report: Report) -> dict:
    """The report as plain JSON types (the headless command's ``report.json``)."""
    spec = report.spec
    rec = lambda r: {"what": r.what, "why": r.why, "evidence": _plain(r.evidence), "rule": r.rule}  # noqa: E731
    return {
        "cell": spec.cell,
        "activation": spec.activation,
        "num_layers": spec.num_layers,
        "bidirectional": spec.bidirectional,
        "input_size": spec.input_size,
        "hidden_size": spec.hidden_size,
        "output_size": spec.output_size,
        "T": report.T,
        "B": report.B,
        "loss": report.loss_name,
        "loss_value": _plain(report.loss),
        "explained": _plain(report.explained),
        "dh_norms": _plain(report.dh_norms),
        "sensitivity": _plain(report.sensitivity),
        "lyapunov": _plain(sequence_median(report.lyapunov, axis=2)),
        "lyapunov_per_sequence": _plain(report.lyapunov),
        "horizon": _plain(sequence_median(report.horizon, axis=2)),
        "dynamics": [_plain(layer_summary(report, l, d)) for l, d in spec.layers()],
        "per_sequence": {
            "regime": report.regime.tolist(),
            "growth": _plain(report.growth),
            "horizon": _plain(report.horizon),
            "blowup": _plain(report.blowup),
        },
        "memory_need": None if report.memory is None else _plain(report.memory.__dict__),
        "gate_names": list(bc.CELLS[spec.cell].gate_names),
        "saturation": _plain(report.saturation),
        "spectral_radius": _plain(report.radius),
        "batch_grad_norms": _plain(report.batch_norms),
        "grad_norms": _plain(report.grad_norms),
        "overflow": report.overflow,
        "connectivity": {"step": report.connectivity_step, "norms": _plain(report.connectivity)},
        "recommendations": [rec(r) for r in report.recommendations],
        "options": [rec(r) for r in report.options],
        "rules": [
            {"rule": c.rule, "kind": c.kind, "fired": c.fired, "conditions": _plain([dict(row) for row in c.rows])}
            for c in report.checks
        ],
        "notes": report.notes,
    }


def _advice_html(items: list, empty: str) -> str:
    return (
        "".join(
            f"<li><b>{html.escape(r.what)}</b><br>{html.escape(r.why)}<br>"
            f"<code>{html.escape(json.dumps(_plain(r.evidence)))}</code></li>"
            for r in items
        )
        or f"<li>{empty}</li>"
    )


def report_html(report: Report, seqs: Sequences, extra: str = "") -> str:
    """A self-contained HTML report: the settings, the recommendations with their evidence, every rule's
    numbers, every figure (and ``extra`` HTML, e.g. the fine-tuning runs of "try the fix")."""
    recs = _advice_html(report.recommendations, "Nothing to change: no rule of kind fix fired.")
    options = _advice_html(report.options, "None.")
    rules = rules_table(report).to_html(index=False, escape=True, border=0)
    figures = "".join(
        f"<section><h2>{html.escape(p.title)}</h2>"
        + pio.to_html(p.figure, include_plotlyjs=i == 0, full_html=False)
        + f"<p>{html.escape(p.caption)}</p></section>"
        for i, p in enumerate(panels(report, seqs))
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}li{margin-bottom:.6em}code{font-size:12px}"
        "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>BPTT diagnosis</title><style>{style}</style></head>"
        f"<body><h1>Diagnosis of {html.escape(describe(report.spec))}</h1><ul>{notes}</ul>"
        f"<h2>Recommendations</h2><ol>{recs}</ol><h2>Options</h2><ol>{options}</ol>"
        f"<h2>Every rule and the numbers it read</h2>{rules}{figures}{extra}</body></html>"
    )
