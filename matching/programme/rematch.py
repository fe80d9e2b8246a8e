"""Re-matching with minimal disruption.

A pairing is a relationship: moving a child to another mentor because a
slightly better one appeared does harm.  :func:`rematch` therefore pairs the
children who need a mentor **around** the existing pairs, as its
:class:`~matching.config.RematchPolicy` says:

- By default (``allow_moves=False``) no existing pair moves.  The children
  without a mentor are matched optimally (:func:`matching.match`) against the
  capacity the active mentors have left.  Children whose pair ended through
  no choice of theirs (their mentor left, or the pair was forbidden) are
  *first in line*: they count as priority children above every other
  priority level.
- With ``allow_moves=True`` every unpinned pair may move, but stability is
  part of the objective: each existing pair earns a bonus of
  ``switching_cost_km`` for staying, so a pair moves only when the move
  lowers the total cost by more than that.  A move changes a child's mentor;
  it never leaves a paired child without one.  ``max_moves`` caps the moves of
  one run: the switching cost is doubled until the optimum moves no more
  than that many pairs (the cost used is reported).
- Pinned pairs never move, whatever the options.  Paused mentors keep their
  pairs and take no new child; children whose exit is approved are not
  matched again.

The plan reports new pairs, ended pairs with reasons, moved pairs with the
gain that justified each move, the children still waiting and why, and the
"price of stability": the total cost of the plan against a from-scratch
optimum over the same children and mentors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import nan
from typing import Any

import numpy as np
import pandas as pd

from matching._engine.costs import InterestCodes, pair_costs, unmatched_price
from matching.config import (
    MAX_WEIGHT_KM,
    MatchConfig,
    RematchPolicy,
    validate_config,
    validate_policy,
)
from matching.errors import InputError
from matching.geo.distance import great_circle_km, pairs_within
from matching.match import MatchResult, match
from matching.programme.state import LIFECYCLE_COLUMNS, PAIR_COLUMNS, State, settle
from matching.rosters import assume_valid, needs_mask

__all__ = ["MAX_SWITCHING_COST_KM", "RematchPlan", "rematch"]

_MAX_DOUBLINGS = 20
_CHILD_EXTRA = ("exit_state", "exit_approved_by", *LIFECYCLE_COLUMNS)
_MENTOR_EXTRA = LIFECYCLE_COLUMNS


@dataclass(frozen=True)
class RematchPlan:
    """What :func:`rematch` proposes; nothing is stored until it is committed.

    Attributes
    ----------
    state : State
        The state after the plan (pairs updated, queue cleared of the
        children it pairs).
    new_pairs : DataFrame
        ``child_id``, ``mentor_id``, ``distance_km``, ``cost_km``, ``reason``
        (``"matched"``, ``"first_in_line"`` or ``"moved"``).
    ended : DataFrame
        ``child_id``, ``mentor_id``, ``reason`` (``"re-matched"`` for a move).
    moved : DataFrame
        ``child_id``, ``from_mentor_id``, ``to_mentor_id``, ``gain_km``: the
        cost the move saves for that child (the system-wide gain can differ
        when one move makes room for another).
    waiting : DataFrame
        Children still without a mentor: ``child_id``, ``reason``, ``detail``,
        ``mentors_in_reach`` and ``mentors_allowed`` (the mentors counted for
        the reason; blank for an approved exit).
    metrics : dict
        Counts, the objective of the plan and of a from-scratch optimum,
        ``price_of_stability_km`` (their difference) and the switching cost
        used.
    """

    state: State
    new_pairs: pd.DataFrame
    ended: pd.DataFrame
    moved: pd.DataFrame
    waiting: pd.DataFrame
    metrics: dict[str, Any]


def _roster_cols(df: pd.DataFrame, extra: tuple[str, ...]) -> pd.DataFrame:
    return df.drop(columns=[c for c in extra if c in df.columns])


def rematch(
    state: State,
    config: MatchConfig | None = None,
    *,
    date: str,
    policy: RematchPolicy | None = None,
) -> RematchPlan:
    """Pair every child who needs a mentor, keeping existing pairs.

    Parameters
    ----------
    state : State
        The programme now (see :mod:`matching.programme.state`).
    config : MatchConfig, optional
        Weights and rules, as for :func:`matching.match`.
    date : str
        ISO date of the run; new pairs start on it.
    policy : RematchPolicy, optional
        Whether pairs may move, the switching cost, the cap on moves and
        whether to report the price of stability
        (:class:`~matching.config.RematchPolicy`; its defaults: no pair
        moves, and the price of stability is reported).  Without the price
        of stability the three objective figures are None.

    Returns
    -------
    RematchPlan
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    rules = validate_policy(policy)
    state, trimmed = _fit_capacity(state)
    side = _sides(state, cfg, rules.allow_moves)
    cost_used = float(rules.switching_cost_km)
    result = _solve(side, cost_used)
    if rules.allow_moves and rules.max_moves is not None:
        for _ in range(_MAX_DOUBLINGS):
            if _count_moves(result, side.movable) <= rules.max_moves:
                break
            cost_used = max(cost_used * 2.0, 1.0)
            result = _solve(side, cost_used)
    plan = _plan(
        state, result, side.fixed, side.movable, side.eligible, date, cfg, cost_used,
        side.queue, rules.price_of_stability,
    )  # fmt: skip
    waiting = _taken(plan.waiting, side.kids, state.mentors, side.mentors, cfg)
    plan = replace(plan, waiting=waiting)
    if len(trimmed):
        ended = pd.concat([trimmed, plan.ended], ignore_index=True)
        metrics = {**plan.metrics, "ended_pairs": len(ended), "capacity_trimmed": len(trimmed)}
        plan = replace(plan, ended=ended, metrics=metrics)
    return plan


