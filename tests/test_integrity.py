"""Programme integrity: the numbered failures of the integrity report, each in its exact scenario.

1. re-running a committed night brings departed people back;
2. events de-duplicated by the file's bytes alone;
3. the writer lock follows the path name;
4. the plan is written before the store commits;
5. a zero-byte store is silently started over;
8. the waiting reason after a re-match when every mentor in reach is full;
10. ``--dry-run`` creates files; the default run date is the UTC date.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from matching.cli import main
from matching.config import RematchPolicy
from matching.errors import StoreError
from matching.programme.store import StateStore
from matching.reports.files import write_csv

# two children and two mentors of capacity 1: C1 next to M1, C2 next to M2,
# 3 km apart, so that each child has exactly one mentor within 2 km
KIDS = pd.DataFrame(
    {"id": ["C1", "C2"], "lat": [31.80, 31.827], "lon": [119.90, 119.90], "street": ["S1", "S2"]}
)
MENTORS = pd.DataFrame(
    {
        "id": ["M1", "M2"],
        "lat": [31.801, 31.828],
        "lon": [119.90, 119.90],
        "capacity": [1, 1],
        "max_distance_km": [2.0, 2.0],
    }
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "children": write_csv(KIDS, tmp_path / "children.csv"),
        "mentors": write_csv(MENTORS, tmp_path / "mentors.csv"),
    }


def _events(path: Path, text: str) -> Path:
    path.write_text("kind,child_id,mentor_id\n" + text, encoding="utf-8")
    return path


def _nightly(db: Path, files: dict[str, Path], date: str, out: Path, *extra: str) -> int:
    argv = ["nightly", "--db", str(db), "--out", str(out), "--date", date, "-q"]
    argv += ["--children", str(files["children"]), "--mentors", str(files["mentors"])]
    return main([*argv, *extra])


def _state(db: Path):
    with StateStore.open(db, readonly=True) as store:
        return store.load()


def _pairs(db: Path) -> set[tuple[str, str]]:
    p = _state(db).pairs
    return set(zip(p["child_id"], p["mentor_id"], strict=True))


def _plan(out: Path) -> dict:
    return json.loads((out / "plan.json").read_text(encoding="utf-8"))


def _active(db: Path) -> set[str]:
    m = _state(db).mentors
    return set(m.loc[m["status"] == "active", "id"])


# ---------------------------------------------------------------------------------------------
# 1. re-running a committed night


def test_rerun_of_a_committed_night_keeps_a_departed_mentor_gone(tmp_path, files, capsys):
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    assert _pairs(db) == {("C1", "M1"), ("C2", "M2")}
    leave = _events(tmp_path / "leave.csv", "mentor_leave,,M1\n")
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(leave)) == 0
    assert _pairs(db) == {("C2", "M2")}
    assert _active(db) == {"M2"}
    capsys.readouterr()
    # the operator re-runs night 2 with the same files
    main_args = ("--events", str(leave))
    assert main(
        ["nightly", "--db", str(db), "--out", str(tmp_path / "n2"), "--date", "2026-03-09",
         "--children", str(files["children"]), "--mentors", str(files["mentors"]), *main_args]
    ) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "already committed as run 2" in out
    assert _pairs(db) == {("C2", "M2")}
    assert _active(db) == {"M2"}
    with StateStore.open(db, readonly=True) as store:
        assert len(store.runs()) == 2


def test_a_later_night_with_the_master_roster_keeps_a_departed_mentor_gone(tmp_path, files):
    """Staff re-upload the master roster, which still lists the mentor who left."""
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    leave = _events(tmp_path / "leave.csv", "mentor_leave,,M1\n")
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(leave)) == 0
    assert _nightly(db, files, "2026-03-16", tmp_path / "n3") == 0
    plan = _plan(tmp_path / "n3")
    assert plan["counts"]["mentors_joined"] == 0
    assert plan["counts"]["pairs_started"] == 0
    assert plan["counts"]["changes"] == 0
    assert plan["counts"]["roster_rows_ignored"] == 1
    assert _pairs(db) == {("C2", "M2")}
    ignored = pd.read_csv(tmp_path / "n3" / "plan_ignored_rows.csv", encoding="utf-8-sig")
    assert ignored[["roster", "id", "reason", "left_on"]].values.tolist() == [
        ["mentors", "M1", "mentor_left", "2026-03-09"]
    ]


def test_rerun_keeps_children_who_exited_through_the_workflow_gone(tmp_path):
    from matching.datasets.synth import district

    kids, mentors = district(200, 170, seed=3)
    files = {
        "children": write_csv(kids, tmp_path / "children.csv"),
        "mentors": write_csv(mentors, tmp_path / "mentors.csv"),
    }
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    leaving = sorted(kids["id"])[:5]
    steps = ["exit_request", "exit_investigate", "exit_approve", "exit_effective"]
    rows = "".join(f"{s},{c},,district\n" for s in steps for c in leaving)
    ev = tmp_path / "exits.csv"
    ev.write_text("kind,child_id,mentor_id,actor\n" + rows, encoding="utf-8")
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(ev)) == 0
    before = _pairs(db)
    assert not {c for c, _ in before} & set(leaving)
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(ev)) == 0
    assert _pairs(db) == before
    # and a later night with the master roster (which still lists them)
    assert _nightly(db, files, "2026-03-16", tmp_path / "n3") == 0
    plan = _plan(tmp_path / "n3")
    assert plan["counts"]["children_joined"] == 0
    assert plan["counts"]["roster_rows_ignored"] == 5
    assert _pairs(db) == before
    children = _state(db).children.set_index("id")
    assert children.loc[leaving, "status"].tolist() == ["exited"] * 5
    assert children.loc[leaving, "left_on"].tolist() == ["2026-03-09"] * 5


# ---------------------------------------------------------------------------------------------
# 2. events are identified by what they say, not by the file's bytes


def test_the_same_bytes_on_a_later_night_are_new_events(tmp_path, files):
    db = tmp_path / "state.db"
    pause = _events(tmp_path / "pause.csv", "mentor_pause,,M2\n")
    resume = _events(tmp_path / "resume.csv", "mentor_resume,,M2\n")
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1", "--events", str(pause)) == 0
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(resume)) == 0
    assert _active(db) == {"M1", "M2"}
    again = _events(tmp_path / "pause-again.csv", "mentor_pause,,M2\n")
    assert again.read_bytes() == pause.read_bytes()
    assert _nightly(db, files, "2026-03-16", tmp_path / "n3", "--events", str(again)) == 0
    assert _active(db) == {"M1"}
    assert _plan(tmp_path / "n3")["counts"]["events_applied"] == 1


def test_the_same_dated_event_takes_effect_once(tmp_path, files):
    db = tmp_path / "state.db"
    text = "kind,child_id,mentor_id,date\nmentor_pause,,M2,2026-03-02\n"
    ev = tmp_path / "dated.csv"
    ev.write_text(text, encoding="utf-8")
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1", "--events", str(ev)) == 0
    resume = _events(tmp_path / "resume.csv", "mentor_resume,,M2\n")
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(resume)) == 0
    # the same dated event again, in a file of another night: already applied
    assert _nightly(db, files, "2026-03-16", tmp_path / "n3", "--events", str(ev)) == 0
    assert _active(db) == {"M1", "M2"}
    counts = _plan(tmp_path / "n3")["counts"]
    assert counts["events_applied"] == 0 and counts["events_duplicate"] == 1


# ---------------------------------------------------------------------------------------------
# 3. one writer, whatever the path


def _another_path(db: Path, how: str) -> Path:
    """``db`` itself, or a symbolic or hard link to it beside it."""
    other = db.with_name("other.db")
    if how == "symlink":
        other.symlink_to(db)
    elif how == "hardlink":
        os.link(db, other)
    else:
        other = db
    return other


@pytest.mark.parametrize("how", ["symlink", "hardlink", "same"])
def test_a_second_writer_through_another_path_is_refused(tmp_path, files, how, capsys):
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    other = _another_path(db, how)
    leave = _events(tmp_path / "leave.csv", "mentor_leave,,M1\n")
    with StateStore.open(db) as holder:
        holder.load()
        capsys.readouterr()
        code = _nightly(other, files, "2026-03-09", tmp_path / "n2", "--events", str(leave))
        assert code == 1
        assert "locked" in capsys.readouterr().err
    assert not (tmp_path / "n2").exists()
    assert _pairs(db) == {("C1", "M1"), ("C2", "M2")}
    with StateStore.open(db, readonly=True) as store:
        assert len(store.runs()) == 1


# ---------------------------------------------------------------------------------------------
# 4. no plan for a night that never happened


def test_an_invalid_date_leaves_the_plan_folder_untouched(tmp_path, files):
    db = tmp_path / "state.db"
    out = tmp_path / "plan"
    assert _nightly(db, files, "2026-03-02", out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _nightly(db, files, "2026-02-30", out) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with StateStore.open(db, readonly=True) as store:
        assert len(store.runs()) == 1


# ---------------------------------------------------------------------------------------------
# 5. a zero-byte store


def test_a_zero_byte_store_is_refused(tmp_path, files, capsys):
    db = tmp_path / "state.db"
    db.write_bytes(b"")
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 1
    err = capsys.readouterr().err
    assert str(db) in err and "empty" in err
    assert db.read_bytes() == b""
    assert not (tmp_path / "n1").exists()


def test_a_foreign_file_is_refused(tmp_path, files, capsys):
    db = tmp_path / "state.db"
    db.write_bytes(b"id,lat,lon\nC1,31.8,119.9\n")
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 1
    assert str(db) in capsys.readouterr().err
    assert db.read_bytes() == b"id,lat,lon\nC1,31.8,119.9\n"


# ---------------------------------------------------------------------------------------------
# 8. the waiting reason when every mentor within reach is full


def test_waiting_reason_is_mentors_taken_when_mentors_in_reach_are_full(tmp_path):
    kids = pd.DataFrame({"id": ["C1", "C2"], "lat": [31.80, 31.801], "lon": [119.90, 119.90]})
    mentors = pd.DataFrame({"id": ["M1"], "lat": [31.8005], "lon": [119.90], "capacity": [1]})
    files = {
        "children": write_csv(kids, tmp_path / "children.csv"),
        "mentors": write_csv(mentors, tmp_path / "mentors.csv"),
    }
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    # the next night re-matches around the existing pair: M1 is full
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2") == 0
    waiting = pd.read_csv(tmp_path / "n2" / "plan_waiting.csv", encoding="utf-8-sig")
    assert waiting["reason"].tolist() == ["mentors_taken"]


# ---------------------------------------------------------------------------------------------
# 10. smaller issues


def test_dry_run_on_a_new_path_creates_nothing(tmp_path, files):
    db = tmp_path / "new" / "state.db"
    db.parent.mkdir()
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1", "--dry-run") == 0
    assert list(db.parent.iterdir()) == []
    assert _plan(tmp_path / "n1")["dry_run"] is True


def test_default_run_date_is_the_programme_date_in_beijing(tmp_path, files, monkeypatch, capsys):
    real = dt.datetime

    class Clock(real):
        @classmethod
        def now(cls, tz=None):  # 03:27 in Beijing on 10 March is 19:27 UTC on 9 March
            moment = real(2026, 3, 9, 19, 27, tzinfo=dt.UTC)
            return moment if tz is None else moment.astimezone(tz)

    monkeypatch.setattr(dt, "datetime", Clock)
    db = tmp_path / "state.db"
    argv = ["nightly", "--db", str(db), "--out", str(tmp_path / "n1")]
    argv += ["--children", str(files["children"]), "--mentors", str(files["mentors"])]
    assert main(argv) == 0
    assert "nightly 2026-03-10" in capsys.readouterr().out
    with StateStore.open(db, readonly=True) as store:
        assert store.runs()["run_date"].tolist() == ["2026-03-10"]


# ---------------------------------------------------------------------------------------------
# two real writers at once


_SLOW_NIGHT = """
import sys, time
import matching.programme.nightly as nightly
from matching.cli import main

