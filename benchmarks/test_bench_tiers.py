"""Scaling tiers, district to province: the library against the alternatives, same session.

Tiers (``bench_support.SCALE_TIERS``; every instance ``seed=1``, default
``MatchConfig()``: 5 km, ``objective="max_pairs"``, 1 m resolution):

============  ==============================================  ===================
tier          rosters                                          markers
============  ==============================================  ===================
district_2k   ``district(2000, 1600)``                         ``quick``
district_20k  ``district(20_000, 16_000)``                     ``full``, ``tier20k``
city_200k     ``city(10, 20_000, 16_000)``                     ``full``, ``tier200k``
province_1m   ``province(100, 10_000, 8_000)`` (sparse only)   ``full``, ``tier1m``
============  ==============================================  ===================

Methods, each timed end to end from the rosters it needs:

- ``library``: the library's default path (``bench_support.library_match``):
  ``matching.match(children, mentors, cfg)`` for a district;
  ``matching.scale.province.match_province(children, mentors, cfg)`` for a city or a
  province (districts independent, serially in one process);
- ``library_processes`` (city and province only): the same call with
  ``executor=ProcessExecutor(n_workers=2)`` (districts on two worker processes,
  one search thread each), checked pair for pair against ``library``;
- ``library_threads`` (city and province only): the same with
  ``executor=ThreadExecutor(n_workers=2)`` (districts on two threads of one
  process, two search threads each), checked the same way;
- ``greedy``: nearest available mentor, children by priority then id, district
  by district (``bench_support.greedy_nearest_fast``, which never lists every arc; at the
  2k tier checked pair for pair against ``test_bench_greedy.greedy_nearest``);
- ``dense_scipy``: ``test_bench_match.scipy_dense_match`` (dense matrix +
  ``scipy.optimize.linear_sum_assignment``), 2k tier only (20k with ``--dense-20k``);
- ``dense_ortools_lsa``: ``bench_support.ortools_lsa_dense`` (padded square
  matrix + OR-Tools ``SimpleLinearSumAssignment``), same tiers;
- ``library_rules`` (district tiers): the default path with ``same_street`` and
  ``same_gender`` switched on (pairs checked against both rules);
- ``candidate_graph``: the library's own graph build (rosters -> ``MatchProblem``
  with its k-d tree -> initial nearest-neighbour arcs with their integer costs),
  so that solving = library - candidate graph.

Peak memory is measured in a fresh process per tier (``bench_support.peak_memory``:
the child's own ``ru_maxrss``, which counts C/C++ allocations too): always for
the library, for the baselines with ``--baseline-memory`` (each child costs a
few seconds, too many for the one-minute quick run).  The dense
baselines that do not fit are skipped with the reason, and the reason is also
written to the library benchmark's ``extra_info["baselines_skipped"]``.

Quality is asserted: the library pairs at least as many children as greedy
and costs strictly less; the dense baselines reach exactly the library's
objective (integer units of ``resolution_km`` = 1 m, so the tolerance is 0
units: costs are solved as integers, and any pairing's total is an integer).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bench_support import (
    DENSE_MEMORY_BUDGET_GIB,
    SCALE_TIERS,
    SEED,
    TARGET_S,
    ScaleTier,
    build_problem,
    count_candidate_arcs,
    dense_estimate,
    greedy_per_district,
    library_match,
    ortools_lsa_dense,
    pairing_quality,
    peak_memory,
    result_indices,
    scale_tier_params,
    warm_kernels,
)
from test_bench_greedy import greedy_nearest, objective_units
from test_bench_match import scipy_dense_match

from matching import MatchConfig, match
from matching._engine.arcs import all_arcs, nearest_arcs


@pytest.fixture(scope="module", params=scale_tier_params())
def tier(request: pytest.FixtureRequest) -> str:
    """The tier's name.  Module scope makes pytest run every test of one tier before
    the next tier's, so each tier's rosters and library result are made once."""
    return str(request.param)


# Listing every allowed arc (the dense baselines' first step, and a check of
# the arc count) is done only below this many arcs.
_ALL_ARCS_MAX = 20_000_000
# the reference greedy lists every arc too
_REFERENCE_GREEDY_MAX_CHILDREN = 5_000


@dataclass
class TierRun:
    """One tier's rosters and what is derived from them, computed once per session."""

    spec: ScaleTier
    children: pd.DataFrame
    mentors: pd.DataFrame
    config: MatchConfig
    result: Any = None
    _problem: Any = None
    cache: dict[str, Any] = field(default_factory=dict)

    def problem(self) -> Any:
        if self._problem is None:
            self._problem = build_problem(self.children, self.mentors, self.config)
        return self._problem

    def library(self) -> Any:
        """The library's result (the timed run's, or one untimed run)."""
        if self.result is None:
            self.result = library_match(self.spec.name, self.children, self.mentors, self.config)
        return self.result

    def candidate_arcs(self) -> int:
        if "candidate_arcs" not in self.cache:
            self.cache["candidate_arcs"] = count_candidate_arcs(self.problem())
        return self.cache["candidate_arcs"]

    def library_quality(self) -> dict[str, Any]:
        if "library_quality" not in self.cache:
            p = self.problem()
            self.cache["library_quality"] = pairing_quality(p, *result_indices(p, self.library()))
        return self.cache["library_quality"]


