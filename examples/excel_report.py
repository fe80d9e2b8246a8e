"""Match a synthetic district and write the staff workbook in Chinese and English.

Run: python examples/excel_report.py [OUT_DIR]   (default: a new temporary folder)
Needs: pip install "mentor-matching[excel]"
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from matching import MatchConfig, match
from matching.datasets.synth import district
from matching.reports.excel import write_workbook
from matching.reports.files import street_metrics


def main(out_dir: str | None = None) -> int:
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="matching-excel-"))
    out.mkdir(parents=True, exist_ok=True)
    children, mentors = district(500, 350, seed=3)
    result = match(children, mentors, MatchConfig(max_distance_km=3.0))
    print(result.summary())
    print("\nper street:")
    print(street_metrics(result)[["street", "children", "paired", "pairing_rate"]].to_string())
    for language in ("zh", "en"):
        path = write_workbook(
            result, out / f"report_{language}.xlsx", language=language, extra={"seed": 3}
        )
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