real = nightly.rematch

def slow(*args, **kwargs):  # holds the store while the other writer starts
    time.sleep(2.0)
    return real(*args, **kwargs)

nightly.rematch = slow
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_two_concurrent_writers_one_wins_the_other_changes_nothing(tmp_path, files, how):
    import subprocess
    import sys

    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    other = _another_path(db, how)
    leave = _events(tmp_path / "leave.csv", "mentor_leave,,M1\n")
    pause = _events(tmp_path / "pause.csv", "mentor_pause,,M2\n")
    script = tmp_path / "slow.py"
    script.write_text(_SLOW_NIGHT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = []
    for path, ev, out in ((db, leave, "a"), (other, pause, "b")):
        argv = [sys.executable, str(script), "nightly", "--db", str(path), "--date",
                "2026-03-09", "--events", str(ev), "--out", str(tmp_path / out), "-q"]  # fmt: skip
        procs.append(subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True))
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        if p.stderr:
            p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(i for i, (code, _) in enumerate(results) if code == 1)
    assert "locked" in results[loser][1]
    assert not (tmp_path / "ab"[loser]).exists()  # the loser wrote no plan
    with StateStore.open(db, readonly=True) as store:
        runs = store.runs()
        events = store.events()
    assert len(runs) == 2  # night 1 and the winner's night
    winner_kind = "mentor_pause" if loser == 0 else "mentor_leave"
    assert events["kind"].tolist() == [winner_kind]