_RUNS: dict[str, TierRun] = {}


def _run(tier: str) -> TierRun:
    if tier not in _RUNS:
        _RUNS.clear()  # one tier in memory at a time (the 1M tier is large)
        spec = SCALE_TIERS[tier]
        children, mentors = spec.rosters()
        _RUNS[tier] = TierRun(spec, children, mentors, MatchConfig())
    return _RUNS[tier]


def _dense_skips(tier: str, config: pytest.Config) -> dict[str, str]:
    """Why each dense baseline does not run at this tier (empty: both run)."""
    if tier == "district_2k":
        return {}
    if tier == "district_20k" and config.getoption("--dense-20k"):
        return {}
    p = _run(tier).problem()
    est = dense_estimate(p)
    slots = int(p.capacity.sum())
    flag = " (run it with --dense-20k)" if tier == "district_20k" else ""
    # FIELD_NOTES: dense assignment with an "unmatched" option at 10k took
    # > 300 s (scipy) and 44 s (OR-Tools LSA); time grows about as n^3.
    grow = (p.n / 10_000) ** 3

    def memory(method: str) -> str:
        gib = est[method]
        over = (
            f", over the {DENSE_MEMORY_BUDGET_GIB:g} GiB budget"
            if gib > DENSE_MEMORY_BUDGET_GIB
            else ""
        )
        return f"about {gib:,} GiB{over}"

    return {
        "dense_scipy": (
            f"dense scipy skipped at {tier}{flag}: the {p.n:,} x {slots + p.n:,} float64 matrix "
            f"needs {memory('dense_scipy')} with its working copy, and the solve would take "
            f"roughly {300 * grow / 60:,.0f} min or more (> 300 s at 10k, grows as n^3)"
        ),
        "dense_ortools_lsa": (
            f"dense OR-Tools LSA skipped at {tier}{flag}: the padded {p.n + slots:,} square "
            f"needs {memory('dense_ortools_lsa')}, and the solve would take roughly "
            f"{44 * grow / 60:,.0f} min or more (44 s at 10k, grows as n^3)"
        ),
    }


def _record(benchmark: Any, run: TierRun, method: str, **info: Any) -> None:
    benchmark.extra_info.update(
        scale_tier=run.spec.name,
        method=method,
        n_children=len(run.children),
        n_mentors=len(run.mentors),
        generator=run.spec.generator,
        generator_args=list(run.spec.args),
        seed=SEED,
        max_distance_km=run.config.max_distance_km,
        load_avg_1min=round(os.getloadavg()[0], 2),
        **info,
    )