@dataclass(frozen=True)
class _Sides:
    """The two sides of one re-match and the pairs around them.

    ``eligible``: enrolled children not on their way out, with the priority
    boosts; ``fixed``: pairs that stay whatever happens; ``movable``: pairs
    that may move; ``kids`` / ``mentors``: the rosters handed to
    :func:`matching.match` (mentors with their capacity left); ``config``:
    the configuration with the forbidden pairs among them; ``keep``: the
    movable pairs it can keep.
    """

    eligible: pd.DataFrame
    fixed: pd.DataFrame
    movable: pd.DataFrame
    queue: set[str]
    kids: pd.DataFrame
    mentors: pd.DataFrame
    config: MatchConfig
    keep: list[tuple[str, str]]


def _sides(state: State, cfg: MatchConfig, allow_moves: bool) -> _Sides:
    """Who is matched against whom: children ranked, mentors' capacity left, pairs kept."""
    pairs = state.pairs
    enrolled = state.enrolled_children()
    eligible = enrolled[enrolled["exit_state"] != "approved"].copy()
    active = state.mentors[state.mentors["status"] == "active"].copy()
    queue = set(state.first_in_line)
    top = int(eligible["priority"].max()) if len(eligible) else 0
    boost = eligible["id"].isin(queue)
    eligible.loc[boost, "priority"] = eligible.loc[boost, "priority"] + top + 1

    pinned = pairs[pairs["pinned"].astype(bool)]
    movable = pairs[~pairs["pinned"].astype(bool)] if allow_moves else pairs.iloc[0:0]
    fixed = pairs if not allow_moves else pinned
    # A move changes a child's mentor; it never leaves a paired child without
    # one: paired children rank above everyone else, so the optimum never
    # drops one of them to pair another child instead.
    holding = eligible["id"].isin(set(movable["child_id"]))
    eligible.loc[holding, "priority"] = eligible.loc[holding, "priority"] + 2 * (top + 1)
    # capacity left after the pairs that stay whatever happens
    fixed_load = fixed["mentor_id"].value_counts()
    caps = (
        active.set_index("id")["capacity"] - fixed_load.reindex(active["id"]).fillna(0).to_numpy()
    )
    active = active.assign(capacity=caps.to_numpy().astype(np.int64))
    active = active[active["capacity"] > 0]
    to_match = eligible[~eligible["id"].isin(set(fixed["child_id"]))]
    kids_in = _roster_cols(to_match, _CHILD_EXTRA)
    mentors_in = _roster_cols(active, _MENTOR_EXTRA)
    keep_pairs = [
        (c, m)
        for c, m in zip(movable["child_id"], movable["mentor_id"], strict=True)
        if m in set(mentors_in["id"])
    ]
    run_cfg = _among(cfg, state.forbidden, kids_in, mentors_in)
    return _Sides(eligible, fixed, movable, queue, kids_in, mentors_in, run_cfg, keep_pairs)