# ---------------------------------------------------------------------------------------------
# the plan of any run, written again; backups


def test_matching_plan_writes_a_committed_plan_again(tmp_path, files, capsys):
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    leave = _events(tmp_path / "leave.csv", "mentor_leave,,M1\n")
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(leave)) == 0
    original = {p.name: p.read_bytes() for p in (tmp_path / "n2").iterdir()}
    assert _plan(tmp_path / "n2")["run_id"] == 2
    assert main(["plan", "--db", str(db), "--run", "2", "--out", str(tmp_path / "again")]) == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()} == original
    capsys.readouterr()
    assert main(["plan", "--db", str(db), "--run", "7", "--out", str(tmp_path / "x")]) == 1
    assert "has no run 7" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_backup_while_a_writer_holds_the_store(tmp_path, files, capsys):
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    copy = tmp_path / "backup.db"
    with StateStore.open(db) as writer:
        want = writer.load()
        assert main(["backup", "--db", str(db), "--to", str(copy)]) == 0
    with StateStore.open(copy, readonly=True) as store:
        got = store.load()
        assert len(store.runs()) == 1
    pd.testing.assert_frame_equal(got.children, want.children)
    pd.testing.assert_frame_equal(got.pairs, want.pairs)
    capsys.readouterr()
    before = copy.read_bytes()
    assert main(["backup", "--db", str(db), "--to", str(copy)]) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err
    assert copy.read_bytes() == before
    # the copy is a store the next night can run on
    assert _nightly(copy, files, "2026-03-09", tmp_path / "n2") == 0


