"""Instances, library internals and the results summary shared by the benchmarks.

Not a test module: imported by ``conftest.py``, ``test_bench_match.py`` and
``summarize.py``.  Every instance is synthetic
(:func:`matching.synth.district`), so the only ids are generated ones, and no
id-level data is written to the benchmark output.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from matching import MatchConfig
from matching.geo import great_circle_km
from matching.schema import validate_children, validate_mentors
from matching.synth import district

# ``matching.match`` as an attribute is the *function* (the package re-exports
# it under the module's name); the module itself comes from importlib.
MATCH_MODULE = importlib.import_module("matching.match")

SEED = 1
MAX_DISTANCE_KM = 5.0

# tier name -> (children, mentors)
TIERS: dict[str, tuple[int, int]] = {
    "quick": (2000, 1600),
    "full": (5000, 4000),
}


def tier_params() -> list[Any]:
    """One ``pytest.param`` per tier, marked and id'd by name (``-m quick`` / ``-k quick``)."""
    return [pytest.param(name, id=name, marks=getattr(pytest.mark, name)) for name in TIERS]


def build_problem(children: pd.DataFrame, mentors: pd.DataFrame, cfg: MatchConfig) -> Any:
    """Validated, id-sorted rosters and active mentors -> ``_Problem``, exactly as ``match``."""
    kids = MATCH_MODULE._sorted(validate_children(children))
    all_mentors = MATCH_MODULE._sorted(validate_mentors(mentors))
    active = all_mentors[all_mentors["active"].to_numpy(dtype=bool)].reset_index(drop=True)
    return MATCH_MODULE._Problem(kids, active, cfg)


@dataclass
class Instance:
    """One synthetic district and what is derived from it (each computed once per session)."""

    tier: str
    children: pd.DataFrame
    mentors: pd.DataFrame
    config: MatchConfig
    results: dict[str, Any] = field(default_factory=dict)  # method -> MatchResult
    _problem: Any = None
    _arcs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def make(cls, tier: str) -> Instance:
        n_children, n_mentors = TIERS[tier]
        children, mentors = district(n_children, n_mentors, seed=SEED)
        return cls(tier, children, mentors, MatchConfig(max_distance_km=MAX_DISTANCE_KM))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.children), len(self.mentors)

    def problem(self) -> Any:
        """The library's ``_Problem`` for this instance."""
        if self._problem is None:
            self._problem = build_problem(self.children, self.mentors, self.config)
        return self._problem

    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every candidate arc ``(child, mentor, km, integer arc cost)`` of the flow model."""
        if self._arcs is None:
            p = self.problem()
            ci, mj, km = MATCH_MODULE._all_arcs(p)
            self._arcs = (ci, mj, km, p.arc_cost(ci, mj, km))
        return self._arcs

    def result(self, method: str = "sparse") -> Any:
        """The library's result; reuses the timed run's result when there was one."""
        if method not in self.results:
            self.results[method] = MATCH_MODULE.match(
                self.children, self.mentors, self.config, method=method
            )
        return self.results[method]


def library_flow_objective(p: Any, result: Any) -> int:
    """Flow-model objective of a ``MatchResult``: its pairs' integer arc costs + unmatched arcs."""
    kid_index = pd.Index(p.kids["id"])
    ci = kid_index.get_indexer(result.pairs["child_id"]).astype(np.int64)
    mj = pd.Index(p.mentors["id"]).get_indexer(result.pairs["mentor_id"]).astype(np.int64)
    u = kid_index.get_indexer(result.unmatched["child_id"])
    assert (ci >= 0).all() and (mj >= 0).all() and (u >= 0).all()
    assert ci.size + u.size == p.n
    km = great_circle_km(p.clat[ci], p.clon[ci], p.mlat[mj], p.mlon[mj])
    return int(p.arc_cost(ci, mj, km).sum()) + int(p.unm[u].sum())


# ---------------------------------------------------------------------------
# summary of a pytest-benchmark run (used by the JSON hook and summarize.py)

_END_TO_END = ("sparse", "dense_ortools", "dense_scipy")
_PHASES = ("candidates", "solve_all_arcs", "solve_priced")