def _time(benchmark: Any, run: TierRun, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Time ``fn(*args, **kwargs)`` and return its result.  At the 2k tier
    (``rounds`` None) by pytest-benchmark's own policy: an untimed
    calibration call, then at least ``--benchmark-min-rounds`` rounds (5)
    and as many as fit in ``--benchmark-max-time`` (1 s): the library about
    13, dense scipy 5.  At the larger tiers ``run.spec.rounds`` rounds (one
    city round takes 25-40 s)."""
    if run.spec.rounds is None:
        return benchmark(fn, *args, **kwargs)
    return benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=run.spec.rounds, iterations=1)


def _memory(request: pytest.FixtureRequest, tier: str, method: str) -> dict[str, Any]:
    if method != "library" and not request.config.getoption("--baseline-memory"):
        return {"peak_rss_mib": None, "memory": "not measured (run with --baseline-memory)"}
    return peak_memory(tier, method)


# ---------------------------------------------------------------------------
# the library


def test_library(benchmark: Any, tier: str, request: pytest.FixtureRequest) -> None:
    run = _run(tier)
    benchmark.group = f"tier {tier}"
    # the fresh process first, while this one holds only the rosters (at the
    # province tier both processes together must fit in the machine's memory)
    mem = _memory(request, tier, "library")
    warmup_s = warm_kernels()  # numba's cache loaded before timing (once per process)
    result = _time(benchmark, run, library_match, tier, run.children, run.mentors, run.config)
    run.result = result
    run.cache.pop("library_quality", None)
    p = run.problem()
    q = run.library_quality()
    m = result.metrics
    # the quality recomputed from the pairs agrees with the library's own metrics
    assert q["objective_units"] == m["objective_units"]
    assert q["n_pairs"] == m["n_pairs"]
    if "needs_covered_share" in m:  # a district (a city's metrics are per district)
        assert q["needs_covered_share"] == pytest.approx(m["needs_covered_share"], abs=1e-6)
    assert q["distance_km_mean"] == pytest.approx(m["distance_km_mean"], abs=1e-6)

    arcs = run.candidate_arcs()
    if arcs <= _ALL_ARCS_MAX:
        ci, _, _ = all_arcs(p)
        assert arcs == ci.size, "the counted arcs are the arcs the library allows"
    skipped = _dense_skips(tier, request.config)
    run.cache["library_median_s"] = benchmark.stats.stats.median
    _record(
        benchmark,
        run,
        "library",
        target_s=TARGET_S[tier],
        candidate_arcs=arcs,
        n_mentors_active=int(m.get("n_mentors_active", len(run.mentors))),
        mentor_capacity=int(m.get("mentor_capacity", int(run.mentors["capacity"].sum()))),
        priority_pairing_rate=m.get("priority_pairing_rate"),
        solver={k: v for k, v in m.get("solver", {}).items() if isinstance(v, int | float | str)},
        baselines_skipped=skipped,
        kernels_warmup_s=round(warmup_s, 3),
        **q,
        **mem,
    )
    assert q["n_pairs"] > 0


def _library_on(benchmark: Any, tier: str, kind: str) -> None:
    """A city or a province with its districts on two workers (``kind``:
    "processes" or "threads"), checked pair for pair against the serial run."""
    from matching.scale.executors import ProcessExecutor, ThreadExecutor
    from matching.scale.province import match_province

    run = _run(tier)
    if run.spec.generator == "district":
        pytest.skip(f"a district is one match: nothing to spread over {kind}")
    benchmark.group = f"tier {tier}"
    ex = ProcessExecutor(n_workers=2) if kind == "processes" else ThreadExecutor(n_workers=2)
    result = _time(
        benchmark, run, match_province, run.children, run.mentors, run.config, executor=ex
    )
    serial = run.library()
    assert result.ok and serial.ok
    pd.testing.assert_frame_equal(result.pairs, serial.pairs)
    pd.testing.assert_frame_equal(result.unmatched, serial.unmatched)
    assert result.metrics == serial.metrics
    median = benchmark.stats.stats.median
    serial_s = run.cache.get("library_median_s")
    _record(
        benchmark,
        run,
        f"library_{kind}",
        target_s=TARGET_S[tier],
        executor=repr(ex),
        serial_median_s=serial_s,
        **{f"serial_over_{kind}": None if serial_s is None else round(serial_s / median, 3)},
        same_pairs_as_serial=True,
        objective_units=int(result.metrics["objective_units"]),
        memory=(
            "not measured (worker processes; the serial run's peak is per process)"
            if kind == "processes"
            else "not measured (the serial run's peak is this process's)"
        ),
    )


def test_library_processes(benchmark: Any, tier: str) -> None:
    """A city or a province with its districts on two worker processes."""
    _library_on(benchmark, tier, "processes")


def test_library_threads(benchmark: Any, tier: str) -> None:
    """A city or a province with its districts on two threads of this
    process (the compiled kernels release the GIL)."""
    _library_on(benchmark, tier, "threads")


# ---------------------------------------------------------------------------
# candidate graph vs solve


def candidate_graph(children: pd.DataFrame, mentors: pd.DataFrame, cfg: MatchConfig) -> dict:
    """The library's graph build: validated rosters -> ``MatchProblem`` -> initial arcs + costs."""
    t0 = time.perf_counter()
    p = build_problem(children, mentors, cfg)
    t1 = time.perf_counter()
    t = p.tuning
    ci, mj, km = nearest_arcs(p, t.pricing_k, t.pricing_km, t.pricing_kc)
    arc = p.arc_cost(ci, mj, km)
    t2 = time.perf_counter()
    return {"arcs": int(arc.size), "problem": t1 - t0, "initial_arcs": t2 - t1}


def test_library_rules(benchmark: Any, tier: str) -> None:
    """The default path with both hard rules a federation may switch on
    (same street, same gender): most children of the synthetic rosters then
    have few allowed mentors and many stay unmatched, the case the rules
    make slow (unmatched children's potentials let every mentor in reach
    pass the suspect bound)."""
    run = _run(tier)
    if run.spec.generator != "district":
        pytest.skip("measured on the district tiers (one match each)")
    benchmark.group = f"tier {tier}"
    km = run.config.max_distance_km
    cfg = MatchConfig(max_distance_km=km, same_street=True, same_gender=True)
    warm_kernels()
    result = _time(benchmark, run, match, run.children, run.mentors, cfg)
    pairs = result.pairs
    kids = run.children.set_index("id")
    mentors = run.mentors.set_index("id")
    # every pair keeps both rules
    assert (pairs["child_street"].to_numpy() == pairs["mentor_street"].to_numpy()).all()
    kg = kids.loc[pairs["child_id"], "gender"].fillna("").to_numpy()
    mg = mentors.loc[pairs["mentor_id"], "gender"].fillna("").to_numpy()
    assert ((kg == "") | (mg == "") | (kg == mg)).all()
    m = result.metrics
    assert m["solver"].get("proven") is True
    default_s = run.cache.get("library_median_s")
    _record(
        benchmark,
        run,
        "library_rules",
        rules=["same_street", "same_gender"],
        n_pairs=int(m["n_pairs"]),
        n_unmatched=len(result.unmatched),
        objective_units=int(m["objective_units"]),
        solver={k: v for k, v in m["solver"].items() if isinstance(v, int | float | str)},
        default_library_median_s=default_s,
        rules_over_default=(benchmark.stats.stats.median / default_s) if default_s else None,
    )


def test_candidate_graph(benchmark: Any, tier: str) -> None:
    run = _run(tier)
    benchmark.group = f"tier {tier}"
    out = _time(benchmark, run, candidate_graph, run.children, run.mentors, run.config)
    phase = {"problem": round(out["problem"], 4), "initial_arcs": round(out["initial_arcs"], 4)}
    p = run.problem()
    if run.candidate_arcs() <= _ALL_ARCS_MAX:
        t0 = time.perf_counter()
        ci, mj, km = all_arcs(p)
        p.arc_cost(ci, mj, km)
        phase["all_arcs"] = round(time.perf_counter() - t0, 4)
    _record(benchmark, run, "candidate_graph", initial_arcs=out["arcs"], phase_s=phase)
    assert 0 < out["arcs"] <= p.n * p.m


# ---------------------------------------------------------------------------
# baselines


def test_greedy(benchmark: Any, tier: str, request: pytest.FixtureRequest) -> None:
    """Greedy nearest available mentor (how staff match by hand) on the same instance."""
    run = _run(tier)
    benchmark.group = f"tier {tier}"

    def greedy() -> tuple[np.ndarray, np.ndarray]:
        p = build_problem(run.children, run.mentors, run.config)
        return greedy_per_district(p, run.children, run.mentors, run.config)

    pc, pm = benchmark.pedantic(greedy, rounds=1, iterations=1)
    p = run.problem()
    q = pairing_quality(p, pc, pm)
    if p.n <= _REFERENCE_GREEDY_MAX_CHILDREN:
        # the scalable greedy is the benchmarks' reference greedy, pair for pair
        rc, rm = greedy_nearest(p)
        order = np.argsort(rc)
        assert np.array_equal(pc[np.argsort(pc)], rc[order])
        assert np.array_equal(pm[np.argsort(pc)], rm[order])
        assert q["objective_units"] == objective_units(p, rc, rm)
    lib = run.library_quality()
    _record(
        benchmark,
        run,
        "greedy",
        library_n_pairs=lib["n_pairs"],
        library_objective_units=lib["objective_units"],
        **q,
        **_memory(request, tier, "greedy"),
    )
    assert lib["n_pairs"] >= q["n_pairs"]
    assert lib["objective_units"] < q["objective_units"]


def _dense_check(tier: str, request: pytest.FixtureRequest, method: str) -> None:
    reason = _dense_skips(tier, request.config).get(method)
    if reason:
        pytest.skip(reason)


def _dense_quality(
    benchmark: Any,
    run: TierRun,
    request: pytest.FixtureRequest,
    method: str,
    out: dict[str, Any],
    **info: Any,
) -> dict[str, Any]:
    """Record a dense baseline's quality (from its pairs ``out["pc"]``,
    ``out["pm"]``) and check it against the library: the same pairs count
    and the identical objective, tolerance 0 integer units (1 unit =
    ``resolution_km`` = 1 m).  Returns the quality."""
    q = pairing_quality(run.problem(), out["pc"], out["pm"])
    lib = run.library_quality()
    _record(
        benchmark,
        run,
        method,
        matrix_shape=out["matrix_shape"],
        phase_s=out["phase_s"],
        **info,
        **q,
        **_memory(request, run.spec.name, method),
    )
    assert out["flow_objective"] == q["flow_objective"] == lib["flow_objective"]
    assert q["objective_units"] == lib["objective_units"]
    assert q["n_pairs"] == lib["n_pairs"]
    return q


def test_dense_scipy(benchmark: Any, tier: str, request: pytest.FixtureRequest) -> None:
    """Dense matrix + scipy ``linear_sum_assignment`` (``test_bench_match.scipy_dense_match``)."""
    _dense_check(tier, request, "dense_scipy")
    run = _run(tier)
    benchmark.group = f"tier {tier}"
    # timed as the library is (at 2k pytest-benchmark's policy: 5 rounds
    # here); the ratio compares medians
    out = _time(benchmark, run, scipy_dense_match, run.children, run.mentors, run.config)
    q = _dense_quality(benchmark, run, request, "dense_scipy", out)
    # scipy's own totals (from its chosen matrix entries) agree with its pairs'
    assert out["objective_units"] == q["objective_units"]
    assert out["n_pairs"] == q["n_pairs"]


def test_dense_ortools_lsa(benchmark: Any, tier: str, request: pytest.FixtureRequest) -> None:
    """Padded square matrix + OR-Tools ``SimpleLinearSumAssignment``."""
    _dense_check(tier, request, "dense_ortools_lsa")
    run = _run(tier)
    benchmark.group = f"tier {tier}"

    def dense() -> dict[str, Any]:
        return ortools_lsa_dense(build_problem(run.children, run.mentors, run.config))

    out = benchmark.pedantic(dense, rounds=1, iterations=1)
    _dense_quality(benchmark, run, request, "dense_ortools_lsa", out, lsa_arcs=out["lsa_arcs"])
