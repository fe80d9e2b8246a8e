"""Output folders appear whole or not at all (matching.reports.folders.staged_folder).

``matching match`` writes ``pairs.csv``, ``unmatched.csv``, ``summary.json``
(and ``report.xlsx``) into a sibling staging folder and swaps it in as a
whole.  These tests inject failures and SIGKILLs between the steps and check
that the folder always holds the previous run's files or the new run's files,
byte for byte, never a mix, never nothing, and that a clean re-run removes
every leftover.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import matching.reports.files as report
import matching.reports.folders as folders
from matching import MatchResult, match
from matching.cli import main
from matching.datasets.synth import district
from matching.errors import InputError
from matching.reports.files import FILES, OUTPUT_FILES, write_csv, write_result
from matching.reports.folders import staged_folder

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().parent / "kill_driver.py"
RESULT_FILES = ("pairs.csv", "unmatched.csv", "summary.json")
XLSX_FILES = (*RESULT_FILES, "report.xlsx")


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative posix path -> bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _rosters(folder: Path, seed: int, n_children: int = 60, n_mentors: int = 50) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    children, mentors = district(n_children, n_mentors, seed=seed)
    return [
        str(write_csv(children, folder / "children.csv")),
        str(write_csv(mentors, folder / "mentors.csv")),
    ]


def _leftovers_beside(out: Path) -> list[str]:
    """Entries beside ``out`` named like a run's staging or old folder."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _leftovers(out: Path) -> list[str]:
    """Leftovers beside ``out`` and temporary files inside it."""
    inside = [p.name for p in out.iterdir() if p.name.endswith(".tmp")] if out.is_dir() else []
    return sorted(_leftovers_beside(out) + inside)


def _small_result() -> MatchResult:
    return match(*district(20, 15, seed=3))


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Rosters A and B (different results) and the folders a clean run writes for each."""
    base = tmp_path_factory.mktemp("inputs")
    a, b = _rosters(base / "a", seed=11), _rosters(base / "b", seed=12, n_mentors=30)
    expected = {}
    for key, rosters in (("a", a), ("b", b)):
        out = base / f"expected-{key}"
        assert main(["match", *rosters, "--out", str(out), "--xlsx", "-q"]) == 0
        expected[key] = _snapshot(out)
    assert sorted(expected["a"]) == sorted(XLSX_FILES)
    for name in XLSX_FILES:
        if name != "report.xlsx":  # xlsx zips carry timestamps; CSV and JSON must differ
            assert expected["a"][name] != expected["b"][name], name
    return {"a": a, "b": b, "expected_a": expected["a"], "expected_b": expected["b"]}


# ----------------------------------------------------------------------------------------------
# failures between the files (issue: outputs left half-written)


def test_failure_on_second_file_keeps_previous_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    kids, moms = district(60, 50, seed=1)
    out = tmp_path / "out"
    write_result(match(kids, moms), out)
    before = _snapshot(out)
    kids2, moms2 = district(60, 30, seed=2)
    calls = []
    original = report.write_bytes_atomic

    def fail_second(path: object, data: bytes) -> Path:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(path, data)  # type: ignore[arg-type]

    monkeypatch.setattr(report, "write_bytes_atomic", fail_second)
    with pytest.raises(OSError, match="disk full"):
        write_result(match(kids2, moms2), out)
    assert len(calls) == 2
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_cli_workbook_failure_keeps_previous_folder(
    tmp_path: Path, two_inputs: dict, monkeypatch: pytest.MonkeyPatch, capsys, swap: str
) -> None:
    out = tmp_path / "out"
    assert main(["match", *two_inputs["a"], "--out", str(out), "--xlsx", "-q"]) == 0
    before = _snapshot(out)

    def fail(*args: object, **kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("matching.reports.excel.write_workbook", fail)
    assert main(["match", *two_inputs["b"], "--out", str(out), "--xlsx", "-q"]) == 1
    assert "No space left" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_next_run_removes_temporary_files_of_a_killed_run(
    tmp_path: Path, two_inputs: dict, swap: str
) -> None:
    out = tmp_path / "out"
    assert main(["match", *two_inputs["a"], "--out", str(out), "-q"]) == 0
    (out / ".pairs.csv.0123456789abcdef.tmp").write_bytes(b"half")
    (out / ".summary.json.fedcba9876543210.tmp").write_bytes(b"")
    assert main(["match", *two_inputs["b"], "--out", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    assert _leftovers(out) == []


def test_keyboard_interrupt_removes_staging_and_keeps_folder(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    with staged_folder(out, owned={"a.txt"}) as stage:
        (stage / "a.txt").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), staged_folder(out, owned={"a.txt"}) as stage:
        (stage / "a.txt").write_bytes(b"new")
        raise KeyboardInterrupt
    assert _snapshot(out) == {"a.txt": b"old"}
    assert _leftovers(out) == []


# ----------------------------------------------------------------------------------------------
# staged_folder: what may be replaced


@pytest.fixture(params=["exchange", "fallback"])
def swap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with the RENAME_EXCHANGE swap, then with the two-rename fallback."""
    used: list[bool] = []
    original = folders._exchange
    if request.param == "fallback":

        def unavailable(parent: Path, a: str, b: str) -> bool:
            used.append(False)
            return False

        monkeypatch.setattr(folders, "_exchange", unavailable)
    else:
        if not sys.platform.startswith("linux"):
            pytest.skip("RENAME_EXCHANGE is Linux-only")

        def spy(parent: Path, a: str, b: str) -> bool:
            done = original(parent, a, b)
            used.append(done)
            return done

        monkeypatch.setattr(folders, "_exchange", spy)
    yield request.param
    if request.param == "exchange":  # the exchange really ran (not a silent fallback)
        assert all(used), used


