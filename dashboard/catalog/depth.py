"""Gradient flow over time and depth: per-layer tables of one run and the panels over depth.

Pure functions of engine results (the analyses are in :mod:`dashboard.catalog.compute`). A stack has ``L``
layers and ``D`` directions; every result here is keyed by ``(layer, direction)``, layer 0 at the
bottom (PyTorch's ``_l0``), direction 1 the reverse one (``_reverse``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.analysis.jacobians import JacobianProducts
from bptt_core.analysis.spectral import SpectralReport
from bptt_core.analysis.summaries import memory_horizon
from dashboard.catalog.compute import Owner
from dashboard.catalog.panels import Panel, animation_note
from dashboard.catalog.verdict import VERDICT_DECADES, Horizon, horizon_text, jacobian_summary
from dashboard.config import RunConfig
from dashboard.figures import depth as fd
from dashboard.vocabulary import quantities
from dashboard.vocabulary.numbers import human_bytes


def label(owner: Owner, bidirectional: bool = True) -> str:
    """``"layer 1 ←"``: the layer as PyTorch numbers it, the arrow the direction it reads the sequence."""
    layer, d = owner
    return f"layer {layer}" + ((" ←" if d else " →") if bidirectional else "")


def is_deep(config: RunConfig) -> bool:
    """More than one layer or direction: the views over depth have something to show."""
    return config.num_layers > 1 or config.bidirectional


def layer_norms(res: bc.BPTTResult) -> np.ndarray:
    """``||dL/dh_t^(l,d)||`` over batch and units, shape (L, D, T) (inf where it overflows; scaled, so a tiny
    gradient is not lost to its square)."""
    return bc.scaled_norm(res.dh_layers, axis=(3, 4))


def layer_time_table(config: RunConfig, res: bc.BPTTResult) -> pd.DataFrame:
    """Long table of :func:`layer_norms`: columns ``layer``, ``direction``, ``label``, ``t``, ``grad_norm``."""
    norms = layer_norms(res)
    frames = [
        pd.DataFrame(
            {
                "layer": layer,
                "direction": d,
                "label": label((layer, d), config.bidirectional),
                "t": np.arange(config.T),
                "grad_norm": norms[layer, d],
            }
        )
        for layer, d in config.owners
    ]
    return pd.concat(frames, ignore_index=True)


def jacobian_change(jp: JacobianProducts) -> str:
    """The vocabulary's "jacobian_change": how a layer's Jacobian products change from lag 0 to the last lag
    followed, by the verdict's thresholds (±:data:`VERDICT_DECADES` decades)."""
    curve = jp.log10_spectral_mean
    if not np.all(np.isfinite(curve)):
        return "overflow"
    if curve.size < 2:
        return "one lag only"
    change = curve[-1] - curve[0]
    return "shrink" if change < -VERDICT_DECADES else "grow" if change > VERDICT_DECADES else "within ±2 decades"


def layer_summary(
    config: RunConfig,
    res: bc.BPTTResult,
    jps: dict[Owner, JacobianProducts],
    reports: dict[Owner, SpectralReport],
) -> pd.DataFrame:
    """One row per layer and direction: its W_hh, its Jacobian products and the gradient it receives."""
    norms = layer_norms(res)
    rows = []
    for owner in config.owners:
        jp, report = jps[owner], reports[owner]
        summary: Horizon = jacobian_summary(jp)
        with np.errstate(invalid="ignore"):
            median = float(np.median(norms[owner]))
        rows.append(
            {
                "layer": label(owner, config.bidirectional),
                quantities.label("spectral_radius"): max(report.spectral_radius.values(), default=np.nan),
                quantities.label("pascanu_rate"): report.bound_rate if report.bound_rate is not None else np.nan,
                quantities.label("jacobian_growth"): float(np.exp(summary.rate)),
                quantities.label("memory_horizon"): horizon_text(summary, jp),
                quantities.label("jacobian_change"): jacobian_change(jp),
                quantities.label("layer_median_gradient"): median,
            }
        )
    table = pd.DataFrame(rows)
    optional = [quantities.label(key) for key in ("spectral_radius", "pascanu_rate")]
    return table.drop(columns=[c for c in optional if table[c].isna().all()])  # no W_hh: no ρ; gated: no rate


def layer_time(config: RunConfig, res: bc.BPTTResult) -> Panel:
    """The layer x time heat map of ``||dL/dh_t^(l,d)||``."""
    df = layer_time_table(config, res)
    caption = (
        "Each row is one layer's ||∂L/∂h_t|| over time (the read-out sits on the top layer). " + layer_time_caption(df)
    )
    if config.bidirectional:
        caption += (
            " The reverse direction's recurrence runs from step t + 1 to step t, so a loss at step s reaches "
            "its states at s and after: its gradient travels left to right on this map."
        )
    return Panel("layer_time", "Gradient over time and depth", caption, fd.layer_time_heatmap(df), df)


