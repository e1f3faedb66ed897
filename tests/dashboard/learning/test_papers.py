"""The Papers page's verdicts and captions: the verdict functions on random numbers and at their edges, every row's
verdict computed from its checks (a study that breaks a law gets "disagree"), and every caption read off its
figure's data."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pandas as pd
import pytest

from bptt_core.lab.paper_laws import zero_crossing
from bptt_core.lab.tasks import copy_baseline
from dashboard.learning import paper_panels, paper_rows
from dashboard.learning import papers as P
from dashboard.vocabulary.numbers import readable, spread

RNG = np.random.default_rng(31)


@pytest.fixture(scope="module")
def studies() -> dict:
    return {key: P.study(key, "page") for key in P.STUDIES}


def test_bound_holds_exactly_up_to_rounding_and_fails_on_nan_or_nothing():
    for _ in range(50):
        excess = -RNG.exponential(1.0, RNG.integers(1, 20))
        assert P.bound_holds(excess)
        excess[RNG.integers(excess.size)] = RNG.uniform(2e-9, 1.0)
        assert not P.bound_holds(excess)
    assert P.bound_holds([P.BOUND_ROUNDING]) and not P.bound_holds([np.nan, -1.0]) and not P.bound_holds([])


def test_the_regions_count_sufficient_and_necessary_at_random_and_at_their_edges():
    for _ in range(50):
        rate = RNG.uniform(0.2, 3.0, 12)
        lowest = np.where(rate < 1, -RNG.uniform(2.1, 9, 12), RNG.uniform(-9, 9, 12))
        highest = lowest + RNG.uniform(0, 0.05, 12)
        counts = P.regions(rate, lowest, highest)
        assert counts["below"] == (rate < 1).sum() and P.regions_agree(counts)
    # rate exactly 1 is in neither region; a product exactly at 10^2 has not exploded; one that explodes below 1 fails
    assert P.regions([1.0], [3.0], [3.0]) == {
        "below": 0,
        "vanished_below": 0,
        "exploded": 1,
        "exploded_above": 0,
        "above": 0,
    }
    assert P.regions([2.0], [2.0], [2.0])["exploded"] == 0
    assert not P.regions_agree(P.regions([0.9], [-3.0], [2.5]))  # exploded below 1: the law is broken
    assert not P.regions_agree(P.regions([0.9], [-1.0], [-1.0]))  # below 1 but not vanished


def test_crossing_rates_gap_and_time_verdicts_at_their_edges():
    assert P.crossing_agrees([0.9, 1.05, np.nan, 7.0]) and not P.crossing_agrees([np.nan]) and not P.crossing_agrees([])
    assert P.crossing_agrees([1 + P.CROSSING_TOLERANCE]) and not P.crossing_agrees([1.2, 1.2, 0.5])
    assert P.rates_agree([0.1, 0.2], [0.1, 0.23], 0.02) and not P.rates_agree([0.1], [0.2], 0.02)
    assert not P.rates_agree([np.nan], [0.0], 1.0)
    s = np.sort(RNG.normal(size=40))[::-1]
    assert P.spectrum_gaps((s,)) == [] and not P.shape_agrees([])
    line = lambda N: -np.linspace(0, 1, N, endpoint=False) - 0.5 / N  # noqa: E731  λ_i = -(i - 1/2)/N at every N
    assert P.spectrum_gaps((line(64), line(16))) == [pytest.approx(0.0, abs=1e-12)]  # sorted by size
    span = 0.9  # of a line from -0.05 to -0.95 on the fractions read
    gaps = P.spectrum_gaps((line(8), line(16) + 0.2, line(32) + 0.2 + P.SHAPE_TOLERANCE * span))
    assert gaps == [pytest.approx(0.2 / span, rel=0.05), pytest.approx(P.SHAPE_TOLERANCE)] and P.shape_agrees(gaps)
    assert not P.shape_agrees([*gaps[:1], 2 * P.SHAPE_TOLERANCE]) and not P.shape_agrees([np.nan])
    stretched = lambda N: -np.arange(N) / 16.0  # noqa: E731  a spectrum set by i, not i/N: stretched by N'/N
    assert not P.shape_agrees(P.spectrum_gaps((stretched(16), stretched(32))))
    assert P.time_agrees(0.95, 1 / 3, 0.95) and P.time_agrees(0.99, 1 / 3 + P.TIME_TOLERANCE, 0.95)
    assert not P.time_agrees(0.9499, 0.3, 0.95) and not P.time_agrees(0.99, 0.5, 0.95)


def test_bias_rank_and_position_verdicts_at_random_and_at_their_edges():
    for _ in range(30):
        se = RNG.uniform(1e-4, 1e-2, 5)
        assert P.unbiased(se * RNG.uniform(0, 3, 5), se) and not P.unbiased(se * 3.01, se)
        x = np.sort(RNG.uniform(0, 1, 6))
        assert P.rises(x, np.exp(3 * x)) and not P.rises(x, np.exp(-3 * x))
        assert P.rank_correlation(x, x**3) == pytest.approx(1.0)
    assert not P.unbiased([np.nan], [1.0]) and not P.unbiased([], [])
    assert not P.rises([1.0], [1.0]) and not P.rises([1, 2, 3], [1.0, 1.0, 1.0]) and not P.rises([1, 2], [1, np.nan])
    assert [P.position(r) for r in (0.89, 0.9, 1.0, 1.1, 1.11, np.inf)] == [
        "below",
        "at",
        "at",
        "at",
        "above",
        "diverged",
    ]
    assert P.baseline_agrees(copy_baseline(7), 7) and not P.baseline_agrees(copy_baseline(7) * (1 + 1e-6), 7)


def test_every_row_agrees_only_when_every_check_does(studies):
    for key, s in studies.items():
        row = paper_rows.reproduction(key, s, "page")
        assert row.verdict == ("agree" if all(c.agrees for c in row.checks) else "disagree")
        broken = dataclasses.replace(row, checks=(*row.checks, P.Check("x", "y", "z", False)))
        assert broken.verdict == "disagree"


def test_a_study_that_breaks_its_law_gets_disagree(studies):
    """The verdicts are computed: each study, its numbers pushed past the law, turns its row to disagree."""
    s = studies["pascanu"]
    assert paper_rows.pascanu(dataclasses.replace(s, excess=s.excess + 0.1), "page").verdict == "disagree"
    c = studies["chaos"]
    assert paper_rows.chaos(dataclasses.replace(c, crossing=c.crossing + 0.5), "page").verdict == "disagree"
    assert paper_rows.chaos(dataclasses.replace(c, gradient_rate=c.gradient_rate + 0.1), "page").verdict == "disagree"
    k = studies["checkpoint"]
    assert paper_rows.checkpoint(dataclasses.replace(k, recomputed=k.recomputed * 3), "page").verdict == "disagree"
    t = studies["truncation"]
    shifted = {
        c: dataclasses.replace(st, relative_bias=st.relative_bias + 5 * st.standard_error) for c, st in t.items()
    }
    assert paper_rows.truncation(shifted, "page").verdict == "disagree"
    cp = studies["copy"]
    assert paper_rows.copy(dataclasses.replace(cp, final=cp.final * 2), "page").verdict == "disagree"
    assert paper_rows.copy(dataclasses.replace(cp, memoryless=cp.memoryless * 1.01), "page").verdict == "disagree"
    e = studies["error_flow"]
    assert paper_rows.error_flow(dataclasses.replace(e, measured=e.measured * 1.2), "page").verdict == "disagree"


def test_each_rows_command_is_a_real_call_of_its_study():
    for scale in P.SCALES:
        for key, fn in P.STUDIES.items():
            assert P.command(key, scale).startswith(f"{fn.__module__}.{fn.__name__}(")
            inspect.signature(fn).bind(**P.SCALES[scale][key])  # every argument is the study's
    with pytest.raises(ValueError, match="key must be one of"):
        P.study("nope")
    with pytest.raises(ValueError, match="scale must be one of"):
        P.study("copy", "huge")


def test_the_table_has_a_line_per_row_with_its_verdict(studies):
    rows = [paper_rows.reproduction(k, s) for k, s in studies.items()]
    table = paper_rows.table(rows)
    assert list(table.columns) == list(paper_rows.TABLE_COLUMNS) and len(table) == 6
    assert list(table["verdict"]) == [r.verdict for r in rows]
    assert all(" | " in ours for ours in table["ours"])  # every row has at least two checks


def test_the_pascanu_caption_reads_its_data(studies):
    panel = paper_panels.panel("pascanu", studies["pascanu"])
    df = panel.data
    counts = P.regions(df["rate"], df["last_lowest"], df["last_highest"])
    assert f"{counts['vanished_below']} of {counts['below']} fell under 10⁻²" in panel.caption
    assert "every point is at or below the dashed line" in panel.caption
    worse = df.assign(excess=df["excess"] + np.where(df.index == 0, 1.0, 0.0))
    assert f"1 of {len(df)} networks exceed the bound" in paper_panels.pascanu_caption(worse)
    loud = df.assign(last_highest=np.where(df["rate"] > 1, 3.0, df["last_highest"]))
    assert f"All {counts['above']} right of 1 exploded here." in paper_panels.pascanu_caption(loud)
    assert "necessary, not sufficient" in panel.caption  # at the page's scale some networks above 1 stay bounded


def test_the_chaos_caption_reads_its_data(studies):
    panel = paper_panels.panel("chaos", studies["chaos"])
    df = panel.data
    leading = df[(df["part"] == "leading") & (df["N"] == df["N"].max())]
    level = -df["resolution"].iloc[0]
    crossings = [zero_crossing(p["x"], p["y"], level) for _, p in leading.groupby("seed")]
    assert f"N = {df['N'].max()}: g* = {spread(crossings)}" in panel.caption
    growth = df[df["part"] == "growth"]
    assert f"r − λ₁ = {spread(growth['y'] - growth['x'])} per step" in panel.caption


def test_the_checkpoint_truncation_copy_and_error_captions_read_their_data(studies):
    k = paper_panels.panel("checkpoint", studies["checkpoint"])
    for r in k.data[k.data["chosen"]].itertuples():
        assert f"{r.cell} keeps {r.kept:.1%} with S = {r.slots} states for ×{r.time:.3f}" in k.caption
    t = paper_panels.panel("truncation", studies["truncation"])
    assert ("indistinguishable from 0" in t.caption) == P.unbiased(t.data["bias"], t.data["standard_error"])
    noisy = t.data.assign(bias=t.data["bias"] + 10 * t.data["standard_error"])
    assert f"{len(noisy)} biases lie beyond" in paper_panels.truncation_caption(noisy)
    c = paper_panels.panel("copy", studies["copy"])
    assert f"memoryless baseline {readable(copy_baseline(studies['copy'].T))}" in c.caption
    above = c.data.assign(loss=c.data["loss"] * 3)
    assert "ends above the baseline" in paper_panels.copy_caption(above)
    assert "ends at the baseline" not in paper_panels.copy_caption(above)
    e = paper_panels.panel("error_flow", studies["error_flow"])
    predicted = e.data[(e.data["kind"] == "predicted") & (e.data["case"] == "rnn")]
    slopes = [np.polyfit(p["lag"], np.log(p["norm"]), 1)[0] for _, p in predicted.groupby("seed")]
    assert f"predicted {spread(np.exp(slopes))}" in e.caption  # three digits for the vanilla RNN


def test_a_constant_error_signal_is_a_factor_one():
    lags = np.arange(20)
    df = pd.DataFrame(
        {"case": "c", "cell": "lstm", "kind": ["measured"] * 20 + ["predicted"] * 10, "seed": 0,
         "lag": np.concatenate([lags, lags[10:]]), "norm": 2.0}
    )  # fmt: skip
    assert "c: a factor 1 (1 draw) per step, predicted 1 (1 draw)" in paper_panels.error_flow_caption(df)
    assert "predicted 0.99995 (1 draw)" in paper_panels.error_flow_caption(df.assign(norm=2 * 0.99995 ** df["lag"]))
