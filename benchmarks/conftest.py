"""Fixtures and pytest-benchmark hooks for the matching benchmarks.

The benchmarks live outside ``testpaths`` (``tests/``), so a plain
``python -m pytest`` never collects them.  Run them explicitly::

    python -m pytest benchmarks --benchmark-only              # both tiers
    python -m pytest benchmarks --benchmark-only -m quick     # quick tier (CI)
    python -m pytest benchmarks/test_bench_tiers.py --benchmark-only -m tier20k  # one tier
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

import pytest
from bench_support import (
    Instance,
    cpu_jiffies,
    speed_probe,
    steal_share,
    summarize,
    summarize_tiers,
)


def pytest_configure(config: pytest.Config) -> None:
    # registered here: pyproject.toml runs pytest with --strict-markers
    config.addinivalue_line("markers", "quick: the 2,000 x 1,600 tier (CI, under a minute)")
    config.addinivalue_line(
        "markers", "full: the 5,000 x 4,000 district of the issue, and the 20k-1M scaling tiers"
    )
    config.addinivalue_line("markers", "tier20k: scaling tier, large district 20,000 x 16,000")
    config.addinivalue_line("markers", "tier200k: scaling tier, city 200,000 x 160,000")
    config.addinivalue_line("markers", "tier1m: scaling tier, province 1,000,000 x 800,000")


_SESSION: dict[str, Any] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    # the machine's speed before anything runs (see bench_support.speed_probe)
    _SESSION["jiffies"] = cpu_jiffies()
    _SESSION["probe"] = speed_probe()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("matching benchmarks")
    group.addoption(
        "--dense-20k",
        action="store_true",
        default=False,
        help="also run the dense scipy / OR-Tools baselines at the 20k tier (~16 GB or more)",
    )
    group.addoption(
        "--baseline-memory",
        action="store_true",
        default=False,
        help="also measure the baselines' peak memory in a fresh process (the library's always)",
    )


_INSTANCES: dict[str, Instance] = {}


@pytest.fixture
def instance(request: pytest.FixtureRequest) -> Instance:
    """The tier's instance (indirect parameter), generated once per session."""
    tier = request.param
    if tier not in _INSTANCES:
        _INSTANCES[tier] = Instance.make(tier)
    return _INSTANCES[tier]


# ---------------------------------------------------------------------------
# pytest-benchmark hooks: describe the machine, keep personal data out


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["node"] = "redacted"  # no host name in the saved JSON
    machine_info["nproc"] = _run(["nproc"]) or str(os.cpu_count())
    free = _run(["free", "-g"]).splitlines()
    machine_info["mem_total_gib"] = free[1].split()[1] if len(free) > 1 else ""
    machine_info["python"] = platform.python_version()
    machine_info["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    # the same fixed workloads at the start and at the end of the session,
    # and the share of CPU time stolen by other guests in between
    machine_info["speed_probe"] = {"start": _SESSION.get("probe"), "end": speed_probe()}
    machine_info["cpu_steal_share"] = steal_share(_SESSION.get("jiffies"), cpu_jiffies())
    machine_info["packages"] = {
        name: _version(name)
        for name in (
            "numpy",
            "scipy",
            "ortools",
            "numba",
            "pandas",
            "pytest-benchmark",
            "matplotlib",
            "mentor-matching",
        )
    }


def pytest_benchmark_update_commit_info(config: pytest.Config, commit_info: dict) -> None:
    # keep what identifies the code; drop anything else
    for key in list(commit_info):
        if key not in ("id", "dirty", "project", "branch", "time"):
            del commit_info[key]


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list[Any], output_json: dict
) -> None:
    output_json["summary"] = summarize(output_json.get("benchmarks", []))
    output_json["tiers_summary"] = summarize_tiers(output_json.get("benchmarks", []))
