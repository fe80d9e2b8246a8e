"""Tests of matching.programme.store: the durable SQLite state store."""

from __future__ import annotations

import doctest
import functools
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import child_rows, mentor_rows

import matching
import matching.programme.store as store_module
import matching.programme.store.codec as codec_module
import matching.programme.store.commit as commit_module
from matching.datasets.synth import district
from matching.errors import MatchingError, StoreError, StoreLockedError
from matching.programme.state import (
    CHILD_STATE_COLUMNS,
    MENTOR_STATE_COLUMNS,
    State,
    empty_state,
    settle,
)
from matching.programme.store import (
    HISTORY_COLUMNS,
    MIGRATIONS,
    RunInfo,
    StateStore,
)
from matching.rosters import validate_children, validate_mentors

TESTS_DIR = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------------------------
# helpers


@functools.cache
def _rosters() -> tuple[pd.DataFrame, pd.DataFrame]:
    children, mentors = district(60, 50, seed=1)
    kids = child_rows(validate_children(children))
    ments = mentor_rows(validate_mentors(mentors))
    kids = kids[list(CHILD_STATE_COLUMNS)].sort_values("id").reset_index(drop=True)
    ments = ments[list(MENTOR_STATE_COLUMNS)].sort_values("id").reset_index(drop=True)
    return kids, ments


def rosters() -> tuple[pd.DataFrame, pd.DataFrame]:
    kids, ments = _rosters()
    return kids.copy(), ments.copy()


def pairs_frame(rows: list[tuple[str, str, str, str, bool]]) -> pd.DataFrame:
    rows = sorted(rows)
    return pd.DataFrame(
        {
            "child_id": pd.Series([r[0] for r in rows], dtype=object),
            "mentor_id": pd.Series([r[1] for r in rows], dtype=object),
            "started_on": pd.Series([r[2] for r in rows], dtype=object),
            "start_reason": pd.Series([r[3] for r in rows], dtype=object),
            "pinned": pd.Series([r[4] for r in rows], dtype=bool),
        }
    )


def make_state(
    kids: pd.DataFrame,
    ments: pd.DataFrame,
    pairs: Sequence[tuple[str, str, str, str, bool]] = (),
    forbidden: tuple[tuple[str, str], ...] = (),
    queue: tuple[str, ...] = (),
) -> State:
    return settle(
        State(
            children=kids,
            mentors=ments,
            pairs=pairs_frame(list(pairs)),
            forbidden=tuple(sorted(forbidden)),
            first_in_line=queue,
        )
    )


