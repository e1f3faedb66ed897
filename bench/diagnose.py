"""The advice benchmark: the diagnosis on every zoo model (:mod:`bench.zoo`), scored against its known truth.

    python -m bench diagnose          # the advice, scored
    python -m bench diagnose-fixes    # and every recommendation tried (fine-tuned as is and with the change)

Each model is trained, saved as its trainer saves it, read back through the diagnosis's own readers with
sequences it has not seen, and diagnosed. The table gives, per rule and for "nothing to change", how
often it fired where it should (precision) and how often it fired of the times it should have (recall).
A model whose held-out performance does not confirm its construction is listed and left out of the scores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dashboard.diagnose import fixes
from dashboard.diagnose.advice import RULES, diagnose
from dashboard.diagnose.model_files import read_model
from dashboard.diagnose.sequence_files import read_sequences

from . import zoo

NOTHING = "nothing to change"


@dataclass(frozen=True)
class Outcome:
    """One zoo model diagnosed: its truth, whether its performance confirmed it, and the advice it got."""

    specimen: zoo.Specimen
    held_out: float
    confirmed: bool
    fired: frozenset
    options: frozenset
    seconds: float
    tried: tuple = ()


def diagnose_specimen(s: zoo.Specimen, try_fixes: bool = False) -> Outcome:
    """Train, save, read back, measure the held-out performance, and diagnose one zoo model (and try each
    recommendation and option)."""
    start = time.perf_counter()
    weights, forward = zoo.train(s)
    held_out = zoo.explained(forward, zoo.sequences(s, zoo.HELD_OUT, seed=2000))
    confirmed = held_out >= zoo.SOLVES if s.expect == "solves" else held_out < zoo.FAILS
    inputs, targets = zoo.user_files(s)
    model = read_model(weights, name="model")
    seqs = read_sequences(
        inputs, "sequences.npz", model, batch_first=False, targets=targets or None, targets_name="targets.npy"
    )
    report = diagnose(model, seqs)
    fired = frozenset(c.rule for c in report.checks if c.fired and c.kind == "fix")
    options = frozenset(c.rule for c in report.checks if c.fired and c.kind == "saving")
    kinds = [(rec, "fix") for rec in report.recommendations] + [(rec, "saving") for rec in report.options]
    tried = tuple(fixes.try_fix(model, seqs, rec, kind=kind) for rec, kind in kinds) if try_fixes else ()
    return Outcome(s, held_out, confirmed, fired, options, time.perf_counter() - start, tried)


def scores(outcomes: list[Outcome]) -> list[dict]:
    """Per fix rule and for "nothing to change": true and false positives, misses, precision and recall."""
    scored = [o for o in outcomes if o.confirmed]
    names = [r.name for r in RULES if r.kind == "fix"] + [NOTHING]
    rows = []
    for name in names:
        said = [(name in o.fired) if name != NOTHING else not o.fired for o in scored]
        true = [(name in o.specimen.truth) if name != NOTHING else not o.specimen.truth for o in scored]
        tp = sum(s and t for s, t in zip(said, true))
        fp = sum(s and not t for s, t in zip(said, true))
        fn = sum(t and not s for s, t in zip(said, true))
        rows.append({"advice": name, "models that need it": tp + fn, "fired": tp + fp, "right": tp,
                     "precision": tp / (tp + fp) if tp + fp else None,
                     "recall": tp / (tp + fn) if tp + fn else None})  # fmt: skip
    return rows


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def markdown(outcomes: list[Outcome]) -> str:
    """The two tables: every model with its truth and advice, then precision and recall per advice."""
    lines = [
        "| model | trained with | construction | held-out explained | truth | advice | options | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        s = o.specimen
        truth = ", ".join(sorted(s.truth)) or NOTHING
        advice = ", ".join(sorted(o.fired)) or NOTHING
        mark = "" if o.confirmed else " (truth not confirmed: left out)"
        lines.append(
            f"| {s.name} | {s.trainer} | {s.what} | {o.held_out:.3f}{mark} | {truth} | {advice} | "
            f"{', '.join(sorted(o.options)) or '–'} | {o.seconds:.0f} |"
        )
    lines += ["", "| advice | models that need it | fired | right | precision | recall |", "|---|---|---|---|---|---|"]
    for r in scores(outcomes):
        lines.append(
            f"| {r['advice']} | {r['models that need it']} | {r['fired']} | {r['right']} | {_pct(r['precision'])} | "
            f"{_pct(r['recall'])} |"
        )
    return "\n".join(lines)


def diagnose_section(repeat: int = 1) -> list[Outcome]:
    """``python -m bench diagnose``: print both tables (the timings are this machine's)."""
    outcomes = []
    for s in zoo.ZOO:
        outcomes.append(diagnose_specimen(s))
        o = outcomes[-1]
        print(f"  {s.name}: held-out {o.held_out:.3f}, advice {sorted(o.fired) or NOTHING} ({o.seconds:.0f} s)")
    print("\n## Advice on the zoo of trained models\n")
    print(markdown(outcomes))
    healthy = [o for o in outcomes if o.confirmed and not o.specimen.truth]
    print(f"\nHealthy models with a recommendation: {sum(bool(o.fired) for o in healthy)} of {len(healthy)}.")
    return outcomes


def fixes_section(repeat: int = 1) -> None:
    """``python -m bench diagnose-fixes``: every zoo model's recommendations tried, with their verdicts."""
    print(
        f"\n## Try the fix on the zoo ({fixes.STEPS} steps of {fixes.OPTIMIZER}, lr {fixes.LR:g}, batches of "
        f"{fixes.BATCH})\n"
    )
    print("| model | advice | change | held-out loss as is | with the change | verdict |\n|---|---|---|---|---|---|")
    for s in zoo.ZOO:
        o = diagnose_specimen(s, try_fixes=True)
        for r in o.tried:
            n = r.numbers
            shown = f"{n['as_is']:.4g} | {n['with_change']:.4g}" if n else "– | –"
            print(f"| {s.name} | {r.rule} | {r.change} | {shown} | {r.verdict} |", flush=True)