def layer_time_caption(df: pd.DataFrame) -> str:
    """Which layer-direction receives the least and the most gradient, and how it changes down the stack,
    from the medians over time of the heat map's rows."""
    with np.errstate(invalid="ignore"):
        medians = df.groupby("label", sort=False)["grad_norm"].median()
    if not np.all(np.isfinite(medians)):
        return "Some gradients overflowed: the blank cells are inf or nan."
    text = (
        f"Median over time: weakest in {medians.idxmin()} ({medians.min():.3g}), strongest in "
        f"{medians.idxmax()} ({medians.max():.3g})."
    )
    by_layer = df.groupby("layer")["grad_norm"].median()
    if len(by_layer) > 1 and by_layer.iloc[-1] > 0 and by_layer.iloc[0] > 0:
        ratio = by_layer.iloc[0] / by_layer.iloc[-1]
        per_layer = ratio ** (1 / (len(by_layer) - 1))
        text += (
            f" From the top layer down to layer 0 the median changes ×{ratio:.3g} "
            f"(×{per_layer:.3g} per layer): {'shrinking' if ratio < 1 else 'growing'} with depth."
        )
    return text


def layer_jacobian(config: RunConfig, jps: dict) -> Panel:
    """Per-layer Jacobian-product curves, and where the gradient dies first."""
    df = pd.concat(
        [
            pd.DataFrame(
                {
                    "label": label(owner, config.bidirectional),
                    "layer": owner[0],
                    "direction": owner[1],
                    "lag": jp.lags,
                    "log10_spectral": jp.log10_spectral_mean,
                }
            )
            for owner, jp in jps.items()
        ],
        ignore_index=True,
    )
    caption = (
        "How fast each layer forgets along its own recurrence (state-to-state products ∂h_t/∂h_k within "
        "the layer, first sequence). " + dies_first_caption(df)
    )
    return Panel("layer_jacobians", "Jacobian products in each layer", caption, fd.layer_jacobians(df), df)


def dies_first_caption(df: pd.DataFrame) -> str:
    """Where the gradient dies first: the layer-direction whose curve falls below 1/1000 of its peak at
    the smallest lag (:func:`bptt_core.analysis.summaries.memory_horizon` on each drawn curve)."""
    horizons = {
        name: memory_horizon(part["log10_spectral"].to_numpy(), lags=part["lag"].to_numpy())
        for name, part in df.groupby("label", sort=False)
    }
    followed = int(df["lag"].max())
    died = {name: h for name, h in horizons.items() if h is not None}
    listing = "; ".join(f"{n}: {h if h is not None else f'> {followed}'} steps" for n, h in horizons.items())
    if not died:
        return f"No layer's products fall below 1/1000 of their peak within {followed} lags: ({listing})."
    first = min(died, key=died.get)
    return (
        f"The gradient dies first in {first}: its products fall below 1/1000 of their peak after "
        f"{died[first]} steps ({listing})."
    )


def layer_memory(config: RunConfig, res: bc.BPTTResult) -> Panel:
    """What each layer and direction holds for backward through the pass: its tape, checkpoints and output
    sequence (a run without returned sequences)."""
    phases, steps, _ = zip(*res.memory_timeline)
    frames = [
        pd.DataFrame(
            {
                "moment": np.arange(len(held)),
                "phase": phases,
                "step": steps,
                "label": label(owner, config.bidirectional),
                "layer": owner[0],
                "direction": owner[1],
                "bytes": np.asarray(held, dtype=np.int64),
            }
        )
        for owner, held in res.memory_timeline_by_layer.items()
    ]
    df = pd.concat(frames, ignore_index=True)
    return Panel("layer_memory", "Tape and checkpoints by layer", layer_memory_caption(df), fd.layer_memory(df), df)


def layer_memory_caption(df: pd.DataFrame) -> str:
    """The peak moment and each layer's share of it, and the order backward frees the layers, from the data."""
    total = df.groupby("moment")["bytes"].sum()
    peak = int(total.idxmax())
    at_peak = df[df["moment"] == peak].set_index("label")["bytes"]
    shares = ", ".join(f"{name} {human_bytes(b)}" for name, b in at_peak.items())
    last_held = df[df["bytes"] > 0].groupby("label")["moment"].max().sort_values()
    order = ", then ".join(last_held.index)
    return (
        f"Each layer keeps its tape, checkpoints and output sequence (the input of the layer above), and forward "
        f"fills every layer before backward can start, so the stores add up: at the peak "
        f"({human_bytes(total.max())}) {shares}. Backward frees them in the order {order}: the top layer "
        "first, the bottom layer holds its store longest. Checkpointing shrinks each layer's tape, not the outputs "
        "it hands up."
    )


def unroll_grid(config: RunConfig, res: bc.BPTTResult, *, static: bool = False) -> Panel:
    """The unrolled stack as a grid (layers x time), animated through both passes."""
    with np.errstate(over="ignore", invalid="ignore"):
        h_rms = np.sqrt(np.mean(np.square(res.h_layers, dtype=np.float64), axis=(3, 4)))
    norms = layer_norms(res)
    df = layer_time_table(config, res).assign(h_rms=h_rms.ravel())
    fig = fd.grid_animation(h_rms, norms, static=static)
    caption = (
        "Press ▶ Play: the forward pass fills layer 0 (its reverse direction right to left), then each layer "
        "above; backward starts at the top layer, runs back in time and hands each step's gradient down to "
        "the layer below. Blue = RMS |h_t|, red shade and size = log10 ||∂L/∂h_t||."
    )
    caption += animation_note(fig, 2 * config.T * len(config.owners))
    if static:
        caption = "Every layer reuses its weights at every step; red shade and size show the gradient each h_t got."
    name = "unroll_grid_diagram" if static else "unroll_grid"
    return Panel(name, "The unrolled stack", caption, fig, df)