def summarize(benchmarks: list[dict[str, Any]]) -> dict[str, Any]:
    """Per tier: median seconds of each benchmark, the ratios and the objective check."""
    by_tier: dict[str, dict[str, dict[str, Any]]] = {}
    for b in benchmarks:
        info = b.get("extra_info") or {}
        if "tier" in info and "kind" in info:
            by_tier.setdefault(info["tier"], {})[info["kind"]] = b
    out: dict[str, Any] = {}
    for tier, kinds in by_tier.items():
        med = {k: float(b["stats"]["median"]) for k, b in kinds.items()}
        rounds = {k: int(b["stats"]["rounds"]) for k, b in kinds.items()}
        row: dict[str, Any] = {"median_s": med, "rounds": rounds}
        any_info = next(iter(kinds.values()))["extra_info"]
        row["instance"] = {k: any_info[k] for k in ("n_children", "n_mentors", "max_distance_km")}
        sp = med.get("sparse")
        if sp:
            if "dense_scipy" in med:
                row["ratio_dense_scipy_over_sparse"] = med["dense_scipy"] / sp
                lsa = kinds["dense_scipy"]["extra_info"]["phase_s"]["linear_sum_assignment"]
                row["ratio_scipy_solve_only_over_sparse"] = lsa / sp
            if "dense_ortools" in med:
                row["ratio_dense_ortools_over_sparse"] = med["dense_ortools"] / sp
        objectives = {
            k: kinds[k]["extra_info"].get("objective_units") for k in _END_TO_END if k in kinds
        }
        flows = {k: kinds[k]["extra_info"].get("flow_objective") for k in _END_TO_END if k in kinds}
        row["objective_units"] = objectives
        row["flow_objective"] = flows
        row["objectives_identical"] = (
            len(set(objectives.values())) == 1 and len(set(flows.values())) == 1
        )
        for k in ("sparse", "candidates", "dense_scipy"):
            if k in kinds and "candidate_arcs" in kinds[k]["extra_info"]:
                row["candidate_arcs"] = kinds[k]["extra_info"]["candidate_arcs"]
                break
        if "sparse" in kinds:
            row["sparse_solver"] = kinds["sparse"]["extra_info"].get("solver")
            row["n_pairs"] = kinds["sparse"]["extra_info"].get("n_pairs")
        if "dense_scipy" in kinds:
            row["dense_scipy_phase_s"] = kinds["dense_scipy"]["extra_info"]["phase_s"]
            row["dense_scipy_matrix_shape"] = kinds["dense_scipy"]["extra_info"]["matrix_shape"]
        out[tier] = row
    return out


def summary_markdown(summary: dict[str, Any]) -> str:
    """A markdown table of :func:`summarize` (one row per tier)."""
    lines = [
        "| tier | children x mentors | candidate arcs | sparse (s) | dense OR-Tools (s) "
        "| dense scipy (s) | scipy LSA only (s) | scipy / sparse | OR-Tools / sparse "
        "| objective_units | identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def s(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    def r(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}x"

    for tier, row in summary.items():
        med = row["median_s"]
        inst = row["instance"]
        lsa = (row.get("dense_scipy_phase_s") or {}).get("linear_sum_assignment")
        objs = sorted({v for v in row["objective_units"].values() if v is not None})
        same = "yes" if row["objectives_identical"] else "NO"
        lines.append(
            f"| {tier} | {inst['n_children']:,} x {inst['n_mentors']:,} "
            f"| {row.get('candidate_arcs', 0):,} | {s(med.get('sparse'))} "
            f"| {s(med.get('dense_ortools'))} | {s(med.get('dense_scipy'))} | {s(lsa)} "
            f"| {r(row.get('ratio_dense_scipy_over_sparse'))} "
            f"| {r(row.get('ratio_dense_ortools_over_sparse'))} "
            f"| {', '.join(str(o) for o in objs)} | {same} |"
        )
    lines += [
        "",
        "| tier | candidates: `_all_arcs` + `arc_cost` (s) | one flow solve on all arcs (s) "
        "| `_priced_lazy` (s) | pricing rounds | model arcs |",
        "|---|---|---|---|---|---|",
    ]
    for tier, row in summary.items():
        med = row["median_s"]
        solver = row.get("sparse_solver") or {}
        lines.append(
            f"| {tier} | {s(med.get('candidates'))} | {s(med.get('solve_all_arcs'))} "
            f"| {s(med.get('solve_priced'))} | {solver.get('rounds', '-')} "
            f"| {solver.get('model_arcs', '-')} |"
        )
    return "\n".join(lines)
