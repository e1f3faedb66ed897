"""Every figure has its caption's check: the tests that check each caption on its figure's own data, by name."""

from __future__ import annotations

import importlib

import numpy as np

from dashboard.catalog import sections as catalog
from dashboard.config import RunConfig
from dashboard.diagnose import panels as diagnose
from dashboard.diagnose.advice import RULES
from dashboard.learning import lessons, papers, stochastic

#: Each figure, the caption under it, and the tests that check that caption on the figure's own data
#: (``module:function``); () for a descriptive caption, which says how to read the figure and states no law,
#: comparison or threshold.
CAPTION_CHECKS = {
    "unroll_animation": ("dashboard.figures.test_figures:test_unroll_caption_states_the_frame_stride",),
    "unroll_diagram": (),
    "unroll_grid": ("dashboard.catalog.test_depth:test_grid_animation_frames_light_the_nodes_visited_so_far",),
    "unroll_grid_diagram": (),
    "unroll_code": ("dashboard.catalog.test_code:test_code_caption_states_the_measured_agreement",),
    "gradient_norms": (
        "dashboard.catalog.test_claims:test_the_verdict_never_contradicts_the_curve_it_is_computed_from",
    ),
    "flow_matrix": ("dashboard.catalog.test_claims:test_the_flow_matrix_is_the_same_for_either_reduction",),
    "jacobian_vs_lag": (
        "dashboard.catalog.test_claims:test_the_spectral_norm_curve_stays_under_the_pascanu_bound",
        "dashboard.catalog.test_claims:test_growth_and_horizon_follow_the_linear_rnn_law",
        "dashboard.catalog.test_modern_claims:test_the_law_lies_on_the_measured_products_and_the_caption_says_so",
    ),
    "eigenvalues": (
        "dashboard.catalog.test_claims:test_gradient_flow_captions_say_what_their_data_show",
        "dashboard.catalog.test_modern_claims:test_the_eigenvalue_caption_reads_its_rings",
    ),
    "step_contributions": (
        "dashboard.catalog.test_claims:test_step_contributions_caption_sum_is_consistent_with_its_bars",
    ),
    "gradient_itemised": ("dashboard.catalog.test_claims:test_itemised_bars_add_up_to_the_engines_gradient_norm",),
    "cell_comparison": ("dashboard.catalog.test_claims:test_gradient_flow_captions_say_what_their_data_show",),
    "phase_diagram": (
        "dashboard.catalog.test_claims:test_the_phase_caption_names_every_interval_of_each_row",
        "dashboard.catalog.test_modern_claims:test_the_phase_diagram_says_rho_does_not_apply_and_states_their_reach",
    ),
    "truncation_study": ("dashboard.catalog.test_claims:test_gradient_flow_captions_say_what_their_data_show",),
    "layer_time": ("dashboard.catalog.test_depth:test_captions_over_depth_are_read_off_their_figures",),
    "layer_jacobians": ("dashboard.catalog.test_depth:test_captions_over_depth_are_read_off_their_figures",),
    "layer_memory": ("dashboard.catalog.test_depth:test_captions_over_depth_are_read_off_their_figures",),
    "memory_by_tensor": ("dashboard.catalog.test_claims:test_memory_page_captions_read_their_figures",),
    "memory_timelines": ("dashboard.catalog.test_claims:test_memory_captions_say_what_their_data_show",),
    "memory_vs_length": ("dashboard.catalog.test_claims:test_memory_page_captions_read_their_figures",),
    "memory_budget": ("dashboard.catalog.test_claims:test_memory_page_captions_read_their_figures",),
    "pareto_front": (
        "dashboard.catalog.test_claims:test_memory_captions_say_what_their_data_show",
        "dashboard.catalog.test_depth:test_pareto_caption_for_a_stack_bounds_the_engine",
    ),
    "step_losses": ("dashboard.catalog.test_claims:test_loss_page_totals_and_laws_are_the_engines",),
    "scale_vs_length": ("dashboard.catalog.test_claims:test_loss_page_totals_and_laws_are_the_engines",),
    "token_losses": ("dashboard.catalog.test_claims:test_loss_page_totals_and_laws_are_the_engines",),
    "estimator_bias_variance": ("dashboard.catalog.test_claims:test_stochastic_caption_reads_its_figure",),
    "estimator_spread": (),
    "training_curves": ("dashboard.learning.test_lessons:test_training_captions_read_their_runs",),
    "paper_pascanu": ("dashboard.learning.test_papers:test_the_pascanu_caption_reads_its_data",),
    "paper_chaos": ("dashboard.learning.test_papers:test_the_chaos_caption_reads_its_data",),
    **{
        f"paper_{key}": (
            "dashboard.learning.test_papers:test_the_checkpoint_truncation_copy_and_error_captions_read_their_data",
        )
        for key in ("checkpoint", "truncation", "copy", "error_flow")
    },
    "training_heatmap": (),
    "copy_comparison": ("dashboard.learning.test_copy_race:test_final_ratios_outcomes_and_caption_read_the_runs",),
    **{
        name: ("dashboard.diagnose.test_diagnose:test_diagnose_captions_read_their_figures",)
        for name in diagnose.PANEL_NAMES
    },
    **{f"fix_{rule.name}": ("dashboard.diagnose.test_fixes:test_the_fix_caption_reads_its_figure",) for rule in RULES},
}


def test_every_figure_has_its_caption_check():
    """Adding a figure means adding its caption's check here (or saying the caption states nothing)."""
    names = set()
    for config in (RunConfig(), RunConfig(num_layers=2, bidirectional=True, T=12)):
        names |= {p.name for p in catalog.all_panels(config)}
        names |= {p.name for p in catalog.page_panels("overview", config).values()}
    names |= set(lessons.loss_panels(RunConfig(T=8)))
    names |= set(stochastic.estimator_panels("bernoulli", 0.3, 0.2, np.geomspace(0.05, 2, 3), 200, 0.5))
    names |= {"training_curves", "training_heatmap"}  # lessons.training_panels (needs a training run)
    names |= {"copy_comparison"}  # dashboard.learning.copy_race (needs its training runs)
    names |= {"unroll_code"}  # dashboard.catalog.code: the Unroll page and the exports, one layer
    names |= {f"paper_{key}" for key in papers.STUDIES}  # the Papers page (tests/dashboard/learning/test_papers.py)
    names |= set(diagnose.PANEL_NAMES)  # the Diagnose page (needs a model: tests/dashboard/diagnose/test_diagnose.py)
    names |= {f"fix_{rule.name}" for rule in RULES}  # its "try it" runs (dashboard.diagnose.fixes.fix_panel)
    assert names == set(CAPTION_CHECKS), names ^ set(CAPTION_CHECKS)
    for check in (c for checks in CAPTION_CHECKS.values() for c in checks):
        module, function = check.split(":")
        assert callable(getattr(importlib.import_module(f"tests.{module}"), function, None)), check
