"""Every statement of the Beyond BPTT page, checked on its figure's own data over random settings and the edges:
RTRL's certificate and each method's bias, the crossover length where the ledgers cross, UORO's z-test, the ledger
against tracemalloc, the laws of the costs, and the training race. Each check recomputes what the caption states
(from the engine where it can), so a caption that stopped following its data fails here."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import bptt_core as bc
from bptt_core.lab.train import TrainHistory
from bptt_core.online import crossover_length, influence_bytes
from bptt_core.online.compare import GradientStatistics, MethodRow
from bptt_core.result import flatten_grads
from dashboard.catalog import online, online_panels
from dashboard.catalog import sections as catalog
from dashboard.catalog.compute import problem
from dashboard.config import RunConfig
from dashboard.vocabulary.numbers import human_bytes, readable
from dashboard.vocabulary.quantities import label


def online_settings(n: int, seed: int) -> list[RunConfig]:
    """Random unidirectional networks (the online methods' domain): cells, activations, one to three layers,
    losses, masks, truncation, checkpoints, float32, sizes small enough for RTRL."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        cell = str(rng.choice(["rnn", *bc.CELLS]))
        out.append(
            RunConfig(
                cell=cell,
                activation=str(rng.choice(bc.CELLS[cell].activations)) if bc.CELLS[cell].chooses_activation else "tanh",
                T=int(rng.choice([1, 2, 10, 40, 120])),
                hidden_size=int(rng.integers(1, 13)),
                batch_size=int(rng.integers(1, 4)),
                input_size=int(rng.integers(1, 5)),
                init=str(rng.choice(["uniform", "normal", "orthogonal"])),
                scale=float(rng.choice([0.5, 1.0, 1.5])),
                seed=int(rng.integers(0, 1000)),
                loss=str(rng.choice(["mse", "cross_entropy"])),
                ragged=bool(rng.random() < 0.3),
                num_layers=int(rng.choice([1, 1, 1, 2, 3])),
                truncation=0 if rng.random() < 0.6 else int(rng.choice([1, 3, 8, 25])),
                checkpoint=str(rng.choice(["none", "none", "sqrt", "4"])),
                dtype="float64" if rng.random() < 0.8 else "float32",
            )
        )
    return out


#: The edges: one step, one unit (SnAp-1 is then RTRL), a window longer than T, T = 1000, float32, a constant
#: loss, an overflowing run, a checkpointed stack, a mask with truncation, RTRL too large for the page, T* beyond
#: the lengths drawn.
EDGES = [
    RunConfig(T=1),
    RunConfig(hidden_size=1),
    RunConfig(hidden_size=1, cell="lstm"),
    RunConfig(T=6, truncation=8),
    RunConfig(T=1000, hidden_size=4, batch_size=1),
    RunConfig(T=40, dtype="float32", cell="gru"),
    RunConfig(T=20, loss="cross_entropy", output_size=1),
    RunConfig(T=200, activation="linear", init="orthogonal", scale=3.0, hidden_size=8),
    RunConfig(T=30, num_layers=3, cell="gru", hidden_size=6, checkpoint="sqrt"),
    RunConfig(T=12, ragged=True, batch_size=3, truncation=4),
    RunConfig(T=30, hidden_size=128),
    RunConfig(T=30, hidden_size=64, batch_size=1),  # RTRL runs; T* = 4416 lies beyond the longest length drawn
]
SETTINGS = online_settings(14, seed=30) + EDGES


@pytest.mark.parametrize("config", SETTINGS, ids=lambda c: c.key())
def test_the_accuracy_caption_states_what_each_methods_gradient_does(config):
    """RTRL equals BPTT (independently: online_gradient against bc.bptt) and the caption certifies it exactly when
    the rows say so; each approximation is called equal or off by its own row; UORO's draw is quoted."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow flows through as inf/nan, never as a warning
        rows = online.method_rows(config)
        panel = online_panels.accuracy(config, rows)
    by, caption, tol = rows.set_index("key"), panel.caption, online_panels.SAME[config.dtype]
    assert list(rows["key"]) == [m.key for m in online.running(config)]
    p = problem(config)
    exact = bc.bptt(p.spec, p.params, p.x, p.y, loss=config.loss, mask=p.mask, dtype=config.dtype)
    if not exact.finite:
        assert "overflowed" in caption
        return
    if exact.grad_norm == 0:
        assert "is 0 here" in caption
        return
    if "rtrl" in by.index:
        rtrl = bc.online_gradient(p.spec, p.params, p.x, p.y, "rtrl", loss=config.loss, mask=p.mask, dtype=config.dtype)
        g, r = flatten_grads(exact.grads), flatten_grads(rtrl.grads)
        independent = bc.scaled_norm(r - g) / bc.scaled_norm(g)  # norms that do not overflow
        assert independent <= tol and by.loc["rtrl", "relative_error"] <= tol  # the certificate holds
        assert f"RTRL's gradient equals BPTT's to {readable(by.loc['rtrl', 'relative_error'])}" in caption
    else:
        assert "RTRL" not in caption and any(m.key == "rtrl" and m.left_out for m in online.methods(config))
    for key in online_panels.APPROXIMATIONS:
        if key in by.index:
            name, err = by.loc[key, "method"], by.loc[key, "relative_error"]
            said = f"{name} equals BPTT here" if err <= tol else f"{name} is off by {readable(err)}"
            assert said in caption
    if "uoro" in by.index:
        assert f"one UORO draw has cosine {by.loc['uoro', 'cosine']:.3g}" in caption


def test_the_approximations_are_exact_where_the_literature_says_and_biased_elsewhere():
    """SnAp-1 keeps each parameter on its own unit: with one unit nothing is dropped; truncated BPTT with k >= T
    cuts nothing; on a generic network both are off."""
    one_unit = online.method_rows(RunConfig(hidden_size=1)).set_index("key")
    assert one_unit.loc["snap1", "relative_error"] <= 1e-10
    uncut = online.method_rows(RunConfig(T=6, truncation=8)).set_index("key")
    assert uncut.loc["tbptt", "relative_error"] <= 1e-10
    generic = online.method_rows(RunConfig(T=40)).set_index("key")
    assert generic.loc["snap1", "relative_error"] > 1e-3 and generic.loc["tbptt", "relative_error"] > 1e-3


def test_the_exact_diagonal_method_runs_only_on_a_diagonal_recurrence():
    config = RunConfig(T=20, hidden_size=5)
    dense = {m.key: m for m in online.methods(config)}
    assert "couple" in dense["diagonal"].left_out
    params = dict(online.preset_params(config))
    params["weight_hh_l0"] = np.diag(np.linspace(-0.9, 0.9, 5))
    rows = online.method_rows(config, params).set_index("key")
    assert rows.loc["diagonal", "relative_error"] <= 1e-10  # Zucchet et al.: exact online for diagonal J_t
    assert rows.loc["snap1", "relative_error"] <= 1e-10


@pytest.mark.parametrize("config", [c for c in SETTINGS if c.T <= 120 or c.T == 1000], ids=lambda c: c.key())
def test_the_crossover_is_drawn_where_the_ledgers_cross(config):
    """T*: the closed form for one layer equals the engine's ledger bisection; in the figure's own data BPTT keeps
    no more than RTRL below T* and more from T* on; RTRL's bytes are the same at every length measured; the caption
    states the slope, the crossing and the held comparison the data show."""
    t_star = online.crossover(config)
    rows, lengths = online.method_rows(config), online.memory_lengths(config)
    panel = online_panels.memory(config, rows, lengths, t_star)
    df, caption = panel.data, panel.caption
    assert t_star == crossover_length(config.spec, config.batch_size, what="stored", dtype=config.dtype)
    bptt = df[df["key"] == "bptt"].sort_values("T")
    slope = np.log(bptt["stored_bytes"].iloc[-1] / bptt["stored_bytes"].iloc[-2]) / np.log(
        bptt["T"].iloc[-1] / bptt["T"].iloc[-2]
    )
    assert f"like T^{slope:.2f}" in caption and 0.9 < slope <= 1.0 + 1e-9  # the tape grows like T
    for key in set(df["key"]) & set(online.ONLINE):
        part = df[df["key"] == key]
        assert set(part["T"]) == {1, config.T} and part["stored_bytes"].nunique() == 1  # not with T
        assert part["memory_bytes"].nunique() == 1
        if key == "rtrl":
            assert ("it does not depend on T" in caption) == (config.T > 1)  # said only where two lengths show it
    if "rtrl" not in set(rows["key"]):
        assert "RTRL does not run here" in caption
        return
    rtrl = df[df["key"] == "rtrl"]["stored_bytes"].iloc[0]
    if config.num_layers == 1:
        assert rtrl == influence_bytes(config.spec, config.batch_size, "rtrl", config.dtype)
    below, above = bptt[bptt["T"] < t_star], bptt[bptt["T"] >= t_star]
    assert (below["stored_bytes"] <= rtrl).all() and (above["stored_bytes"] > rtrl).all()
    if t_star <= bptt["T"].max():
        assert "the measured curves cross exactly there" in caption
        shapes = [s for s in panel.figure.layout.shapes if s.x0 == s.x1]
        assert [s.x0 for s in shapes] == [t_star]  # the line is drawn at T*
    else:
        assert "(beyond the lengths drawn)" in caption
    held = df[df["key"] == "rtrl"]["memory_bytes"].iloc[0]
    passes = bptt[bptt["memory_bytes"] > held]
    if len(passes):
        assert f"from T = {int(passes['T'].iloc[0])} of the lengths drawn" in caption
    else:
        assert "stays below" in caption


def _stats(z: np.ndarray, bias: float = 0.1, variance: float = 4.0, n: int = 100) -> GradientStatistics:
    return GradientStatistics(bias, variance, float(np.sqrt(variance / n)), z, 4.0)


@pytest.mark.parametrize(
    "config",
    [RunConfig(T=12, hidden_size=6), RunConfig(T=8, cell="lstm", hidden_size=3, ragged=True, batch_size=2)],
    ids=lambda c: c.key(),
)
def test_uoro_over_100_seeds_is_unbiased_and_its_caption_reads_its_statistics(config):
    study = online.uoro_study(config)
    s = study.row.statistics
    assert study.seeds >= 100 and len(study.names) == s.z.size
    assert s.consistent  # the engine's z-test at its fixed seeds: the mean is the exact gradient
    caption = online_panels.uoro(config, study).caption
    assert f"{label('estimator_bias')} {readable(s.relative_bias)}".lower() in caption.lower()
    assert f"of {readable(s.relative_standard_error)}" in caption
    assert s.relative_bias < 6 * s.relative_standard_error  # bias of the size sampling produces
    assert f"within ±{s.z_critical:.2f}" in caption and f"seeds {config.seed} to {config.seed + 99}" in caption


def test_uoro_caption_names_the_coordinates_beyond_the_bound():
    z = np.array([0.5, -1.0, 6.0, np.inf, 0.0])
    row = MethodRow("uoro", 0.3, 2.0, 1, 1, 1, 0.1, _stats(z))
    caption = online_panels.uoro_caption(online.UOROStudy(row, tuple("abcde"), 100, 0))
    assert "2 of the 5 coordinates' z-scores lie beyond ±4.00" in caption
    assert "within" not in caption


def test_every_method_is_left_out_of_a_bidirectional_network_and_the_page_says_why():
    config = RunConfig(T=20, bidirectional=True)
    assert all(catalog.page_panels("beyond_bptt", config, section=s) == {} for s in catalog.SECTIONS["beyond_bptt"])
    assert online.crossover(config) is None
    reasons = {m.key: m.left_out for m in online.methods(config)}
    assert all("cannot read the future" in reasons[k] for k in online.ONLINE) and not reasons["bptt"]


def test_a_stack_runs_rtrl_and_leaves_the_one_layer_methods_out():
    config = RunConfig(T=15, num_layers=2, hidden_size=5)
    reasons = {m.key: m.left_out for m in online.methods(config)}
    assert reasons["rtrl"] == "" and reasons["uoro"] == reasons["snap1"] == online.STACK_REFUSAL
    assert online.uoro_study(config) is None


def test_the_headline_names_rtrl_against_bptt_from_the_rows_or_says_it_does_not_run():
    config = RunConfig(T=25)
    rows = online.method_rows(config)
    by = rows.set_index("key")
    metrics = {name: value for name, value, _ in online_panels.headline(config, rows, online.crossover(config))}
    assert metrics[label("gradient_error")] == readable(by.loc["rtrl", "relative_error"])
    assert metrics[label("crossover_length")] == f"{online.crossover(config)} steps"
    ratio = by.loc["rtrl", "stored_bytes"] / by.loc["bptt", "stored_bytes"]
    assert metrics[label("kept_for_gradient")] == f"×{readable(ratio)}"
    large = RunConfig(T=30, hidden_size=128)
    reason = next(m.left_out for m in online.methods(large) if m.key == "rtrl")
    assert "FLOPs" in reason
    values = [v for _, v, _ in online_panels.headline(large, online.method_rows(large), online.crossover(large))]
    assert values[0] == values[2] == values[3] == "–" and values[1] != "–"  # T* needs no RTRL run


def test_the_ledger_and_tracemalloc_caption_reads_the_measurements():
    from dashboard.catalog import measure

    config = RunConfig(T=20, hidden_size=6)
    peaks = measure.measured_peaks(config, what="online")
    assert set(peaks) == {m.label for m in online.running(config)}
    panel = online_panels.held(config, peaks, online.method_rows(config))
    shares = {m: p["ledger"] / p["measured"] for m, p in peaks.items()}
    low, high = min(shares, key=shares.get), max(shares, key=shares.get)
    assert f"{shares[low]:.0%} ({low}) to {shares[high]:.0%} ({high})" in panel.caption
    assert all(0.3 < s < 1.5 for s in shares.values())  # the ledger counts what the call holds, to tens of %
    ratio = peaks["RTRL"]["measured"] / peaks["BPTT"]["measured"]
    assert f"RTRL holds {readable(ratio)} times what BPTT holds" in panel.caption
    assert set(panel.data["measure"]) == {label("peak_held"), label("measured_peak"), label("kept_for_gradient")}


def test_a_bad_measurement_request_is_answered_with_an_error_not_a_crash():
    import io
    import json

    from dashboard.catalog import measure

    out = io.StringIO()
    measure.serve(['{"measure": "everything"}\n', '{"measure": "online", "T": "3"}\n'], out)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert "measure must be one of" in first["error"]
    assert set(second) == {m.label for m in online.running(RunConfig(T=3))}
    with pytest.raises(ValueError, match="what must be one of"):
        measure.measured_peaks(RunConfig(), what="all")


@pytest.mark.parametrize("config", [RunConfig(), RunConfig(cell="lstm", hidden_size=8, T=20)], ids=lambda c: c.key())
def test_the_cost_captions_state_the_growth_their_data_show(config):
    sweep = online.cost_sweep(config)
    for axis in ("T", "H"):
        panel = online_panels.cost(config, sweep, axis)
        df = panel.data
        untimed = df["seconds"].isna()
        assert (untimed == (df["memory_bytes"].isna())).all()
        assert (df[untimed]["flops"] > online.SWEEP_FLOPS).all() and (df[~untimed]["flops"] <= online.SWEEP_FLOPS).all()
        flops = panel.caption.split("counted FLOPs grow ")[1].split(";")[0]
        for key in df["key"].unique():
            part = df[df["key"] == key].sort_values(axis)
            a, b = part.iloc[-2], part.iloc[-1]
            exponent = np.log(b["flops"] / a["flops"]) / np.log(b[axis] / a[axis])
            if axis == "T":
                assert exponent == pytest.approx(1.0, abs=1e-6)  # every method's work is per step
                assert flops == f"like T^1.00 for every method (between {int(a['T'])} and {int(b['T'])})"
            else:
                assert f"{part['method'].iloc[0]} like H^{exponent:.2f} ({int(a['H'])} to {int(b['H'])})" in flops
        if untimed.any():
            assert f"{int(untimed.sum())} of {len(df)} points" in panel.caption
    h = sweep[sweep["axis"] == "H"]
    rtrl, bptt = (h[h["key"] == k].sort_values("H") for k in ("rtrl", "bptt"))
    slope = lambda d: np.log(d["flops"].iloc[-1] / d["flops"].iloc[-2]) / np.log(2)  # noqa: E731
    assert 3.5 < slope(rtrl) <= 4.0 and 1.5 < slope(bptt) <= 2.0  # O(H^4) against O(H^2) per step
    held = h[(h["key"] == "rtrl")].dropna(subset=["memory_bytes"])
    kept = held["stored_bytes"].to_numpy()
    assert np.all(np.diff(np.log(kept)) / np.diff(np.log(held["H"].to_numpy())) <= 3.0 + 1e-9)  # towards H^3


def test_the_race_caption_ranks_the_final_losses_and_rtrl_trains_as_bptt():
    from dashboard.learning import race

    field = race.entrants(RunConfig(T=10, hidden_size=4, batch_size=2), "sine", 30, 1e-2, "adam")
    histories = race.run_race(field)
    panel = race.race_panel(field, histories)
    df, caption = panel.data, panel.caption
    finals = {str(p["method"].iloc[0]): float(np.mean(p["loss"].to_numpy()[-6:])) for _, p in df.groupby("key")}
    listed = caption.split("iterations: ")[1]
    listed = listed.split(". ")[0].replace(": ", ", ")  # the ranking: "name loss, name loss, ..."
    in_caption = sorted(finals, key=lambda name: (", " + listed).index(f", {name} "))
    for a, b in itertools.pairwise(in_caption):  # ranked by final loss (RTRL and BPTT tie to rounding)
        assert finals[a] <= finals[b] * (1 + 1e-9), (a, b)
    np.testing.assert_allclose(histories["rtrl"].loss, histories["bptt"].loss, rtol=1e-9)  # the same gradient
    assert "RTRL's curve is BPTT's" in caption
    cut = np.r_[histories["uoro"].loss[:5], np.inf]
    diverged = {**histories, "uoro": TrainHistory(cut, cut, cut, np.zeros((6, 10)), {}, 6)}
    caption = race.race_caption(race.race_frame(field, diverged), field[0].config)
    assert "UORO stopped at iteration 6 (the loss overflowed)" in caption


def test_the_race_leaves_out_what_does_not_fit_and_says_why():
    from dashboard.learning import race

    stack = {e.key: e.left_out for e in race.entrants(RunConfig(num_layers=2), "adding", 100, 1e-2, "adam")}
    assert stack["uoro"] == online.STACK_REFUSAL and stack["rtrl"] == stack["bptt"] == ""
    big = {e.key: e.left_out for e in race.entrants(RunConfig(hidden_size=96, T=200), "adding", 500, 1e-2, "adam")}
    assert re.search(r"its 500 gradients count .* FLOPs", big["rtrl"]) and big["bptt"] == ""


def test_the_memory_frame_keeps_the_methods_order_and_every_ledger():
    config = RunConfig(T=10)
    rows, lengths = online.method_rows(config), online.memory_lengths(config)
    df = online_panels.memory_frame(rows, lengths, config.T)
    assert list(dict.fromkeys(df["key"])) == list(rows["key"])
    assert len(df) == len(lengths) + int(rows["key"].isin(online.ONLINE).sum())
    legend = [t.name for t in panels_figure(config).data if t.showlegend]
    assert legend == list(rows["method"])
    assert (
        human_bytes(df[df["key"] == "rtrl"]["stored_bytes"].iloc[0])
        in online_panels.memory(config, rows, lengths, online.crossover(config)).caption
    )


def panels_figure(config: RunConfig):
    return catalog.page_panels("beyond_bptt", config)["online_memory"].figure


def test_every_section_builds_at_an_overflowing_setting_without_warnings():
    config = RunConfig(T=60, activation="linear", init="orthogonal", scale=3.0, hidden_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for section in ("", "uoro", "cost"):
            built = catalog.page_panels("beyond_bptt", config, section=section)
            assert built and all(len(p.figure.data) for p in built.values())
    assert isinstance(built["online_cost_T"].data, pd.DataFrame)


def test_the_tour_scene_states_the_pages_numbers_and_grades_h_cubed():
    """The scene's sentence quotes the Beyond BPTT page's own ledgers and T*, and doubling H multiplies RTRL's
    influence by S N's growth (7.05 for an RNN from H = 16 to 32 with I = 3): the option nearest on a log scale,
    about eight times, the H³ of the literature."""
    from dashboard.learning import tour

    scene = next(s for s in tour.SCENES if s.key == "online")
    config = scene.config()
    by = online.method_rows(config).set_index("key")
    notice = scene.notice(config)
    for key in ("bptt", "rtrl", "uoro", "snap1"):
        assert human_bytes(by.loc[key, "stored_bytes"]) in notice
    assert f"T* = {online.crossover(config)}" in notice
    right, before, after = tour.outcome(scene)
    assert before == influence_bytes(config.spec, 1, "rtrl") and after == influence_bytes(
        scene.changed().spec, 1, "rtrl"
    )
    assert after / before == pytest.approx(32 * 32 * 37 / (16 * 16 * 21)) and scene.options[right].startswith(
        "about eight"
    )
    panel = tour.figure(scene, config)
    assert (
        panel.name == "online_memory"
        and panel.caption == catalog.page_panels("beyond_bptt", config)["online_memory"].caption
    )
