"""What the tour's scenes on modern recurrences and on storing no past say, from the live numbers; and the
verdict's reach the scenes ask about."""

from __future__ import annotations

from dashboard.catalog import compute, verdict
from dashboard.catalog import online as methods
from dashboard.catalog.modern_panels import eigenvalue_frame
from dashboard.config import RunConfig
from dashboard.config.cell_views import VIEWS
from dashboard.vocabulary.numbers import factor, human_bytes, readable
from dashboard.vocabulary.quantities import label


def verdict_of(config: RunConfig) -> verdict.Verdict:
    return verdict.verdict(config, compute.last_loss_gradient(config), compute.spectral(config), compute.run(config))


def reach(config: RunConfig) -> float:
    """The last loss's reach (the verdict's ratio)."""
    return verdict_of(config).reach


def compared_reach(c: RunConfig) -> dict[str, float]:
    """Each cell's reach of the last loss on the cell comparison's sequence (the figure's data): ``g_0 / g_(T-1)``."""
    return {cell: float(g[0] / g[-1]) if g[-1] > 0 else float("nan") for cell, g in compute.cell_comparison(c).items()}


def own_reach(c: RunConfig) -> float:
    """The scene's cell's reach on the cell comparison's sequence."""
    return compared_reach(c)[c.cell]


def modern(c: RunConfig) -> str:
    """The LRU against the vanilla RNN and the gated cells on the same inputs: why its gradient survives."""
    lam, kept = eigenvalue_frame(compute.spectral(c)), compared_reach(c)
    others = ", ".join(f"{VIEWS[k].label} {factor(v)}" for k, v in kept.items() if k != c.cell)
    return (
        f"The {VIEWS[c.cell].label} is linear in its state, x_t = λ ⊙ x_(t−1) + γ ⊙ B u_t: its step Jacobian is "
        "diag(λ), with no activation derivative and no W_hh to shrink the gradient, so k steps back each unit "
        f"passes on exactly |λ|^k. {label('eigenvalue_modulus')} starts just inside the unit circle, here from "
        f"{readable(lam['modulus'].min(), 4)} to {readable(lam['modulus'].max(), 4)}: the slowest unit keeps 1 % for "
        f"{readable(lam['steps_to_1pct'].max())} steps. {label('last_loss_reach')} at step 0 of T = {c.T}, on the "
        f"figure's sequence: {VIEWS[c.cell].label} {factor(kept[c.cell])}; on the same inputs {others}."
    )


def storing_no_past(c: RunConfig) -> str:
    by = methods.method_rows(c).set_index("key")
    rtrl, bptt = by.loc["rtrl"], by.loc["bptt"]
    return (
        f"To form the exact gradient at T = {c.T}, BPTT keeps its tape, every step's state: "
        f"{human_bytes(bptt['stored_bytes'])} here ({label('kept_for_gradient').lower()}), growing with T. RTRL keeps "
        f"no past: it carries ∂h_t/∂θ forward, {human_bytes(rtrl['stored_bytes'])} at any T, so it keeps less only "
        f"from T* = {methods.crossover(c)} on ({label('crossover_length')}). It pays in arithmetic: "
        f"{factor(rtrl['flops'] / bptt['flops'])} BPTT's {label('counted_flops')}. UORO and SnAp-1 keep "
        f"{human_bytes(by.loc['uoro', 'stored_bytes'])} and {human_bytes(by.loc['snap1', 'stored_bytes'])}, and pay in "
        f"accuracy: {label('gradient_cosine')} {by.loc['uoro', 'cosine']:.2f} (one UORO draw) and "
        f"{by.loc['snap1', 'cosine']:.2f} (SnAp-1)."
    )


def rtrl_kept(c: RunConfig) -> float:
    """What RTRL keeps to form its gradient (its influence), from its ledger."""
    return float(methods.method_rows(c).set_index("key").loc["rtrl", "stored_bytes"])