def test_an_event_of_a_schema_1_store_is_a_duplicate_after_migration(tmp_path):
    from matching.programme.events import Event
    from matching.programme.nightly import run_nightly

    db = tmp_path / "state.db"
    db.write_bytes((Path(__file__).parent / "data" / "store_v1.db").read_bytes())
    # recorded on 2026-01-12 by schema 1: re-sent with its date, it is not applied again
    again = Event(kind="exit_request", child_id="C2", date="2026-01-12")
    # C2 exited under schema 1 and is not in the migrated store: an unknown id, were it applied
    report = run_nightly(
        db, date="2026-02-02", events=[again], policy=RematchPolicy(price_of_stability=False)
    )
    assert report.counts["events_duplicate"] == 1 and report.counts["events_applied"] == 0


# ---------------------------------------------------------------------------------------------
# 7. a damaged store row is a store error naming the table and the record


@pytest.mark.parametrize(
    ("table", "where", "name"),
    [
        ("children", "id = 'C1'", "record C1"),
        ("mentors", "id = 'M2'", "record M2"),
        ("runs", "run_id = 1", "run 1"),
    ],
)
def test_a_damaged_row_is_a_store_error(tmp_path, files, capsys, table, where, name):
    import sqlite3

    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    column = "config" if table == "runs" else "data"
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS runs_never_changed")
    conn.execute(f"UPDATE {table} SET {column} = '{{not json, 13912345678' WHERE {where}")
    conn.commit()
    conn.close()
    capsys.readouterr()
    code = _nightly(db, files, "2026-03-09", tmp_path / "n2")
    if table == "runs":  # the night does not read old runs' configuration
        assert code == 0
        assert main(["plan", "--db", str(db), "--run", "1", "--out", str(tmp_path / "p")]) == 0
        with StateStore.open(db, readonly=True) as store, pytest.raises(StoreError) as info:
            store.runs()
        text = str(info.value)
    else:
        assert code == 1
        text = capsys.readouterr().err
        assert text.startswith("error: ")
    assert f"table {table!r}, {name}" in text and "damaged" in text
    assert "13912345678" not in text
    assert "internal error" not in text


