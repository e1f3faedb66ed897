"""Every registered cell's own init options reach the sidebar: a RunConfig field with the engine's default, one
row of the limits table, one presentation row; and the cell's own rule is applied to the chosen cell only."""

from __future__ import annotations

import pytest

import bptt_core as bc
from dashboard.catalog import compute
from dashboard.config import INIT_OPTIONS, LIMITS, RunConfig, from_mapping
from dashboard.config.cell_views import INIT_OPTION_VIEWS

OPTIONS = [(cell, name) for cell, c in bc.CELLS.items() for name in c.init_options]


@pytest.mark.parametrize(("cell", "name"), OPTIONS)
def test_each_option_is_a_field_with_its_default_limits_and_label(cell, name):
    assert getattr(RunConfig(), name) == bc.CELLS[cell].init_options[name] == INIT_OPTIONS[name]
    lo, hi = LIMITS[name]
    assert lo <= INIT_OPTIONS[name] <= hi and name in INIT_OPTION_VIEWS
    assert RunConfig(cell=cell).init_options == bc.CELLS[cell].init_options


@pytest.mark.parametrize(("cell", "name"), OPTIONS)
def test_the_options_shape_the_preset_weights_and_round_trip_the_address(cell, name):
    config = RunConfig(cell=cell, **{name: (INIT_OPTIONS[name] + LIMITS[name][1]) / 2})  # halfway up its range
    assert from_mapping(config.to_query()) == (config, [])
    assert not all(
        (compute.preset_params(config)[k] == compute.preset_params(RunConfig(cell=cell))[k]).all()
        for k in compute.preset_params(config)
    )


def test_the_cells_rule_applies_to_the_chosen_cell_only():
    cell = next(c for c, n in OPTIONS if n == "r_min")
    with pytest.raises(ValueError, match="r_min and r_max"):
        RunConfig(cell=cell, r_min=0.9, r_max=0.5)
    other = next(c for c in bc.CELLS if not bc.CELLS[c].init_options)
    assert RunConfig(cell=other, r_min=0.9, r_max=0.5).cell == other
    config, problems = from_mapping({"cell": cell, "r_min": "0.9", "r_max": "0.5"})
    assert config.r_min <= config.r_max and problems  # the URL parser falls back and says why
