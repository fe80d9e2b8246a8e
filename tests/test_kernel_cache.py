"""Where the compiled kernels are cached: outside the package, per user.

Each subprocess test runs a copy of the package laid out as ``pip install .``
lays it out (sources, data and pip's compiled bytecode), compiles one small
kernel there and looks at what appeared where.  The full install /
reinstall with pip runs in CI (``.ci/run``): it takes minutes.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import platformdirs
import pytest

import matching

ROOT = Path(__file__).resolve().parents[1]
KERNEL_FILES = ("*.nbi", "*.nbc")
# settings of the machine running the tests that would move the caches
CACHE_SETTINGS = ("MATCHING_CACHE_DIR", "NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES")

# A kernel of another library, installed beside the package.
OTHER_LIBRARY = """
import numba as nb

@nb.njit(cache=True)
def kernel(x):
    return x + 1
"""

# Compile (or load) one small kernel of the package found first on sys.path
# and the other library's kernel, and report where each was cached.
RUN_KERNEL = """
import json
import numpy as np
import matching
from matching._engine import scan_kernels as _kernels
from other_library import kernel as other_library

assert _kernels.popcount(np.uint64(0b1011)) == 3
assert other_library(1) == 2
stats = _kernels.popcount.stats
print(json.dumps({
    "package": matching.__file__,
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
    "cache_path": stats.cache_path,
    "other_cache_path": other_library.stats.cache_path,
}))
"""

# Import `matching` the way an editable install does (a finder on
# sys.meta_path, after the path finder), with `site` first on sys.path.
IMPORT_EDITABLE = """
import importlib.abc, importlib.util, sys
site, checkout = sys.argv[1], sys.argv[2]
sys.path.insert(0, site)

class Editable(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "matching":
            return None
        return importlib.util.spec_from_file_location(
            name, checkout + "/matching/__init__.py",
            submodule_search_locations=[checkout + "/matching"])

sys.meta_path.append(Editable())
import matching
print(getattr(matching, "__version__", None))
"""


def _install(site: Path) -> tuple[Path, set[Path]]:
    """Lay the package out in ``site`` as ``pip install .`` does; returns the
    package folder and the files pip records (and so removes)."""
    package = site / "matching"
    shutil.copytree(ROOT / "matching", package, ignore=shutil.ignore_patterns("__pycache__"))
    assert compileall.compile_dir(package, quiet=2)
    (site / "other_library.py").write_text(OTHER_LIBRARY)
    return package, {p for p in package.rglob("*") if p.is_file()}


def _uninstall(package: Path, recorded: set[Path]) -> None:
    """Remove the recorded files and the folders left empty, as pip does."""
    for path in recorded:
        path.unlink()
    for folder in sorted((p for p in package.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(package.iterdir()):
        package.rmdir()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*CACHE_SETTINGS, "PYTHONPATH")}
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _run(code: str, *args: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no warning, no message
    return done.stdout


def _run_kernel(site: Path, env: dict[str, str]) -> dict[str, object]:
    report: dict[str, object] = json.loads(_run(RUN_KERNEL, cwd=site, env=env))
    assert report["package"] == str(site / "matching" / "__init__.py")
    return report


def _kernel_files(folder: Path) -> list[Path]:
    return sorted(p for pattern in KERNEL_FILES for p in folder.rglob(pattern))


def test_cache_dir_honours_matching_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matching._engine.kernel_cache import cache_dir

    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setenv("MATCHING_CACHE_DIR", str(tmp_path))
    path = cache_dir()
    assert path.parent == tmp_path
    assert matching.__version__ in path.name and numba.__version__ in path.name


def test_cache_dir_defaults_to_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from matching._engine.kernel_cache import cache_dir

    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.delenv("MATCHING_CACHE_DIR", raising=False)
    user = Path(platformdirs.user_cache_dir("mentor-matching", appauthor=False))
    assert cache_dir().parent == user
    monkeypatch.setenv("MATCHING_CACHE_DIR", "")  # empty means unset
    assert cache_dir().parent == user


def test_cache_dir_follows_numba_cache_dir_below_matching_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matching._engine.kernel_cache import cache_dir

    monkeypatch.delenv("MATCHING_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba"))
    assert cache_dir().parent == tmp_path / "numba" / "mentor-matching"
    monkeypatch.setenv("MATCHING_CACHE_DIR", str(tmp_path / "ours"))
    assert cache_dir().parent == tmp_path / "ours"


def test_kernels_cached_in_matching_cache_dir_and_loaded_again(tmp_path: Path) -> None:
    site = tmp_path / "site"
    package, _ = _install(site)
    cache = tmp_path / "cache"
    env = _env(tmp_path, MATCHING_CACHE_DIR=str(cache))

    first = _run_kernel(site, env)
    assert (first["hits"], first["misses"]) == (0, 1)
    assert Path(str(first["cache_path"])).is_relative_to(cache)
    files = _kernel_files(cache)
    assert {p.suffix for p in files} == {".nbi", ".nbc"}
    assert any("popcount" in p.name for p in files)
    assert _kernel_files(package) == []
    # another library's kernel stays where numba puts it (beside its module)
    assert first["other_cache_path"] == str(site / "__pycache__")
    assert not (tmp_path / "xdg").exists()

    second = _run_kernel(site, env)
    assert (second["hits"], second["misses"]) == (1, 0)
    assert _kernel_files(package) == []


def test_reinstall_after_a_run_leaves_nothing_behind(tmp_path: Path) -> None:
    """The issue: `pip install . && matching demo`, then `pip install -e .`:
    numba's files kept site-packages/matching alive as an empty namespace
    package that shadowed the editable install (no `__version__`)."""
    site = tmp_path / "site"
    package, recorded = _install(site)
    env = _env(tmp_path)
    report = _run_kernel(site, env)
    assert report["misses"] == 1

    _uninstall(package, recorded)
    leftovers = sorted(str(p.relative_to(site)) for p in package.rglob("*"))
    version = _run(IMPORT_EDITABLE, str(site), str(ROOT), cwd=tmp_path, env=env).strip()
    assert (leftovers, version) == ([], matching.__version__)
    # the kernels went to the user's cache (XDG_CACHE_HOME here)
    assert _kernel_files(tmp_path / "xdg" / "mentor-matching")


def test_unusable_cache_dir_compiles_without_caching(tmp_path: Path) -> None:
    site = tmp_path / "site"
    package, _ = _install(site)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    env = _env(tmp_path, MATCHING_CACHE_DIR=str(blocker / "cache"))

    for _ in range(2):  # -W error, empty stderr: no warning either time
        report = _run_kernel(site, env)
        assert (report["hits"], report["misses"], report["cache_path"]) == (0, 1, None)
    assert _kernel_files(package) == []
    assert _kernel_files(tmp_path / "xdg") == _kernel_files(tmp_path / "home") == []
