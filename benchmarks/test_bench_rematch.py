"""Re-matching after 1% churn vs a from-scratch match (issue 3).

Scenario (built once per session and tier, not timed):

1. ``district(n, 0.8 n, seed=2)``; the state is the rosters folded into an
   empty state by :func:`matching.programme.events.apply_rosters` (validated, sorted by
   id, ``exit_state`` / ``exit_approved_by`` = ``""``, mentor ``status`` from
   ``active``), paired by :func:`matching.match` (default ``MatchConfig``) and
   committed to a :class:`~matching.programme.store.StateStore` in a temporary folder.
2. 1% churn, through the normal workflow on the state loaded back from the
   store: ``n / 100`` new children join (the last rows of a
   ``district(1.01 n, 0, seed=2, id_prefix="N")`` draw: same district, fresh
   people, distinct ids) via ``apply_rosters``; ``n / 100`` random children
   leave through the full exit workflow (request, investigate, approve,
   effective) and ``0.8 n / 100`` random mentors leave (``mentor_leave``) via
   :func:`matching.programme.events.apply_events`.

Benchmarks (``benchmark.pedantic``, ``iterations=1``; ``quick`` = 2,000 x
1,600, ``full`` = the issue's 20,000 x 16,000):

1. ``test_rematch_default`` - plan + apply, as ``run_nightly`` does it:
   ``rematch(post_churn, cfg, date=...)`` then ``store.commit`` of the plan
   (with the churn's ended pairs and event log) into a fresh copy of the
   pre-churn store.  Asserts no pair moves and no surviving pair changes.
2. ``test_from_scratch`` - ``match()`` on the post-churn rosters (every
   child, every active mentor); records how many surviving pairs a
   from-scratch match would break (the disruption re-matching avoids).
3. ``test_rematch_allow_moves`` - ``rematch(..., policy=RematchPolicy(allow_moves=True,
   switching_cost_km=1.0))`` for comparison: moves and price of stability.

``rematch`` computes ``metrics["price_of_stability_km"]`` by solving a
from-scratch match itself; that step is timed separately (a timing wrapper
around ``matching.programme.rematch._price_of_stability``, behaviour unchanged) and
reported in ``extra_info["phase_s"]``.

Only counts, times and objectives go into ``extra_info``: no ids.  The keys
``tier`` / ``case`` are used (not ``tier`` / ``kind``) so that
``bench_support.summarize`` ignores these entries.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from matching import MatchConfig, RematchPolicy, match
from matching.datasets.synth import district
from matching.programme.events import Event, EventOutcome, apply_events, apply_rosters
from matching.programme.rematch import RematchPlan, rematch
from matching.programme.state import LIFECYCLE_COLUMNS, State, empty_state
from matching.programme.store import RunInfo, StateStore

# ``matching.programme.rematch`` as an attribute is the *function* (the subpackage
# re-exports it under the module's name); the module itself comes from importlib.
rematch_module = importlib.import_module("matching.programme.rematch")

SEED = 2
CHURN = 0.01
START_DATE = "2026-01-05"
RUN_DATE = "2026-02-02"
MOVES_SWITCHING_COST_KM = 1.0

# tier -> (children, mentors); the quick tier reuses the ``quick`` marker of conftest.py
TIERS: dict[str, tuple[int, int]] = {"quick": (2000, 1600), "full": (20000, 16000)}
# rounds per (benchmark, tier): one 20,000-child match takes about a minute here
ROUNDS: dict[str, dict[str, int]] = {
    "rematch_default": {"quick": 3, "full": 1},
    "from_scratch": {"quick": 3, "full": 1},
    "rematch_allow_moves": {"quick": 3, "full": 1},
}

TIER_PARAMS = pytest.mark.parametrize(
    "scenario",
    [pytest.param(t, id=t, marks=getattr(pytest.mark, t)) for t in TIERS],
    indirect=True,
)


# ---------------------------------------------------------------------------
# scenario


@dataclass
class Scenario:
    """The pre-churn store and the post-churn state of one tier."""

    tier: str
    config: MatchConfig
    folder: Path
    base_db: Path  # the store holding the pre-churn state (copied for each round)
    before: State  # pre-churn state, as loaded from the store
    churn: EventOutcome  # apply_events on the state with the new children joined
    setup_s: dict[str, float]
    churn_counts: dict[str, int]
    stored_pairs: set[tuple[str, str]] = field(default_factory=set)  # pairs in base_db
    medians: dict[str, float] = field(default_factory=dict)
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)
    _round: int = 0

    @property
    def after(self) -> State:
        """The post-churn state."""
        return self.churn.state

    def fresh_store(self) -> StateStore:
        """A writable copy of the pre-churn store."""
        self._round += 1
        path = self.folder / f"round{self._round}.db"
        shutil.copyfile(self.base_db, path)
        return StateStore.open(path)

    def surviving_pairs(self) -> dict[str, str]:
        """child -> mentor of every pair still in place after the churn."""
        pairs = self.after.pairs
        return dict(zip(pairs["child_id"], pairs["mentor_id"], strict=True))


def _initial_pairs(result: Any) -> pd.DataFrame:
    pairs = pd.DataFrame(
        {
            "child_id": result.pairs["child_id"].astype(object),
            "mentor_id": result.pairs["mentor_id"].astype(object),
        }
    )
    pairs["started_on"] = START_DATE
    pairs["start_reason"] = "matched"
    pairs["pinned"] = False
    return pairs.sort_values("child_id", kind="stable").reset_index(drop=True)


def _churn_events(state: State, n_children: int, n_mentors: int) -> list[Event]:
    rng = np.random.default_rng(SEED)
    kids = np.sort(rng.choice(state.children["id"].to_numpy(str), n_children, replace=False))
    mentors = np.sort(rng.choice(state.mentors["id"].to_numpy(str), n_mentors, replace=False))
    events: list[Event] = []
    for child in kids:
        events += [
            Event(kind="exit_request", child_id=child),
            Event(kind="exit_investigate", child_id=child),
            Event(kind="exit_approve", child_id=child, actor="district-office"),
            Event(kind="exit_effective", child_id=child),
        ]
    events += [Event(kind="mentor_leave", mentor_id=m) for m in mentors]
    return events


def make_scenario(tier: str, folder: Path) -> Scenario:
    n_children, n_mentors = TIERS[tier]
    cfg = MatchConfig()
    setup_s: dict[str, float] = {}
    children, mentors = district(n_children, n_mentors, seed=SEED)
    state, _ = apply_rosters(empty_state(), children, mentors, date=START_DATE)

    t0 = time.perf_counter()
    initial = match(children, mentors, cfg)
    setup_s["initial_match"] = time.perf_counter() - t0
    state = state.with_(pairs=_initial_pairs(initial))

    base_db = folder / "base.db"
    t0 = time.perf_counter()
    with StateStore.open(base_db) as store:
        store.commit(state, run=RunInfo(run_date=START_DATE, kind="import"))
        before = store.load()
    setup_s["initial_commit_and_load"] = time.perf_counter() - t0
    assert not Path(f"{base_db}-wal").exists() or Path(f"{base_db}-wal").stat().st_size == 0

    n_churn_children = round(CHURN * n_children)
    n_churn_mentors = round(CHURN * n_mentors)
    joiners, _ = district(n_children + n_churn_children, 0, seed=SEED, id_prefix="N")
    joiners = joiners.tail(n_churn_children).reset_index(drop=True)
    t0 = time.perf_counter()
    joined, changes = apply_rosters(before, joiners, None, date=RUN_DATE)
    events = _churn_events(before, n_churn_children, n_churn_mentors)
    churn = apply_events(joined, events, date=RUN_DATE)
    setup_s["churn_rosters_and_events"] = time.perf_counter() - t0

    reasons = pd.Series([r[0] for r in churn.ended.values()], dtype=object).value_counts()
    churn_counts = {
        "children_joined": len(changes["children_joined"]),
        "children_exited": n_churn_children,
        "mentors_left": n_churn_mentors,
        "events": len(events),
        "pairs_before_churn": len(before.pairs),
        "pairs_ended_by_exit": int(reasons.get("exit_effective", 0)),
        "pairs_ended_by_mentor_leaving": int(reasons.get("mentor_left", 0)),
        "surviving_pairs": len(churn.state.pairs),
        "first_in_line": len(churn.state.first_in_line),
        "children_after": len(churn.state.enrolled_children()),
        "mentors_after": len(churn.state.present_mentors()),
        "mentors_active_after": int((churn.state.mentors["status"] == "active").sum()),
    }
    return Scenario(
        tier,
        cfg,
        folder,
        base_db,
        before,
        churn,
        {k: round(v, 3) for k, v in setup_s.items()},
        churn_counts,
        stored_pairs=set(zip(before.pairs["child_id"], before.pairs["mentor_id"], strict=True)),
    )


_SCENARIOS: dict[str, Scenario] = {}


@pytest.fixture
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The tier's scenario (indirect parameter), built once per session."""
    tier = request.param
    if tier not in _SCENARIOS:
        _SCENARIOS[tier] = make_scenario(tier, tmp_path_factory.mktemp(f"rematch-{tier}"))
    return _SCENARIOS[tier]