def _among(
    cfg: MatchConfig, forbidden: Any, kids: pd.DataFrame, mentors: pd.DataFrame
) -> MatchConfig:
    """``cfg`` whose forbidden pairs are the state's and its own among ``kids`` and ``mentors``."""
    forb = tuple(
        (c, m)
        for c, m in tuple(forbidden) + tuple(cfg.forbidden_pairs)
        if c in set(kids["id"]) and m in set(mentors["id"])
    )
    return replace(cfg, forbidden_pairs=tuple(sorted(set(forb))))


MAX_SWITCHING_COST_KM = MAX_WEIGHT_KM
"""The largest ``switching_cost_km`` of a :class:`~matching.config.RematchPolicy`: the bound of
the other km-eq weights of :class:`~matching.config.MatchConfig`, so that costs stay within the
integer scaling."""


def _fit_capacity(state: State) -> tuple[State, pd.DataFrame]:
    """End the newest unpinned pairs of mentors whose capacity fell below their load.

    Their children go first in line.  Raises InputError when a mentor's
    pinned pairs alone exceed the capacity (a staff decision to resolve).
    """
    pairs = state.pairs
    cap = state.mentors.set_index("id")["capacity"]
    load = pairs["mentor_id"].value_counts()
    over = load - cap.reindex(load.index).fillna(0).astype(np.int64)
    over = over[over > 0]
    empty = pd.DataFrame({"child_id": [], "mentor_id": [], "reason": []}, dtype=object)
    if over.empty:
        return state, empty
    drop: list[int] = []
    for mentor, excess in sorted(over.items()):
        mine = pairs[pairs["mentor_id"] == mentor]
        free = mine[~mine["pinned"].astype(bool)]
        if len(free) < excess:
            raise InputError(
                f"mentor {mentor!r} has {int((mine['pinned']).sum())} pinned pair(s) but capacity "
                f"{int(cap.get(mentor, 0))}; unpin or end a pair first"
            )
        newest = free.sort_values(["started_on", "child_id"], ascending=False, kind="stable")
        drop.extend(newest.index[: int(excess)].tolist())
    gone = pairs.loc[drop]
    trimmed = (
        pd.DataFrame(
            {
                "child_id": gone["child_id"].to_numpy(dtype=object),
                "mentor_id": gone["mentor_id"].to_numpy(dtype=object),
                "reason": "capacity_reduced",
            }
        )
        .sort_values("child_id", kind="stable")
        .reset_index(drop=True)
    )
    queue = tuple(state.first_in_line) + tuple(
        c for c in trimmed["child_id"] if c not in set(state.first_in_line)
    )
    kept = pairs.drop(index=drop).reset_index(drop=True)
    return state.with_(pairs=kept, first_in_line=queue), trimmed


