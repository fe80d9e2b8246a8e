"""A province, serially, on worker processes and on a Dask LocalCluster (issue 6).

Instance (built once per tier, not timed): ``city(n_districts, children, mentors, seed=4)``
with ``MatchConfig(max_distance_km=5.0)``; districts are independent (the default of
:func:`matching.scale.province.match_province`), one task per district.

Tiers (``quick`` / ``full`` markers of ``conftest.py``):

- ``quick``: 4 districts x 500 children x 400 mentors (2,000 children; seconds).
- ``full``: the province of the issue, 100 districts x 10,000 children x 8,000 mentors
  (1,000,000 children, 800,000 mentors).  About 70 s serially at ``4b73a18`` (a
  10,000-child district in about 0.7 s) and 45 s on two worker processes, plus a few
  seconds to generate the rosters: run it on a quiet machine.

Benchmarks (``benchmark.pedantic``, ``iterations=1``):

1. ``test_province_serial``: ``match_province(..., executor=SerialExecutor())``.
2. ``test_province_processes``: the same call with ``ProcessExecutor(n_workers=2)`` (the
   standard library's process pool, forked workers, one search thread each; the pool starts
   inside the timed call).  ``extra_info`` holds ``ratio_serial_over_processes`` (when the
   serial benchmark ran first), the largest worker's peak resident memory
   (``worker_peak_rss_mib``: ``RUSAGE_CHILDREN``, the largest child process reaped so far,
   which are the pool's workers when this runs before the Dask benchmark) and asserts that
   the pairs equal the serial result pair for pair.
3. ``test_province_dask``: the same call with ``DaskExecutor(n_workers=2, processes=True)``
   (a ``LocalCluster`` of two worker processes, one thread each).  The cluster is started
   and the library imported on each worker before timing (start-up and imports are in
   ``extra_info["cluster_start_s"]``); the time
   includes shipping each district's rosters to the workers and the results back.
   ``extra_info`` holds ``ratio_serial_over_dask`` (when the serial benchmark ran first in
   the session), each worker's peak resident memory (``worker_peak_rss_mib``), the driver's
   peak (``driver_peak_rss_mib``), and asserts that the pairs equal the serial result pair
   for pair.

Only counts, times and memory go into ``extra_info``: no ids.  The keys ``tier`` / ``case``
are used (not ``tier`` / ``kind``) so that ``bench_support.summarize`` ignores these entries.

Run::

    python -m pytest benchmarks/test_bench_province.py --benchmark-only -m quick
    python -m pytest benchmarks/test_bench_province.py --benchmark-only -m full
"""

from __future__ import annotations

import resource
import time
from typing import Any

import pandas as pd
import pytest

from matching import MatchConfig
from matching.datasets.synth import city
from matching.scale.executors import DaskExecutor, ProcessExecutor, SerialExecutor
from matching.scale.province import ProvinceResult, match_province

SEED = 4
N_WORKERS = 2
# tier -> (districts, children per district, mentors per district)
TIERS: dict[str, tuple[int, int, int]] = {
    "quick": (4, 500, 400),
    "full": (100, 10_000, 8_000),
}
ROUNDS = {"quick": 3, "full": 1}

_ROSTERS: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
_SERIAL: dict[str, tuple[float, ProvinceResult]] = {}

TIER_PARAMS = pytest.mark.parametrize(
    "tier", [pytest.param(t, id=t, marks=getattr(pytest.mark, t)) for t in TIERS]
)


def _rosters(tier: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if tier not in _ROSTERS:
        n_d, n_c, n_m = TIERS[tier]
        _ROSTERS[tier] = city(
            n_districts=n_d, children_per_district=n_c, mentors_per_district=n_m, seed=SEED
        )
    return _ROSTERS[tier]


def _mib(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


def _info(tier: str, case: str, result: ProvinceResult) -> dict[str, Any]:
    n_d, n_c, n_m = TIERS[tier]
    m = result.metrics
    return {
        "tier": tier,
        "case": case,
        "n_districts": n_d,
        "children_per_district": n_c,
        "mentors_per_district": n_m,
        "n_children": n_d * n_c,
        "n_pairs": m["n_pairs"],
        "pairing_rate": m["pairing_rate"],
        "distance_km_mean": m["distance_km_mean"],
        "needs_covered_share": m["needs_covered_share"],
        "n_failed": m["n_failed"],
        "objective_units": m["objective_units"],
    }


def _timed(benchmark: Any, tier: str, ex: Any) -> tuple[ProvinceResult, float]:
    """Time ``match_province`` on ``ex``: the last result and the median seconds."""
    kids, moms = _rosters(tier)
    cfg = MatchConfig(max_distance_km=5.0)
    times: list[float] = []

    def run() -> ProvinceResult:
        t0 = time.perf_counter()
        out = match_province(kids, moms, cfg, executor=ex)
        times.append(time.perf_counter() - t0)
        return out

    result = benchmark.pedantic(run, rounds=ROUNDS[tier], iterations=1)
    assert result.ok
    times.sort()
    return result, times[len(times) // 2]


def _against_serial(info: dict[str, Any], tier: str, case: str, median: float, result: Any) -> None:
    """The ratio to the serial run of this session, and its pairs, pair for pair."""
    if tier in _SERIAL:
        serial_s, serial = _SERIAL[tier]
        info["serial_median_s"] = round(serial_s, 3)
        info[f"{case}_median_s"] = round(median, 3)
        info[f"ratio_serial_over_{case}"] = round(serial_s / median, 3)
        pd.testing.assert_frame_equal(result.pairs, serial.pairs)
        pd.testing.assert_frame_equal(result.unmatched, serial.unmatched)


@TIER_PARAMS
def test_province_serial(benchmark: Any, tier: str) -> None:
    result, median = _timed(benchmark, tier, SerialExecutor())
    _SERIAL[tier] = (median, result)
    benchmark.extra_info.update(_info(tier, "serial", result))
    benchmark.extra_info["driver_peak_rss_mib"] = _mib(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )


@TIER_PARAMS
def test_province_processes(benchmark: Any, tier: str) -> None:
    ex = ProcessExecutor(n_workers=N_WORKERS)
    result, median = _timed(benchmark, tier, ex)
    info = _info(tier, "processes", result)
    info.update(
        n_workers=N_WORKERS,
        executor=repr(ex),
        worker_peak_rss_mib=_mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024),
        driver_peak_rss_mib=_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
    )
    _against_serial(info, tier, "processes", median, result)
    benchmark.extra_info.update(info)


@TIER_PARAMS
def test_province_dask(benchmark: Any, tier: str) -> None:
    start = time.perf_counter()
    ex = DaskExecutor(n_workers=N_WORKERS, threads_per_worker=1, processes=True)
    ex.client.wait_for_workers(N_WORKERS)
    ex.client.run(exec, "import matching.scale.province")  # imports (OR-Tools, pandas) not timed
    cluster_start = time.perf_counter() - start
    try:
        result, median = _timed(benchmark, tier, ex)
        peaks = ex.worker_peak_memory()
    finally:
        ex.close()
    info = _info(tier, "dask", result)
    info.update(
        n_workers=N_WORKERS,
        cluster_start_s=round(cluster_start, 3),
        worker_peak_rss_mib=sorted(_mib(v) for v in peaks.values()),
        driver_peak_rss_mib=_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
    )
    _against_serial(info, tier, "dask", median, result)
    benchmark.extra_info.update(info)
