"""Every registered cell's weights go out as .npz and .safetensors and come back: into the sidebar's network, or,
for a file of another cell, size or depth, with the sidebar's settings changed to match."""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc
from dashboard.catalog import compute
from dashboard.config import RunConfig
from dashboard.io import weights

FORMATS = {"npz": weights.to_npz, "safetensors": weights.to_safetensors}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_a_file_of_any_cell_loads_back_and_sets_the_sidebar(cell, fmt):
    written = RunConfig(cell=cell, hidden_size=5, input_size=3, output_size=2, num_layers=2, bidirectional=True)
    params = compute.preset_params(written.replace(seed=7))
    data = FORMATS[fmt](params)
    if data is None:
        pytest.skip("the safetensors package is not installed")
    same, notes, changes = weights.load_for(data, written)
    assert changes == {} and notes == []
    assert all(np.array_equal(same[k], params[k]) for k in params)
    other = next(c for c in bc.CELLS if c != cell)  # the sidebar on another cell, size and depth
    loaded, notes, changes = weights.load_for(data, RunConfig(cell=other, hidden_size=9))
    assert changes["cell"] == cell and changes["hidden_size"] == 5 and changes["num_layers"] == 2
    assert changes["bidirectional"] is True and "the sidebar now matches the file" in notes[-1]
    assert all(np.array_equal(loaded[k], params[k]) for k in params)


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_the_key_description_names_the_cells_own_keys(cell):
    text = weights.key_description(cell)
    assert all(f"`{name}_l0`" in text for name in bc.CELLS[cell].param_shapes(1, 1))
    assert ("PyTorch's `nn." in text) == (bc.CELLS[cell].torch_module is not None)
