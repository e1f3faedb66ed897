"""The quantities of the modern recurrences (the LRU's eigenvalues, a diagonal recurrence's law, the copy task).

Plain fields of :class:`dashboard.vocabulary.quantities.Quantity`, in its order (key, label, symbol, definition,
how the run's options enter, limits, computed by, unit); :data:`~dashboard.vocabulary.quantities.QUANTITIES`
holds them with the others, so labels stay unique across the whole vocabulary.
"""

from __future__ import annotations

_TOP_LAYER = "the top layer's forward direction; the recurrence's own parameters, none of the run's options"
_COPY = (
    "the Training lab's comparison: each cell at the sidebar's H, B = 32, Adam, clipping at 1, its seeds; "
    "its own task, not the sidebar's inputs"
)

MODERN_QUANTITIES: tuple[tuple[str, ...], ...] = (
    (
        "eigenvalue_modulus",
        "Eigenvalue modulus |λ|",
        "|λ_n|",
        "the modulus of one unit's eigenvalue in a diagonal linear recurrence (the LRU's λ = exp(−exp ν + i exp θ)): "
        "the factor by which that unit's state, and a gradient through it, shrink at every step",
        _TOP_LAYER,
        "below 1 for every finite ν (exactly 1 only at ν = −inf); 0 where ν = +inf",
        "bptt_core.cells.lru:eigenvalues",
        "",
    ),
    (
        "steps_to_1pct",
        "Steps to keep 1 %",
        "ln 0.01 / ln |λ|",
        "how many steps back a unit with eigenvalue modulus |λ| still passes on 1 % of a gradient: |λ|^k = 0.01",
        _TOP_LAYER,
        "inf where |λ| = 1; 0 where |λ| = 0",
        "dashboard.catalog.modern_panels:eigenvalue_frame",
        "steps",
    ),
    (
        "decay_law",
        "The cell's law ‖∂s_t/∂s_0‖",
        "max_n ∏_{s=1..k} |a_{s,n}|",
        "the norm of a diagonal recurrence's Jacobian product computed in closed form from the cell's own factors "
        "(|λ|^k for the LRU; ∏(1 − z_s) of its update gates for minGRU), not by multiplying the Jacobians",
        "the top layer, forward direction, first sequence, over the lags the Jacobian product is followed",
        "summed in log space, so it never underflows; −inf where a factor is exactly 0",
        "bptt_core.analysis.laws:decay_law",
        "",
    ),
    (
        "law_gap",
        "Gap between law and measurement",
        "max_k |log10 law_k − log10 ‖∂s_k/∂s_0‖₂|",
        "the largest distance, in decades, between the cell's law and the measured spectral norm of the Jacobian "
        "product, over the lags followed (rounding only, when the law is the whole story)",
        "as the cell's law",
        "lags where either is 0 or not finite are left out",
        "dashboard.catalog.modern_panels:law_gap",
        "decades",
    ),
    (
        "copy_baseline",
        "Memoryless baseline of the copy task",
        "10 ln 8 / (T + 20)",
        "the copy task's cross-entropy per step for a model that remembers nothing of the symbols: blank where the "
        "target is blank, a uniform guess over the 8 symbols at the 10 output steps (Arjovsky et al. 2016)",
        "T is the lag (blanks between the symbols and the delimiter); the sequence has T + 20 steps",
        "none: a closed form",
        "bptt_core.lab.tasks:copy_baseline",
        "",
    ),
    (
        "copy_ratio",
        "Final loss over the baseline",
        "L_final / (10 ln 8 / (T + 20))",
        "a training run's loss over its last tenth of iterations, divided by the copy task's memoryless baseline: "
        "1 means it learned what needs no memory, below 1 that it copies some of the symbols, above 1 that it has "
        "not learned even the memoryless answer",
        _COPY,
        "inf or nan where a run diverged",
        "dashboard.learning.copy_race:final_ratios",
        "",
    ),
)
