"""The headless diagnosis.

    python -m dashboard.diagnose WEIGHTS --inputs X [--targets Y] [--loss mse|cross_entropy]
                                 [--batch-first | --time-first] [--alphabet CHARS] [--next-token]
                                 [--reproduce] [--try-fixes [--steps N] [--lr LR]] [--out DIR]

writes ``DIR/report.json`` and ``DIR/report.html`` (the page's figures, self-contained); with
``--reproduce`` also ``DIR/reproduce.py`` and ``DIR/diagnose_data.npz`` (a PyTorch script that prints the
same loss and gradients); with ``--try-fixes`` fine-tunes the model as is and with each recommended
change (:mod:`.fixes`) and writes ``DIR/fixes.json``, the fine-tuned weights and their curves in the
HTML. A file it cannot use is one line on stderr naming the file and the problem, exit code 2, and
nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import plotly.io as pio

import bptt_core as bc
from dashboard.diagnose import fixes, reproduce
from dashboard.diagnose.advice import diagnose
from dashboard.diagnose.measurements import Report
from dashboard.diagnose.model_files import Model, UploadError, read_model, state_dict_bytes
from dashboard.diagnose.panels import report_html, to_json
from dashboard.diagnose.sequence_files import LAYOUTS, LayoutError, Sequences, read_sequences


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line and exit code 2 (argparse's own error also prints the usage)."""
        self.exit(2, f"error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dashboard.diagnose", description="Diagnose a trained RNN on its own sequences.")
    p.add_argument("weights", help="a torch.nn.RNN/LSTM/GRU state dict: .pt, .safetensors or .npz")
    p.add_argument("--inputs", required=True, help="sequences: .npy/.npz (T, B, I) or ids (T, B), .csv, or text")
    p.add_argument("--targets", help="targets: .npy or .csv (per step, or one per sequence), in the inputs' layout")
    p.add_argument("--loss", choices=bc.LOSSES, help="checked against the targets (class ids: cross_entropy)")
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("--batch-first", action="store_const", const=True, dest="batch_first",
                        help="arrays are (B, T, ...): sequences along the first axis")  # fmt: skip
    layout.add_argument("--time-first", action="store_const", const=False, dest="batch_first",
                        help="arrays are (T, B, ...): time steps along the first axis")  # fmt: skip
    p.add_argument("--alphabet", help="for text: the characters in token-id order")
    p.add_argument("--next-token", action="store_true", help="targets are the next token (a character model)")
    p.add_argument("--nonlinearity", choices=("tanh", "relu"), default="tanh", help="nn.RNN's non-linearity")
    p.add_argument("--readout", help="the state-dict key of the read-out's weight, or 'none'")
    p.add_argument("--embedding", help="the state-dict key of the embedding's weight, or 'none'")
    p.add_argument("--reproduce", action="store_true", help="also write reproduce.py and diagnose_data.npz")
    p.add_argument("--try-fixes", action="store_true", help="fine-tune as is and with each recommended change")
    p.add_argument("--steps", type=int, default=fixes.STEPS, help=f"fine-tuning steps (default {fixes.STEPS})")
    p.add_argument("--lr", type=float, default=fixes.LR, help=f"Adam's learning rate (default {fixes.LR:g})")
    p.add_argument("--out", default="diagnosis", help="output folder (default: ./diagnosis)")
    return p


def load(args: argparse.Namespace) -> tuple[Model, Sequences]:
    """The model and sequences the command's arguments name (UploadError or OSError when they cannot be read)."""
    weights, inputs = Path(args.weights), Path(args.inputs)
    model = read_model(
        weights.read_bytes(), readout=args.readout, embedding=args.embedding, nonlinearity=args.nonlinearity,
        name=weights.name,
    )  # fmt: skip
    targets = Path(args.targets) if args.targets else None
    try:
        seqs = read_sequences(
            inputs.read_bytes(), inputs.name, model, batch_first=args.batch_first, alphabet=args.alphabet,
            targets=targets.read_bytes() if targets else None, targets_name=targets.name if targets else "",
            next_token=args.next_token,
        )  # fmt: skip
    except LayoutError as err:
        raise UploadError(
            f"{err}: pass {LAYOUTS[False][0]} or {LAYOUTS[True][0]} (the layout is never guessed: both readings "
            "fit the files, and each would diagnose different sequences)"
        ) from None
    if args.loss and seqs.loss and args.loss != seqs.loss:
        raise UploadError(f"--loss {args.loss} does not fit the targets, which are for {seqs.loss}")
    return model, seqs


