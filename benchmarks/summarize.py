"""Print the markdown tables of a saved benchmark run.

Usage::

    python benchmarks/summarize.py benchmarks/results/quick.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import summarize, summarize_tiers, summary_markdown, tiers_markdown


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    summary = summarize(data["benchmarks"])
    if summary:
        print(summary_markdown(summary))
    tiers = summarize_tiers(data["benchmarks"])
    if tiers:
        if summary:
            print()
        print(tiers_markdown(tiers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