def _taken(
    waiting: pd.DataFrame,
    kids: pd.DataFrame,
    mentors_all: pd.DataFrame,
    available: pd.DataFrame,
    cfg: MatchConfig,
) -> pd.DataFrame:
    """Waiting children with no mentor in reach among those with room, but active mentors
    in reach who are full: their reason is ``mentors_taken``, not ``no_mentor_in_reach``.

    Re-matching hands :func:`match` only the mentors with capacity left, so it
    cannot see the full ones; this looks for them, within each mentor's limit.
    """
    lost = waiting["reason"] == "no_mentor_in_reach"
    full = mentors_all[
        (mentors_all["status"] == "active") & ~mentors_all["id"].isin(set(available["id"]))
    ]
    if not lost.any() or len(full) == 0:
        return waiting
    who = kids.set_index("id").loc[waiting.loc[lost, "child_id"]]
    limits = full["max_distance_km"].fillna(cfg.max_distance_km).to_numpy(np.float64)
    ci, mj, km = pairs_within(
        who["lat"].to_numpy(np.float64),
        who["lon"].to_numpy(np.float64),
        full["lat"].to_numpy(np.float64),
        full["lon"].to_numpy(np.float64),
        float(limits.max()),
    )
    within = km <= limits[mj]
    counts = np.bincount(ci[within], minlength=len(who))
    out = waiting.copy()
    rows = np.flatnonzero(lost.to_numpy())
    for row, n in zip(rows, counts, strict=True):
        if n > 0:
            out.iloc[row, out.columns.get_loc("reason")] = "mentors_taken"
            out.iloc[row, out.columns.get_loc("detail")] = (
                f"all {int(n)} active mentor(s) within reach are paired to capacity"
            )
            for col in ("mentors_in_reach", "mentors_allowed"):
                out.iloc[row, out.columns.get_loc(col)] = int(n)
    return out


def _solve(side: _Sides, bonus: float) -> MatchResult:
    """Match the two sides; each movable pair it can keep earns ``bonus`` for staying."""
    keep = {p: bonus for p in side.keep} if side.keep else None
    return match(
        assume_valid(side.kids, "children"),
        assume_valid(side.mentors, "mentors"),
        side.config,
        keep=keep,
    )


def _count_moves(result: MatchResult, movable: pd.DataFrame) -> int:
    old = dict(zip(movable["child_id"], movable["mentor_id"], strict=True))
    new = dict(zip(result.pairs["child_id"], result.pairs["mentor_id"], strict=True))
    return sum(1 for c, m in old.items() if new.get(c) != m)


def _pair_costs_km(
    kids: pd.DataFrame, mentors: pd.DataFrame, pairs: pd.DataFrame, cfg: MatchConfig
) -> pd.Series:
    """Cost (km-eq) of given pairs under the cost model, indexed by child id."""
    if len(pairs) == 0:
        return pd.Series([], dtype=np.float64)
    kpos = pd.Index(kids["id"]).get_indexer(pairs["child_id"])
    mpos = pd.Index(mentors["id"]).get_indexer(pairs["mentor_id"])
    km = great_circle_km(
        kids["lat"].to_numpy(np.float64)[kpos],
        kids["lon"].to_numpy(np.float64)[kpos],
        mentors["lat"].to_numpy(np.float64)[mpos],
        mentors["lon"].to_numpy(np.float64)[mpos],
    )
    codes = InterestCodes(list(kids["interests"]), list(mentors["interests"]))
    terms = pair_costs(
        kpos.astype(np.int64),
        mpos.astype(np.int64),
        km,
        needs_mask(kids["needs"]),
        needs_mask(mentors["skills"]),
        codes,
        cfg,
    )
    return pd.Series(terms.total_km, index=pairs["child_id"].to_numpy(), dtype=np.float64)


