"""The quantities of learning without storing the past (the Beyond BPTT page, its tour scene and self-check).

Plain fields of :class:`dashboard.vocabulary.quantities.Quantity`, in its order (key, label, symbol, definition,
how the run's options enter, limits, computed by, unit); :data:`~dashboard.vocabulary.quantities.QUANTITIES`
holds them with the others, so labels stay unique across the whole vocabulary.
"""

from __future__ import annotations

_AS_COSINE = "as the cosine with BPTT's gradient"
_OVER_SEEDS = "as the relative bias over seeds"

ONLINE_QUANTITIES: tuple[tuple[str, ...], ...] = (
    (
        "gradient_cosine",
        "Cosine with BPTT's gradient",
        "cos(g_m, g)",
        "the cosine between the gradient a method computes, g_m, and exact BPTT's, g, over all parameters "
        "together (1: the same direction); for UORO over many seeds, the mean of each draw's",
        "the sidebar's batch, mask, loss and reduction; clipping does not enter (gradients before clipping); "
        "truncated BPTT cuts every k steps (the sidebar's k, 8 when off); online methods refuse bidirectional "
        "networks",
        "nan where a gradient is 0 or overflowed",
        "dashboard.catalog.online:method_rows",
        "",
    ),
    (
        "gradient_error",
        "Relative error against BPTT",
        "‖g_m − g‖ / ‖g‖",
        "how far the gradient a method computes is from exact BPTT's, relative to its size, over all parameters "
        "together (RTRL's is rounding only: its certificate); for UORO over many seeds, the mean of each draw's",
        _AS_COSINE,
        "nan where the exact gradient overflowed",
        "dashboard.catalog.online:method_rows",
        "",
    ),
    (
        "estimator_bias",
        "Relative bias over seeds",
        "‖mean_i g_i − g‖ / ‖g‖",
        "how far the mean of a stochastic method's draws (one per seed) is from the exact gradient; for an "
        "unbiased method, sampling noise of about the relative standard error",
        f"{_AS_COSINE}; the draws differ only in the method's random numbers (UORO's signs; the cuts of randomized "
        "truncation on the Papers page, bptt_core.analysis.truncation_study:random_truncation_study)",
        "nan where a draw overflowed",
        "bptt_core.online:gradient_statistics",
        "",
    ),
    (
        "estimator_variance",
        "Relative variance of one draw",
        "mean_i ‖g_i − mean g‖² / ‖g‖²",
        "the spread of single draws around their mean, relative to the exact gradient's squared size: one "
        "draw's error is about its square root",
        _OVER_SEEDS,
        "inf or nan where a draw overflowed",
        "bptt_core.online:gradient_statistics",
        "",
    ),
    (
        "estimator_standard_error",
        "Relative standard error of the mean",
        "√(variance / n)",
        "the size of the relative bias that sampling n draws produces by itself: an unbiased method's bias "
        "over seeds is of this order",
        _OVER_SEEDS,
        "inf or nan where a draw overflowed",
        "bptt_core.online:gradient_statistics",
        "",
    ),
    (
        "z_score",
        "z-score of a coordinate",
        "(mean − g) / (sd / √n)",
        "for one parameter entry, how many standard errors the mean of the draws lies from the exact value: "
        "unbiased draws give roughly standard normal z-scores, all within the Bonferroni bound",
        f"{_OVER_SEEDS}; 0 where every draw is the exact value",
        "inf where every draw agrees and differs from the exact value",
        "bptt_core.online:gradient_statistics",
        "",
    ),
    (
        "kept_for_gradient",
        "Kept to form the gradient",
        "",
        "the most bytes a method keeps to form its gradient: BPTT's tape, checkpoints and layer outputs (its "
        "stored for backward), an online method's influence ∂s_t/∂θ (RTRL all of it, UORO a rank-one estimate, "
        "SnAp-1 each parameter on its own unit)",
        "BPTT's grows with T (truncation: one window; checkpointing keeps fewer); an online method's does not "
        "depend on T; all grow with B, and with H (RTRL's like H³)",
        "exact integer bytes",
        "bptt_core.online:online_gradient",
        "bytes",
    ),
    (
        "crossover_length",
        "Crossover length T*",
        "T*",
        "the shortest sequence length from which BPTT's tape (full storage, with the state entering the sequence) "
        "outweighs RTRL's influence, what each keeps to form the exact gradient; one layer: ⌊(S N − n H) / (w H)⌋ "
        "+ 1 with S state numbers, N recurrent parameters, n state parts, w numbers taped per unit and step",
        "the batch and the item size cancel; a stack: found on the ledgers of real calls; none for a bidirectional "
        "network",
        "exact integer steps",
        "bptt_core.online:stored_crossover",
        "steps",
    ),
    (
        "counted_flops",
        "Counted FLOPs",
        "",
        "the floating-point operations of one gradient computation, counted from the sizes: two per multiply-add "
        "of the matrix products and influence updates (element-wise non-linearities not counted)",
        "grow with T and B for every method; per step, BPTT's with H², RTRL's with H⁴; online methods include "
        "reading the step Jacobians off the cell",
        "exact integer counts",
        "bptt_core.online:flop_counts",
        "FLOPs",
    ),
    (
        "gradient_seconds",
        "Time of one gradient",
        "",
        "the wall-clock seconds one gradient computation took on this server, which other sessions share (an "
        "indication; the counted FLOPs are exact)",
        "grows with T and B; an online method's cost per step grows with H faster than BPTT's",
        "measured once; noisy on a loaded machine",
        "dashboard.catalog.online:method_rows",
        "s",
    ),
)