# ---------------------------------------------------------------------------
# helpers


@pytest.fixture
def price_timer(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Seconds spent in ``rematch``'s price-of-stability step (its from-scratch match), per call."""
    spent: list[float] = []
    original: Callable[..., Any] = rematch_module._price_of_stability

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    monkeypatch.setattr(rematch_module, "_price_of_stability", timed)
    yield spent


def _median(benchmark: Any) -> float:
    return float(benchmark.stats.stats.median)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 3)


def _record(benchmark: Any, sc: Scenario, case: str, **info: Any) -> None:
    n_children, n_mentors = TIERS[sc.tier]
    benchmark.extra_info.update(
        tier=sc.tier,
        case=case,
        n_children=n_children,
        n_mentors=n_mentors,
        seed=SEED,
        churn=sc.churn_counts,
        setup_s=sc.setup_s,
        # other processes share this 2-core machine: record how busy it was
        load_avg_1min=round(os.getloadavg()[0], 2),
        **info,
    )
    sc.medians[case] = _median(benchmark)
    sc.infos[case] = benchmark.extra_info


def _plan_metrics(plan: RematchPlan) -> dict[str, Any]:
    m = plan.metrics
    reasons = plan.new_pairs["reason"].value_counts()
    return {
        "pairs_before": int(m["pairs_before"]),
        "pairs_after": int(m["pairs_after"]),
        "new_pairs": len(plan.new_pairs),
        "new_pairs_first_in_line": int(reasons.get("first_in_line", 0)),
        "new_pairs_matched": int(reasons.get("matched", 0)),
        "ended_pairs": len(plan.ended),
        "moved_pairs": len(plan.moved),
        # ended pairs whose child got no new mentor (bumped to the waiting list)
        "ended_without_new_pair": int(
            (~plan.ended["child_id"].isin(plan.new_pairs["child_id"])).sum()
        ),
        "waiting": len(plan.waiting),
        "plan_objective_km": float(m["plan_objective_km"]),
        "scratch_objective_km": float(m["scratch_objective_km"]),
        "price_of_stability_km": float(m["price_of_stability_km"]),
        "switching_cost_km": float(m["switching_cost_km"]),
    }