def _plan(
    state: State,
    result: MatchResult,
    fixed: pd.DataFrame,
    movable: pd.DataFrame,
    eligible: pd.DataFrame,
    date: str,
    cfg: MatchConfig,
    cost_used: float,
    queue: set[str],
    price_of_stability: bool,
) -> RematchPlan:
    """The plan of one solve: new, ended and moved pairs, the state after, who waits and why."""
    old = dict(zip(movable["child_id"], movable["mentor_id"], strict=True))
    chosen = result.pairs
    kept_rows, new_rows = _new_pairs(chosen, old, queue)
    ended_rows, moved_rows = _ended_and_moved(state, chosen, movable, old, cfg)
    pairs = _pairs_after(state, fixed, kept_rows, new_rows, date)
    paired_now = set(pairs["child_id"])
    new_queue = tuple(c for c in state.first_in_line if c not in paired_now)
    new_state = settle(state.with_(pairs=pairs, first_in_line=new_queue))
    waiting = _waiting(state, result, paired_now)
    changes = {
        "new_pairs": len(new_rows),
        "ended_pairs": len(ended_rows),
        "moved_pairs": len(moved_rows),
        "waiting": len(waiting),
    }
    return RematchPlan(
        state=new_state,
        new_pairs=pd.DataFrame(
            new_rows, columns=["child_id", "mentor_id", "distance_km", "cost_km", "reason"]
        ),
        ended=pd.DataFrame(ended_rows, columns=["child_id", "mentor_id", "reason"]),
        moved=pd.DataFrame(
            moved_rows, columns=["child_id", "from_mentor_id", "to_mentor_id", "gain_km"]
        ),
        waiting=waiting,
        metrics=_metrics(state, new_state, eligible, date, cfg, cost_used, price_of_stability,
                         changes),
    )  # fmt: skip


def _new_pairs(
    chosen: pd.DataFrame, old: dict[str, str], queue: set[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str, float, float, str]]]:
    """(kept, new) pairs of the solve; a new pair's reason: moved, first_in_line or matched."""
    kept_rows: list[tuple[str, str]] = []
    new_rows: list[tuple[str, str, float, float, str]] = []
    for c, m, d, cost in zip(
        chosen["child_id"], chosen["mentor_id"], chosen["distance_km"], chosen["cost_km"],
        strict=True,
    ):  # fmt: skip
        if old.get(c) == m:
            kept_rows.append((c, m))
            continue
        reason = "moved" if c in old else ("first_in_line" if c in queue else "matched")
        new_rows.append((c, m, float(d), float(cost), reason))
    return kept_rows, new_rows


def _ended_and_moved(
    state: State,
    chosen: pd.DataFrame,
    movable: pd.DataFrame,
    old: dict[str, str],
    cfg: MatchConfig,
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str, float]]]:
    """(ended, moved): movable pairs the solve did not keep, and those of them whose child has
    another mentor now, with the cost the move saves for that child."""
    old_cost = _pair_costs_km(state.children, state.mentors, movable, cfg)
    new_cost = dict(zip(chosen["child_id"], chosen["cost_km"], strict=True))
    new_mentor = dict(zip(chosen["child_id"], chosen["mentor_id"], strict=True))
    ended_rows, moved_rows = [], []
    for c, m in old.items():
        if new_mentor.get(c) == m:
            continue
        ended_rows.append((c, m, "re-matched"))
        if c in new_mentor:
            moved_rows.append((c, m, new_mentor[c], float(old_cost[c] - new_cost[c])))
    return ended_rows, moved_rows


def _pairs_after(
    state: State,
    fixed: pd.DataFrame,
    kept_rows: list[tuple[str, str]],
    new_rows: list[tuple[str, str, float, float, str]],
    date: str,
) -> pd.DataFrame:
    """The pairs of the state after the plan, sorted by child: fixed and kept pairs keep their
    start; new ones start on ``date``, unpinned."""
    origin = {
        (c, m): (on, why)
        for c, m, on, why in zip(
            state.pairs["child_id"], state.pairs["mentor_id"], state.pairs["started_on"],
            state.pairs["start_reason"], strict=True,
        )
    }  # fmt: skip
    rows = [
        (c, m, s, r, bool(p))
        for c, m, s, r, p in zip(
            fixed["child_id"], fixed["mentor_id"], fixed["started_on"], fixed["start_reason"],
            fixed["pinned"], strict=True,
        )
    ]  # fmt: skip
    rows += [(c, m, *origin[(c, m)], False) for c, m in kept_rows]
    rows += [(c, m, date, r, False) for c, m, _, _, r in new_rows]
    frame = pd.DataFrame(rows, columns=list(PAIR_COLUMNS)).astype(
        {name: bool if name == "pinned" else object for name in PAIR_COLUMNS}
    )
    return frame.sort_values("child_id", kind="stable").reset_index(drop=True)


