"""The nightly batch job: a simulated year, idempotency, bad input, dry runs, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching.cli import main
from matching.datasets.synth import district
from matching.programme.store import StateStore
from matching.reports.files import write_csv

CONFIG = """[matching]
max_distance_km = 4.0
"""


def _write_roster(frame: pd.DataFrame, path: Path) -> Path:
    return write_csv(frame, path)  # the library's writer: tuples as ";"-joined cells


def _write_events(rows: list[dict[str, str]], path: Path) -> Path:
    cols = ["kind", "child_id", "mentor_id", "actor", "note"]
    table = pd.DataFrame([{c: row.get(c, "") for c in cols} for row in rows], columns=cols)
    table.to_csv(path, index=False)
    return path


def _pairs(db: Path) -> set[tuple[str, str]]:
    with StateStore.open(db, readonly=True) as store:
        p = store.load().pairs
    return set(zip(p["child_id"], p["mentor_id"], strict=True))


def _snapshot(db: Path) -> tuple:
    with StateStore.open(db, readonly=True) as store:
        state = store.load()
        return (
            state.children.to_json(),
            state.mentors.to_json(),
            state.pairs.to_json(),
            state.forbidden,
            state.first_in_line,
            len(store.history()),
            len(store.runs()),
        )


@pytest.fixture
def district_files(tmp_path: Path) -> dict[str, Path]:
    kids, mentors = district(400, 330, seed=5, area_km2=120.0)
    return {
        "kids_frame": kids,  # type: ignore[dict-item]
        "mentors_frame": mentors,  # type: ignore[dict-item]
        "children": _write_roster(kids, tmp_path / "children.csv"),
        "mentors": _write_roster(mentors, tmp_path / "mentors.csv"),
        "config": _write_config(tmp_path / "cfg.toml"),
    }


def _write_config(path: Path) -> Path:
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _night(tmp: Path, db: Path, files: dict, date: str, events: Path | None = None, **kw) -> int:
    argv = [
        "nightly", "--db", str(db), "--out", str(tmp / f"out-{date}"), "--date", date,
        "--config", str(files["config"]), "-q",
    ]  # fmt: skip
    if kw.get("children", True):
        argv += ["--children", str(files["children"]), "--mentors", str(files["mentors"])]
    if events is not None:
        argv += ["--events", str(events)]
    if kw.get("dry_run"):
        argv.append("--dry-run")
    return main(argv)


def test_same_night_twice_changes_nothing_the_second_time(tmp_path, district_files):
    db = tmp_path / "state.db"
    ev = _write_events([{"kind": "exit_request", "child_id": "C000003"}], tmp_path / "ev.csv")
    assert _night(tmp_path, db, district_files, "2026-01-05", ev) == 0
    first = json.loads((tmp_path / "out-2026-01-05" / "plan.json").read_text(encoding="utf-8"))
    assert first["counts"]["pairs_started"] > 0
    before = _snapshot(db)
    plan_bytes = (tmp_path / "out-2026-01-05" / "plan.json").read_bytes()
    assert _night(tmp_path, db, district_files, "2026-01-05", ev) == 0
    # the night was committed: nothing changes, and the plan is that run's, byte for byte
    assert (tmp_path / "out-2026-01-05" / "plan.json").read_bytes() == plan_bytes
    assert _snapshot(db) == before  # same state, history and runs


def test_invalid_events_reject_the_run_and_leave_the_store_unchanged(
    tmp_path, district_files, capsys
):
    db = tmp_path / "state.db"
    assert _night(tmp_path, db, district_files, "2026-01-05") == 0
    before = _snapshot(db)
    bad = _write_events(
        [
            {"kind": "exit_approve", "child_id": "C000010", "actor": "D1"},  # never requested
            {"kind": "end_pair", "child_id": "C000011", "mentor_id": "M999999", "note": "x"},
        ],
        tmp_path / "bad.csv",
    )
    assert _night(tmp_path, db, district_files, "2026-01-06", bad) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:")
    assert "event 1" in err and "event 2" in err
    assert "Traceback" not in err
    assert _snapshot(db) == before


def test_dry_run_writes_the_plan_and_commits_nothing(tmp_path, district_files):
    db = tmp_path / "state.db"
    assert _night(tmp_path, db, district_files, "2026-01-05", dry_run=True) == 0
    plan = json.loads((tmp_path / "out-2026-01-05" / "plan.json").read_text(encoding="utf-8"))
    assert plan["dry_run"] is True and plan["counts"]["pairs_started"] > 0
    assert not db.exists()  # a dry run creates no store


def test_a_simulated_year(tmp_path, district_files):
    """Monthly churn: ~5% of children exit through the workflow and ~5% join,
    ~3% of mentors leave and ~3% join; every month the invariants hold."""
    rng = np.random.default_rng(11)
    db = tmp_path / "state.db"
    kids_all, mentors_all = district(520, 430, seed=5, area_km2=120.0)
    enrolled_k = set(kids_all["id"][:400])
    enrolled_m = set(mentors_all["id"][:330])
    departed_m: set[str] = set()
    next_k, next_m = 400, 330
    in_workflow: dict[str, int] = {}  # child -> steps done
    exited: set[str] = set()
    pinned: set[tuple[str, str]] = set()
    files = dict(district_files)
    for month in range(1, 13):
        date = f"2026-{month:02d}-01"
        prev = _pairs(db) if db.exists() else set()
        events: list[dict[str, str]] = []
        # the exit workflow advances one step a month for children already in it
        steps = ["exit_request", "exit_investigate", "exit_approve", "exit_effective"]
        exiting = set()
        for child, done in list(in_workflow.items()):
            row = {"kind": steps[done], "child_id": child}
            if steps[done] == "exit_approve":
                row["actor"] = "district-office"
            events.append(row)
            in_workflow[child] = done + 1
            if done + 1 == len(steps):
                del in_workflow[child]
                enrolled_k.discard(child)
                exited.add(child)
                exiting.add(child)
        # ~5% of the enrolled children start an exit
        candidates = sorted(enrolled_k - set(in_workflow))
        for child in rng.choice(candidates, size=max(1, len(candidates) // 20), replace=False):
            events.append({"kind": "exit_request", "child_id": str(child)})
            in_workflow[str(child)] = 1
        # ~3% of mentors leave (never one holding a pinned pair)
        pinned_mentors = {m for _, m in pinned}
        leavers = sorted(enrolled_m - pinned_mentors)
        leaving = {
            str(m) for m in rng.choice(leavers, size=max(1, len(leavers) * 3 // 100), replace=False)
        }
        for mentor in sorted(leaving):
            events.append({"kind": "mentor_leave", "mentor_id": mentor})
        # staff pin one existing pair a month
        if prev:
            c, m = sorted(p for p in prev if p[1] in enrolled_m - leaving)[month % 7]
            if c in enrolled_k and c not in in_workflow:
                events.append({"kind": "pin", "child_id": c, "mentor_id": m, "actor": "staff"})
                pinned.add((c, m))
        # ~5% new children and ~3% new mentors join through the roster files
        next_k = min(len(kids_all), next_k + 20)
        next_m = min(len(mentors_all), next_m + 10)
        enrolled_k |= set(kids_all["id"][:next_k]) - exited - set(in_workflow)
        enrolled_m |= set(mentors_all["id"][330:next_m]) - departed_m
        kid_rows = kids_all[kids_all["id"].isin(enrolled_k | set(in_workflow) | exiting)]
        files["children"] = _write_roster(kid_rows, tmp_path / f"children-{month}.csv")
        # this month's roster still lists the leavers; they leave by event
        men_rows = mentors_all[mentors_all["id"].isin(enrolled_m)]
        enrolled_m -= leaving
        departed_m |= leaving
        files["mentors"] = _write_roster(men_rows, tmp_path / f"mentors-{month}.csv")
        ev = _write_events(events, tmp_path / f"events-{month}.csv")
        assert _night(tmp_path, db, files, date, ev) == 0, f"month {month}"
        now = _pairs(db)
        # no pinned pair moves; no pair moves without an event
        assert {p for p in pinned if p[0] in enrolled_k} <= now
        lost = prev - now
        plan = json.loads((tmp_path / f"out-{date}" / "plan.json").read_text(encoding="utf-8"))
        assert plan["counts"]["pairs_moved"] == 0
        gone_children = {c for c, _ in lost} - enrolled_k
        gone_mentors = {m for _, m in lost} - enrolled_m
        for c, m in lost:
            assert c in gone_children or m in gone_mentors, f"pair {c}-{m} ended without an event"
        # every child who can be paired is paired: nobody waits while a mentor
        # within reach has room
        waiting = pd.read_csv(tmp_path / f"out-{date}" / "plan_waiting.csv", encoding="utf-8-sig")
        assert not set(waiting["reason"]) & {"cheaper_unmatched"}
    with StateStore.open(db, readonly=True) as store:
        history = store.history()
        runs = store.runs()
    assert len(runs) == 12
    assert history["started_on"].notna().all()
    ended = history[history["ended_on"].notna()]
    assert (ended["ended_on"] >= ended["started_on"]).all()
    current = history[history["ended_on"].isna()]
    assert set(zip(current["child_id"], current["mentor_id"], strict=True)) == _pairs(db)
    assert set(ended["end_reason"]) <= {"exit_effective", "mentor_left", "re-matched"}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_the_nightly_run_leaves_before_or_after(tmp_path, district_files):
    db = tmp_path / "state.db"
    assert _night(tmp_path, db, district_files, "2026-01-05") == 0
    ev = _write_events(
        [{"kind": "mentor_leave", "mentor_id": m} for m in sorted(_mentors_in_use(db))[:8]],
        tmp_path / "ev.csv",
    )
    before = _snapshot(db)
    argv = [
        sys.executable, "-m", "matching", "nightly", "--db", str(db), "--out",
        str(tmp_path / "killed"), "--date", "2026-02-01", "--events", str(ev), "-q",
        "--config", str(district_files["config"]),
    ]  # fmt: skip
    # the full run's result, computed on a copy, is "after"
    copy = tmp_path / "copy.db"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    assert subprocess.run([*argv[:5], str(copy), *argv[6:]], check=False).returncode == 0
    after = _snapshot(copy)
    seen = set()
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5, 2.0):
        proc = subprocess.Popen(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _snapshot(db)
        assert now[:5] in (before[:5], after[:5])
        seen.add(now[:5] == after[:5])
        if now[:5] == after[:5]:
            break
    # the next run completes normally (and changes nothing if the killed one landed)
    assert subprocess.run(argv, check=False).returncode == 0
    assert _snapshot(db)[:5] == after[:5]


def _mentors_in_use(db: Path) -> set[str]:
    return {m for _, m in _pairs(db)}


def test_library_api_takes_frames_and_event_objects(tmp_path, district_files):
    from matching.programme.events import Event
    from matching.programme.nightly import run_nightly

    db = tmp_path / "api.db"
    kids, mentors = district_files["kids_frame"], district_files["mentors_frame"]
    phases: list[str] = []
    first = run_nightly(
        db, date="2026-03-01", children=kids, mentors=mentors, progress=phases.append
    )
    assert first.run_id == 1 and first.files == {}
    assert phases[0] == "validating input" and phases[-1] == "done"
    assert "committing" in phases
    paired = sorted(_pairs(db))
    child, mentor = paired[0]
    events = [Event(kind="mentor_leave", mentor_id=mentor)]
    second = run_nightly(db, date="2026-03-08", events=events)
    assert second.counts["events_applied"] == 1
    assert (child, mentor) not in _pairs(db)
    with StateStore.open(db, readonly=True) as store:
        history = store.history()
    row = history[(history["child_id"] == child) & (history["mentor_id"] == mentor)]
    assert row["end_reason"].tolist() == ["mentor_left"]
    assert row["ended_on"].tolist() == ["2026-03-08"]
    # the same event objects again: the night is already committed, nothing changes
    third = run_nightly(db, date="2026-03-08", events=events)
    assert third.already_committed and third.run_id == 2 and third.counts["changes"] == 0
    # and in a later night's batch, the same event is a duplicate (applied once)
    fourth = run_nightly(db, date="2026-03-15", events=[Event(kind="mentor_leave",
                         mentor_id=mentor, date="2026-03-08")])  # fmt: skip
    assert fourth.counts["events_duplicate"] == 1 and fourth.counts["events_applied"] == 0


class _AddressBook:
    """A stand-in geopy geocoder: answers from a dict, counts its requests."""

    def __init__(self, book: dict[str, tuple[float, float]]) -> None:
        self.book = book
        self.requests = 0

    def geocode(self, query: str):
        from geopy.location import Location

        self.requests += 1
        hit = self.book.get(query)
        return None if hit is None else Location(query, hit, {})


def test_nightly_geocodes_missing_coordinates_and_lists_failures(tmp_path):
    kids, mentors = district(60, 50, seed=5)
    kids = kids.copy()
    kids["address"] = [f"常州市某街道{i}号" for i in range(len(kids))]
    # three children lose their coordinates: two have addresses in the book,
    # one does not (not found), one more has neither coordinates nor address
    book = {}
    for row in (0, 1):
        book[kids.at[row, "address"]] = (float(kids.at[row, "lat"]), float(kids.at[row, "lon"]))
    lost = [0, 1, 2, 3]
    kids.loc[lost, ["lat", "lon"]] = np.nan
    kids.at[3, "address"] = ""
    geocoder = _AddressBook(book)
    db, out, cache = tmp_path / "state.db", tmp_path / "plan", tmp_path / "geo.sqlite"
    from matching.programme.nightly import run_nightly

    report = run_nightly(
        db,
        date="2026-01-05",
        out_dir=out,
        children=kids,
        mentors=mentors,
        geocoder=geocoder,
        geocode_cache=cache,
        geocode_options={"min_delay_seconds": 0},
    )
    assert report.counts["children_geocode_failed"] == 2
    assert report.counts["mentors_geocode_failed"] == 0
    failures = pd.read_csv(out / "geocode_failures.csv", encoding="utf-8-sig", dtype=str)
    assert failures[["roster", "id", "reason"]].values.tolist() == [
        ["children", kids.at[2, "id"], "not_found"],
        ["children", kids.at[3, "id"], "no_address"],
    ]
    assert "常州" not in (out / "geocode_failures.csv").read_text(encoding="utf-8-sig")
    with StateStore.open(db) as store:
        state = store.load()
    stored = set(state.children["id"])
    # the geocoded children are in, at the coordinates the geocoder gave;
    # the two that could not be placed are not (and nothing was guessed)
    assert {kids.at[0, "id"], kids.at[1, "id"]} <= stored
    assert not {kids.at[2, "id"], kids.at[3, "id"]} & stored
    assert len(stored) == len(kids) - 2
    row = state.children.set_index("id").loc[kids.at[0, "id"]]
    assert (row["lat"], row["lon"]) == book[kids.at[0, "address"]]
    assert "address" not in state.children.columns  # addresses are never stored
    first = geocoder.requests
    assert first == 3  # two found, one not found; no request for the blank address
    # the next night asks the geocoder nothing: answers and "not found" are cached
    run_nightly(
        db,
        date="2026-01-06",
        children=kids,
        mentors=mentors,
        geocoder=geocoder,
        geocode_cache=cache,
        geocode_options={"min_delay_seconds": 0},
    )
    assert geocoder.requests == first