def _changed_surviving(sc: Scenario, pairs: pd.DataFrame) -> tuple[int, int]:
    """(surviving pairs whose child has another mentor, ... whose child has none) in ``pairs``."""
    now = dict(zip(pairs["child_id"], pairs["mentor_id"], strict=True))
    other = unpaired = 0
    for child, mentor in sc.surviving_pairs().items():
        new = now.get(child)
        if new is None:
            unpaired += 1
        elif new != mentor:
            other += 1
    return other, unpaired


def _apply(store: StateStore, plan: RematchPlan, sc: Scenario) -> int:
    """Commit the plan as ``run_nightly`` does: the churn and the re-match in one run."""
    churn = sc.churn
    ended = dict(churn.ended)
    for c, m, reason in plan.ended.itertuples(index=False):
        ended[(c, m)] = (reason, "")
    started = dict(churn.started)
    for c, m, _, _, reason in plan.new_pairs.itertuples(index=False):
        started[(c, m)] = reason
    stored = sc.stored_pairs
    after = set(zip(plan.state.pairs["child_id"], plan.state.pairs["mentor_id"], strict=True))
    return store.commit(
        plan.state,
        run=RunInfo(run_date=RUN_DATE, kind="nightly", metrics=plan.metrics),
        started={k: v for k, v in started.items() if k in after and k not in stored},
        ended={k: v for k, v in ended.items() if k in stored and k not in after},
        events=churn.log,
    )


# ---------------------------------------------------------------------------
# benchmarks


