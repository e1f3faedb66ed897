"""Promises of the public API beyond the arithmetic: shapes that come back as they went in, masks read as
PyTorch's packed sequences, lists read like arrays."""

from __future__ import annotations

import numpy as np
import pytest

import bptt_core as bc


@pytest.mark.parametrize("cell", list(bc.CELLS))
def test_initial_state_gradients_come_back_in_the_shape_the_states_were_given(cell):
    spec = bc.RNNSpec(cell, 2, 3, 2)
    params = bc.init_params(spec, seed=0)
    rng = np.random.default_rng(1)
    x, y, h0 = rng.standard_normal((5, 4, 2)), rng.standard_normal((5, 4, 2)), rng.standard_normal((4, 3))
    states = {"h0": h0, "c0": h0 / 2} if spec.has_cell_state else {"h0": h0}
    flat = bc.bptt(spec, params, x, y, **states)
    stacked = bc.bptt(spec, params, x, y, **{k: s[None] for k, s in states.items()})
    default = bc.bptt(spec, params, x, y)
    assert flat.dh0.shape == (4, 3) and stacked.dh0.shape == (1, 4, 3) and default.dh0.shape == (1, 4, 3)
    np.testing.assert_array_equal(flat.dh0, stacked.dh0[0])
    if spec.has_cell_state:
        assert flat.dc0.shape == (4, 3) and stacked.dc0.shape == (1, 4, 3)
        np.testing.assert_array_equal(flat.dc0, stacked.dc0[0])
        mixed = bc.bptt(spec, params, x, y, h0=h0, c0=(h0 / 2)[None])  # each comes back as it came
        assert mixed.dh0.shape == (4, 3) and mixed.dc0.shape == (1, 4, 3)


def test_a_bidirectional_network_refuses_a_mask_with_a_gap():
    """PyTorch's packed sequences hold each sequence's valid steps first, then padding: the reverse direction
    starts at the last valid step. A gap (a valid step after padding) has no packed form, so it is refused
    rather than silently restarting the reverse direction after every gap."""
    spec = bc.RNNSpec("lstm", 2, 3, 2, bidirectional=True)
    params = bc.init_params(spec, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 3, 2))
    prefix = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 0, 0]])
    assert np.isfinite(bc.bptt(spec, params, x, np.zeros((5, 3, 2)), mask=prefix).loss)
    for t, b in [(3, 1), (0, 2), (4, 2)]:  # a valid step after padding; padding in front; a last valid step
        gapped = prefix.copy()
        gapped[t, b] = 1 - gapped[t, b]
        with pytest.raises(ValueError, match=rf"mask has a gap in sequence {b}.*packed sequences"):
            bc.bptt(spec, params, x, np.zeros((5, 3, 2)), mask=gapped)
        for analysis in (bc.flow_matrix, bc.gradient_contributions):
            with pytest.raises(ValueError, match="mask has a gap"):
                analysis(spec, params, x, np.zeros((5, 3, 2)), mask=gapped)


def test_a_unidirectional_mask_with_a_gap_weights_the_losses_only():
    """Forward in time a mask is a loss mask: the state runs through every step, masked steps' losses count
    for nothing, so their targets cannot change any gradient."""
    spec = bc.RNNSpec("gru", 2, 3, 2)
    params = bc.init_params(spec, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 2, 2)), rng.standard_normal((6, 2, 2))
    mask = np.array([[1, 1], [0, 1], [1, 0], [0, 1], [1, 1], [1, 0]])
    other = np.where(mask[..., None] == 1, y, 100.0)
    a, b = bc.bptt(spec, params, x, y, mask=mask), bc.bptt(spec, params, x, other, mask=mask)
    assert a.loss == b.loss
    for key in a.grads:
        np.testing.assert_array_equal(a.grads[key], b.grads[key])
