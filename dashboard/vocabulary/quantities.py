"""The one vocabulary of quantities: every number a page names, defined once.

Each :class:`Quantity` holds its label (the only name metrics, legends, axis titles, captions, the tour,
the quiz and exports give it), its symbol, a one-line definition, its unit, how truncation, clipping,
masks, layers and directions enter, what happens at underflow or overflow, and the function that
computes it from a run. Tooltips (:func:`help_text`) and the glossary (:func:`glossary_rows`) are
generated from here. Two quantities never share a label (a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.vocabulary.modern_quantities import MODERN_QUANTITIES
from dashboard.vocabulary.online_quantities import ONLINE_QUANTITIES
from dashboard.vocabulary.paper_quantities import PAPER_QUANTITIES

#: What every norm of a gradient does at the ends of float's range (bptt_core.norms.scaled_norm).
NORM_LIMITS = (
    "norms are scaled before squaring, so they underflow only where the gradient itself does: below "
    "float64's smallest number (about 1e-308; float32: 1e-38) the value is 0 and figures say so; inf or "
    "nan where the run overflowed"
)


@dataclass(frozen=True)
class Quantity:
    """One quantity the pages name.

    Attributes
    ----------
    key : str
        How code refers to it, e.g. ``"last_loss_decay"``.
    label : str
        Its one name on every page (unique).
    symbol : str
        Its mathematical symbol.
    definition : str
        One line: what it is.
    enters : str
        How truncation, clipping, masks, layers and directions enter.
    limits : str
        What happens at underflow or overflow.
    computed_by : str
        The function that computes it from a run (``module:function``).
    unit : str
        ``""`` (a plain number), ``"× per step"``, ``"steps"`` or ``"bytes"``.
    """

    key: str
    label: str
    symbol: str
    definition: str
    enters: str
    limits: str
    computed_by: str
    unit: str = ""


def _q(*fields: str, unit: str = "") -> Quantity:
    return Quantity(*fields, unit=unit)


_LOSS_OPTIONS = "masks: padded tokens count for nothing; truncation and clipping change the gradient, not the loss"

QUANTITIES: dict[str, Quantity] = {
    q.key: q
    for q in (
        _q(
            "loss",
            "Loss L",
            "L",
            "the training loss of this run: the valid token losses summed and divided by their number "
            "(reduction mean), or summed over time and averaged over the batch (reduction sum)",
            _LOSS_OPTIONS,
            "inf or nan when the run overflows",
            "bptt_core:bptt",
        ),
        _q(
            "step_loss",
            "Step loss l_t",
            "l_t",
            "the mean token loss over the sequences with a valid token at step t (0 where none has one)",
            _LOSS_OPTIONS,
            "inf or nan when the run overflows",
            "bptt_core:bptt",
        ),
        _q(
            "gradient_norm",
            "Gradient norm ‖∇L‖",
            "‖∇L‖",
            "the L2 norm of all parameter gradients taken together, before clipping",
            "truncation changes it (the cut paths add nothing); clipping does not (it is measured before); "
            "every layer and direction counts",
            NORM_LIMITS,
            "bptt_core.norms:global_norm",
        ),
        _q(
            "update_norm",
            "Update norm after clipping",
            "min(‖∇L‖, c)",
            "the norm of the gradient the optimiser receives: ‖∇L‖ scaled down to the clip threshold c when it "
            "is larger",
            "clipping scales every parameter's gradient by the same factor, so the direction is kept",
            NORM_LIMITS,
            "bptt_core:bptt",
        ),
        _q(
            "total_gradient",
            "Total gradient ‖∂L/∂h_t‖",
            "‖∂L/∂h_t‖",
            "the norm over the batch and the hidden units of ∂L/∂h_t, the gradient of the whole loss at the "
            "top layer's state h_t: through the read-out at t, every later step and (in a stack) the layers "
            "above",
            "truncation cuts what arrives through the recurrence at the cuts; clipping does not enter (it acts "
            "on parameter gradients); masks: padded steps add no loss; bidirectional: one curve per direction",
            NORM_LIMITS,
            "dashboard.catalog.compute:total_gradient",
        ),
        _q(
            "readout_gradient",
            "Read-out gradient ∂l_t/∂h_t",
            "(∂L/∂ŷ_t) W_out",
            "the part of ∂L/∂h_t that comes straight from the loss at step t through the read-out (PyTorch's "
            "output.grad), without what flows back from later steps",
            "weighted as the reduction weights l_t; masks: 0 at padded steps; clipping does not enter",
            NORM_LIMITS,
            "dashboard.catalog.compute:step_equation",
        ),
        _q(
            "last_loss_gradient",
            "Last loss's gradient ‖∂l_T/∂h_t‖",
            "‖∂l_T/∂h_t‖",
            "the norm of the gradient of one loss, l_T at the last step with a valid token (its own mean, not "
            "weighted by the reduction), with respect to each earlier state h_t of the top layer",
            "truncation: 0 before the last truncation window, where l_T no longer reaches; clipping does not "
            "enter; bidirectional: the forward direction (the reverse direction's states before T do not "
            "reach l_T); in a stack: the top layer",
            NORM_LIMITS,
            "dashboard.catalog.compute:last_loss_gradient",
        ),
        _q(
            "last_loss_reach",
            "Reach of the last loss",
            "‖∂l_T/∂h_a‖ / ‖∂l_T/∂h_T‖",
            "the share of the last loss's gradient that reaches the earliest state it can reach, h_a (a = 0, or "
            "the start of the last truncation window)",
            "truncation moves a to the last cut; masks: T is the last step with a valid token",
            "read in log space: 0 when the gradient falls below float's range before h_a (then the first "
            "representable step is used for the decay)",
            "dashboard.catalog.verdict:verdict",
        ),
        _q(
            "last_loss_decay",
            "Decay of the last loss's gradient per step",
            "(‖∂l_T/∂h_a‖ / ‖∂l_T/∂h_T‖)^(1/(T−a))",
            "the geometric mean of the factor the last loss's gradient is multiplied by per step on its way back "
            "(below 1 it shrinks, above 1 it grows)",
            "as its reach; over the steps where the gradient is representable in float",
            "computed from log-norms, never from an underflowed ratio",
            "dashboard.catalog.verdict:verdict",
            unit="× per step",
        ),
        _q(
            "verdict",
            "Verdict",
            "",
            "vanishing when the last loss's reach is below 10⁻² over this sequence, exploding above 10², "
            "overflow when values left float's range, no gradient when the loss is constant, too short with "
            "one step; otherwise it holds over this length",
            "truncation: read over the last window (the cut is not vanishing); masks: up to the last valid step",
            "an underflowed gradient counts as vanishing",
            "dashboard.catalog.verdict:verdict",
        ),
        _q(
            "jacobian_product",
            "Jacobian product ‖∂h_t/∂h_k‖₂",
            "‖∂h_t/∂h_k‖₂",
            "the spectral norm of the product of step Jacobians from h_k to h_t, of the first sequence, against "
            "the lag t − k (the state h, c for an LSTM)",
            "computed without the loss, so truncation, clipping and masks do not enter; in a stack, within one "
            "layer and direction",
            "products are renormalised every step and their log kept, so they neither underflow nor overflow",
            "dashboard.catalog.compute:jacobians",
        ),
        _q(
            "jacobian_growth",
            "Jacobian growth per step",
            "exp(d ln‖∂h_t/∂h_k‖₂ / d(t−k))",
            "the least-squares slope of ln ‖∂h_t/∂h_k‖₂ against the lag, exponentiated: a finite-time Lyapunov "
            "exponent of the first sequence (below 1 the products shrink, above 1 they grow)",
            "as the Jacobian products",
            "read off log-norms: defined for growing, flat and decaying curves",
            "dashboard.catalog.verdict:jacobian_summary",
            unit="× per step",
        ),
        _q(
            "jacobian_change",
            "Jacobian products over the lags followed",
            "",
            "how ‖∂h_t/∂h_k‖₂ changes from lag 0 to the last lag followed: shrink (below 10⁻²), grow (above 10²), "
            "within 10⁻² and 10², or overflow",
            "as the Jacobian products; in a stack, per layer and direction",
            "read off log-norms",
            "dashboard.catalog.depth:jacobian_change",
        ),
        _q(
            "memory_horizon",
            "Memory horizon",
            "",
            "the first lag at which ‖∂h_t/∂h_k‖₂ falls below 1/1000 of its peak: how far back the state remembers",
            "as the Jacobian products; '> n steps' when the curve never falls that low within the n lags followed",
            "read off log-norms",
            "bptt_core.analysis.summaries:memory_horizon",
            unit="steps",
        ),
        _q(
            "spectral_radius",
            "Spectral radius ρ(W_hh)",
            "ρ(W_hh)",
            "the largest eigenvalue modulus of the recurrent weight matrix, over its gate blocks",
            "a property of the weights: the run's options do not enter; the top layer's forward direction unless "
            "a layer is named",
            "finite for finite weights",
            "dashboard.catalog.compute:spectral",
        ),
        _q(
            "sigma_max",
            "Largest singular value σ_max(W_hh)",
            "σ_max(W_hh)",
            "the largest factor by which one multiplication by W_hh (a gate block) can stretch a vector",
            "a property of the weights",
            "finite for finite weights",
            "dashboard.catalog.compute:spectral",
        ),
        _q(
            "pascanu_rate",
            "Pascanu's γσ_max",
            "γσ_max",
            "the bound on the norm of one step Jacobian of a vanilla RNN, diag(φ')·W_hh, with γ the largest "
            "|φ'| (1 for tanh, relu and linear; 1/4 for sigmoid): every product of n steps is at most (γσ_max)^n",
            "a property of the weights and the activation; vanilla RNN only (gated cells have no such bound)",
            "finite for finite weights",
            "bptt_core.analysis.spectral:spectral_report",
        ),
        _q(
            "flow",
            "Flow ‖∂l_t/∂h_k‖",
            "‖∂l_t/∂h_k‖",
            "how strongly the loss at step t (its mean over the valid sequences) reaches the earlier state h_k of "
            "the top layer's forward direction: one row of the flow matrix per loss",
            "not weighted by the reduction; truncation and clipping do not enter (the full gradient); masks: "
            "padded tokens add no loss",
            NORM_LIMITS,
            "dashboard.catalog.compute:flow",
        ),
        _q(
            "itemised_norm",
            "Norm of the itemised gradient ‖dθ‖",
            "‖∂L/∂θ‖",
            "the Frobenius norm of the gradient of the shared parameter θ a panel itemises (W_hh for RNN, LSTM and "
            "GRU; the LRU's ν; minGRU's W_ih), top layer, forward direction, as this run returns it",
            "after truncation and clipping, as the run applies them",
            NORM_LIMITS,
            "dashboard.catalog.compute:contributions",
        ),
        _q(
            "step_term",
            "Per-step term of a shared weight's gradient",
            "‖C_t‖ (‖δ_t h_{t−1}ᵀ‖ for W_hh)",
            "the norm of the term step t adds to the gradient of a shared parameter of the top layer (forward "
            "direction); the gradient is their sum",
            "truncated as the run; scaled by the run's clipping factor",
            NORM_LIMITS,
            "bptt_core:bptt",
        ),
        _q(
            "peak_held",
            "Peak held",
            "",
            "the most bytes the training pass (forward and backward) holds at once beyond its inputs and "
            "parameters: stored intermediates, checkpoints, gradient buffers, scratch and losses",
            "checkpointing and truncation lower it; every layer and direction counts; the whole batch",
            "exact integer bytes",
            "dashboard.catalog.compute:stored_run",
            unit="bytes",
        ),
        _q(
            "stored_for_backward",
            "Stored for backward",
            "",
            "the most bytes of stored intermediates and checkpoints held at once: what backward needs from "
            "forward (the tape), without the fixed buffers",
            "checkpointing keeps fewer; truncation holds one window; grows with T, B, H and the layers",
            "exact integer bytes",
            "dashboard.catalog.compute:stored_run",
            unit="bytes",
        ),
        _q(
            "measured_peak",
            "Peak measured by tracemalloc",
            "",
            "the peak of the same pass as Python's allocator sees it, in a separate process",
            "as the peak held",
            "exact integer bytes",
            "dashboard.catalog.measure:measured_peaks",
            unit="bytes",
        ),
        _q(
            "recomputed_steps",
            "Recomputed steps",
            "",
            "forward steps run again during backward to rebuild what checkpointing did not keep: every forward "
            "step beyond the T of each layer and direction",
            "0 for full storage and for truncation; counted over every layer and direction",
            "exact counts",
            "dashboard.catalog.memory:memory_scaling",
            unit="steps",
        ),
        _q(
            "parameter_bytes",
            "Parameter bytes",
            "",
            "the bytes of every weight and bias, read-out included (PyTorch keeps two bias vectors per layer)",
            "the gradient buffers are as large",
            "exact integer bytes",
            "bptt_core:bptt",
            unit="bytes",
        ),
        _q(
            "truncation_error",
            "Relative error of truncated BPTT",
            "‖g_k − g‖ / ‖g‖",
            "how far truncated BPTT's gradient g_k (cut every k steps) is from the full gradient g, all "
            "parameters, first sequence",
            "clipping does not enter; masks as the run",
            NORM_LIMITS,
            "dashboard.catalog.compute:truncation",
        ),
        _q(
            "truncation_cosine",
            "Cosine with the full gradient",
            "cos(g_k, g)",
            "the cosine between truncated BPTT's gradient and the full one (1: the same direction)",
            "as the relative error",
            "nan where a gradient is 0 or overflowed",
            "dashboard.catalog.compute:truncation",
        ),
        _q(
            "phase_reach",
            "log10 reach of a last-step loss",
            "log10 ‖∂l_T/∂h_0‖ / ‖∂l_T/∂h_{T−1}‖",
            "for a loss at the last step only (a fixed random direction), log10 of the share of its gradient "
            "that reaches the first state, over a grid of spectral radii and lengths",
            "a sweep of its own: random inputs, the preset at each radius; no truncation, clipping or mask",
            "−inf where it underflowed to 0, nan where it overflowed",
            "dashboard.catalog.compute:phase_diagram",
        ),
        _q(
            "layer_median_gradient",
            "Median total gradient of a layer",
            "median_t ‖∂L/∂h_t^(l,d)‖",
            "the median over time of the total gradient at the states of one layer and direction",
            "as the total gradient",
            NORM_LIMITS,
            "dashboard.catalog.depth:layer_summary",
        ),
        *(_q(*fields, unit=unit) for *fields, unit in (*ONLINE_QUANTITIES, *MODERN_QUANTITIES, *PAPER_QUANTITIES)),
    )
}


def q(key: str) -> Quantity:
    """The quantity named ``key`` (a KeyError names the unknown key)."""
    return QUANTITIES[key]


def label(key: str) -> str:
    """The label of quantity ``key``: what every page calls it."""
    return QUANTITIES[key].label


def help_text(key: str) -> str:
    """The tooltip of quantity ``key``: its definition, then how the run's options enter."""
    quantity = QUANTITIES[key]
    return (
        f"{quantity.definition[0].upper()}{quantity.definition[1:]}. {quantity.enters[0].upper()}{quantity.enters[1:]}."
    )


GLOSSARY_COLUMNS = ("quantity", "symbol", "definition", "unit", "how the run's options enter", "at the limits")


def glossary_rows() -> list[tuple[str, ...]]:
    """One row per quantity, in the order of :data:`GLOSSARY_COLUMNS`."""
    return [(x.label, x.symbol, x.definition, x.unit or "–", x.enters, x.limits) for x in QUANTITIES.values()]
