"""``docs/diagnosis.md``, generated from the rules themselves (:data:`dashboard.diagnose.advice.RULES`) and the
constants the measurements use, so the documentation cannot drift from what runs."""

from __future__ import annotations

from dashboard.diagnose import advice, fixes, measurements, memory_need

DEFINITIONS = f"""\
## What is measured

Per layer and direction, on each of the longest sequences (up to {measurements.ANALYSED_SEQUENCES}), on its own:

- **Jacobian-product curve**: log10 of the spectral norm of ∂h_t/∂h_k against the lag t − k
  (`bptt_core.analysis.jacobians`), one curve per sequence. Its **regime**
  (`bptt_core.analysis.summaries.curve_regime`): *decaying* when it falls below {measurements.HORIZON_LEVEL:g} of the
  largest norm at the lags before it, *growing* when it rises above {1 / measurements.HORIZON_LEVEL:g} times its
  value at lag 0 first, *flat* when it does neither within the sequence.
- **Horizon** (`decay_horizon`): the lag where a decaying curve falls that low; none for flat and growing
  curves (never "0" for a growing one). **Blow-up lag** (`blowup_lag`): where a growing curve passes
  {1 / measurements.HORIZON_LEVEL:g}.
- **Growth per step** (`growth_rate`): the least-squares slope of ln ‖∂h_t/∂h_k‖ against the lag, for every
  regime.
- **λ₁ … λ_k**: the finite-time Lyapunov exponents of the input-driven Jacobians (QR method,
  `bptt_core.lyapunov_spectrum`), per sequence.
- Every quantity is reported with its **median and worst** over the sequences (`summaries.spread`: the
  largest growth and λ₁, the shortest horizon and blow-up lag), never one average that hides the sequences
  that explode.
- **Reach** of the network: the sum over layers of the longest median horizon of their directions (a
  signal can ride each layer for its horizon); none when a median curve does not decay.
- **Gate saturation**: the share of each gate's values within 0.01 of a limit of its non-linearity.
- **Batch gradient norms**: the global gradient norm of each batch of {measurements.BATCH_SEQUENCES} sequences
  (at most {measurements.MAX_BATCHES} batches).

With targets, the **memory probe** (`dashboard/diagnose/memory_need.py`) asks what the task needs. The model's
residuals (y − ŷ, or onehot(y) − softmax(ŷ) for classes) are regressed by ridge regression, fitted on half of
the sequences and scored on the other half, on per-step features of the inputs (x and its products x_i x_j)
summed over lag windows: within the reach (lags 0–3 one by one, then the rest pooled) and beyond it (single lags,
growing windows, all of them; into the future too for a bidirectional network). The held-out R² that a window
beyond the reach adds, times the residuals' energy over the targets', is the **share of the task's error that
inputs beyond the reach explain**; the same search on shuffled residuals is its noise floor. The held-out R² of
the inputs within reach, scaled the same way, is the **share that inputs within reach explain**: what the model
fails at although it can see it. At least {memory_need.MIN_SAMPLES} target steps are needed.

"""

TRY = f"""\
## Try the fix

For each recommendation the page (button "Try the fixes") and `python -m dashboard.diagnose ... --try-fixes`
fine-tune two copies of the model from its own weights on its own sequences, {fixes.STEPS} steps by default:
as is, and with the rule's change (its *Try it* above), with the same batches ({fixes.BATCH} sequences, one
seed), the same optimiser ({fixes.OPTIMIZER}, learning rate {fixes.LR:g}) and the same steps. One sequence in
four is held out (from {fixes.SPLIT_FROM} sequences on; below, the runs are scored on all of them and the
report says so). The verdict compares the held-out loss per sequence, averaged over the last three of
{fixes.CHECKPOINTS} checkpoints: *helped* only when the change lowers it by more than {fixes.MARGIN:.0%} and by
more than twice the standard error of the paired differences, *hurt* in the other direction, otherwise *no
clear difference*, said as such. A run whose loss stops being finite has diverged. The fine-tuned weights
download as a PyTorch state dict under the file's own key names (`.pt` with PyTorch installed, else
`.safetensors`, else `.npz`).

"""


def _threshold(c: advice.Condition) -> str:
    value = c.threshold
    shown = ("yes" if value else "no") if isinstance(value, bool) else f"{value:.3g}"
    return f"{c.op} {shown}"


def rule_markdown(rule: advice.Rule) -> str:
    """One rule: what it recommends, what it reads, how it fires, each threshold, and what "try it" changes."""
    combine = "every condition is met" if rule.logic == "all" else "any condition is met"
    rows = "\n".join(f"| `{c.key}` | {c.label} | {_threshold(c)} |" for c in rule.conditions)
    return (
        f"### `{rule.name}` ({rule.kind})\n\n"
        f"**Recommends**: {rule.recommends}.\n\n"
        f"**Reads**: {rule.reads}.\n\n"
        f"**Fires when** {combine}:\n\n"
        "| evidence | condition | threshold |\n|---|---|---|\n"
        f"{rows}\n\n"
        f"**Try it**: {rule.change}.\n"
    )


def render() -> str:
    """The whole of ``docs/diagnosis.md``."""
    return (
        "# How the diagnosis advises\n\n"
        "Generated from `dashboard/diagnose/advice.py` (the rules; their thresholds are in `evidence.py`) by "
        "`dashboard/diagnose/rules_doc.py`; "
        "`tests/dashboard/diagnose/test_advice.py` fails when this file is out of date (regenerate with "
        "`DIAGNOSIS_DOC_WRITE=1 python -m pytest tests/dashboard/diagnose/test_advice.py -k doc`).\n\n"
        "Rules of kind *fix* say what to change; a healthy model gets none. Rules of kind *saving* list what "
        "could be saved without losing anything measured. The report (`report.json` under `rules`, "
        "`report.html`, the page's table) shows, per rule, every number it read and whether it met its "
        "threshold, whether the rule fired or not. A number that could not be measured (no targets, too few "
        "target steps) never meets a threshold. The benchmark that scores these rules on trained models with "
        "known defects is `python -m bench diagnose` (README).\n\n"
        + DEFINITIONS
        + "## The rules, in the order they are checked\n\n"
        + "\n".join(rule_markdown(rule) for rule in advice.RULES)
        + "\n"
        + TRY
    )
