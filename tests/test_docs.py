"""Documentation that runs: every module's docstring examples and the README's Python."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

from matching.datasets.synth import district
from matching.reports.files import write_csv

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "config",
    "_engine.costs",
    "errors",
    "programme.events",
    "geo.distance",
    "match",
    "programme.rematch",
    "reports.files",
    "rosters.columns",
    "rosters.validate",
    "rosters.files",
    "solve",
    "programme.state",
    "programme.store",
    "programme.store.store",
    "datasets.synth",
    "programme.nightly",
    "demo",
    "cli",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"matching.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_readme_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no Python example"
    children, mentors = district(300, 240, seed=3)
    write_csv(children, tmp_path / "children.csv")
    write_csv(mentors, tmp_path / "mentors.csv")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result.metrics["n_children"] == 300  # type: ignore[attr-defined]
