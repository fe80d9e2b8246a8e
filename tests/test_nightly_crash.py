"""SIGKILL during ``matching nightly``, then the same night again.

A small district is committed as night 1, with its plan in the plan folder.
Night 2 (a new referral in the roster, a child's whole exit workflow, a
mentor leaving, a pin) is run to completion on a copy of the store: that is
the reference.  Then, from the state after night 1 each time, night 2 runs in
a subprocess (``tests/nightly_kill_driver.py``) that SIGKILLs itself at a
phase boundary, or that the test kills at a random time.  Right after each
kill:

- the store is the one after night 1 or the reference, whole (a killed
  commit's journal is left in place for the re-run to roll back; it is read
  from a copy);
- the plan folder holds night 1's plan, byte for byte, or the reference
  plan, complete; never the new plan while the store has not committed it.

Then the same night runs again in-process and both the store and the plan
folder equal the reference, with nothing left beside them.  A store is
compared through what it returns (state, histories, events, runs without
``committed_at``, each run's files); a plan folder byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import differences, store_snapshot

from matching.cli import main
from matching.datasets.synth import district
from matching.programme.store import StateStore, backup
from matching.reports.files import write_csv

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().parent / "nightly_kill_driver.py"
NIGHT_1, NIGHT_2 = "2026-03-02", "2026-03-09"
RUN_2 = f"nightly {NIGHT_2}: run 2"
ALREADY = f"nightly {NIGHT_2}: already committed as run 2; nothing changed"

# the phase boundaries (tests/nightly_kill_driver.py) and what each kill must leave
CHOSEN = {
    "open": ("before", "old"),
    "load": ("before", "old"),
    "rematch": ("before", "old"),
    "write_files": ("before", "old"),
    "commit": ("after", "old"),
    "staged": ("after", "old"),
    "exchange": ("after", "old"),
    "exchanged": ("after", "new"),
    "published": ("after", "new"),
    "fallback_renamed": ("after", "restorable"),
}


# ----------------------------------------------------------------------------------------------
# comparing stores and plan folders


def _folder(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative posix path -> bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------------------------
# the two nights


@dataclass(frozen=True)
class Nights:
    base: Path
    after_1: Path  # the store after night 1 (never written again)
    old_plan: Path  # the plan folder after night 1
    argv_2: list[str]  # night 2, less --db and --out
    before: dict[str, object]  # the store after night 1
    after: dict[str, object]  # the store after night 2 (the reference)
    old: dict[str, bytes]  # night 1's plan folder
    new: dict[str, bytes]  # night 2's plan folder (the reference)


def _night_2_events(db: Path, path: Path) -> Path:
    """A child's whole exit, a mentor leaving and a pin, each on a pair of night 1."""
    with StateStore.open(db, readonly=True) as store:
        pairs = store.load().pairs
    rows = list(zip(pairs["child_id"], pairs["mentor_id"], strict=True))
    (leaving, _), (_, departing), (pin_c, pin_m) = rows[0], rows[1], rows[2]
    assert len({rows[0][1], departing, pin_m}) == 3, "the test needs three distinct mentors"
    steps = ["exit_request", "exit_investigate", "exit_approve", "exit_effective"]
    lines = [f"{s},{leaving},,district-office," for s in steps]
    lines += [f"mentor_leave,,{departing},,", f"pin,{pin_c},{pin_m},street-office,"]
    path.write_text("kind,child_id,mentor_id,actor,note\n" + "\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Nights:
    base = tmp_path_factory.mktemp("nightly-crash")
    kids, mentors = district(120, 100, seed=8)
    children_1 = write_csv(kids.iloc[:114], base / "children-1.csv")
    children_2 = write_csv(kids, base / "children-2.csv")  # six new referrals
    mentors_csv = write_csv(mentors, base / "mentors.csv")
    db, plan = base / "night-1" / "state.db", base / "night-1" / "plan"
    db.parent.mkdir()
    argv_1 = ["nightly", "--date", NIGHT_1, "--children", str(children_1)]
    argv_1 += ["--mentors", str(mentors_csv), "-q"]
    assert main([*argv_1, "--db", str(db), "--out", str(plan)]) == 0
    after_1 = backup(db, base / "after-1.db")
    events = _night_2_events(db, base / "events-2.csv")
    argv_2 = ["nightly", "--date", NIGHT_2, "--children", str(children_2)]
    argv_2 += ["--mentors", str(mentors_csv), "--events", str(events)]
    reference = base / "reference"
    reference.mkdir()
    shutil.copyfile(after_1, reference / "state.db")
    shutil.copytree(plan, reference / "plan")
    argv = [*argv_2, "-q", "--db", str(reference / "state.db"), "--out", str(reference / "plan")]
    assert main(argv) == 0
    return Nights(
        base=base,
        after_1=after_1,
        old_plan=plan,
        argv_2=argv_2,
        before=store_snapshot(after_1),
        after=store_snapshot(reference / "state.db"),
        old=_folder(plan),
        new=_folder(reference / "plan"),
    )


def test_night_2_changes_the_store_and_every_plan_file(nights: Nights) -> None:
    """The reference is not a no-op: a kill could not pass by leaving things as they were."""
    assert "run_files 2" in nights.after and "run_files 2" not in nights.before
    assert sorted(nights.new) == sorted(nights.old)
    for name in ("plan.json", "plan_new_pairs.csv", "plan_ended_pairs.csv"):
        assert nights.new[name] != nights.old[name], name
    counts = json.loads(nights.new["plan.json"])["counts"]
    assert counts["children_joined"] == 6 and counts["events_applied"] == 6
    assert counts["pairs_ended"] >= 2 and counts["pairs_started"] >= 2
    for name in ("pairs", "history", "enrolments", "events", "children", "mentors"):
        assert nights.before[name] != nights.after[name], name
    assert differences(nights.after, nights.before) != []


def test_rerun_of_the_committed_night_changes_nothing(
    nights: Nights, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, plan = tmp_path / "state.db", tmp_path / "plan"
    shutil.copyfile(nights.after_1, db)
    shutil.copytree(nights.old_plan, plan)
    argv = [*nights.argv_2, "--db", str(db), "--out", str(plan)]
    assert main(argv) == 0
    assert RUN_2 in capsys.readouterr().out
    assert differences(store_snapshot(db), nights.after) == []
    shutil.rmtree(plan)
    shutil.copytree(nights.old_plan, plan)  # night 1's plan again: the re-run writes night 2's
    assert main(argv) == 0
    assert ALREADY in capsys.readouterr().out
    with StateStore.open(db, readonly=True) as store:
        assert len(store.runs()) == 2
    assert differences(store_snapshot(db), nights.after) == []
    assert _folder(plan) == nights.new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan", "state.db"]


# ----------------------------------------------------------------------------------------------
# kills


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MATCHING_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass(frozen=True)
class Case:
    """One killed run: its own store (a copy of the one after night 1) and plan folder."""

    name: str
    folder: Path

    @property
    def db(self) -> Path:
        return self.folder / "state.db"

    @property
    def plan(self) -> Path:
        return self.folder / "plan"


def _case(nights: Nights, parent: Path, name: str) -> Case:
    case = Case(name, parent / name)
    case.folder.mkdir()
    shutil.copyfile(nights.after_1, case.db)
    shutil.copytree(nights.old_plan, case.plan)
    return case


def _start(nights: Nights, case: Case, point: str) -> subprocess.Popen[str]:
    argv = [sys.executable, str(DRIVER), point, "--", *nights.argv_2, "-q"]
    argv += ["--db", str(case.db), "--out", str(case.plan)]
    return subprocess.Popen(
        argv, cwd=case.folder, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _store_after_kill(nights: Nights, case: Case) -> tuple[str, bool]:
    """('before' or 'after', whether a journal was left), read from a copy of the killed
    run's files so that the re-run meets them as the kill left them."""
    inspect = case.folder.parent / f"{case.name}-inspect"
    inspect.mkdir()
    journal = case.db.with_name("state.db-journal")
    shutil.copyfile(case.db, inspect / "state.db")
    if journal.exists():
        shutil.copyfile(journal, inspect / "state.db-journal")
    got = store_snapshot(inspect / "state.db")
    if got == nights.before:
        return "before", journal.exists()
    if got == nights.after:
        return "after", journal.exists()
    raise AssertionError(
        f"{case.name}: the store is neither night 1's nor night 2's after the kill; "
        f"versus night 1: {differences(got, nights.before)}, "
        f"versus night 2: {differences(got, nights.after)}"
    )


def _plan_after_kill(nights: Nights, case: Case) -> str:
    """'old' (night 1's plan, byte for byte), 'new' (night 2's, complete) or 'restorable'
    (missing, night 1's plan whole in the one interrupted copy beside it)."""
    if case.plan.is_dir():
        got = _folder(case.plan)
        if got == nights.old:
            return "old"
        if got == nights.new:
            return "new"
        names = got.keys() | nights.old.keys()
        mixed = sorted(n for n in names if got.get(n) != nights.old.get(n))
        raise AssertionError(f"{case.name}: the plan folder is mixed; not night 1's: {mixed}")
    olds = [p for p in case.folder.iterdir() if p.name.startswith(".plan.old-")]
    if len(olds) == 1 and _folder(olds[0]) == nights.old:
        return "restorable"
    raise AssertionError(f"{case.name}: the plan folder is missing and cannot be restored")


def _check_kill_then_rerun(
    nights: Nights, case: Case, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str, bool]:
    """The state right after the kill, then the same night again; returns (store, plan, journal)."""
    store, journal = _store_after_kill(nights, case)
    plan = _plan_after_kill(nights, case)
    assert not (plan == "new" and store == "before"), f"{case.name}: plan ahead of the store"
    capsys.readouterr()
    argv = [*nights.argv_2, "--db", str(case.db), "--out", str(case.plan)]
    assert main(argv) == 0, case.name
    out = capsys.readouterr().out
    assert (ALREADY if store == "after" else RUN_2) in out, (case.name, out)
    assert differences(store_snapshot(case.db), nights.after) == [], case.name
    assert _folder(case.plan) == nights.new, case.name
    left = sorted(p.name for p in case.folder.iterdir())
    assert left == ["plan", "state.db"], (case.name, left)
    return store, plan, journal


def test_sigkill_at_each_phase_boundary(
    nights: Nights, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [_case(nights, tmp_path, point) for point in CHOSEN]
    for first in range(0, len(cases), 2):  # two at a time: one per core
        batch = cases[first : first + 2]
        procs = [_start(nights, case, case.name) for case in batch]
        for case, proc in zip(batch, procs, strict=True):
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL, (case.name, proc.returncode, err)
            assert out == "ready\n", (case.name, out)
    got = {}
    journals = {}
    for case in cases:
        store, plan, journals[case.name] = _check_kill_then_rerun(nights, case, capsys)
        got[case.name] = (store, plan)
    assert got == CHOSEN
    # the kill inside the commit really interrupted a written transaction
    assert journals["write_files"], journals


def test_sigkill_at_random_times(
    nights: Nights, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = _case(nights, tmp_path, "probe")
    proc = _start(nights, probe, "none")
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    began = time.perf_counter()
    _, err = proc.communicate(timeout=300)
    duration = time.perf_counter() - began
    assert proc.returncode == 0, err
    assert differences(store_snapshot(probe.db), nights.after) == []
    assert _folder(probe.plan) == nights.new
    rng = random.Random(20260309)
    outcomes = []
    for batch in range(3):
        pair = [_case(nights, tmp_path, f"random-{batch}-{j}") for j in range(2)]
        procs = [_start(nights, case, "none") for case in pair]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        began = time.perf_counter()
        delays = sorted((rng.uniform(0.0, 1.1) * duration, j) for j in range(2))
        for delay, j in delays:
            time.sleep(max(0.0, began + delay - time.perf_counter()))
            procs[j].send_signal(signal.SIGKILL)
        for case, p in zip(pair, procs, strict=True):
            _, err = p.communicate(timeout=300)
            assert p.returncode in (0, -signal.SIGKILL), (case.name, p.returncode, err)
            store, plan, _ = _check_kill_then_rerun(nights, case, capsys)
            assert plan in ("old", "new"), (case.name, plan)  # the exchange: never missing
            outcomes.append((p.returncode == -signal.SIGKILL, store, plan))
    if os.environ.get("NIGHTLY_CRASH_VERBOSE"):
        with capsys.disabled():
            print(f"\nrandom kills after a {duration:.2f} s run (killed, store, plan): {outcomes}")
    assert any(killed for killed, _, _ in outcomes)