def assert_state_equal(got: State, want: State) -> None:
    pd.testing.assert_frame_equal(got.children, want.children)
    pd.testing.assert_frame_equal(got.mentors, want.mentors)
    want_pairs = want.pairs.sort_values("child_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got.pairs, want_pairs)
    assert got.forbidden == want.forbidden
    assert got.first_in_line == want.first_in_line


def run(date: str = "2026-11-24", **kw: object) -> RunInfo:
    return RunInfo(run_date=date, **kw)  # type: ignore[arg-type]


def snapshot(path: Path) -> tuple[State, int, int, int, pd.DataFrame]:
    with StateStore.open(path, readonly=True) as s:
        return s.load(), len(s.history()), len(s.runs()), len(s.events()), s.history()


def assert_unchanged(path: Path, before: tuple[State, int, int, int, pd.DataFrame]) -> None:
    after = snapshot(path)
    assert_state_equal(after[0], before[0])
    assert after[1:4] == before[1:4]
    pd.testing.assert_frame_equal(after[4], before[4])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def seeded(db: Path) -> Path:
    """A store with rosters and three pairs (C1-M1 pinned, C2-M2, C3-M3)."""
    kids, ments = rosters()
    c, m = kids["id"].tolist(), ments["id"].tolist()
    state = make_state(
        kids,
        ments,
        [
            (c[0], m[0], "2026-11-24", "matched", True),
            (c[1], m[1], "2026-11-24", "matched", False),
            (c[2], m[2], "2026-11-24", "matched", False),
        ],
        forbidden=((c[3], m[3]),),
        queue=(c[5], c[4]),
    )
    with StateStore.open(db) as s:
        s.commit(state, run=run())
    return db


# ----------------------------------------------------------------------------------------------
# basics


def test_errors_are_matching_errors() -> None:
    assert issubclass(StoreError, MatchingError)
    assert issubclass(StoreLockedError, StoreError)


def test_the_stored_kinds_cover_the_state_columns() -> None:
    assert tuple(codec_module.CHILD_KINDS) == CHILD_STATE_COLUMNS
    assert tuple(codec_module.MENTOR_KINDS) == MENTOR_STATE_COLUMNS


def test_module_docstring_example_runs() -> None:
    result = doctest.testmod(store_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_new_store_is_empty(db: Path) -> None:
    with StateStore.open(db) as s:
        assert s.schema_version() == StateStore.SCHEMA_VERSION == 2
        assert_state_equal(s.load(), empty_state())
        assert list(s.history().columns) == list(HISTORY_COLUMNS)
        assert s.history().empty and s.runs().empty and s.events().empty
        assert "run_id" in s.runs().columns and "payload" in s.events().columns


def test_roster_round_trip(db: Path) -> None:
    kids, ments = rosters()
    kids.loc[3, "age"] = math.nan
    kids.at[4, "needs"] = ()
    kids.at[4, "interests"] = ("舞蹈", "阅读")
    kids.loc[5, "exit_state"] = "requested"
    ments.loc[2, "active"] = False
    ments.loc[2, "capacity"] = 3
    ments.loc[3, "status"] = "paused"
    assert ments["max_distance_km"].isna().any()
    state = make_state(kids, ments)
    with StateStore.open(db) as s:
        assert s.commit(state, run=run(kind="import")) == 1
        got = s.load()
    assert_state_equal(got, state)
    pd.testing.assert_frame_equal(got.children, kids)
    pd.testing.assert_frame_equal(got.mentors, ments)
    assert got.children["needs"].map(type).eq(tuple).all()
    with StateStore.open(db, readonly=True) as r:  # a fresh connection reads the same
        assert_state_equal(r.load(), state)


def test_load_sorts_by_id_and_drops_extra_columns(db: Path) -> None:
    kids, ments = rosters()
    shuffled = kids.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled["name"] = "Secret Name"
    with StateStore.open(db) as s:
        s.commit(make_state(shuffled, ments), run=run())
        got = s.load()
    pd.testing.assert_frame_equal(got.children, kids)
    raw = b"".join(f.read_bytes() for f in db.parent.iterdir() if f.name.startswith(db.name))
    assert b"Secret Name" not in raw


def test_everyone_leaving_keeps_them_with_their_dates(seeded: Path) -> None:
    with StateStore.open(seeded) as s:
        state = s.load()
        kids = state.children.assign(
            status="exited", left_on="2026-11-25", left_reason="exit_effective"
        )
        ments = state.mentors.assign(status="left", left_on="2026-11-25", left_reason="moved")
        gone = state.with_(children=kids, mentors=ments, pairs=state.pairs.iloc[0:0])
        s.commit(gone, run=run("2026-11-25"), ended={
            (c, m): ("exit_effective", "district", "2026-11-25")
            for c, m in zip(state.pairs["child_id"], state.pairs["mentor_id"], strict=True)
        })  # fmt: skip
        got = s.load()
        history = s.history()
        spells = s.enrolments()
        counts = s.runs()["counts"].iloc[-1]
    assert len(got.children) == len(state.children)  # nobody is deleted
    assert set(got.children["status"]) == {"exited"}
    assert set(got.mentors["status"]) == {"left"}
    assert set(got.children["left_on"]) == {"2026-11-25"}
    assert history["ended_on"].tolist() == ["2026-11-25"] * 3
    assert history["end_reason"].tolist() == ["exit_effective"] * 3
    assert spells["left_on"].eq("2026-11-25").all() and spells["leave_run_id"].eq(2).all()
    assert (counts["children_left"], counts["children_total"]) == (len(kids), 0)
    assert (counts["mentors_left"], counts["mentors_total"]) == (len(ments), 0)


def test_removing_a_person_is_refused(seeded: Path) -> None:
    before = snapshot(seeded)
    with StateStore.open(seeded) as s:
        state = s.load()
        kids = state.children[state.children["id"] != state.children["id"].iloc[-1]]
        with pytest.raises(StoreError, match="people are never removed"):
            s.commit(state.with_(children=kids.reset_index(drop=True)), run=run("2026-11-25"))
    assert_unchanged(seeded, before)


# ----------------------------------------------------------------------------------------------
# pairs, history, runs, events over several commits


def test_pairs_history_runs_and_events_over_commits(db: Path) -> None:
    kids, ments = rosters()
    c, m = kids["id"].tolist(), ments["id"].tolist()
    ments.loc[ments["id"] == m[9], "capacity"] = 2

    s1 = make_state(
        kids,
        ments,
        [
            (c[0], m[0], "2026-11-01", "matched", False),
            (c[1], m[1], "2026-11-01", "", False),
            (c[2], m[2], "2026-11-01", "manual", True),
        ],
    )
    # run 2: C1 re-matched to M9, C2 ends (mentor forbidden), C3 unpinned, C4+C5 start with M9/M4
    s2 = make_state(
        kids,
        ments,
        [
            (c[0], m[9], "2026-11-02", "matched", False),
            (c[2], m[2], "2026-11-01", "manual", False),
            (c[3], m[9], "2026-11-02", "matched", False),
            (c[4], m[4], "2026-11-02", "matched", True),
        ],
        forbidden=((c[1], m[1]),),
        queue=(c[1],),
    )
    # run 3: C5 leaves the programme (its pair ends), C1 goes back to M1 (a second history row)
    kids3 = kids.copy()
    kids3.loc[kids3["id"] == c[4], ["status", "left_on", "left_reason"]] = [
        "exited",
        "2026-11-03",
        "exit_effective",
    ]
    kids3.loc[0, "priority"] = 1  # an update of C1's record
    s3 = make_state(
        kids3,
        ments,
        [
            (c[0], m[0], "2026-11-03", "matched", False),
            (c[2], m[2], "2026-11-01", "manual", False),
            (c[3], m[9], "2026-11-02", "matched", False),
        ],
        forbidden=((c[1], m[1]),),
        queue=(c[1],),
    )
    with StateStore.open(db) as s:
        r1 = s.commit(
            s1,
            run=run("2026-11-01", config={"k": 8}, input_hashes={"children": "ab12"}),
            events=[{"kind": "import", "actor": "staff-7", "note": "initial load"}],
        )
        r2 = s.commit(
            s2,
            run=run("2026-11-02", metrics={"cost": np.float64(1.5), "n": np.int64(4)}),
            started={(c[4], m[4]): "priority"},
            ended={(c[1], m[1]): ("forbidden", "staff-3")},
            events=[
                {"kind": "forbid", "child_id": c[1], "mentor_id": m[1], "actor": "staff-3"},
                {"kind": "custom", "child_id": c[0], "extra": [1, 2]},
            ],
        )
        r3 = s.commit(s3, run=run("2026-11-03"), ended={(c[4], m[4]): ("child_left", "staff-9")})
        assert (r1, r2, r3) == (1, 2, 3)
        assert_state_equal(s.load(), s3)
        history = s.history()
        runs = s.runs()
        events = s.events()

    got = [tuple(None if pd.isna(v) else v for v in row) for row in history.itertuples(index=False)]
    assert got == [
        (c[0], m[0], "2026-11-01", "matched", 1, "2026-11-02", "re-matched", "", 2),
        (c[1], m[1], "2026-11-01", "matched", 1, "2026-11-02", "forbidden", "staff-3", 2),
        (c[2], m[2], "2026-11-01", "manual", 1, None, None, None, None),
        (c[0], m[9], "2026-11-02", "matched", 2, "2026-11-03", "re-matched", "", 3),
        (c[3], m[9], "2026-11-02", "matched", 2, None, None, None, None),
        (c[4], m[4], "2026-11-02", "priority", 2, "2026-11-03", "child_left", "staff-9", 3),
        (c[0], m[0], "2026-11-03", "matched", 3, None, None, None, None),
    ]
    assert history["start_run_id"].dtype == np.int64
    assert str(history["end_run_id"].dtype) == "Int64"
    # open history rows are exactly the current pairs
    open_rows = history[history["ended_on"].isna()]
    assert set(zip(open_rows["child_id"], open_rows["mentor_id"], strict=True)) == set(
        zip(s3.pairs["child_id"], s3.pairs["mentor_id"], strict=True)
    )

    assert runs["run_id"].tolist() == [1, 2, 3]
    assert runs["run_date"].tolist() == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert runs["kind"].tolist() == ["nightly"] * 3
    assert runs["library_version"].tolist() == [matching.__version__] * 3
    assert runs["config"][0] == {"k": 8}
    assert runs["input_hashes"][0] == {"children": "ab12"}
    assert runs["metrics"][1] == {"cost": 1.5, "n": 4}
    for stamp in runs["committed_at"]:
        assert pd.Timestamp(stamp).tz is not None
    counts = runs["counts"].tolist()
    assert counts[0]["pairs_started"] == 3 and counts[0]["pairs_ended"] == 0
    assert counts[0]["children_joined"] == 60 and counts[0]["mentors_joined"] == 50
    assert counts[1] == counts[1] | {
        "pairs_started": 3,
        "pairs_ended": 2,
        "pairs_current": 4,
        "pins_changed": 1,
        "children_joined": 0,
        "children_left": 0,
        "children_updated": 0,
        "events": 3,
    }
    assert counts[2] | {} == counts[2] | {
        "pairs_started": 1,
        "pairs_ended": 2,
        "children_left": 1,
        "children_updated": 1,
        "children_total": 59,
        "mentors_left": 0,
    }

    assert events[["run_id", "seq", "kind"]].values.tolist() == [
        [1, 0, "import"],
        [2, 0, "forbid"],
        [2, 1, "custom"],
        [2, 2, "pin_changed"],
    ]
    assert events["actor"].tolist() == ["staff-7", "staff-3", "", ""]
    assert events["note"][0] == "initial load"
    assert events["child_id"].tolist() == [None, c[1], c[0], c[2]]
    assert events["mentor_id"].tolist() == [None, m[1], None, m[2]]
    assert events["payload"].tolist() == [{}, {}, {"extra": [1, 2]}, {"pinned": False}]


def test_pin_change_event_not_duplicated(seeded: Path) -> None:
    with StateStore.open(seeded) as s:
        state = s.load()
        pairs = state.pairs.copy()
        pairs["pinned"] = ~pairs["pinned"]
        c0, m0 = pairs["child_id"][0], pairs["mentor_id"][0]
        s.commit(
            state.with_(pairs=pairs),
            run=run("2026-11-25"),
            events=[{"kind": "pin_changed", "child_id": c0, "mentor_id": m0, "actor": "lead"}],
        )
        events = s.events()
        assert len(s.history()) == 3  # pin changes never touch the history
    pins = events[events["kind"] == "pin_changed"]
    assert len(pins) == 3
    assert pins["actor"].tolist() == ["lead", "", ""]


def test_same_pair_can_start_again_after_it_ended(seeded: Path) -> None:
    with StateStore.open(seeded) as s:
        state = s.load()
        s.commit(state.with_(pairs=state.pairs.iloc[1:].reset_index(drop=True)), run=run())
        again = state.pairs.copy()
        again.loc[0, "started_on"] = "2026-11-26"
        s.commit(state.with_(pairs=again), run=run("2026-11-26"))
        history = s.history()
    first = history[history["child_id"] == state.pairs["child_id"][0]]
    assert first["started_on"].tolist() == ["2026-11-24", "2026-11-26"]
    assert first["ended_on"].tolist() == ["2026-11-24", None]


def test_history_is_append_only_in_the_database(seeded: Path) -> None:
    conn = sqlite3.connect(seeded)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("DELETE FROM history")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE history SET start_reason = 'x'")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("DELETE FROM runs")
        conn.execute(
            "UPDATE history SET ended_on = '2026-12-01', end_run_id = 1 WHERE history_id = 1"
        )
        with pytest.raises(sqlite3.IntegrityError):  # an end is filled once
            conn.execute("UPDATE history SET ended_on = '2026-12-02' WHERE history_id = 1")
        conn.rollback()
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------
# validation: nothing is written


def _bad_states(state: State) -> dict[str, tuple[State, dict, str]]:
    kids, ments, pairs = state.children, state.mentors, state.pairs
    c, m = kids["id"].tolist(), ments["id"].tolist()
    p = pairs.copy()

    def add_pair(child: str, mentor: str) -> pd.DataFrame:
        row = pairs_frame([(child, mentor, "2026-11-25", "matched", False)])
        return pd.concat([p, row], ignore_index=True)

    dup_kids = pd.concat([kids, kids.iloc[[7]]], ignore_index=True)
    dup_ments = pd.concat([ments, ments.iloc[[7]]], ignore_index=True)
    gone = kids.copy()
    gone.loc[0, ["status", "left_on", "left_reason"]] = ["exited", "2026-11-25", "exit_effective"]
    one_cap = ments.copy()
    two = add_pair(c[10], m[0])
    bad_lat = kids.copy()
    bad_lat["lat"] = bad_lat["lat"].astype(object)
    bad_lat.loc[2, "lat"] = "Secret Street 5"
    bad_exit = kids.copy()
    bad_exit.loc[2, "exit_state"] = "gone"
    no_status = ments.drop(columns=["status"])
    return {
        "unknown child": (state.with_(pairs=add_pair("C999999", m[10])), {}, "C999999"),
        "unknown mentor": (state.with_(pairs=add_pair(c[10], "M999999")), {}, "M999999"),
        "child in two pairs": (state.with_(pairs=add_pair(c[0], m[10])), {}, c[0]),
        "over capacity": (state.with_(mentors=one_cap, pairs=two), {}, m[0]),
        "forbidden pair": (state.with_(pairs=add_pair(c[3], m[3])), {}, f"({c[3]}, {m[3]})"),
        "duplicate child id": (state.with_(children=dup_kids), {}, c[7]),
        "duplicate mentor id": (state.with_(mentors=dup_ments), {}, m[7]),
        "pair of a removed child": (state.with_(children=gone), {}, f"child {c[0]} has exited"),
        "started not started": (state, {"started": {(c[0], m[0]): "x"}}, c[0]),
        "ended not ended": (state, {"ended": {(c[1], m[1]): ("x", "y")}}, c[1]),
        "ended unknown": (state, {"ended": {(c[9], m[9]): ("x", "y")}}, c[9]),
        "bad run date": (state, {"run": run("24/11/2026")}, "run_date"),
        "bad value type": (state.with_(children=bad_lat), {}, f"{c[2]}: column 'lat'"),
        "bad exit state": (state.with_(children=bad_exit), {}, "exit_state"),
        "missing column": (state.with_(mentors=no_status), {}, "status"),
        "bad event": (state, {"events": [{"note": "no kind"}]}, "kind"),
        "not json": (state, {"run": run(config={"x": object()})}, "run.config"),
    }


CASE_NAMES = [
    "unknown child",
    "unknown mentor",
    "child in two pairs",
    "over capacity",
    "forbidden pair",
    "duplicate child id",
    "duplicate mentor id",
    "pair of a removed child",
    "started not started",
    "ended not ended",
    "ended unknown",
    "bad run date",
    "bad value type",
    "bad exit state",
    "missing column",
    "bad event",
    "not json",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_invalid_commit_writes_nothing(seeded: Path, case: str) -> None:
    before = snapshot(seeded)
    cases = _bad_states(before[0])
    assert set(cases) == set(CASE_NAMES)
    bad_state, kwargs, fragment = cases[case]
    kwargs = {"run": run("2026-11-25"), **kwargs}
    with StateStore.open(seeded) as s:
        with pytest.raises(StoreError) as info:
            s.commit(bad_state, **kwargs)  # type: ignore[arg-type]
        message = str(info.value)
        assert fragment in message
        assert "Secret" not in message  # values of personal fields never appear
        # the writer is still usable after a refused commit
        assert_state_equal(s.load(), before[0])
    assert_unchanged(seeded, before)


def test_refused_commit_lists_every_problem(seeded: Path) -> None:
    state = snapshot(seeded)[0]
    kids = pd.concat([state.children, state.children.iloc[[7, 8]]], ignore_index=True)
    with StateStore.open(seeded) as s, pytest.raises(StoreError) as info:
        s.commit(state.with_(children=kids), run=run())
    assert len(info.value.problems) == 2
    assert "2 problem(s)" in str(info.value)


# ----------------------------------------------------------------------------------------------
# atomicity


def test_exception_mid_transaction_rolls_everything_back(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(seeded)
    state = before[0]
    kids = state.children.copy()
    kids.loc[0, ["status", "left_on", "left_reason"]] = ["exited", "2026-11-25", "exit_effective"]
    new = settle(
        state.with_(
            children=kids,
            pairs=state.pairs.iloc[1:].reset_index(drop=True),
            first_in_line=(),
            forbidden=(),
        )
    )
    real = commit_module._write_events

    def explode(conn: sqlite3.Connection, run_id: int, events: list) -> None:
        real(conn, run_id, events)  # rosters, pairs, history and events are written...
        raise RuntimeError("injected failure")  # ...then the commit fails

    monkeypatch.setattr(commit_module, "_write_events", explode)
    with StateStore.open(seeded) as s:
        with pytest.raises(RuntimeError, match="injected"):
            s.commit(new, run=run("2026-11-25"), events=[{"kind": "x"}])
        assert_state_equal(s.load(), state)
        assert_unchanged(seeded, before)
        monkeypatch.setattr(commit_module, "_write_events", real)
        assert s.commit(new, run=run("2026-11-25")) == 2  # the run id was not used up
        assert_state_equal(s.load(), new)


def test_readers_never_see_a_half_applied_run(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(seeded)
    state = before[0]
    new = settle(state.with_(pairs=state.pairs.iloc[:1].reset_index(drop=True)))
    seen: list[State] = []
    real = commit_module._write_history
    reader = StateStore.open(seeded, readonly=True)  # opened before the commit starts

    def spy(*args: object) -> None:
        real(*args)  # type: ignore[arg-type]
        seen.append(reader.load())
        with StateStore.open(seeded, readonly=True) as other:
            seen.append(other.load())
            assert len(other.runs()) == 1 and len(other.history()) == 3

    monkeypatch.setattr(commit_module, "_write_history", spy)
    try:
        with StateStore.open(seeded) as s:
            s.commit(new, run=run("2026-11-25"))
        assert len(seen) == 2
        for got in seen:
            assert_state_equal(got, state)
        assert_state_equal(reader.load(), new)
        assert len(reader.runs()) == 2
    finally:
        reader.close()


# ----------------------------------------------------------------------------------------------
# locking, read-only, versions, paths


def test_one_writer_at_a_time(db: Path) -> None:
    first = StateStore.open(db)
    try:
        with pytest.raises(StoreLockedError) as info:
            StateStore.open(db)
        assert str(db) in str(info.value)
        with StateStore.open(db, readonly=True) as r:  # readers need no lock
            assert r.schema_version() == 2
    finally:
        first.close()
    first.close()  # idempotent
    with StateStore.open(db) as again:
        again.commit(empty_state(), run=run())
    assert sorted(p.name for p in db.parent.iterdir()) == ["state.db"]  # no lock file


def test_a_failed_open_releases_the_lock(db: Path) -> None:
    with StateStore.open(db):
        pass
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    for _ in range(2):
        with pytest.raises(StoreError, match="version 7 is newer"):
            StateStore.open(db)


def test_readonly_store(seeded: Path, tmp_path: Path) -> None:
    before = snapshot(seeded)
    with StateStore.open(seeded, readonly=True) as r:
        assert r.readonly
        with pytest.raises(StoreError, match="read-only"):
            r.commit(before[0], run=run())
        assert_state_equal(r.load(), before[0])
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no such file"):
        StateStore.open(missing, readonly=True)
    assert not missing.exists()
    assert not (tmp_path / "missing.db.lock").exists()


def test_closed_store_refuses_work(db: Path) -> None:
    s = StateStore.open(db)
    s.close()
    for call in (s.load, s.history, s.runs, s.events, s.schema_version):
        with pytest.raises(StoreError, match="closed"):
            call()
    with pytest.raises(StoreError, match="closed"):
        s.commit(empty_state(), run=run())


def test_a_new_store_is_created_whole(db: Path) -> None:
    with StateStore.open(db) as s:
        assert s.schema_version() == 2
    assert sorted(p.name for p in db.parent.iterdir()) == ["state.db"]  # no temporary file left
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "runs", "children", "mentors", "pairs", "forbidden", "queue"} <= tables
        assert {"history", "events", "enrolments", "run_files"} <= tables
        # the rollback journal keeps SQLite's locks in the file itself (see the module doc)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_an_empty_or_tableless_file_is_refused(db: Path, readonly: bool) -> None:
    db.touch()
    with pytest.raises(StoreError, match="is an empty file, not a state store") as info:
        StateStore.open(db, readonly=readonly)
    assert str(db) in str(info.value)
    assert db.read_bytes() == b""
    with _raw(db) as conn:  # a valid SQLite file with no tables at all
        conn.execute("CREATE TABLE t (x)")
        conn.execute("DROP TABLE t")
        conn.commit()
    size = db.stat().st_size
    with pytest.raises(StoreError, match="not a state store"):
        StateStore.open(db, readonly=readonly)
    assert db.stat().st_size == size


def test_migrations_run_in_order_and_roll_back(seeded: Path) -> None:
    calls: list[int] = []

    def to_3(conn: sqlite3.Connection) -> None:
        calls.append(3)
        conn.execute("CREATE TABLE extra_v3 (x INTEGER)")

    def to_4_broken(conn: sqlite3.Connection) -> None:
        calls.append(4)
        conn.execute("CREATE TABLE extra_v4 (x INTEGER)")
        raise RuntimeError("broken migration")

    class Version4(StateStore):
        SCHEMA_VERSION = 4
        MIGRATIONS = (*MIGRATIONS, to_3, to_4_broken)

    class Version3(Version4):
        SCHEMA_VERSION = 3

    with pytest.raises(RuntimeError, match="broken"):
        Version4.open(seeded)
    with _raw(seeded) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone()[0] == "2"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert not {"extra_v3", "extra_v4"} & tables
    calls.clear()
    with Version3.open(seeded) as s:
        assert s.schema_version() == 3
        assert len(s.runs()) == 1
    assert calls == [3]
    with pytest.raises(StoreError, match="older"):  # read-only opens never migrate
        Version4.open(seeded, readonly=True)


class _raw:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_future_schema_version_is_refused(db: Path, readonly: bool) -> None:
    with StateStore.open(db):
        pass
    with _raw(db) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        conn.commit()
    with pytest.raises(StoreError) as info:
        StateStore.open(db, readonly=readonly)
    assert "store schema version 99 is newer than this library supports (2)" in str(info.value)


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        StateStore.open(tmp_path / "no" / "such" / "dir" / "state.db")
    assert not (tmp_path / "no").exists()
    with pytest.raises(StoreError, match="directory"):
        StateStore.open(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("not a database, just some text " * 100, encoding="utf-8")
    for readonly in (False, True):
        with pytest.raises(StoreError, match="not a state store"):
            StateStore.open(text, readonly=readonly)
    assert text.read_text(encoding="utf-8").startswith("not a database")
    other = tmp_path / "other.db"
    with _raw(other) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    with pytest.raises(StoreError, match="not a state store"):
        StateStore.open(other)
    with StateStore.open(tmp_path / "fine.db") as s:
        assert s.schema_version() == 2


# ----------------------------------------------------------------------------------------------
# crash safety: a writer killed with SIGKILL at random moments

_KILL_CHILD = """
import os, sys, time
sys.path.insert(0, {tests!r})
from test_store import kill_commit
import matching.programme.store as store_module
import matching.programme.store.commit as commit_module

marks = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
real = commit_module._write_history

def slow_history(conn, run_id, *args):
    real(conn, run_id, *args)  # half of the run is written: hold the transaction open a while
    os.write(marks, b"inside %d\\n" % run_id)
    time.sleep(0.01)

commit_module._write_history = slow_history
store = store_module.StateStore.open(sys.argv[1])
k = len(store.runs())
print("ready", flush=True)
while True:
    k += 1
    kill_commit(store, k)
    os.write(marks, b"done %d\\n" % k)
"""


@functools.cache
def _kill_rosters() -> tuple[pd.DataFrame, pd.DataFrame]:
    kids = validate_children(
        pd.DataFrame(
            {
                "id": [f"K{i:02d}" for i in range(12)],
                "lat": 31.8,
                "lon": 119.9,
                "needs": "life_care",
            }
        )
    )
    kids = child_rows(kids)
    ments = mentor_rows(
        validate_mentors(
            pd.DataFrame(
                {"id": [f"V{j}" for j in range(6)], "lat": 31.8, "lon": 119.9, "capacity": 2}
            )
        )
    )
    return kids, ments


def kill_pairs(k: int) -> set[tuple[str, str]]:
    if k == 0:
        return set()
    absent = k % 13
    return {(f"K{i:02d}", f"V{(i + k) % 6}") for i in range(12) if i != absent and (i + k) % 4 != 0}


def kill_state(k: int) -> State:
    """The state the k-th commit of the killed writer makes (k = 0: empty)."""
    if k == 0:
        return empty_state()
    base_kids, ments = _kill_rosters()
    kids = base_kids.copy()
    absent = kids["id"] == f"K{k % 13:02d}"  # exited in this commit (rejoins in the next)
    kids.loc[absent, ["status", "left_on", "left_reason"]] = [
        "exited",
        "2026-11-24",
        "exit_effective",
    ]
    kids.loc[kids["id"] == f"K{k % 12:02d}", "priority"] = k % 5
    pairs = kill_pairs(k)
    rows = [(c, m, "2026-11-24", "matched", (k + int(c[1:])) % 5 == 0) for c, m in pairs]
    paired = {c for c, _ in pairs}
    forbidden = tuple(
        p for p in [(f"K{k % 12:02d}", f"V{(k + 3) % 6}")] if p not in pairs and k % 2
    )
    queue = tuple(c for c in kids.loc[~absent, "id"] if c not in paired)
    return make_state(kids, ments.copy(), rows, forbidden, queue)


def kill_commit(store: StateStore, k: int) -> None:
    """The k-th commit of the killed writer."""
    store.commit(
        kill_state(k),
        run=RunInfo(run_date="2026-11-24", metrics={"k": k}),
        events=[{"kind": "tick", "payload": {"k": k}}],
    )


def _check_killed_store(path: Path) -> int:
    with StateStore.open(path) as s:
        runs = s.runs()
        k = len(runs)
        assert runs["run_id"].tolist() == list(range(1, k + 1))
        assert [m["k"] for m in runs["metrics"]] == list(range(1, k + 1))
        assert_state_equal(s.load(), kill_state(k))
        history = s.history()
        events = s.events()
    assert events["payload"][events["kind"] == "tick"].map(lambda p: p["k"]).tolist() == list(
        range(1, k + 1)
    )
    # replay the commits: the history must be exactly what they imply
    expected: list[list[object]] = []
    open_rows: dict[tuple[str, str], int] = {}
    for step in range(1, k + 1):
        before, after = kill_pairs(step - 1), kill_pairs(step)
        for pair in sorted(before - after):
            expected[open_rows.pop(pair)][3] = step
        for pair in sorted(after - before):
            open_rows[pair] = len(expected)
            expected.append([pair[0], pair[1], step, None])
    got = [
        [c, m, int(a), None if pd.isna(b) else int(b)]
        for c, m, a, b in zip(
            history["child_id"],
            history["mentor_id"],
            history["start_run_id"],
            history["end_run_id"],
            strict=True,
        )
    ]
    assert got == expected
    with _raw(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    return k


def test_sigkilled_writer_leaves_a_complete_state(tmp_path: Path) -> None:
    """A writer killed at random moments (often inside a transaction) never leaves half a run."""
    path = tmp_path / "killed.db"
    marks = tmp_path / "marks.txt"
    script = tmp_path / "writer.py"
    script.write_text(_KILL_CHILD.format(tests=str(TESTS_DIR)), encoding="utf-8")
    rng = random.Random(20261124)
    progress, inside = [], 0
    for _ in range(8):
        marks.write_text("", encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), str(marks)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            assert line.strip() == "ready", proc.communicate()[1][-2000:]
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            _, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        k = _check_killed_store(path)
        last = (marks.read_text(encoding="utf-8").split() or ["none", "0"])[-2:]
        if last[0] == "inside":  # killed between writing the history and returning from commit
            inside += 1
            assert k in (int(last[1]) - 1, int(last[1]))
        progress.append(k)
    assert progress == sorted(progress)
    assert progress[-1] > len(progress)  # the writer did commit between the kills
    assert inside >= 1  # at least one kill landed inside a transaction


def test_kill_states_are_valid_and_distinct(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "k.db") as s:
        for k in range(1, 15):
            kill_commit(s, k)
            assert_state_equal(s.load(), kill_state(k))
    assert len({frozenset(kill_pairs(k)) for k in range(1, 15)}) > 10
    assert _check_killed_store(tmp_path / "k.db") == 14


# ----------------------------------------------------------------------------------------------
# migration from schema 1 (tests/data/store_v1.db: made by tests/data/make_store_v1.py at 62fc571)


def test_a_schema_1_store_is_migrated(tmp_path: Path) -> None:
    from matching.programme.events import Event, event_key

    path = tmp_path / "state.db"
    path.write_bytes((TESTS_DIR / "data" / "store_v1.db").read_bytes())
    with _raw(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with StateStore.open(path) as s:
        assert s.schema_version() == 2
        state = s.load()
        events = s.events()
        spells = s.enrolments()
        history = s.history()
    kids = state.children.set_index("id")
    # schema 1 deleted C2 (exited) and M1 (left); the others keep their data
    assert kids.index.tolist() == ["C1", "C3", "C4"]
    assert kids["status"].tolist() == ["paired", "paired", "paired"]
    # joined_on: the first pair's start (all started on the first night)
    assert set(kids["joined_on"]) == {"2026-01-05"}
    assert kids.at["C3", "needs"] == ("family_education",)
    ments = state.mentors.set_index("id")
    assert ments["status"].to_dict() == {"M2": "active", "M3": "active"}
    assert "status" not in json_fields(path, "mentors")
    assert len(history) == 5 and state.pairs["child_id"].tolist() == ["C1", "C3", "C4"]
    assert spells["person_id"].tolist() == ["C1", "C3", "C4", "M2", "M3"]
    assert spells["join_run_id"].isna().all() and spells["left_on"].isna().all()
    # events keep their run's date and get their identity
    leave = events[events["kind"] == "mentor_leave"].iloc[0]
    assert leave["event_date"] == "2026-01-19"
    want = Event(kind="mentor_leave", mentor_id="M1", note="moved away")
    assert leave["event_key"] == event_key(want, "2026-01-19")
    assert events.loc[events["kind"] == "pin_changed", "event_key"].isna().all()
    with _raw(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def json_fields(path: Path, table: str) -> set[str]:
    import json

    with _raw(path) as conn:
        rows = conn.execute(f"SELECT data FROM {table}").fetchall()
    return {key for (text,) in rows for key in json.loads(text)}