def test_swap_replaces_folder_and_lists_final_paths(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    (out / "a.txt").write_bytes(b"old a")
    (out / "b.txt").write_bytes(b"old b, dropped")
    folder = staged_folder(out, owned={"a.txt", "b.txt", "sub"})
    with folder as stage:
        assert stage.parent == out.parent and stage.name.startswith(".out.staging-")
        (stage / "a.txt").write_bytes(b"new a")
        (stage / "sub").mkdir()
        written = write_csv(district(5, 3, seed=1)[0], stage / "sub" / "c.csv")
        assert folder.final(written) == out / "sub" / "c.csv"
    assert folder.files == (out / "a.txt", out / "sub" / "c.csv")
    assert _snapshot(out)["a.txt"] == b"new a" and not (out / "b.txt").exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700  # permissions of the replaced folder
    assert _leftovers(out) == []


def test_refuses_folder_holding_foreign_entries(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "pairs.csv").write_bytes(b"old")
    (out / "张三的档案.docx").write_bytes(b"not ours")
    (out / "notes").mkdir()
    before = _snapshot(out)
    with pytest.raises(InputError) as info, staged_folder(out, owned=OUTPUT_FILES):
        pytest.fail("entered a folder holding foreign files")
    message = str(info.value)
    assert str(out) in message and "2 entries" in message
    assert "张三" not in message and "notes" not in message  # counts, never names
    assert _snapshot(out) == before and (out / "notes").is_dir()
    assert _leftovers(out) == []
    rosters = tmp_path / "rosters"  # rosters and results in one folder: refused, kept
    rosters.mkdir()
    (rosters / "children.csv").write_bytes(b"a roster")
    with pytest.raises(InputError, match="1 entry that"):
        write_result(_small_result(), rosters)
    assert _snapshot(rosters) == {"children.csv": b"a roster"} and _leftovers(rosters) == []


def test_cli_refuses_folder_holding_the_rosters(tmp_path: Path, two_inputs: dict, capsys) -> None:
    folder = Path(two_inputs["a"][0]).parent
    before = _snapshot(folder)
    assert main(["match", *two_inputs["a"], "--out", str(folder), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot replace the folder {str(folder)!r}: it holds 2 entries")
    assert _snapshot(folder) == before and _leftovers(folder) == []


def test_refuses_files_that_appear_before_the_swap(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="1 entry"), staged_folder(out, owned={"a"}) as stage:
        (stage / "a").write_bytes(b"new")
        (out / "someone-elses.txt").write_bytes(b"x")  # written while we were staging
    assert _snapshot(out) == {"someone-elses.txt": b"x"}
    assert _leftovers(out) == []


def test_empty_and_owned_only_folders_are_replaced_missing_parents_created(
    tmp_path: Path, swap: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    write_result(_small_result(), empty)
    assert sorted(p.name for p in empty.iterdir()) == sorted(RESULT_FILES)
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "report.xlsx").write_bytes(b"an older run's workbook")
    (stale / "pairs.csv").write_bytes(b"older pairs")
    paths = write_result(_small_result(), stale)
    assert sorted(p.name for p in stale.iterdir()) == sorted(RESULT_FILES)  # workbook dropped
    keys = ("pairs", "unmatched", "summary")
    assert paths == {k: stale / n for k, n in zip(keys, FILES, strict=True)}
    deep = tmp_path / "a" / "b" / "c"
    write_result(_small_result(), deep)
    assert sorted(p.name for p in deep.iterdir()) == sorted(RESULT_FILES)
    assert [_leftovers(p) for p in (empty, stale, deep)] == [[], [], []]


def test_out_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_bytes(b"x")
    with pytest.raises(InputError, match="is not a directory") as info, staged_folder(target):
        pass
    assert str(target) in str(info.value)
    assert target.read_bytes() == b"x" and _leftovers_beside(target) == []


def test_current_folder_and_its_parents_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_inputs: dict, capsys
) -> None:
    here = tmp_path / "work" / "here"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    for out in (".", "..", str(here), "/"):
        with pytest.raises(InputError, match="current folder"), staged_folder(out):
            pass
    assert main(["match", *two_inputs["a"], "--out", ".", "-q"]) == 1
    assert "current folder" in capsys.readouterr().err
    assert list(here.iterdir()) == [] and _leftovers_beside(here) == []
    with staged_folder("sub", owned={"x"}) as stage:  # a subfolder of the current one is fine
        (stage / "x").write_bytes(b"1")
    assert (here / "sub" / "x").read_bytes() == b"1"


def test_symlinked_folder_is_replaced_and_link_kept(tmp_path: Path, swap: str) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a").write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    folder = staged_folder(link, owned={"a"})
    with folder as stage:
        (stage / "a").write_bytes(b"new")
    assert link.is_symlink() and (link / "a").read_bytes() == b"new"
    assert folder.files == (link / "a",)
    assert _leftovers(real) == [] and _leftovers_beside(link) == []


# ----------------------------------------------------------------------------------------------
# leftovers of killed runs


def test_leftovers_of_killed_runs_are_removed_and_others_kept(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    with staged_folder(out, owned={"a"}) as stage:
        (stage / "a").write_bytes(b"old")
    dead_staging = tmp_path / ".out.staging-0123456789abcdef"
    dead_staging.mkdir()
    (dead_staging / "a").write_bytes(b"half")
    dead_old = tmp_path / ".out.old-fedcba9876543210"
    dead_old.mkdir()
    (out / ".a.00112233445566ff.tmp").write_bytes(b"half a file")
    not_ours = [
        tmp_path / ".out.staging-xyz",  # not our pattern
        tmp_path / ".other.staging-0123456789abcdef",  # another folder's
        tmp_path / "out.bak",
    ]
    for path in not_ours:
        path.mkdir()
    with staged_folder(out, owned={"a"}) as stage:
        assert not dead_staging.exists() and not dead_old.exists()
        assert not (out / ".a.00112233445566ff.tmp").exists()  # removed on entry
        (stage / "a").write_bytes(b"new")
    assert _snapshot(out) == {"a": b"new"}
    assert all(path.is_dir() for path in not_ours)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", *(p.name for p in not_ours)]
    )


def test_missing_folder_is_restored_from_an_interrupted_swap(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    old = tmp_path / ".out.old-00000000000000aa"
    old.mkdir()
    (old / "a").write_bytes(b"previous")
    half = tmp_path / ".out.staging-00000000000000aa"
    half.mkdir()
    (half / "a").write_bytes(b"complete but never swapped in")
    with pytest.raises(RuntimeError), staged_folder(out, owned={"a"}) as stage:
        assert _snapshot(out) == {"a": b"previous"}  # restored on entry
        (stage / "a").write_bytes(b"new")
        raise RuntimeError("this run fails too")
    assert _snapshot(out) == {"a": b"previous"}
    assert _leftovers(out) == []


def test_several_interrupted_copies_are_refused(tmp_path: Path) -> None:
    for token in ("00000000000000aa", "00000000000000bb"):
        (tmp_path / f".out.old-{token}").mkdir()
    with pytest.raises(InputError, match="2 interrupted copies"), staged_folder(tmp_path / "out"):
        pass
    assert not (tmp_path / "out").exists() and len(_leftovers_beside(tmp_path / "out")) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_staging_folder_of_a_live_run_is_not_removed(tmp_path: Path, swap: str) -> None:
    out = tmp_path / "out"
    first = staged_folder(out, owned={"a"})
    with first as stage_1:
        (stage_1 / "a").write_bytes(b"first")
        with staged_folder(out, owned={"a"}) as stage_2:  # a second run starts meanwhile
            assert stage_1.is_dir() and (stage_1 / "a").exists()
            (stage_2 / "a").write_bytes(b"second")
        assert stage_1.is_dir()
    assert _snapshot(out) == {"a": b"first"}  # the last swap wins, whole
    assert _leftovers(out) == []


_READER = """
import json, os, sys
out, stop = sys.argv[1], sys.argv[2]
names, seen = ("a", "b", "c"), {"ok": 0, "missing": 0, "replaced meanwhile": 0, "mixed": 0}
while not os.path.exists(stop):
    try:
        dir_fd = os.open(out, os.O_RDONLY)  # look at one folder through one handle
    except FileNotFoundError:
        seen["missing"] += 1
        continue
    handles = []
    try:
        for name in names:
            handles.append(os.open(name, os.O_RDONLY, dir_fd=dir_fd))
    except FileNotFoundError:  # the old folder was swapped out and is being removed
        seen["replaced meanwhile"] += 1
        continue
    finally:
        os.close(dir_fd)
    values = {os.read(fd, 64) for fd in handles}
    for fd in handles:
        os.close(fd)
    seen["ok" if len(values) == 1 else "mixed"] += 1
print(json.dumps(seen))
"""


def test_readers_see_old_or_new_never_mixed_never_missing_with_exchange(
    tmp_path: Path, swap: str
) -> None:
    out = tmp_path / "out"
    names = ("a", "b", "c")

    def publish(generation: int) -> None:
        with staged_folder(out, owned=set(names)) as stage:
            for name in names:
                (stage / name).write_text(str(generation))

    publish(0)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(out), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.2)
        for generation in range(1, 80):
            publish(generation)
    finally:
        stop.touch()
        stdout, _ = reader.communicate(timeout=60)
    seen = json.loads(stdout)
    assert seen["ok"] > 0 and seen["mixed"] == 0, seen
    if swap == "exchange":  # the fallback's two renames leave a moment with no folder
        assert seen["missing"] == 0, seen
    assert (out / "a").read_text() == "79"


# ----------------------------------------------------------------------------------------------
# demo: a shared folder, not swapped


def test_demo_folder_is_not_swapped_and_keeps_other_files(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "notes.txt").write_bytes(b"staff notes")
    argv = ["demo", "--out", str(out), "--children", "40", "--mentors", "30", "--nights", "0"]
    assert main([*argv, "-q"]) == 0
    assert (out / "notes.txt").read_bytes() == b"staff notes"
    assert {"children.csv", "mentors.csv", *RESULT_FILES} <= {p.name for p in out.iterdir()}


# ----------------------------------------------------------------------------------------------
# SIGKILL at chosen points and at random times (python -m matching in a subprocess)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MATCHING_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _workbook_values(data: bytes) -> list[object]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    values = [(ws.title, list(ws.iter_rows(values_only=True))) for ws in book.worksheets]
    book.close()
    return values


def _same_run(state: dict[str, bytes], expected: dict[str, bytes]) -> bool:
    """The same files, byte for byte; a workbook by its cells (its zip holds a timestamp)."""
    if sorted(state) != sorted(expected):
        return False
    for name, data in expected.items():
        if name.endswith(".xlsx"):
            if _workbook_values(state[name]) != _workbook_values(data):
                return False
        elif state[name] != data:
            return False
    return True


def _classify(out: Path, old: dict[str, bytes], new: dict[str, bytes]) -> str:
    """'old' (byte-identical), 'new' (complete) or 'restorable' (fallback, between renames)."""
    if out.is_dir():
        state = _snapshot(out)
        if state == old:
            return "old"
        if _same_run(state, new):
            return "new"
        return f"MIXED: {sorted(state)}"
    olds = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.old-")]
    if len(olds) == 1 and _snapshot(olds[0]) == old:
        return "restorable"
    return "MISSING"


@pytest.fixture(scope="module")
def old_folder(tmp_path_factory: pytest.TempPathFactory, two_inputs: dict) -> Path:
    """A folder written by a clean run on rosters A, with the workbook."""
    out = tmp_path_factory.mktemp("old") / "out"
    assert main(["match", *two_inputs["a"], "--out", str(out), "--xlsx", "-q"]) == 0
    return out


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _run_all(jobs: list[tuple[list[str], Path]], parallel: int = 2) -> list[int]:
    """Start the commands (``argv`` for a fresh copy of the old folder), ``parallel`` at a time."""
    codes: list[int] = []
    for first in range(0, len(jobs), parallel):
        batch = [_start(argv) for argv, _ in jobs[first : first + parallel]]
        for proc in batch:
            _, err = proc.communicate(timeout=300)
            codes.append(proc.returncode)
            assert proc.returncode in (0, -signal.SIGKILL), err.decode(errors="replace")
    return codes


def test_sigkill_at_every_step_of_the_swap(
    tmp_path: Path, two_inputs: dict, old_folder: Path
) -> None:
    old, new = _snapshot(old_folder), two_inputs["expected_b"]
    argv_b = ["match", *two_inputs["b"], "--xlsx", "-q", "--out"]
    # (fallback?, step, n): the process is killed just before the nth call of step
    points = [(False, "os.replace", n) for n in (1, 2, 4)]  # writing the staging folder
    points += [(False, "exchange", 1)]  # all fsync'ed, not yet swapped
    points += [(False, "shutil.rmtree", 1)]  # swapped, the old folder not yet removed
    points += [(True, "os.rename", 1), (True, "os.rename", 2)]  # before, between the renames
    points += [(True, "shutil.rmtree", 1)]  # renamed, the old folder not yet removed
    jobs = []
    for i, (fallback, step, n) in enumerate(points):
        out = tmp_path / f"k{i}" / "out"
        shutil.copytree(old_folder, out)
        options = [step, str(n), *(["--no-exchange"] if fallback else [])]
        jobs.append(([sys.executable, str(DRIVER), *options, "--", *argv_b, str(out)], out))
    codes = _run_all(jobs)
    assert codes == [-signal.SIGKILL] * len(points)  # every step was reached
    results = {
        point: _classify(out, old, new) for point, (_, out) in zip(points, jobs, strict=True)
    }
    expected = {point: "old" for point in points}  # killed before the swap: the old folder
    expected[(False, "shutil.rmtree", 1)] = "new"
    expected[(True, "os.rename", 2)] = "restorable"  # missing, the old folder whole beside it
    expected[(True, "shutil.rmtree", 1)] = "new"
    assert results == expected
    # a clean run afterwards: the new folder, no leftovers beside or inside it
    for point, (_, out) in zip(points, jobs, strict=True):
        assert _leftovers(out), point  # each kill did leave something to clean
        assert main([*argv_b, str(out)]) == 0
        assert _same_run(_snapshot(out), new), point
        assert _leftovers(out) == [], point
    print(f"\nSIGKILL at {len(points)} chosen steps: {results}")


def test_sigkill_at_random_times(tmp_path: Path, two_inputs: dict, old_folder: Path) -> None:
    old, new = _snapshot(old_folder), two_inputs["expected_b"]
    argv_b = [sys.executable, "-m", "matching", "match", *two_inputs["b"], "--xlsx", "-q", "--out"]
    probe = tmp_path / "probe" / "out"
    shutil.copytree(old_folder, probe)
    start = time.perf_counter()
    _run_all([([*argv_b, str(probe)], probe)], parallel=1)
    duration = time.perf_counter() - start
    rng = random.Random(20240601)
    outcomes = []
    for batch in range(4):
        procs = []
        for j in range(2):
            out = tmp_path / f"r{batch}-{j}" / "out"
            shutil.copytree(old_folder, out)
            popen = _start([*argv_b, str(out)])
            procs.append((popen, out, rng.uniform(0.3, 1.1) * duration))
        begun = time.perf_counter()
        for popen, out, delay in sorted(procs, key=lambda item: item[2]):
            time.sleep(max(0.0, begun + delay - time.perf_counter()))
            popen.send_signal(signal.SIGKILL)
            _, err = popen.communicate(timeout=300)
            assert popen.returncode in (0, -signal.SIGKILL), err.decode(errors="replace")
            outcome = _classify(out, old, new)
            assert outcome in ("old", "new"), outcome
            outcomes.append((round(delay, 2), popen.returncode == -signal.SIGKILL, outcome))
            assert main([*argv_b[3:], str(out)]) == 0
            assert _same_run(_snapshot(out), new) and _leftovers(out) == []
    print(f"\nrandom kills (delay s, killed, outcome) after a {duration:.1f} s run: {outcomes}")
    assert any(killed for _, killed, _ in outcomes)
