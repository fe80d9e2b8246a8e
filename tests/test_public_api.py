"""The package's surface: the stable top-level names, each subpackage's ``__all__``,
one version source, and no module importing another module's private names."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
import tomllib
from pathlib import Path

import pytest

import matching

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "matching"
SUBPACKAGES = ["geo", "rosters", "programme", "scale", "reports", "datasets"]
STABLE = {
    "match",
    "MatchConfig",
    "MatchResult",
    "read_children",
    "read_mentors",
    "rematch",
    "run_nightly",
    "StateStore",
    "match_province",
    "solve_assignment",
    "MatchingError",
    "InputError",
    "ConfigError",
    "RosterError",
    "InfeasibleError",
    "EventError",
    "StoreError",
    "__version__",
}


def _modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages([str(PACKAGE)], prefix="matching.")
        if not info.name.endswith("__main__")
    ]
    return sorted(names)


def test_the_stable_names_are_exported_at_the_top_level() -> None:
    assert set(matching.__all__) >= STABLE
    for name in matching.__all__:
        assert getattr(matching, name) is not None, name


@pytest.mark.parametrize("name", ["matching", *[f"matching.{s}" for s in SUBPACKAGES]])
def test_all_lists_exactly_the_public_names_a_package_re_exports(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "a name is listed twice"
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_") and not isinstance(value, type(matching))
    }
    public -= {"annotations"}
    assert exported - {"__version__"} == public


@pytest.mark.parametrize("name", _modules())
def test_every_module_imports_and_lists_what_it_defines(name: str) -> None:
    module = importlib.import_module(name)
    for exported in getattr(module, "__all__", []):
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}"


def _private_imports(path: Path) -> list[str]:
    """``from matching.x import _y`` where ``_y`` is private to another module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("matching"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and alias.name != "__version__":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} relative import")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _private_imports(path)]
    assert found == []


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    assert importlib.metadata.version("mentor-matching") == matching.__version__
    literal = f'"{matching.__version__}"'
    holders = [
        str(p.relative_to(ROOT))
        for p in [*PACKAGE.rglob("*.py"), ROOT / "pyproject.toml"]
        if f"__version__ = {literal}" in p.read_text(encoding="utf-8")
    ]
    assert holders == ["matching/_version.py"]