def test_a_switching_cost_without_bound_is_refused(tmp_path, files, capsys):
    db = tmp_path / "state.db"
    code = _nightly(db, files, "2026-03-02", tmp_path / "n1", "--allow-moves",
                    "--switching-cost-km", "1e16")  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "switching_cost_km" in err and "internal error" not in err
    assert not db.exists() and not (tmp_path / "n1").exists()


def test_the_rematch_table_of_the_config_is_read_and_the_command_line_wins(tmp_path, files, capsys):
    toml = tmp_path / "matching.toml"
    toml.write_text("[rematch]\nallow_moves = true\nswitching_cost_km = 1e16\n", encoding="utf-8")
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1", "--config", str(toml)) == 1
    err = capsys.readouterr().err
    assert "[rematch]" in err and "switching_cost_km" in err and "internal error" not in err
    assert not db.exists()
    toml.write_text("[rematch]\nallow_moves = true\nswitching_cost_km = 2.0\n", encoding="utf-8")
    code = _nightly(db, files, "2026-03-02", tmp_path / "n1", "--config", str(toml),
                    "--switching-cost-km", "3", "--skip-price-of-stability")  # fmt: skip
    assert code == 0
    with StateStore.open(db, readonly=True) as store:
        metrics = store.runs()["metrics"].iloc[-1]
    assert metrics["switching_cost_km"] == 3.0 and metrics["price_of_stability_km"] is None


def test_a_rejoin_takes_tonights_roster_row_and_the_next_night_changes_nothing(tmp_path, files):
    """Rosters are applied before events: the row of a mentor who rejoins tonight is applied
    once the rejoin is, not left over to change the next night."""
    db = tmp_path / "state.db"
    assert _nightly(db, files, "2026-03-02", tmp_path / "n1") == 0
    leave = _events(tmp_path / "leave.csv", "mentor_leave,,M1\n")
    assert _nightly(db, files, "2026-03-09", tmp_path / "n2", "--events", str(leave)) == 0
    more = MENTORS.assign(capacity=[2, 1])  # M1 comes back able to take two children
    files = {**files, "mentors": write_csv(more, tmp_path / "mentors-2.csv")}
    back = _events(tmp_path / "back.csv", "mentor_rejoin,,M1\n")
    assert _nightly(db, files, "2026-03-16", tmp_path / "n3", "--events", str(back)) == 0
    counts = _plan(tmp_path / "n3")["counts"]
    assert counts["roster_rows_ignored"] == 0 and counts["mentors_updated"] == 1
    mentors = _state(db).mentors.set_index("id")
    assert (mentors.at["M1", "status"], mentors.at["M1", "capacity"]) == ("active", 2)
    assert mentors.at["M1", "joined_on"] == "2026-03-16"
    assert _pairs(db) == {("C1", "M1"), ("C2", "M2")}
    assert _nightly(db, files, "2026-03-23", tmp_path / "n4") == 0
    assert _plan(tmp_path / "n4")["counts"]["changes"] == 0


@pytest.mark.parametrize(
    ("table", "code", "date"),
    [
        ('[nightly]\ntimezone = "UTC"\n', 0, "2026-03-09"),
        ('[nightly]\ntimezone = "Asia/Shanghai"\n[matching]\nmax_distance_km = 4.0\n', 0,
         "2026-03-10"),
        ('[nightly]\ntimezone = "Mars/Olympus"\n', 1, None),
        ('[nightly]\ntime_zone = "UTC"\n', 1, None),
    ],
)  # fmt: skip
def test_the_nightly_time_zone_setting(tmp_path, files, monkeypatch, capsys, table, code, date):
    real = dt.datetime

    class Clock(real):
        @classmethod
        def now(cls, tz=None):
            moment = real(2026, 3, 9, 19, 27, tzinfo=dt.UTC)
            return moment if tz is None else moment.astimezone(tz)

    monkeypatch.setattr(dt, "datetime", Clock)
    config = tmp_path / "matching.toml"
    config.write_text(table, encoding="utf-8")
    db = tmp_path / "state.db"
    argv = ["nightly", "--db", str(db), "--out", str(tmp_path / "n1"), "--config", str(config)]
    argv += ["--children", str(files["children"]), "--mentors", str(files["mentors"])]
    assert main(argv) == code
    out, err = capsys.readouterr()
    if date is not None:
        assert f"nightly {date}" in out
    else:
        assert err.startswith("error:") and "time" in err and not db.exists()
