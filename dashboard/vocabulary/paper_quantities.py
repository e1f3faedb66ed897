"""The quantities the Papers page names beside the published results (fields as in
:mod:`dashboard.vocabulary.online_quantities`: key, label, symbol, definition, how the options enter, limits, computed
by, unit); :data:`~dashboard.vocabulary.quantities.QUANTITIES` holds them with the others, so labels stay unique."""

from __future__ import annotations

_NETWORK_ONLY = "a property of the network and its inputs: no loss, truncation or clipping enters"
_LEDGER = "exact integer bytes and counts"

PAPER_QUANTITIES: tuple[tuple[str, ...], ...] = (
    (
        "bound_excess",
        "Largest excess over Pascanu's bound",
        "max log10(‖∂h_t/∂h_0‖₂ / (γσ_max)^t)",
        "the largest ratio, in log10, of a vanilla RNN's Jacobian product to the bound (γσ_max)^t, over every "
        "sequence and every lag t ≥ 1 of a study: at most 0 where the bound holds",
        _NETWORK_ONLY,
        "read in log space: finite where the products overflow",
        "bptt_core.lab.paper_laws:pascanu_study",
        "",
    ),
    (
        "mean_jacobian_factor",
        "Mean factor per step of the Jacobian product",
        "‖∂h_{T−1}/∂h_0‖₂^(1/(T−1))",
        "the geometric mean, over the whole sequence, of the factor by which the product of a vanilla RNN's step "
        "Jacobians grows or shrinks per step (its highest sequence): at most γσ_max where Pascanu's bound holds",
        _NETWORK_ONLY,
        "read in log space: finite where the product overflows",
        "bptt_core.lab.paper_laws:pascanu_study",
        "× per step",
    ),
    (
        "leading_lyapunov",
        "Leading Lyapunov exponent λ₁",
        "λ₁",
        "the largest rate (natural log per step) at which products of the step Jacobians grow or shrink, by the "
        "QR method after a warm-up that aligns the frame: gradients grow like exp(λ₁ t) when it is positive and "
        "vanish like it when negative",
        f"{_NETWORK_ONLY}; finite time: rates closer to 0 than about 1 / steps are not resolved",
        "−inf where a direction is annihilated; nan where a Jacobian is not finite",
        "bptt_core.analysis.lyapunov:lyapunov_spectrum",
        "per step",
    ),
    (
        "lyapunov_spectrum",
        "Lyapunov spectrum λ_i",
        "λ_i, i = 1 … N",
        "every rate (natural log per step) at which the step Jacobians stretch or shrink an orthonormal frame "
        "carried along the trajectory, largest first; λ₁ is the leading one",
        _NETWORK_ONLY,
        "as the leading exponent",
        "bptt_core.analysis.lyapunov:lyapunov_spectrum",
        "per step",
    ),
    (
        "spectrum_gap",
        "Gap between Lyapunov spectra",
        "mean_u |λ_N(u) − λ_N′(u)| / span of λ_N′",
        "how far the Lyapunov spectra of two network sizes N < N′ lie apart when both are read against the "
        "fraction u = i/N of the spectrum: the mean absolute difference at 19 fractions from 0.05 to 0.95 "
        "(linear interpolation), over the larger size's span on those fractions; 0 for a shape that does not "
        "depend on N",
        "the spectra's own options: the same gain, steps and seeds for both sizes",
        "nan where a spectrum is not finite or has no span",
        "dashboard.learning.papers:spectrum_gaps",
        "",
    ),
    (
        "onset_gain",
        "Zero crossing of λ₁",
        "g*",
        "the gain g (W_ij ~ N(0, g²/N)) at which one network's leading exponent first rises to 0, within the "
        "resolution 1 / steps of a finite-time estimate, by linear interpolation between the gains of the grid",
        "one value per network size and seed; nan where λ₁ stays below 0 on the whole grid",
        "finite on the grid's range",
        "bptt_core.lab.paper_laws:zero_crossing",
        "",
    ),
    (
        "error_growth",
        "Growth rate of the error signal",
        "r = d ln‖∂l_T/∂h_t‖ / d(T − t)",
        "the least-squares slope of ln ‖∂l_T/∂h_t‖ against the lag T − t for a loss at the last step only, after "
        "the first lags (the error first turns to its leading direction): e^r is its factor per step",
        "computed by BPTT (the engine's backward pass); no truncation or clipping",
        "read off log-norms: defined for growing and decaying signals alike",
        "bptt_core.lab.paper_laws:gradient_rate",
        "per step",
    ),
    (
        "mean_forget_gate",
        "Mean forget gate f̄",
        "f̄",
        "the LSTM forget gate's mean over units, steps and sequences: the factor per step by which the error on "
        "the cell state is carried through the constant error carousel",
        _NETWORK_ONLY,
        "between 0 and 1",
        "bptt_core.analysis.saturation:gate_saturation",
        "",
    ),
    (
        "memory_kept",
        "Memory kept by checkpointing",
        "stored / stored with full storage",
        "the share of full storage's bytes stored for backward (tape and checkpoints) that a checkpoint schedule "
        "still keeps: 1 minus the memory saved",
        "the batch, width and item size cancel: a share of the same network's full storage",
        _LEDGER,
        "bptt_core.lab.paper_methods:checkpoint_study",
        "",
    ),
    (
        "memory_saved",
        "Memory saved by checkpointing",
        "1 − stored / stored with full storage",
        "the share of the bytes stored for backward (tape and checkpoints, the engine's ledger) that a checkpoint "
        "schedule saves against keeping every step's tape",
        "the batch, width and item size cancel: a share of the same network's full storage",
        _LEDGER,
        "bptt_core.lab.paper_methods:checkpoint_study",
        "",
    ),
    (
        "modelled_time",
        "Modelled extra time",
        "recomputed / (3T)",
        "the time checkpointing adds to one forward and backward pass when a forward step costs 1 and a backward "
        "step 2 (it multiplies two matrices where the forward step multiplies one): recomputed steps / 3T",
        "a model of the time, from exact counts (the engine's recomputed steps); wall-clock time on a shared "
        "machine varies from run to run",
        _LEDGER,
        "bptt_core.lab.paper_methods:time_overhead",
        "",
    ),
    (
        "rank_correlation",
        "Rank correlation with p",
        "ρ_s",
        "Spearman's rank correlation between the cut probability p and a statistic measured at each p: 1 when "
        "the statistic rises at every step of p, −1 when it falls at every step",
        "over the grid of cut probabilities of one network",
        "nan for fewer than two points or a constant statistic",
        "dashboard.learning.papers:rank_correlation",
        "",
    ),
    (
        "copy_baseline",
        "Memoryless baseline",
        "10 ln 8 / (T + 20)",
        "the mean cross-entropy per step of the copy task's best strategy without memory: the blank with certainty "
        "until the last ten steps, then a uniform guess among the eight symbols (T the lag: T + 20 steps)",
        "every step counts, as in the task's loss",
        "exact",
        "bptt_core.lab.tasks:copy_baseline",
        "",
    ),
)