def _waiting(state: State, result: MatchResult, paired_now: set[str]) -> pd.DataFrame:
    """Children without a mentor after the plan, by id: the solve's, and approved exits."""
    counted = ["mentors_in_reach", "mentors_allowed"]
    waiting = result.unmatched[["child_id", "reason", "detail", *counted]].copy()
    waiting = waiting.astype({c: "Int64" for c in counted})
    enrolled = state.enrolled_children()
    approved = enrolled[enrolled["exit_state"] == "approved"]
    approved = approved[~approved["id"].isin(paired_now)]
    if len(approved):
        extra = pd.DataFrame(
            {
                "child_id": approved["id"].to_numpy(dtype=object),
                "reason": "exit_approved",
                "detail": "exit approved; not matched again",
                **{c: pd.Series(pd.NA, index=range(len(approved)), dtype="Int64") for c in counted},
            }
        )
        waiting = pd.concat([waiting, extra], ignore_index=True)
    return waiting.sort_values("child_id", kind="stable").reset_index(drop=True)


def _metrics(
    state: State,
    new_state: State,
    eligible: pd.DataFrame,
    date: str,
    cfg: MatchConfig,
    cost_used: float,
    price_of_stability: bool,
    changes: dict[str, int],
) -> dict[str, Any]:
    """The plan's metrics: counts, the switching cost used and the price of stability."""
    plan_total, scratch_total = (
        _price_of_stability(new_state, eligible, cfg) if price_of_stability else (nan, nan)
    )
    return {
        "date": date,
        "children": len(state.enrolled_children()),
        "mentors_active": int((state.mentors["status"] == "active").sum()),
        "pairs_before": len(state.pairs),
        "pairs_after": len(new_state.pairs),
        **changes,
        "switching_cost_km": cost_used,
        "plan_objective_km": round(plan_total, 6) if price_of_stability else None,
        "scratch_objective_km": round(scratch_total, 6) if price_of_stability else None,
        "price_of_stability_km": round(plan_total - scratch_total, 6)
        if price_of_stability
        else None,
    }


def _price_of_stability(
    new_state: State, eligible: pd.DataFrame, cfg: MatchConfig
) -> tuple[float, float]:
    """Objective of the plan and of a from-scratch optimum (same children, same mentors).

    Both count pair costs plus the unmatched price of each eligible child
    left out; pinned pairs are fixed in both.
    """
    pairs = new_state.pairs
    costs = _pair_costs_km(new_state.children, new_state.mentors, pairs, cfg)
    paired = set(pairs["child_id"])
    left = eligible[~eligible["id"].isin(paired)]
    plan = float(costs.sum()) + float(unmatched_price(left["priority"].to_numpy(), cfg).sum())
    mentors = new_state.mentors[new_state.mentors["status"] == "active"]
    pinned = pairs[pairs["pinned"].astype(bool)]
    load = pinned["mentor_id"].value_counts().reindex(mentors["id"]).fillna(0).to_numpy()
    mentors = mentors.assign(capacity=(mentors["capacity"].to_numpy() - load).astype(np.int64))
    # paused mentors keep their pairs in the plan; from scratch they may keep them too
    paused_pairs = pairs[
        pairs["mentor_id"].isin(
            new_state.mentors.loc[new_state.mentors["status"] != "active", "id"]
        )
    ]
    fixed = pd.concat([pinned, paused_pairs]).drop_duplicates(["child_id"])
    fixed_cost = float(costs.reindex(fixed["child_id"].to_numpy()).sum()) if len(fixed) else 0.0
    mentors = mentors[mentors["capacity"] > 0]
    kids = eligible[~eligible["id"].isin(set(fixed["child_id"]))]
    scratch = match(
        assume_valid(_roster_cols(kids, _CHILD_EXTRA), "children"),
        assume_valid(_roster_cols(mentors, _MENTOR_EXTRA), "mentors"),
        _among(cfg, new_state.forbidden, kids, mentors),
    )
    return plan, fixed_cost + float(scratch.metrics["objective_km"])
