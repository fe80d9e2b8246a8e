"""Tests of the ``matching`` command line (matching.cli), run in-process and as ``python -m``."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import matching.cli as cli
from matching import MatchConfig, __version__, match
from matching.cli import main
from matching.datasets.synth import district
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS

RESULT_FILES = ("pairs.csv", "unmatched.csv", "summary.json")
DEMO_FILES = ("children.csv", "mentors.csv", *RESULT_FILES)
SMALL = ["--children", "300", "--mentors", "250", "--nights", "0"]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Roster with tuple cells joined by ';' (what a user's spreadsheet holds)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = [";".join(v) if isinstance(v, tuple) else v for v in out[col]]
    return out


def _write_roster(frame: pd.DataFrame, path: Path) -> Path:
    _plain(frame).to_csv(path, index=False, encoding="utf-8")
    return path


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def rosters() -> tuple[pd.DataFrame, pd.DataFrame]:
    return district(240, 200, seed=7)


@pytest.fixture
def roster_files(tmp_path: Path, rosters) -> tuple[Path, Path]:
    children, mentors = rosters
    return (
        _write_roster(children, tmp_path / "children.csv"),
        _write_roster(mentors, tmp_path / "mentors.csv"),
    )


def _stderr_lines(capsys) -> tuple[str, list[str]]:
    captured = capsys.readouterr()
    return captured.out, captured.err.splitlines()


# ----------------------------------------------------------------------------------------------
# demo


def test_demo_writes_five_files(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *SMALL]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FILES)
    stdout, err = _stderr_lines(capsys)
    assert "children: 300" in stdout
    assert "paired:" in stdout
    for name in DEMO_FILES:
        assert str(out / name) in stdout
    assert err == []  # nothing logged at the default level
    children = _read_csv(out / "children.csv")
    mentors = _read_csv(out / "mentors.csv")
    assert len(children) == 300 and len(mentors) == 250
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["command"] == "demo"
    assert summary["demo"] == {"children": 300, "mentors": 250, "seed": 0}
    assert summary["metrics"]["n_children"] == 300
    assert summary["config"] == MatchConfig().to_dict()
    pairs = _read_csv(out / "pairs.csv")
    assert len(pairs) == summary["metrics"]["n_pairs"]
    assert list(pairs.columns) == PAIR_COLUMNS


def test_demo_rosters_round_trip_through_match(tmp_path: Path, capsys) -> None:
    demo, again = tmp_path / "demo", tmp_path / "again"
    assert main(["demo", "--out", str(demo), "--seed", "3", *SMALL]) == 0
    code = main(
        ["match", str(demo / "children.csv"), str(demo / "mentors.csv"), "--out", str(again)]
    )
    assert code == 0
    for name in ("pairs.csv", "unmatched.csv"):
        assert (demo / name).read_bytes() == (again / name).read_bytes()
    first = json.loads((demo / "summary.json").read_text(encoding="utf-8"))
    second = json.loads((again / "summary.json").read_text(encoding="utf-8"))
    assert first["metrics"] == second["metrics"]


def test_demo_matches_synth_directly(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--children", "120", "--mentors", "90"]) == 0
    result = match(*district(120, 90, seed=0))
    pairs = _read_csv(out / "pairs.csv")
    assert pairs["child_id"].tolist() == result.pairs["child_id"].tolist()
    assert pairs["mentor_id"].tolist() == result.pairs["mentor_id"].tolist()


def test_demo_empty_district(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--children", "0", "--mentors", "0", "-q"]) == 0
    stdout, _ = _stderr_lines(capsys)
    assert stdout == ""
    assert _read_csv(out / "pairs.csv").empty
    assert list(_read_csv(out / "pairs.csv").columns) == PAIR_COLUMNS


def test_python_dash_m_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "MATCHING_DEBUG"}
    argv = ["demo", "--children", "200", "--mentors", "150", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "matching", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # the default demo also runs a month of weekly nightly jobs on a state store
    nights = ["night-2026-01-05", "night-2026-01-12", "night-2026-01-19", "night-2026-01-26",
              "night-2026-02-02"]  # fmt: skip
    expected = [*DEMO_FILES, "state.db", *nights]
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    assert "children: 200" in proc.stdout
    for night in nights:
        plan = json.loads((out / night / "plan" / "plan.json").read_text(encoding="utf-8"))
        assert plan["date"] == night.removeprefix("night-")
        assert plan["counts"]["pairs_moved"] == 0
        assert night.removeprefix("night-") in proc.stdout
    first = json.loads((out / nights[0] / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert first["counts"]["children_joined"] == 200
    later = json.loads((out / nights[-1] / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert later["counts"]["events_applied"] > 0


def test_python_dash_m_usage_error_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "matching", "frobnicate"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------------------------
# match


def test_match_agrees_with_match_function(tmp_path: Path, roster_files, rosters, capsys) -> None:
    children_csv, mentors_csv = roster_files
    out = tmp_path / "out"
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(out)]) == 0
    stdout, _ = _stderr_lines(capsys)
    assert "children: 240" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)

    expected = match(*rosters)
    pairs = _read_csv(out / "pairs.csv")
    assert list(pairs.columns) == PAIR_COLUMNS
    assert len(pairs) == len(expected.pairs)
    for col in ("child_id", "mentor_id", "child_street", "mentor_street"):
        assert pairs[col].tolist() == expected.pairs[col].astype(str).tolist()
    for col in ("needs_covered", "needs_uncovered", "shared_interests"):
        assert pairs[col].tolist() == [";".join(t) for t in expected.pairs[col]]
    for col in ("distance_km", "need_penalty_km", "interest_bonus_km", "cost_km"):
        got = pairs[col].astype(float).to_numpy()
        np.testing.assert_allclose(got, expected.pairs[col].to_numpy(), atol=5.1e-5, rtol=0)
    assert pairs["child_priority"].astype(int).tolist() == expected.pairs["child_priority"].tolist()

    unmatched = _read_csv(out / "unmatched.csv")
    assert list(unmatched.columns) == UNMATCHED_COLUMNS
    assert unmatched["child_id"].tolist() == expected.unmatched["child_id"].tolist()
    assert unmatched["reason"].tolist() == expected.unmatched["reason"].tolist()

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"] == json.loads(json.dumps(expected.metrics))
    assert summary["config"] == expected.config.to_dict()
    assert summary["library_version"] == __version__
    assert summary["command"] == "match"
    assert summary["inputs"]["children"]["file"] == "children.csv"
    assert len(summary["inputs"]["children"]["sha256"]) == 64


def test_match_with_config_and_dense(tmp_path: Path, roster_files, rosters, capsys) -> None:
    children_csv, mentors_csv = roster_files
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[matching]\nmax_distance_km = 2.5\nsame_street = true\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["match", str(children_csv), str(mentors_csv), "--config", str(cfg)]
    assert main([*argv, "--out", str(out), "--method", "dense"]) == 0
    expected = match(*rosters, MatchConfig(max_distance_km=2.5, same_street=True))
    pairs = _read_csv(out / "pairs.csv")
    assert pairs["mentor_id"].tolist() == expected.pairs["mentor_id"].tolist()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["config"]["max_distance_km"] == 2.5
    assert summary["config"]["same_street"] is True
    assert summary["metrics"]["solver"]["method"] == "dense"
    assert summary["inputs"]["config"] == "cfg.toml"


def test_two_runs_are_byte_identical(tmp_path: Path, roster_files, capsys) -> None:
    children_csv, mentors_csv = roster_files
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert main(["match", str(children_csv), str(mentors_csv), "--out", str(out)]) == 0
    for name in RESULT_FILES:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_rerun_into_same_directory_replaces_files(tmp_path: Path, roster_files, capsys) -> None:
    children_csv, mentors_csv = roster_files
    out = tmp_path / "out"
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in RESULT_FILES}
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)  # no temp files
    assert {name: (out / name).read_bytes() for name in RESULT_FILES} == before


def test_shuffled_rows_give_identical_pairs(tmp_path: Path, rosters, capsys) -> None:
    children, mentors = rosters
    rng = np.random.default_rng(42)
    ordered = (
        _write_roster(children, tmp_path / "c1.csv"),
        _write_roster(mentors, tmp_path / "m1.csv"),
    )
    shuffled = (
        _write_roster(
            children.iloc[rng.permutation(len(children))].reset_index(drop=True),
            tmp_path / "c2.csv",
        ),
        _write_roster(
            mentors.iloc[rng.permutation(len(mentors))].reset_index(drop=True),
            tmp_path / "m2.csv",
        ),
    )
    assert ordered[0].read_bytes() != shuffled[0].read_bytes()
    assert main(["match", *map(str, ordered), "--out", str(tmp_path / "a")]) == 0
    assert main(["match", *map(str, shuffled), "--out", str(tmp_path / "b")]) == 0
    for name in ("pairs.csv", "unmatched.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_match_reads_xlsx(tmp_path: Path, rosters, capsys) -> None:
    pytest.importorskip("openpyxl")
    children, mentors = rosters
    _plain(children).to_excel(tmp_path / "children.xlsx", index=False)
    _plain(mentors).to_excel(tmp_path / "mentors.xlsx", index=False)
    out = tmp_path / "out"
    argv = ["match", str(tmp_path / "children.xlsx"), str(tmp_path / "mentors.xlsx")]
    assert main([*argv, "--out", str(out)]) == 0
    expected = match(*rosters)
    assert (
        _read_csv(out / "pairs.csv")["mentor_id"].tolist() == expected.pairs["mentor_id"].tolist()
    )


def test_quiet_prints_nothing(tmp_path: Path, roster_files, capsys) -> None:
    children_csv, mentors_csv = roster_files
    argv = ["match", str(children_csv), str(mentors_csv), "--out", str(tmp_path / "o"), "-q"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_logs_counts_only(tmp_path: Path, capsys) -> None:
    children, mentors = district(60, 50, seed=2)
    children = children.assign(name=[f"张{i}" for i in range(len(children))])
    children = children.assign(phone=[f"1390000{i:04d}" for i in range(len(children))])
    c = _write_roster(children, tmp_path / "c.csv")
    m = _write_roster(mentors, tmp_path / "m.csv")
    assert main(["match", str(c), str(m), "--out", str(tmp_path / "o"), "-v"]) == 0
    captured = capsys.readouterr()
    info = [line for line in captured.err.splitlines() if line.startswith("INFO:")]
    assert any("60 children" in line for line in info)
    assert any("pairs" in line for line in info)
    everything = captured.out + captured.err
    assert "张" not in everything and "1390000" not in everything
    # The handler is removed again: a later quiet run logs nothing.
    assert main(["match", str(c), str(m), "--out", str(tmp_path / "o2"), "-q"]) == 0
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------------------------
# errors


def test_bad_roster_exit_1(tmp_path: Path, roster_files, capsys) -> None:
    _, mentors_csv = roster_files
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,lat,lon,name,phone\n"
        "C1,31.80,119.95,王小明,13900001111\n"
        "C1,31.81,119.96,李小红,13900002222\n"
        "C2,95.0,119.97,赵小刚,13900003333\n",
        encoding="utf-8",
    )
    assert main(["match", str(bad), str(mentors_csv), "--out", str(tmp_path / "o")]) == 1
    stdout, err = _stderr_lines(capsys)
    assert stdout == ""
    assert err[0].startswith("error:")
    assert "children roster" in err[0]
    text = "\n".join(err)
    assert "C1" in text and "'id'" in text and "duplicate id" in text
    assert "C2" in text and "'lat'" in text
    assert len(err) >= 3  # one line per problem after the first
    assert "Traceback" not in text
    for secret in ("王小明", "李小红", "赵小刚", "1390000"):
        assert secret not in text
    assert not (tmp_path / "o").exists()


def test_missing_file_exit_1(tmp_path: Path, roster_files, capsys) -> None:
    _, mentors_csv = roster_files
    missing = tmp_path / "nope.csv"
    assert main(["match", str(missing), str(mentors_csv), "--out", str(tmp_path / "o")]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:") and "nope.csv" in err[0]
    assert "Traceback" not in "\n".join(err)


def test_unsupported_file_type_exit_1(tmp_path: Path, roster_files, capsys) -> None:
    _, mentors_csv = roster_files
    txt = tmp_path / "children.txt"
    txt.write_text("id,lat,lon\n", encoding="utf-8")
    assert main(["match", str(txt), str(mentors_csv), "--out", str(tmp_path / "o")]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:")


def test_bad_config_key_exit_1(tmp_path: Path, roster_files, capsys) -> None:
    children_csv, mentors_csv = roster_files
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("max_distnce_km = 3.0\n", encoding="utf-8")
    argv = ["match", str(children_csv), str(mentors_csv), "--config", str(cfg)]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:") and "max_distnce_km" in err[0]
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(
    "text",
    ["max_distance_km = -1\n", "max_distance_km = \n", "objective = 'fastest'\n"],
)
def test_bad_config_value_exit_1(tmp_path: Path, roster_files, capsys, text: str) -> None:
    children_csv, mentors_csv = roster_files
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(text, encoding="utf-8")
    argv = ["match", str(children_csv), str(mentors_csv), "--config", str(cfg)]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:")


def test_missing_config_exit_1(tmp_path: Path, roster_files, capsys) -> None:
    children_csv, mentors_csv = roster_files
    argv = ["match", str(children_csv), str(mentors_csv), "--config", str(tmp_path / "x.toml")]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:") and "x.toml" in err[0]


def test_forbidden_pair_with_unknown_id_exit_1(tmp_path: Path, roster_files, capsys) -> None:
    children_csv, mentors_csv = roster_files
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('forbidden_pairs = [["NOPE", "M000001"]]\n', encoding="utf-8")
    argv = ["match", str(children_csv), str(mentors_csv), "--config", str(cfg)]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:") and "NOPE" in err[0]


def test_out_is_a_file_exit_1(tmp_path: Path, roster_files, capsys) -> None:
    children_csv, mentors_csv = roster_files
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(target)]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:")
    assert target.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize(
    "argv",
    [
        ["--no-such-option"],
        ["demo", "--no-such-option"],
        ["demo", "--children", "-5"],
        ["demo", "--children", "many"],
        ["match", "only-one.csv"],
        ["match", "a.csv", "b.csv"],  # --out is required
        ["match", "a.csv", "b.csv", "--out", "o", "--method", "magic"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path, capsys) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "usage:" in captured.err
    assert "Traceback" not in captured.err


def test_version_exit_0(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"matching {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["match", "--help"], ["demo", "-h"]])
def test_help_exit_0_and_documents_exit_codes(argv: list[str], capsys) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    assert "internal error" in out


def test_module_docstring_documents_exit_codes() -> None:
    # the "Exit codes" section lists each code as a term on a line of its own, with its
    # description indented below (the terms in order; "0" must not pass as the end of "130")
    doc = cli.__doc__ or ""
    section = doc.split("Exit codes\n----------\n", 1)[-1].split("\n\n", 1)[0]
    assert re.findall(r"^(\d+)\n {4}\S", section, flags=re.M) == ["0", "1", "2", "130"]
    assert "MATCHING_DEBUG" in section


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom in the solver")


def test_internal_error_exit_2(
    tmp_path: Path, roster_files, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    children_csv, mentors_csv = roster_files
    monkeypatch.delenv("MATCHING_DEBUG", raising=False)
    monkeypatch.setattr(cli, "match", _boom)
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(tmp_path / "o")]) == 2
    _, err = _stderr_lines(capsys)
    assert err[0] == "internal error: RuntimeError: boom in the solver"
    text = "\n".join(err)
    assert "report" in text and "MATCHING_DEBUG" in text
    assert "Traceback" not in text


def test_internal_error_traceback_with_debug(
    tmp_path: Path, roster_files, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    children_csv, mentors_csv = roster_files
    monkeypatch.setenv("MATCHING_DEBUG", "1")
    monkeypatch.setattr(cli, "match", _boom)
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(tmp_path / "o")]) == 2
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("internal error: RuntimeError")
    assert "Traceback" in "\n".join(err)


def test_output_write_failure_exit_1(
    tmp_path: Path, roster_files, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    children_csv, mentors_csv = roster_files

    def fail(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "o" / "pairs.csv"))

    monkeypatch.setattr("matching.reports.folders.os.replace", fail)
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(tmp_path / "o")]) == 1
    _, err = _stderr_lines(capsys)
    assert err[0].startswith("error:") and "Permission denied" in err[0]
    assert not (tmp_path / "o").exists()  # the folder appears whole or not at all
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".o.")]  # no leftovers


def test_interrupt_exit_130(
    tmp_path: Path, roster_files, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    children_csv, mentors_csv = roster_files

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "match", interrupt)
    assert main(["match", str(children_csv), str(mentors_csv), "--out", str(tmp_path / "o")]) == 130


def test_numbers_stay_finite_in_summary(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--children", "10", "--mentors", "0"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))

    def walk(v: object) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, float):
            assert math.isfinite(v)

    walk(summary)
    assert summary["metrics"]["n_unmatched"] == 10


def test_language_comes_from_the_option_then_the_config_then_the_locale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kids, moms = tmp_path / "c.csv", tmp_path / "m.csv"
    kids.write_text("id,lat,lon\nC1,31.8,119.9\n", encoding="utf-8")
    moms.write_text("id,lat,lon\nM1,31.8,119.9\n", encoding="utf-8")
    blocked = tmp_path / "a-file"
    blocked.write_text("x", encoding="utf-8")
    config = tmp_path / "m.toml"
    config.write_text('[output]\nlanguage = "zh"\n', encoding="utf-8")
    command = ["match", str(kids), str(moms), "--out", str(blocked)]

    assert main(command) == 1  # the locale (pinned to English in the tests)
    assert capsys.readouterr().err.startswith("error: cannot write to")
    assert main([*command, "--config", str(config)]) == 1
    assert capsys.readouterr().err.startswith("错误：无法写入")
    assert main([*command, "--config", str(config), "--language", "en"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot write to")
    monkeypatch.setenv("LANGUAGE", "zh_CN.UTF-8")
    assert main(command) == 1
    assert capsys.readouterr().err.startswith("错误：无法写入")
    assert main([*command, "--language", "fr"]) == 2  # a usage error


def test_an_unknown_output_language_in_the_config_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "m.toml"
    config.write_text('[output]\nlanguage = "fr"\n', encoding="utf-8")
    code = main(["match", "c.csv", "m.csv", "--out", str(tmp_path / "o"), "--config", str(config)])
    assert code == 1
    assert "'language' parameter must be 'zh' or 'en'" in capsys.readouterr().err


def _bad_inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Both rosters and an events file, each with a problem (Chinese headers)."""
    kids = tmp_path / "kids.csv"
    kids.write_text(
        "编号,纬度,经度,优先级\nC1,31.80,119.97,非常紧急的王小明\nC2,31.81,119.98,高\n",
        encoding="utf-8",
    )
    moms = tmp_path / "moms.csv"
    moms.write_text("编号,纬度,经度,容量\nM1,31.80,119.97,两个半\n", encoding="utf-8")
    events = tmp_path / "events.csv"
    events.write_text("类型,儿童编号,日期\n搬家了,C2,2026-03-02\n", encoding="utf-8")
    return kids, moms, events


