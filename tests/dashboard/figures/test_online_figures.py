"""The Beyond BPTT figures draw their data: asserted on fig.data and the layout, without a browser."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.figures import online as fo


def test_accuracy_draws_every_cosine_and_writes_an_exact_zero():
    df = pd.DataFrame(
        {
            "key": ["rtrl", "uoro", "bptt"],
            "method": ["RTRL", "UORO", "BPTT"],
            "cosine": [1.0, 0.2, 1.0],
            "relative_error": [3e-16, 4.0, 0.0],
        }
    )
    fig = fo.method_accuracy(df, cosine_title="cos", error_title="err")
    bars, markers = fig.data
    assert list(bars.x) == [1.0, 0.2, 1.0] and list(bars.y) == ["RTRL", "UORO", "BPTT"]
    assert list(markers.x[:2]) == [3e-16, 4.0] and markers.text[2] == "0"
    low, high = fig.layout.xaxis2.range
    assert 10**low < markers.x[2] < 3e-16 < 4.0 < 10**high  # the zero sits left of every error, all inside


def test_memory_against_length_draws_flat_methods_across_and_t_star_where_it_is():
    df = pd.DataFrame(
        {
            "key": ["rtrl", "rtrl", *["bptt"] * 4],
            "method": ["RTRL", "RTRL", *["BPTT"] * 4],
            "T": [1, 30, 1, 10, 100, 1000],
            "stored_bytes": [5000, 5000, 100, 1000, 10_000, 100_000],
            "memory_bytes": [9000, 9000, 800, 3000, 20_000, 200_000],
            "flat": [True, True, False, False, False, False],
        }
    )
    fig = fo.memory_against_length(df, 50)
    dotted = [t for t in fig.data if t.line.dash == "dot"]
    assert [list(t.x) for t in dotted] == [[1, 1000]] * 2 and [t.y[0] for t in dotted] == [5000, 9000]
    assert [s.x0 for s in fig.layout.shapes] == [50]
    assert min(fig.layout.yaxis.tickvals) <= 100  # the lowest line has a labelled tick under it
    assert not fo.memory_against_length(df, 5000).layout.shapes  # beyond the lengths drawn: no line


def test_z_scores_histogram_leaves_out_infinite_scores_and_marks_the_bound():
    fig = fo.z_scores(np.array([0.1, -1.0, np.inf, 2.0]), 3.5)
    histogram, normal = fig.data
    assert list(histogram.x) == [0.1, -1.0, 2.0]
    assert np.max(normal.y) == np.exp(0) / np.sqrt(2 * np.pi)
    assert sorted(s.x0 for s in fig.layout.shapes) == [-3.5, 3.5]


def test_race_curves_switch_to_a_log_axis_only_over_a_decade_and_keep_rtrl_visible():
    def frame(losses):
        return pd.DataFrame(
            {
                "key": ["rtrl"] * 3 + ["bptt"] * 3,
                "method": ["RTRL"] * 3 + ["BPTT"] * 3,
                "iteration": [1, 2, 3] * 2,
                "loss": losses * 2,
            }
        )

    narrow, wide = fo.race_curves(frame([2.0, 1.9, 1.8])), fo.race_curves(frame([2.0, 0.5, 0.01]))
    assert narrow.layout.yaxis.type != "log" and wide.layout.yaxis.type == "log"
    assert [t.name for t in narrow.data] == ["BPTT", "RTRL"]  # RTRL drawn last, on top
    assert narrow.data[1].line.dash == "dash" and narrow.layout.legend.traceorder == "reversed"
