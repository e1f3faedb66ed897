"""Gradient flow over time and depth: per-layer tables of one run, for the views over depth.

Pure functions of engine results (the analyses are in :mod:`dashboard.compute`). A stack has ``L`` layers and ``D``
directions; every result here is keyed by ``(layer, direction)``, layer 0 at the
bottom (PyTorch's ``_l0``), direction 1 the reverse one (``_reverse``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import bptt_core as bc
from bptt_core.analysis.jacobians import JacobianProducts
from bptt_core.analysis.spectral import SpectralReport

from .compute import Owner
from .config import RunConfig
from .verdict import VERDICT_DECADES, Horizon, horizon_text, jacobian_summary


def label(owner: Owner, bidirectional: bool = True) -> str:
    """``"layer 1 ←"``: the layer as PyTorch numbers it, the arrow the direction it reads the sequence."""
    layer, d = owner
    return f"layer {layer}" + ((" ←" if d else " →") if bidirectional else "")


def is_deep(config: RunConfig) -> bool:
    """More than one layer or direction: the views over depth have something to show."""
    return config.num_layers > 1 or config.bidirectional


def layer_norms(res: bc.BPTTResult) -> np.ndarray:
    """``||dL/dh_t^(l,d)||`` over batch and units, shape (L, D, T) (inf where it overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(np.square(res.dh_layers, dtype=np.float64), axis=(3, 4)))


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


def jacobian_verdict(jp: JacobianProducts) -> str:
    """The verdict's rule (±:data:`VERDICT_DECADES` decades) on a layer's Jacobian-product curve."""
    curve = jp.log10_spectral_mean
    if not np.all(np.isfinite(curve)):
        return "overflow"
    if curve.size < 2:
        return "too short"
    change = curve[-1] - curve[0]
    return "vanishing" if change < -VERDICT_DECADES else "exploding" if change > VERDICT_DECADES else "holds"


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
                "spectral radius ρ(W_hh)": max(report.spectral_radius.values()),
                "γσ_max": report.bound_rate if report.bound_rate is not None else np.nan,
                "growth per step": float(np.exp(summary.rate)),
                "horizon": horizon_text(summary, jp),
                "verdict": jacobian_verdict(jp),
                "median ||∂L/∂h_t||": median,
            }
        )
    table = pd.DataFrame(rows)
    return table.drop(columns="γσ_max") if table["γσ_max"].isna().all() else table
