"""The Diagnose page as a user drives it (AppTest): demos (also after an upload), uploads refused with the file's
name, a layout asked for and never guessed, every rule's numbers, and "Try the fixes" with both runs drawn."""

from __future__ import annotations

import numpy as np

from dashboard.diagnose.demos import demo_model
from tests.apptest import assert_clean, chart_specs, open_app

from .uploads import npz


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_page_diagnoses_a_demo_on_a_task_that_needs_memory_and_shows_every_rule():
    at = open_app("pages/diagnose.py")
    assert_clean(at)
    assert not chart_specs(at) and "Upload a model" in at.info[0].value
    at.button(key="demo-vanishing").click().run()
    assert_clean(at)
    assert at.selectbox(key="diagnose_task").value == "adding"  # the built-in task that fits, with targets
    assert "Use an LSTM or GRU" in _markdown(at) and len(chart_specs(at)) == 6
    table = at.dataframe[0].value
    assert set(table["rule"]) >= {"clip", "gated_cell", "saturation", "truncate"} and set(table["fired"]) == {
        "yes",
        "no",
    }
    at.button(key="demo-healthy").click().run()
    assert_clean(at)
    assert any("Nothing to change" in s.value for s in at.success)


def test_the_demo_buttons_work_after_an_upload_and_an_upload_after_a_demo():
    at = open_app("pages/diagnose.py")
    at.file_uploader(key="diagnose_weights").upload("mine.npz", demo_model("healthy")).run()
    assert_clean(at)
    assert at.success[0].value.startswith("mine.npz: an LSTM")
    at.button(key="demo-exploding").click().run()
    assert_clean(at)
    assert at.success[0].value.startswith("the demo (an exploding RNN): an RNN")  # the upload gave way
    assert "Clip the global gradient norm" in _markdown(at)
    at.file_uploader(key="diagnose_weights_1").upload("mine.npz", demo_model("healthy")).run()
    assert at.success[0].value.startswith("mine.npz: an LSTM")


def test_a_bad_upload_is_refused_naming_the_file():
    at = open_app("pages/diagnose.py")
    at.file_uploader(key="diagnose_weights").upload("evil.npz", b"PK\x03\x04 broken").run()
    assert not at.exception and "evil.npz: " in at.error[0].value
    at.file_uploader(key="diagnose_weights").upload("model.npz", demo_model("healthy")).run()
    at.file_uploader(key="diagnose_inputs").upload("seq.npy", b"0.1,0.2\n0.3,0.4\n").run()
    assert not at.exception and "seq.npy: not a .npy file: it holds text" in at.error[0].value


def test_an_ambiguous_layout_is_asked_for_and_read_as_chosen():
    """(40, 64, 2) with targets in the same layout reads both ways: the page asks, draws nothing, and reads the
    arrays as the user says (64 sequences of 40 steps time-first, 40 of 64 batch-first)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 64, 2))
    at = open_app("pages/diagnose.py")
    at.file_uploader(key="diagnose_weights").upload("model.npz", demo_model("vanishing")).run()
    at.file_uploader(key="diagnose_inputs").upload("seqs.npz", npz(inputs=x, targets=x[..., :1])).run()
    assert not at.exception and "say which layout" in at.warning[0].value and not chart_specs(at)
    at.radio(key="diagnose_layout").set_value("time first (T, B, ...)").run()
    assert_clean(at)
    assert any("64 sequence(s) of up to 40 steps" in c.value for c in at.caption)
    at.radio(key="diagnose_layout").set_value("batch first (B, T, ...)").run()
    assert any("40 sequence(s) of up to 64 steps" in c.value for c in at.caption)


def test_trying_the_fixes_draws_both_runs_for_each_recommendation_with_a_verdict():
    at = open_app("pages/diagnose.py")
    at.button(key="demo-exploding").click().run()
    at.slider[0].set_value(20)
    next(b for b in at.button if b.label == "Try the fixes").click().run()
    assert_clean(at)
    figures = [f for f in chart_specs(at) if f["layout"]["title"]["text"].startswith("Try it:")]
    assert len(figures) >= 2  # clip and rescale
    for fig in figures:
        names = {t["name"] for t in fig["data"]}
        assert {"as is: training loss", "with the change: training loss", "as is: gradient norm",
                "with the change: gradient norm"} <= names  # fmt: skip
    verdicts = [c.value for c in at.caption if "held-out" in c.value or "diverged" in c.value]
    assert len(verdicts) >= 2
    labels = [b.label for b in at.get("download_button")]
    assert sum(label.startswith("Fine-tuned weights, with the change") for label in labels) == len(figures)
