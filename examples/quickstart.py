"""Match a synthetic district and explain a few pairs and unmatched children.

Run: python examples/quickstart.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from matching import MatchConfig, match
from matching.datasets.synth import district
from matching.reports.files import write_result


def main(out_dir: str | None = None) -> int:
    children, mentors = district(600, 450, seed=7)
    config = MatchConfig(max_distance_km=3.0, uncovered_need_km=2.0, priority_km=20.0)
    result = match(children, mentors, config)
    print(result.summary())
    print("\nthree pairs and why they cost what they cost:")
    cols = [
        "child_id",
        "mentor_id",
        "distance_km",
        "need_penalty_km",
        "interest_bonus_km",
        "cost_km",
        "needs_uncovered",
        "shared_interests",
    ]
    print(result.pairs[cols].head(3).to_string(index=False))
    if len(result.unmatched):
        print("\nunmatched children and the reason:")
        print(result.unmatched[["child_id", "reason", "detail"]].head(3).to_string(index=False))
    if out_dir is not None:
        for name, path in write_result(result, Path(out_dir)).items():
            print(f"wrote {name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
