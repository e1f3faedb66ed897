"""docs/claims.md: each kind of statement on each page, the quantities it reads and the tests that check it,
generated from :data:`CLAIMS` (regenerate with ``CLAIMS_WRITE=1 python -m pytest tests/test_claims_doc.py``).
The test fails when the doc is stale, a quantity is not in the vocabulary or a named test does not exist."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from dashboard.vocabulary.quantities import QUANTITIES, label

DOC = Path(__file__).parents[1] / "docs" / "claims.md"
C, E, D = (
    "dashboard.catalog.test_claims",
    "dashboard.catalog.test_statements_at_the_edges",
    "dashboard.catalog.test_depth",
)
CONSISTENT = "pages.test_consistency:test_every_page_shows_the_same_number_for_the_same_quantity"
O = "dashboard.catalog.test_online_claims"
M, R = "dashboard.catalog.test_modern_claims", "dashboard.learning.test_copy_race"
PP = "dashboard.learning.test_papers"

#: (page, statement, quantities read, tests that check it as "module:function" under tests/)
CLAIMS = [
    (
        "Overview, Gradient flow",
        "the metrics (loss, gradient norm, ρ, verdict, peak held; growth, horizon, γσ_max)",
        (
            "loss",
            "gradient_norm",
            "spectral_radius",
            "verdict",
            "peak_held",
            "jacobian_growth",
            "memory_horizon",
            "pascanu_rate",
        ),
        (CONSISTENT,),
    ),
    (
        "Overview, Gradient flow",
        "the verdict sentence: label, reach, decay per step, where it underflows",
        ("verdict", "last_loss_reach", "last_loss_decay", "last_loss_gradient"),
        (
            f"{C}:test_the_verdict_never_contradicts_the_curve_it_is_computed_from",
            f"{E}:test_15_a_constant_loss_has_no_gradient_not_a_short_sequence",
            f"{E}:test_16_a_short_decaying_sequence_states_its_rate_and_where_it_would_vanish",
            f"{E}:test_17_long_sequences_read_in_log_space",
        ),
    ),
    (
        "Overview, Gradient flow",
        "Pascanu's sentence: sufficient below 1, no growth at 1, necessary above 1",
        ("pascanu_rate",),
        (f"{C}:test_the_pascanu_sentence_compares_correctly_at_the_boundary",),
    ),
    (
        "Overview, Gradient flow",
        "the two gradient curves: what each is, their ratio at the last step, truncation",
        ("total_gradient", "last_loss_gradient"),
        (
            f"{E}:test_1_a_bidirectional_total_gradient_is_the_total_not_the_readout_gradient",
            f"{E}:test_2_truncation_cuts_the_last_loss_and_the_verdict_reads_its_window",
            f"{E}:test_22_the_overview_says_why_the_last_loss_ends_above_the_total",
        ),
    ),
    (
        "Gradient flow",
        "growth per step and memory horizon follow the linear RNN's law",
        ("jacobian_growth", "memory_horizon"),
        (f"{C}:test_growth_and_horizon_follow_the_linear_rnn_law",),
    ),
    (
        "Gradient flow",
        "the spectral-norm curve never rises above Pascanu's bound",
        ("jacobian_product", "pascanu_rate"),
        (f"{C}:test_the_spectral_norm_curve_stays_under_the_pascanu_bound",),
    ),
    (
        "Gradient flow",
        "the flow matrix: either reduction, blank cells explained",
        ("flow",),
        (f"{C}:test_the_flow_matrix_is_the_same_for_either_reduction", f"{E}:test_17_long_sequences_read_in_log_space"),
    ),
    (
        "Gradient flow",
        "eigenvalues: ρ and σ_max stated; for a gated cell they do not set the long run",
        ("spectral_radius", "sigma_max"),
        (
            f"{C}:test_gradient_flow_captions_say_what_their_data_show",
            f"{E}:test_9_a_gated_cells_eigenvalues_do_not_set_the_long_run",
        ),
    ),
    (
        "Gradient flow",
        "per-step terms and dW_hh itemised: the run's own (top layer, truncated, clipped) gradient",
        ("step_term", "itemised_norm"),
        (
            f"{C}:test_itemised_bars_add_up_to_the_engines_gradient_norm",
            f"{E}:test_7_itemised_dwhh_adds_up_to_this_runs_clipped_truncated_gradient",
            f"{E}:test_8_per_step_terms_of_a_stack_are_the_top_layers_and_say_so",
        ),
    ),
    (
        "Gradient flow",
        "the cells compared by the last loss's reach",
        ("last_loss_reach", "last_loss_gradient"),
        (
            f"{C}:test_gradient_flow_captions_say_what_their_data_show",
            f"{E}:test_3_the_cell_comparison_ranks_by_the_last_loss_not_by_the_propped_up_total",
        ),
    ),
    (
        "Gradient flow",
        "the phase diagram: the radii where each row does not vanish, as intervals",
        ("phase_reach",),
        (
            f"{C}:test_the_phase_caption_names_every_interval_of_each_row",
            f"{E}:test_6_a_phase_row_that_flips_back_is_not_one_flip",
        ),
    ),
    (
        "Gradient flow, Weights",
        "a diagonal recurrence's λ (the LRU): |λ| from smallest to largest, inside the unit circle, the steps each "
        "unit keeps 1 %",
        ("eigenvalue_modulus", "steps_to_1pct"),
        (
            f"{M}:test_the_eigenvalue_caption_reads_its_rings",
            f"{M}:test_a_modulus_on_the_unit_circle_is_said_and_kept_for_ever",
        ),
    ),
    (
        "Gradient flow",
        "the LRU's and minGRU's law (|λ|^k, ∏(1 − z_t)) lies on the measured Jacobian products; its factor per step",
        ("decay_law", "law_gap", "jacobian_product"),
        (
            f"{M}:test_the_law_lies_on_the_measured_products_and_the_caption_says_so",
            f"{M}:test_the_lru_law_is_the_largest_modulus_to_the_lag",
            "core.test_modern_laws:test_lru_state_jacobians_are_lambda_to_the_lag",
            "core.test_modern_laws:test_mingru_state_jacobian_products_are_the_products_of_one_minus_z",
        ),
    ),
    (
        "Gradient flow",
        "the phase diagram: ρ does not apply to a cell without W_hh; its reach at its own init",
        ("phase_reach",),
        (f"{M}:test_the_phase_diagram_says_rho_does_not_apply_and_states_their_reach",),
    ),
    (
        "Gradient flow",
        "the truncation study: the k computed below 1 %, and whether the error is monotone",
        ("truncation_error", "truncation_cosine"),
        (
            f"{C}:test_gradient_flow_captions_say_what_their_data_show",
            f"{E}:test_5_the_truncation_study_says_when_its_error_is_not_monotone",
        ),
    ),
    (
        "Gradient flow (stack)",
        "the layer table, where the gradient dies first, weakest and strongest layer",
        (
            "spectral_radius",
            "pascanu_rate",
            "jacobian_growth",
            "memory_horizon",
            "jacobian_change",
            "layer_median_gradient",
        ),
        (f"{D}:test_layer_table_has_a_row_per_layer_and_direction_from_the_same_analyses",),
    ),
    (
        "Memory",
        "the metrics: peak held (ledger), peak measured, parameter bytes",
        ("peak_held", "measured_peak", "parameter_bytes"),
        (CONSISTENT, f"{E}:test_10_one_peak_held_and_a_tape_for_the_vanilla_rnn"),
    ),
    (
        "Memory",
        "held bytes by tensor: the tape, the fixed buffers, the peak",
        ("stored_for_backward", "peak_held"),
        (
            f"{C}:test_memory_page_captions_read_their_figures",
            f"{E}:test_10_one_peak_held_and_a_tape_for_the_vanilla_rnn",
        ),
    ),
    (
        "Memory",
        "strategies through the pass, against T, the Pareto front: stored bytes and recomputed steps",
        ("stored_for_backward", "recomputed_steps"),
        (
            f"{C}:test_memory_captions_say_what_their_data_show",
            f"{C}:test_memory_page_captions_read_their_figures",
            f"{E}:test_4_recomputed_steps_in_a_stack_count_only_recomputation",
            f"{E}:test_11_no_exponent_of_nan_when_a_run_overflows",
        ),
    ),
    (
        "Unroll, Guided tour",
        "the memory bar and the scenes' numbers are the pages' own",
        ("stored_for_backward", "last_loss_reach", "last_loss_decay", "jacobian_growth"),
        (
            "pages.test_consistency:test_the_unroll_bar_and_the_memory_page_agree",
            "pages.test_consistency:test_the_tours_numbers_are_the_gradient_flow_pages",
            f"{E}:test_19_tour_scenes_say_what_their_network_does",
        ),
    ),
    (
        "Beyond BPTT",
        "the metrics and the table: RTRL's certificate, T*, RTRL against BPTT in bytes kept and FLOPs",
        ("gradient_error", "crossover_length", "kept_for_gradient", "counted_flops", "gradient_cosine", "peak_held"),
        (f"{O}:test_the_headline_names_rtrl_against_bptt_from_the_rows_or_says_it_does_not_run",),
    ),
    (
        "Beyond BPTT",
        "each method's gradient: RTRL equals BPTT, each approximation equal or off by its bias, UORO's draw",
        ("gradient_cosine", "gradient_error"),
        (
            f"{O}:test_the_accuracy_caption_states_what_each_methods_gradient_does",
            f"{O}:test_the_approximations_are_exact_where_the_literature_says_and_biased_elsewhere",
            f"{O}:test_the_exact_diagonal_method_runs_only_on_a_diagonal_recurrence",
        ),
    ),
    (
        "Beyond BPTT, Guided tour",
        "kept and held against T: BPTT's tape grows with T, an online method's does not, T* where they cross",
        ("kept_for_gradient", "crossover_length", "peak_held"),
        (
            f"{O}:test_the_crossover_is_drawn_where_the_ledgers_cross",
            f"{O}:test_the_memory_frame_keeps_the_methods_order_and_every_ledger",
            f"{O}:test_the_tour_scene_states_the_pages_numbers_and_grades_h_cubed",
        ),
    ),
    (
        "Beyond BPTT",
        "UORO over 100 seeds: bias against standard error, variance, every z-score within the bound",
        ("estimator_bias", "estimator_standard_error", "estimator_variance", "z_score"),
        (
            f"{O}:test_uoro_over_100_seeds_is_unbiased_and_its_caption_reads_its_statistics",
            f"{O}:test_uoro_caption_names_the_coordinates_beyond_the_bound",
        ),
    ),
    (
        "Beyond BPTT",
        "the ledger against tracemalloc, method by method",
        ("peak_held", "measured_peak", "kept_for_gradient"),
        (f"{O}:test_the_ledger_and_tracemalloc_caption_reads_the_measurements",),
    ),
    (
        "Beyond BPTT",
        "costs against T and H: FLOPs linear in T, RTRL's towards H⁴ and BPTT's H², which points were timed",
        ("peak_held", "counted_flops", "gradient_seconds"),
        (f"{O}:test_the_cost_captions_state_the_growth_their_data_show",),
    ),
    (
        "Beyond BPTT",
        "the training race: final losses ranked, RTRL trains as BPTT, a diverged run named",
        ("loss",),
        (
            f"{O}:test_the_race_caption_ranks_the_final_losses_and_rtrl_trains_as_bptt",
            f"{O}:test_the_race_leaves_out_what_does_not_fit_and_says_why",
        ),
    ),
    (
        "Training lab",
        "the copy task: each cell's final loss over the baseline, its spread over seeds, who went below the "
        "baseline or stayed at it in every seed",
        ("copy_baseline", "copy_ratio"),
        (
            f"{R}:test_final_ratios_outcomes_and_caption_read_the_runs",
            f"{R}:test_a_lag_where_no_cell_is_below_or_at_in_every_seed_says_so",
            f"{R}:test_at_a_small_lag_the_lru_goes_below_the_baseline_and_the_rnn_stays_at_it",
            "core.test_training:test_the_copy_task_is_arjovskys_and_its_baseline_is_the_memoryless_loss",
        ),
    ),
    (
        "Guided tour, Check yourself",
        "why modern recurrences do not vanish: |λ|, each cell's reach on the figure's sequence; |λ|^k under 1 %",
        ("eigenvalue_modulus", "steps_to_1pct", "last_loss_reach", "last_loss_gradient"),
        (
            f"{M}:test_the_modern_scene_states_the_figures_numbers_and_grades_the_ring",
            f"{M}:test_the_modern_self_check_answer_is_where_the_engine_falls_below_one_percent",
        ),
    ),
    (
        "Papers",
        "Pascanu's bound and regions: no product above (γσ_max)^t, below 1 vanishes, exploding only above 1",
        ("bound_excess", "pascanu_rate", "mean_jacobian_factor", "jacobian_product"),
        (
            f"{PP}:test_the_pascanu_caption_reads_its_data",
            f"{PP}:test_the_regions_count_sufficient_and_necessary_at_random_and_at_their_edges",
            "core.test_papers:test_pascanu_weights_set_gamma_sigma_max_and_the_bound_holds_at_random_rates",
        ),
    ),
    (
        "Papers",
        "the transition to chaos: λ₁ crosses 0 near g = 1, spectra of two sizes agree, gradients grow at λ₁",
        ("leading_lyapunov", "lyapunov_spectrum", "onset_gain", "error_growth"),
        (
            f"{PP}:test_the_chaos_caption_reads_its_data",
            f"{PP}:test_crossing_rates_gap_and_time_verdicts_at_their_edges",
            "core.test_papers:test_the_leading_exponent_crosses_zero_near_one_and_is_ln_g_below",
        ),
    ),
    (
        "Papers",
        "binomial checkpointing at T = 1000: the share saved (ledger) and the modelled extra time",
        ("memory_saved", "modelled_time", "recomputed_steps"),
        (
            f"{PP}:test_the_checkpoint_truncation_copy_and_error_captions_read_their_data",
            "core.test_papers:test_the_binomial_schedule_saves_the_target_with_the_most_slots_and_its_shares_ignore_b_and_h",
        ),
    ),
    (
        "Papers",
        "randomized truncation: bias within 3 standard errors, variance rising with p",
        ("estimator_bias", "estimator_standard_error", "estimator_variance"),
        (
            f"{PP}:test_bias_rank_and_position_verdicts_at_random_and_at_their_edges",
            "core.test_papers:test_randomized_truncation_is_unbiased_and_its_variance_rises_with_p",
        ),
    ),
    (
        "Papers",
        "the copy task: the memoryless baseline measured, where each cell ends against it",
        ("copy_baseline", "copy_ratio", "loss"),
        (
            f"{PP}:test_the_checkpoint_truncation_copy_and_error_captions_read_their_data",
            "core.test_papers:test_the_copy_task_is_the_papers_and_the_memoryless_strategy_scores_the_baseline",
        ),
    ),
    (
        "Papers",
        "the error signal: exponential decay at e^λ₁ per step, the carousel's factor f̄",
        ("error_growth", "leading_lyapunov", "mean_forget_gate", "last_loss_gradient"),
        (
            f"{PP}:test_the_checkpoint_truncation_copy_and_error_captions_read_their_data",
            f"{PP}:test_a_constant_error_signal_is_a_factor_one",
            "core.test_papers:test_the_error_signal_decays_at_the_lyapunov_rate_and_the_carousel_keeps_it",
        ),
    ),
    (
        "Papers",
        "each row's verdict: agree only when every check is within its tolerance",
        (),
        (
            f"{PP}:test_every_row_agrees_only_when_every_check_does",
            f"{PP}:test_a_study_that_breaks_its_law_gets_disagree",
            "pages.test_papers:test_the_page_shows_every_row_its_verdict_and_its_figure",
        ),
    ),
    (
        "Loss over time",
        "totals under each reduction and their laws",
        ("loss", "step_loss"),
        (f"{C}:test_loss_page_totals_and_laws_are_the_engines",),
    ),
]


def _render() -> str:
    lines = [
        "# What each page states, and the test that checks it",
        "",
        "Generated by `tests/test_claims_doc.py` from its table; the test fails when this file is stale, when a "
        "quantity is not in the vocabulary (`dashboard/vocabulary/quantities.py`, the Glossary page) or when a named "
        "test does not exist. Every caption that states a law, a comparison or a threshold is computed from its "
        "figure's data; the tests recompute it independently, over random settings and the edge families "
        "(`EDGES` in `tests/dashboard/catalog/test_claims.py`).",
        "",
        "| page | statement | quantities | checked by |",
        "|---|---|---|---|",
    ]
    for page, statement, keys, tests in CLAIMS:
        names = ", ".join(label(k) for k in keys)
        checks = "<br>".join(f"`tests/{t.split(':')[0].replace('.', '/')}.py::{t.split(':')[1]}`" for t in tests)
        lines.append(f"| {page} | {statement} | {names} | {checks} |")
    return "\n".join(lines) + "\n"


def test_every_claim_names_real_quantities_and_real_tests():
    for _, _, keys, tests in CLAIMS:
        assert set(keys) <= set(QUANTITIES), set(keys) - set(QUANTITIES)
        for test in tests:
            module, function = test.split(":")
            assert callable(getattr(importlib.import_module(f"tests.{module}"), function, None)), test


def test_the_claims_doc_is_current():
    text = _render()
    if os.environ.get("CLAIMS_WRITE"):
        DOC.write_text(text, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == text, "docs/claims.md is out of date: rerun with CLAIMS_WRITE=1"