def tried_fixes(model: Model, seqs: Sequences, report: Report, args: argparse.Namespace) -> list:
    """Each recommendation (and option) tried, with progress on stderr."""
    out = []
    for rec in [*report.recommendations, *report.options]:
        kind = "saving" if rec in report.options else "fix"

        def progress(fraction: float, text: str, rule=rec.rule) -> None:
            if sys.stderr.isatty():  # a progress line that rewrites itself; a log gets the verdicts only
                print(f"\rtrying {rule}: {text} ({fraction:.0%})   ", end="", file=sys.stderr, flush=True)

        out.append(fixes.try_fix(model, seqs, rec, steps=args.steps, lr=args.lr, kind=kind, progress=progress))
        print(f"\r{rec.rule}: {out[-1].sentence}", file=sys.stderr)
    return out


def fixes_json(results: list) -> list:
    """Each fix's verdict, numbers and both runs' curves, as JSON types."""
    plain = lambda a: np.where(np.isfinite(a), a, None).tolist()  # noqa: E731
    return [
        {"rule": r.rule, "change": r.change, "verdict": r.verdict, "sentence": r.sentence, "numbers": r.numbers,
         "runs": {name: {"loss": plain(run.history.loss), "grad_norm": plain(run.history.grad_norm),
                         "checkpoints": run.checkpoints.tolist(), "held_out": plain(run.held_out.mean(axis=1))}
                  for name, run in r.runs.items()}}
        for r in results
    ]  # fmt: skip


def write(report: Report, seqs: Sequences, out: Path, files: dict, extra: str = "") -> None:
    """``report.json``, ``report.html`` and any ``files`` (name: bytes or text) into the folder ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(to_json(report), indent=1))
    (out / "report.html").write_text(report_html(report, seqs, extra))
    for name, content in files.items():
        (out / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        model, seqs = load(args)
        if (args.reproduce or args.try_fixes) and seqs.y is None:
            raise UploadError(
                "--reproduce and --try-fixes need targets (--targets, targets in the .npz, or --next-token)"
            )
        report = diagnose(model, seqs)  # a memory-budget refusal is a ValueError, before anything is written
        tried = tried_fixes(model, seqs, report, args) if args.try_fixes else []
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out, files, extra = Path(args.out), {}, ""
    if args.reproduce:
        files |= {"reproduce.py": reproduce.script(model, str(Path(args.weights).resolve()), seqs.loss),
                  "diagnose_data.npz": reproduce.data_npz(seqs)}  # fmt: skip
    original = Path(args.weights).read_bytes()
    for r in tried:
        for name, run in r.runs.items():
            data, suffix, _ = state_dict_bytes(model, original, run.spec, run.history.params)
            files[f"fine_tuned_{r.rule}_{name.replace(' ', '_')}{suffix}"] = data
    if tried:
        files["fixes.json"] = json.dumps(fixes_json(tried), indent=1)
        extra = "<h2>Try the fix</h2>" + "".join(
            pio.to_html(fixes.fix_panel(r).figure, include_plotlyjs=False, full_html=False) + f"<p>{r.sentence}</p>"
            for r in tried
        )
    write(report, seqs, out, files, extra)
    print(f"wrote {out}/report.json and report.html: {len(report.recommendations)} recommendation(s)")
    if args.reproduce:
        print(
            f"reproduce with PyTorch: cd {out} && python reproduce.py {Path(args.weights).resolve()} diagnose_data.npz"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
