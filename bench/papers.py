"""``python -m bench papers``: the six published results of the Papers page at full scale, each beside the engine's
reproduction, with its tolerance and computed verdict (the table in the README's "Papers, reproduced").

The studies and verdicts are :mod:`dashboard.learning.papers`' (scale ``"bench"``); the page runs the same at a
smaller scale. Seconds are wall-clock, one run each (no repetitions: the numbers, not the times, are the result).
"""

from __future__ import annotations

import time

from dashboard.learning import paper_rows, papers

from .run import table


def _cell(text: str) -> str:
    """A Markdown table cell: a bar inside the text (``|σ′|``) would end the cell."""
    return text.replace("|", "\\|")


def papers_section(repeat: int) -> None:
    del repeat  # each study runs once: its seeds are its repetitions
    rows, seconds = [], []
    for key in papers.STUDIES:
        start = time.perf_counter()
        rows.append(paper_rows.reproduction(key, papers.study(key, "bench"), "bench"))
        seconds.append(time.perf_counter() - start)
    table(
        f"Papers, reproduced ({papers.BENCH_COMMAND}): {sum(r.verdict == 'agree' for r in rows)} of {len(rows)} "
        f"agree, {sum(seconds):.0f} s in all",
        ["result", "paper, source", "published", "ours (spread over seeds)", "tolerance", "verdict", "scale", "s"],
        [
            [
                _cell(text)
                for text in (
                    r.title,
                    f"{r.paper}, {r.source}",
                    r.published,
                    "<br>".join(f"{c.what}: {c.ours}" for c in r.checks),
                    "<br>".join(c.tolerance for c in r.checks),
                    r.verdict,
                    r.scale,
                    f"{s:.0f}",
                )
            ]
            for r, s in zip(rows, seconds)
        ],
    )
    print("\nEach row's engine call at this scale:\n")
    for r in rows:
        print(f"- {r.title}: `{r.command}`")
