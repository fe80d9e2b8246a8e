"""Documentation that runs: the README's Python, and a package every module of which imports
quietly (pytest imports them all to run their docstring examples, ``--doctest-modules``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from matching.datasets.synth import district

ROOT = Path(__file__).resolve().parents[1]

# imports every module of the package, as pytest's doctest collection does, and names them
_IMPORT_ALL = """
import importlib, pkgutil, matching
names = [m.name for m in pkgutil.walk_packages(matching.__path__, "matching.")]
for name in names:
    importlib.import_module(name)
print(len(names), "matching.__main__" in names)
"""


def test_readme_python_block_runs(
    write_rosters: Callable[[pd.DataFrame, pd.DataFrame], tuple[Path, Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no Python example"
    write_rosters(*district(300, 240, seed=3))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result.metrics["n_children"] == 300  # type: ignore[attr-defined]


def test_importing_every_module_has_no_side_effects(tmp_path: Path) -> None:
    # in a fresh process in an empty folder: nothing printed but the script's line, no file
    # written, no exit (matching/__main__.py runs the command line only as a script)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    count, has_main = done.stdout.split()
    assert int(count) > 30 and has_main == "True"
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []
