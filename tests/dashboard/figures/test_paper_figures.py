"""The Papers page's figures draw their data: asserted on fig.data and the layout, without a browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.figures import papers as fp


def test_the_pascanu_figure_draws_each_activation_and_the_bound_through_its_range():
    df = pd.DataFrame(
        {
            "activation": ["tanh", "tanh", "sigmoid"],
            "rate": [0.5, 2.0, 4.0],
            "growth": [0.3, 1.5, 0.9],
            "seed": [0, 1, 0],
        }
    )
    fig = fp.pascanu_regions(df, x_title="x", y_title="y")
    tanh, sigmoid, bound = fig.data
    assert (tanh.name, list(tanh.x), list(tanh.y)) == ("tanh", [0.5, 2.0], [0.3, 1.5])
    assert list(sigmoid.x) == [4.0] and list(sigmoid.customdata[:, 0]) == [0]
    assert bound.x == bound.y and bound.x[0] <= 0.3 and bound.x[1] >= 4.0  # y = x over every point
    assert [s.x0 for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1] == [1.0]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def _chaos_frame() -> pd.DataFrame:
    rows = [("leading", N, s, g, np.log(g) + 0.01 * s) for N in (16, 32) for s in range(3) for g in (0.5, 1.0, 2.0)]
    rows += [("spectrum", N, -1, (i + 0.5) / N, -i / N) for N in (16, 32) for i in range(N)]
    rows += [("growth", N, s, 0.1 * s, 0.1 * s + 0.01) for N in (16, 32) for s in range(3)]
    return pd.DataFrame(rows, columns=["part", "N", "seed", "x", "y"])


def test_the_chaos_figure_draws_the_median_with_the_range_of_seeds_and_each_spectrum():
    fig = fp.chaos_transition(_chaos_frame(), titles=("a", "b", "c"))
    curves = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in curves] == ["N = 16", "N = 32"]
    np.testing.assert_allclose(curves[0].y, np.log([0.5, 1.0, 2.0]) + 0.01)  # the median of seeds 0, 1, 2
    np.testing.assert_allclose(curves[0].error_y.array, [0.01] * 3)  # up to the highest seed
    np.testing.assert_allclose(curves[0].error_y.arrayminus, [0.01] * 3)  # down to the lowest
    spectra = [t for t in fig.data if t.mode == "lines" and t.xaxis == "x2"]
    assert [len(t.x) for t in spectra] == [16, 32]
    growth = [t for t in fig.data if t.mode == "markers" and t.xaxis == "x3"]
    assert sum(len(t.x) for t in growth) == 6
    diagonal = fig.data[-1]
    assert diagonal.name == "r = λ₁" and diagonal.x == diagonal.y


def test_the_checkpoint_figure_marks_the_chosen_schedules_and_the_published_point():
    df = pd.DataFrame(
        {
            "cell": ["rnn", "rnn", "lstm", "lstm", "rnn", "lstm"],
            "slots": [2, 50, 2, 50, 48, 170],
            "kept": [0.002, 0.05, 0.001, 0.02, 0.05, 0.05],
            "time": [10.0, 1.3, 10.0, 1.2, 1.32, 1.28],
            "chosen": [False, False, False, False, True, True],
        }
    )
    fig = fp.checkpoint_curve(df, (0.05, 4 / 3), x_title="x", y_title="y")
    rnn, lstm, chosen, published = fig.data
    assert list(rnn.x) == [0.002, 0.05] and list(lstm.y) == [10.0, 1.2]
    assert list(chosen.customdata[:, 1]) == [48, 170] and chosen.marker.symbol == "diamond"
    assert (published.x, published.y) == ((0.05,), (4 / 3,))


def test_the_truncation_figure_draws_bias_its_noise_band_and_variance_per_cell():
    df = pd.DataFrame(
        {
            "cell": ["rnn"] * 3,
            "p": [0.1, 0.2, 0.4],
            "bias": [1e-3, 0.0, 2e-3],
            "standard_error": [1e-3, 1e-3, 2e-3],
            "variance": [1e-4, 2e-4, 4e-4],
        }
    )
    fig = fp.truncation_noise(df, bias_title="b", variance_title="v")
    bias, band, variance = fig.data
    assert np.isnan(bias.y[1]) and bias.y[2] == 2e-3  # a bias of exactly 0 leaves a gap on the log axis
    np.testing.assert_allclose(band.y, [3e-3, 3e-3, 6e-3])
    assert list(variance.y) == [1e-4, 2e-4, 4e-4] and variance.xaxis == "x2"


def test_the_copy_figure_draws_each_cells_median_and_band_and_the_baseline():
    df = pd.DataFrame(
        {
            "cell": ["rnn"] * 6,
            "seed": [0, 0, 0, 1, 1, 1],
            "iteration": [1, 2, 3] * 2,
            "loss": [2.0, 1.0, 0.7, 2.2, 1.2, 0.8],
        }
    )
    fig = fp.copy_curves(df, 0.69, y_title="loss")
    band, median = fig.data
    np.testing.assert_allclose(median.y, [2.1, 1.1, 0.75])
    np.testing.assert_allclose(band.y, [2.2, 1.2, 0.8, 0.7, 1.0, 2.0])  # up along the highest, back along the lowest
    (line,) = fig.layout.shapes
    assert line.y0 == line.y1 == 0.69


@pytest.mark.parametrize("zero", [False, True])
def test_the_error_figure_draws_measured_and_predicted_per_case(zero):
    lags = np.arange(5)
    measured = 0.5**lags
    if zero:
        measured[-1] = 0.0  # an underflowed norm is a gap, not a point at the bottom
    df = pd.concat(
        [
            pd.DataFrame({"case": "rnn", "cell": "rnn", "kind": "measured", "seed": 0, "lag": lags, "norm": measured}),
            pd.DataFrame({"case": "rnn", "cell": "rnn", "kind": "predicted", "seed": 0, "lag": lags[2:], "norm": 0.25}),
        ]
    )
    fig = fp.error_decay(df, y_title="y")
    solid, dashed = fig.data
    assert solid.name == "rnn" and dashed.name == "rnn: predicted" and dashed.line.dash == "dash"
    assert list(dashed.x) == [2, 3, 4]
    assert np.isnan(solid.y[-1]) == zero and solid.y[1] == 0.5
