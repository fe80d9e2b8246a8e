"""Re-matching with minimal disruption.

A pairing is a relationship: moving a child to another mentor because a
slightly better one appeared does harm.  :func:`rematch` therefore pairs the
children who need a mentor **around** the existing pairs:

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
from matching.config import MAX_WEIGHT_KM, MatchConfig, validate_config
from matching.errors import InputError
from matching.geo.distance import great_circle_km, pairs_within
from matching.match import MatchResult, match
from matching.programme.state import LIFECYCLE_COLUMNS, State, settle
from matching.rosters import assume_valid, needs_mask

__all__ = ["MAX_SWITCHING_COST_KM", "RematchPlan", "check_options", "rematch"]

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
        Children still without a mentor: ``child_id``, ``reason``, ``detail``.
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
    allow_moves: bool = False,
    switching_cost_km: float = 5.0,
    max_moves: int | None = None,
    price_of_stability: bool = True,
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
    allow_moves : bool, default False
        Let unpinned pairs move when a move gains more than
        ``switching_cost_km``.
    switching_cost_km : float, default 5.0
        Bonus (km-eq) each existing pair earns for staying.
    max_moves : int, optional
        Cap on moved pairs in this run (with ``allow_moves``).
    price_of_stability : bool, default True
        Also solve the same children and mentors from scratch to report the
        price of stability.  That is a full match, usually far slower than
        the re-match itself; without it the three figures are None.

    Returns
    -------
    RematchPlan
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    check_options(switching_cost_km=switching_cost_km, max_moves=max_moves)
    state, trimmed = _fit_capacity(state)
    mentors_all = state.mentors
    pairs = state.pairs
    enrolled = state.enrolled_children()
    eligible = enrolled[enrolled["exit_state"] != "approved"].copy()
    active = mentors_all[mentors_all["status"] == "active"].copy()
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
    fixed_children = set(fixed["child_id"])
    to_match = eligible[~eligible["id"].isin(fixed_children)]
    kids_in = _roster_cols(to_match, _CHILD_EXTRA)
    mentors_in = _roster_cols(active, _MENTOR_EXTRA)
    forb = tuple(
        (c, m)
        for c, m in tuple(state.forbidden) + tuple(cfg.forbidden_pairs)
        if c in set(kids_in["id"]) and m in set(mentors_in["id"])
    )
    run_cfg = replace(cfg, forbidden_pairs=tuple(sorted(set(forb))))
    keep_pairs = [
        (c, m)
        for c, m in zip(movable["child_id"], movable["mentor_id"], strict=True)
        if m in set(mentors_in["id"])
    ]
    cost_used = float(switching_cost_km)
    result = _solve(kids_in, mentors_in, run_cfg, keep_pairs, cost_used)
    if allow_moves and max_moves is not None:
        for _ in range(_MAX_DOUBLINGS):
            if _count_moves(result, movable) <= max_moves:
                break
            cost_used = max(cost_used * 2.0, 1.0)
            result = _solve(kids_in, mentors_in, run_cfg, keep_pairs, cost_used)
    plan = _plan(
        state, result, fixed, movable, eligible, date, cfg, cost_used, queue, price_of_stability
    )
    plan = replace(plan, waiting=_taken(plan.waiting, kids_in, mentors_all, active, cfg))
    if len(trimmed):
        ended = pd.concat([trimmed, plan.ended], ignore_index=True)
        metrics = {**plan.metrics, "ended_pairs": len(ended), "capacity_trimmed": len(trimmed)}
        plan = replace(plan, ended=ended, metrics=metrics)
    return plan


MAX_SWITCHING_COST_KM = MAX_WEIGHT_KM
"""The largest ``switching_cost_km``: the bound of the other km-eq weights of
:class:`~matching.config.MatchConfig`, so that costs stay within the integer scaling."""


def check_options(*, switching_cost_km: object, max_moves: object) -> None:
    """Raise :class:`~matching.errors.InputError` for an unacceptable re-matching option."""
    ok = isinstance(switching_cost_km, int | float) and not isinstance(switching_cost_km, bool)
    if not (ok and 0 <= float(switching_cost_km) <= MAX_SWITCHING_COST_KM):  # type: ignore[arg-type]
        raise InputError(
            "The 'switching_cost_km' parameter of rematch must be a number from 0 to "
            f"{MAX_SWITCHING_COST_KM:g}, got a {type(switching_cost_km).__name__} outside "
            "that range instead."
        )
    if max_moves is not None and (
        not isinstance(max_moves, int) or isinstance(max_moves, bool) or max_moves < 0
    ):
        raise InputError(
            f"The 'max_moves' parameter of rematch must be None or an int >= 0, got {max_moves!r}."
        )


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
    return out


def _solve(
    kids: pd.DataFrame,
    mentors: pd.DataFrame,
    cfg: MatchConfig,
    keep_pairs: list[tuple[str, str]],
    bonus: float,
) -> MatchResult:
    keep = {p: bonus for p in keep_pairs} if keep_pairs else None
    return match(assume_valid(kids, "children"), assume_valid(mentors, "mentors"), cfg, keep=keep)


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
    old = dict(zip(movable["child_id"], movable["mentor_id"], strict=True))
    chosen = result.pairs
    new_rows, ended_rows, moved_rows = [], [], []
    kept_rows = []
    for c, m, d, cost in zip(
        chosen["child_id"],
        chosen["mentor_id"],
        chosen["distance_km"],
        chosen["cost_km"],
        strict=True,
    ):
        if old.get(c) == m:
            kept_rows.append((c, m))
            continue
        reason = "moved" if c in old else ("first_in_line" if c in queue else "matched")
        new_rows.append((c, m, float(d), float(cost), reason))
    old_cost = _pair_costs_km(state.children, state.mentors, movable, cfg)
    new_cost = dict(zip(chosen["child_id"], chosen["cost_km"], strict=True))
    new_mentor = dict(zip(chosen["child_id"], chosen["mentor_id"], strict=True))
    for c, m in old.items():
        if new_mentor.get(c) == m:
            continue
        ended_rows.append((c, m, "re-matched"))
        if c in new_mentor:
            moved_rows.append((c, m, new_mentor[c], float(old_cost[c] - new_cost[c])))
    # (started_on, start_reason) of each existing pair
    origin = {
        (c, m): (on, why)
        for c, m, on, why in zip(
            state.pairs["child_id"],
            state.pairs["mentor_id"],
            state.pairs["started_on"],
            state.pairs["start_reason"],
            strict=True,
        )
    }
    rows = [
        (c, m, s, r, bool(p))
        for c, m, s, r, p in zip(
            fixed["child_id"],
            fixed["mentor_id"],
            fixed["started_on"],
            fixed["start_reason"],
            fixed["pinned"],
            strict=True,
        )
    ]
    rows += [(c, m, *origin[(c, m)], False) for c, m in kept_rows]
    rows += [(c, m, date, r, False) for c, m, _, _, r in new_rows]
    new_pairs_state = pd.DataFrame(
        rows, columns=["child_id", "mentor_id", "started_on", "start_reason", "pinned"]
    ).astype(
        {
            "child_id": object,
            "mentor_id": object,
            "started_on": object,
            "start_reason": object,
            "pinned": bool,
        }
    )
    new_pairs_state = new_pairs_state.sort_values("child_id", kind="stable").reset_index(drop=True)
    paired_now = set(new_pairs_state["child_id"])
    new_queue = tuple(c for c in state.first_in_line if c not in paired_now)
    new_state = settle(state.with_(pairs=new_pairs_state, first_in_line=new_queue))

    waiting = result.unmatched[["child_id", "reason", "detail"]].copy()
    enrolled = state.enrolled_children()
    approved = enrolled[enrolled["exit_state"] == "approved"]
    approved = approved[~approved["id"].isin(paired_now)]
    if len(approved):
        extra = pd.DataFrame(
            {
                "child_id": approved["id"].to_numpy(dtype=object),
                "reason": "exit_approved",
                "detail": "exit approved; not matched again",
            }
        )
        waiting = pd.concat([waiting, extra], ignore_index=True)
    waiting = waiting.sort_values("child_id", kind="stable").reset_index(drop=True)

    plan_total, scratch_total = (
        _price_of_stability(new_state, eligible, cfg) if price_of_stability else (nan, nan)
    )
    metrics = {
        "date": date,
        "children": len(enrolled),
        "mentors_active": int((state.mentors["status"] == "active").sum()),
        "pairs_before": len(state.pairs),
        "pairs_after": len(new_pairs_state),
        "new_pairs": len(new_rows),
        "ended_pairs": len(ended_rows),
        "moved_pairs": len(moved_rows),
        "waiting": len(waiting),
        "switching_cost_km": cost_used,
        "plan_objective_km": round(plan_total, 6) if price_of_stability else None,
        "scratch_objective_km": round(scratch_total, 6) if price_of_stability else None,
        "price_of_stability_km": round(plan_total - scratch_total, 6)
        if price_of_stability
        else None,
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
        metrics=metrics,
    )


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
    forb = tuple(
        (c, m)
        for c, m in tuple(new_state.forbidden) + tuple(cfg.forbidden_pairs)
        if c in set(kids["id"]) and m in set(mentors["id"])
    )
    scratch = match(
        assume_valid(_roster_cols(kids, _CHILD_EXTRA), "children"),
        assume_valid(_roster_cols(mentors, _MENTOR_EXTRA), "mentors"),
        replace(cfg, forbidden_pairs=tuple(sorted(set(forb)))),
    )
    return plan, fixed_cost + float(scratch.metrics["objective_km"])
