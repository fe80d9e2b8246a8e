"""The examples run as users run them, so they never rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_example_runs_and_writes_files(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "paired:" in proc.stdout
    for name in ("pairs.csv", "unmatched.csv", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0