@pytest.mark.parametrize("language", ["en", "zh"])
def test_match_reports_every_problem_of_both_rosters_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], language: str
) -> None:
    kids, moms, _ = _bad_inputs(tmp_path)
    out = str(tmp_path / "o")
    code = main(["match", str(kids), str(moms), "--out", out, "--language", language])
    err = capsys.readouterr().err
    assert code == 1
    if language == "en":
        assert "children roster is invalid" in err and "mentors roster is invalid" in err
    else:
        assert "儿童名单有误" in err and "爱心妈妈名单有误" in err
        assert "“优先级”" in err and "“容量”" in err  # the headers the files had
    assert "C1" in err and "M1" in err
    assert "王小明" not in err and "两个半" not in err  # never a cell


def test_nightly_reports_every_problem_of_rosters_and_events_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kids, moms, events = _bad_inputs(tmp_path)
    db = tmp_path / "state.db"
    argv = ["nightly", "--db", str(db), "--out", str(tmp_path / "plan"), "--date", "2026-03-02",
            "--children", str(kids), "--mentors", str(moms), "--events", str(events),
            "--language", "zh"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "儿童名单有误" in err and "爱心妈妈名单有误" in err
    assert "搬家了" not in err and "events.csv" in err  # the events file named, not its cells
    assert err.count("\n  - ") >= 3
    assert not db.exists() and not (tmp_path / "plan").exists()  # nothing touched