@TIER_PARAMS
def test_rematch_default(benchmark: Any, scenario: Scenario, price_timer: list[float]) -> None:
    """Plan + apply with the default options: nobody moves."""
    sc = scenario
    benchmark.group = f"{sc.tier}: re-match after 1% churn"
    phases: list[dict[str, float]] = []
    plans: list[RematchPlan] = []
    stores: list[Path] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        store = sc.fresh_store()
        stores.append(store.path)
        return (store,), {}

    def plan_and_apply(store: StateStore) -> int:
        t0 = time.perf_counter()
        plan = rematch(sc.after, sc.config, date=RUN_DATE)
        t1 = time.perf_counter()
        with store:
            run_id = _apply(store, plan, sc)
        t2 = time.perf_counter()
        phases.append({"rematch": t1 - t0, "commit": t2 - t1})
        plans.append(plan)
        return run_id

    benchmark.pedantic(
        plan_and_apply, setup=setup, rounds=ROUNDS["rematch_default"][sc.tier], iterations=1
    )
    plan = plans[-1]
    info = _plan_metrics(plan)
    other, unpaired = _changed_surviving(sc, plan.state.pairs)

    # nothing moved, and every surviving pair is exactly as it was
    assert info["moved_pairs"] == 0
    assert info["ended_pairs"] == 0
    assert other == 0 and unpaired == 0
    kept = sc.after.pairs.merge(plan.state.pairs, on=["child_id", "mentor_id"], how="left")
    assert (kept["started_on_x"] == kept["started_on_y"]).all()
    assert (kept["start_reason_x"] == kept["start_reason_y"]).all()
    # ... and the store agrees (the last round's copy)
    with StateStore.open(stores[-1], readonly=True) as store:
        stored = store.load().pairs
    assert stored[["child_id", "mentor_id"]].equals(plan.state.pairs[["child_id", "mentor_id"]])
    assert info["new_pairs"] > 0

    med = {k: float(np.median([p[k] for p in phases])) for k in ("rematch", "commit")}
    price = float(np.median(price_timer)) if price_timer else None
    _record(
        benchmark,
        sc,
        "rematch_default",
        **info,
        surviving_pairs_changed=other + unpaired,
        phase_s={
            "rematch": round(med["rematch"], 3),
            "rematch_price_of_stability_step": None if price is None else round(price, 3),
            "rematch_without_price_of_stability": None
            if price is None
            else round(med["rematch"] - price, 3),
            "commit": round(med["commit"], 3),
        },
    )


@TIER_PARAMS
def test_from_scratch(benchmark: Any, scenario: Scenario) -> None:
    """``match()`` on the post-churn rosters: every child, every active mentor."""
    sc = scenario
    benchmark.group = f"{sc.tier}: re-match after 1% churn"
    kids = sc.after.enrolled_children()
    kids = kids.drop(columns=["exit_state", "exit_approved_by", *LIFECYCLE_COLUMNS])
    mentors = sc.after.mentors
    mentors = mentors[mentors["status"] == "active"].drop(columns=[*LIFECYCLE_COLUMNS])
    result = benchmark.pedantic(
        match,
        args=(kids, mentors, sc.config),
        rounds=ROUNDS["from_scratch"][sc.tier],
        iterations=1,
    )
    other, unpaired = _changed_surviving(sc, result.pairs)
    m = result.metrics
    _record(
        benchmark,
        sc,
        "from_scratch",
        n_pairs=int(m["n_pairs"]),
        n_unmatched=int(m["n_unmatched"]),
        objective_km=float(m["objective_km"]),
        surviving_pairs=len(sc.after.pairs),
        # the disruption re-matching avoids
        surviving_pairs_other_mentor=other,
        surviving_pairs_unpaired=unpaired,
        surviving_pairs_changed=other + unpaired,
    )
    scratch = sc.medians["from_scratch"]
    default = sc.medians.get("rematch_default")
    benchmark.extra_info["ratio_scratch_over_rematch"] = _ratio(scratch, default)
    if "rematch_default" in sc.infos:
        info = sc.infos["rematch_default"]
        info["ratio_scratch_over_rematch"] = _ratio(scratch, default)
        without = info["phase_s"]["rematch_without_price_of_stability"]
        info["ratio_scratch_over_rematch_without_price_of_stability"] = _ratio(scratch, without)
        info["from_scratch_surviving_pairs_changed"] = other + unpaired
    assert int(m["n_pairs"]) > 0


@TIER_PARAMS
def test_rematch_allow_moves(benchmark: Any, scenario: Scenario, price_timer: list[float]) -> None:
    """For comparison: moves allowed, each pair earning 1 km for staying."""
    sc = scenario
    benchmark.group = f"{sc.tier}: re-match after 1% churn"
    plan = benchmark.pedantic(
        rematch,
        args=(sc.after, sc.config),
        kwargs={
            "date": RUN_DATE,
            "policy": RematchPolicy(allow_moves=True, switching_cost_km=MOVES_SWITCHING_COST_KM),
        },
        rounds=ROUNDS["rematch_allow_moves"][sc.tier],
        iterations=1,
    )
    info = _plan_metrics(plan)
    other, unpaired = _changed_surviving(sc, plan.state.pairs)
    price = float(np.median(price_timer)) if price_timer else None
    _record(
        benchmark,
        sc,
        "rematch_allow_moves",
        **info,
        surviving_pairs_other_mentor=other,
        surviving_pairs_unpaired=unpaired,
        surviving_pairs_changed=other + unpaired,
        phase_s={
            "rematch_price_of_stability_step": None if price is None else round(price, 3),
        },
    )
    moves = sc.medians["rematch_allow_moves"]
    benchmark.extra_info["ratio_over_rematch_default"] = _ratio(
        moves, sc.medians.get("rematch_default")
    )
    benchmark.extra_info["ratio_scratch_over_this"] = _ratio(sc.medians.get("from_scratch"), moves)
    assert info["moved_pairs"] == other
