"""The outputs staff read, in Chinese and English from the one catalogue: reasons and details,
the CSV files, the summary lines, the workbook, and staff's own columns (names) carried into
the files staff open and nowhere else."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from matching import InputError, MatchConfig, match
from matching.cli import main
from matching.datasets.synth import district
from matching.i18n import use_language
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS
from matching.reports import (
    REASONS,
    detail_text,
    localise,
    reason_text,
    summary_lines,
    unmatched_details,
    write_csv,
    write_result,
)
from matching.reports.excel import write_workbook

HAN = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z]{3,}")


def _named(kids: pd.DataFrame, moms: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rosters with staff's own columns: names and phone numbers no output may log."""
    kids = kids.assign(
        姓名=[f"童名{i:04d}甲" for i in range(len(kids))],
        联系电话=[f"1390000{i:04d}" for i in range(len(kids))],
    )
    moms = moms.assign(
        姓名=[f"妈名{i:04d}乙" for i in range(len(moms))],
        联系电话=[f"1380000{i:04d}" for i in range(len(moms))],
    )
    return kids, moms


def _secrets(kids: pd.DataFrame, moms: pd.DataFrame) -> list[str]:
    return [*kids["姓名"], *moms["姓名"], *kids["联系电话"], *moms["联系电话"]]


@pytest.fixture(scope="module")
def named():  # type: ignore[no-untyped-def]
    kids, moms = _named(*district(300, 120, seed=5))
    return kids, moms, match(kids, moms)


@pytest.fixture(scope="module")
def every_reason():  # type: ignore[no-untyped-def]
    """Results that hold each of the four reasons (and k_nearest in a detail)."""
    kids, moms = district(300, 120, seed=5)
    far = kids.assign(lat=kids["lat"] + [1.0 if i % 25 == 0 else 0.0 for i in range(len(kids))])
    forbid = tuple((str(c), str(m)) for c in kids["id"][:3] for m in moms["id"])
    results = [
        match(far, moms, MatchConfig(forbidden_pairs=forbid, same_street=True)),
        match(kids, moms, MatchConfig(k_nearest=3)),
        match(kids, moms, MatchConfig(objective="min_cost", unmatched_km=0.5, priority_km=0.0)),
    ]
    found = set().union(*(set(r.unmatched["reason"]) for r in results))
    assert found == set(REASONS)
    return results


# ----------------------------------------------------------------------------------------------
# reasons and details


def test_results_do_not_depend_on_the_language() -> None:
    kids, moms = district(200, 60, seed=2)
    with use_language("zh"):
        zh = match(kids, moms)
    with use_language("en"):
        en = match(kids, moms)
    pd.testing.assert_frame_equal(zh.unmatched, en.unmatched)
    pd.testing.assert_frame_equal(zh.pairs, en.pairs)
    assert not any(HAN.search(d) for d in zh.unmatched["detail"])


def test_english_details_are_the_stored_ones(every_reason) -> None:  # type: ignore[no-untyped-def]
    for result in every_reason:
        stored = result.unmatched["detail"].tolist()
        assert unmatched_details(result.unmatched, result.config, language="en") == stored


def test_chinese_details_from_the_code_and_counts(every_reason) -> None:  # type: ignore[no-untyped-def]
    seen = set()
    for result in every_reason:
        un = result.unmatched
        zh = unmatched_details(un, result.config, language="zh")
        for code, text, n_allowed, n_reach in zip(
            un["reason"], zh, un["mentors_allowed"], un["mentors_in_reach"], strict=True
        ):
            assert HAN.search(text) and not WORD.search(text), text  # no English left
            seen.add(code)
            if code == "mentors_taken":
                assert f" {n_allowed} 位" in text
                if result.config.k_nearest is not None:
                    assert "最近的 3 位中" in text
            elif code == "forbidden_by_rule":
                assert f" {n_reach} 位" in text
                assert "仅限同街道" in text or "禁止配对名单" in text
            elif code == "no_mentor_in_reach":
                assert "5 公里" in text
            else:
                assert "折合 0.5 公里" in text
    assert seen == set(REASONS)


def test_the_issue_s_example_detail_in_both_languages() -> None:
    counts = {"mentors_in_reach": 25, "mentors_allowed": 20, "unmatched_price_km": 10.0}
    en = detail_text("mentors_taken", max_distance_km=5.0, language="en", **counts)
    zh = detail_text("mentors_taken", max_distance_km=5.0, language="zh", **counts)
    assert en == "all 20 allowed mentor(s) within reach are paired to capacity"
    assert zh == "范围内可选的 20 位爱心妈妈名额均已满"


def test_a_detail_written_elsewhere_is_never_shown_with_wrong_numbers() -> None:
    # a nightly re-match writes its own sentence; its counts are not in the row
    table = pd.DataFrame(
        {
            "child_id": ["C1", "C2"],
            "reason": ["mentors_taken", "exit_approved"],
            "detail": [
                "all 3 active mentor(s) within reach are paired to capacity",
                "exit approved; not matched again",
            ],
        }
    )
    zh = unmatched_details(table, language="zh")
    assert zh[0] == reason_text("mentors_taken", language="zh") == "范围内可选的爱心妈妈名额已满"
    assert zh[1] == "exit_approved"  # an unknown code stays the code, never English prose
    assert unmatched_details(table, language="en") == table["detail"].tolist()


def test_reason_text_follows_the_current_language() -> None:
    with use_language("zh"):
        assert reason_text("no_mentor_in_reach") == "距离上限内没有在岗的爱心妈妈"
    assert reason_text("no_mentor_in_reach") == REASONS["no_mentor_in_reach"]  # tests run in en


# ----------------------------------------------------------------------------------------------
# CSV files, summary.json and summary lines


def test_csv_files_follow_the_language_and_summary_json_does_not(tmp_path: Path, named) -> None:  # type: ignore[no-untyped-def]
    result = named[2]
    en = write_result(result, tmp_path / "en", language="en")
    zh = write_result(result, tmp_path / "zh", language="zh")
    assert en["summary"].read_bytes() == zh["summary"].read_bytes()  # canonical keys
    pairs_en = pd.read_csv(en["pairs"], encoding="utf-8-sig")
    assert list(pairs_en.columns) == PAIR_COLUMNS
    assert list(pd.read_csv(en["unmatched"], encoding="utf-8-sig").columns) == UNMATCHED_COLUMNS
    pairs_zh = pd.read_csv(zh["pairs"], encoding="utf-8-sig", dtype=str)
    assert list(pairs_zh.columns[:3]) == ["儿童编号", "爱心妈妈编号", "距离(公里)"]
    assert pairs_zh["儿童编号"].tolist() == result.pairs["child_id"].tolist()
    un = pd.read_csv(zh["unmatched"], encoding="utf-8-sig", dtype=str)
    assert list(un.columns[3:6]) == ["未匹配原因", "原因代码", "说明"]
    assert un["原因代码"].tolist() == result.unmatched["reason"].tolist()
    assert all(HAN.search(t) and not WORD.search(t) for t in un["说明"])
    assert set(un["未匹配原因"]) <= {reason_text(c, language="zh") for c in REASONS}
    # with the current language (None): English here, Chinese inside use_language("zh")
    default = write_result(result, tmp_path / "default")
    assert default["pairs"].read_bytes() == en["pairs"].read_bytes()
    with use_language("zh"):
        chinese = write_result(result, tmp_path / "zh2")
    assert chinese["unmatched"].read_bytes() == zh["unmatched"].read_bytes()


def test_carried_columns_go_into_the_csv_files_only(tmp_path: Path, named) -> None:  # type: ignore[no-untyped-def]
    kids, moms, result = named
    columns = ["姓名", "联系电话"]
    zh = write_result(
        result, tmp_path / "zh", language="zh", children=kids, mentors=moms, carry_columns=columns
    )
    pairs = pd.read_csv(zh["pairs"], encoding="utf-8-sig", dtype=str)
    assert list(pairs.columns[:5]) == [
        "儿童编号",
        "儿童姓名",
        "儿童联系电话",
        "爱心妈妈编号",
        "爱心妈妈姓名",
    ]
    name = dict(zip(kids["id"], kids["姓名"], strict=True))
    assert pairs["儿童姓名"].tolist() == [name[c] for c in pairs["儿童编号"]]
    un = pd.read_csv(zh["unmatched"], encoding="utf-8-sig", dtype=str)
    assert un["儿童姓名"].tolist() == [name[c] for c in un["儿童编号"]]
    en = write_result(
        result, tmp_path / "en", language="en", children=kids, mentors=moms, carry_columns=columns
    )
    head = pd.read_csv(en["pairs"], encoding="utf-8-sig", nrows=0).columns.tolist()
    assert head[:4] == ["child_id", "child 姓名", "child 联系电话", "mentor_id"]
    for paths in (zh, en):
        summary = paths["summary"].read_text(encoding="utf-8")
        assert not [s for s in _secrets(kids, moms) if s in summary]
        assert "姓名" not in summary


def test_a_column_one_roster_lacks_is_left_out_and_one_neither_has_is_an_error(
    tmp_path: Path,
) -> None:
    kids, moms = district(40, 30, seed=1)
    kids = kids.assign(监护人=[f"监护{i}" for i in range(len(kids))])
    result = match(kids, moms)
    paths = write_result(
        result, tmp_path / "a", language="zh", children=kids, mentors=moms,
        carry_columns=["监护人"],
    )  # fmt: skip
    head = pd.read_csv(paths["pairs"], encoding="utf-8-sig", nrows=0).columns.tolist()
    assert "儿童监护人" in head and "爱心妈妈监护人" not in head
    with pytest.raises(InputError, match="'备注'") as info:
        write_result(result, tmp_path / "b", children=kids, mentors=moms, carry_columns=["备注"])
    assert "监护" not in str(info.value)  # the header, never a cell
    assert not (tmp_path / "b").exists()


def test_summary_lines_in_chinese_hold_no_english_words(named) -> None:  # type: ignore[no-untyped-def]
    result = named[2]
    assert "\n".join(summary_lines(result, language="en")) == result.summary()
    zh = summary_lines(result, language="zh")
    assert len(zh) == len(summary_lines(result, language="en"))
    for line in zh:
        assert HAN.search(line) and not WORD.search(line), line
    assert "公里当量" not in "".join(zh) and "目标值" not in "".join(zh)
    with use_language("zh"):
        assert result.summary() == "\n".join(zh)


def test_localise_keeps_staff_columns_and_words_priorities() -> None:
    table = pd.DataFrame({"child_id": ["C1", "C2"], "child_priority": [2, 0], "姓名": ["甲", "乙"]})
    out = localise(table, "zh", priority_labels={0: "普通", 2: "高"})
    assert out.columns.tolist() == ["儿童编号", "优先级", "姓名"]
    assert out["优先级"].tolist() == ["高", "普通"]


# ----------------------------------------------------------------------------------------------
# the workbook


def _sheet(wb: openpyxl.Workbook, index: int) -> tuple[list[str], list[tuple[object, ...]]]:
    rows = list(wb.worksheets[index].iter_rows(values_only=True))
    return [str(c) for c in rows[0]], rows[1:]


@pytest.mark.parametrize(
    ("language", "sheets", "pair_head", "reason_head", "community", "prefix"),
    [
        ("zh", ["配对名单", "未匹配儿童", "街道统计", "运行摘要"], ["儿童编号", "儿童姓名"],
         "未匹配原因", "儿童所在社区", ("儿童", "爱心妈妈")),
        ("en", ["pairs", "unmatched", "streets", "summary"], ["Child ID", "child 姓名"],
         "Reason", "Child's community", ("child ", "mentor ")),
    ],
)  # fmt: skip
def test_the_workbook_staff_read(  # type: ignore[no-untyped-def]
    tmp_path: Path, named, language, sheets, pair_head, reason_head, community, prefix
) -> None:
    kids, moms, result = named
    path = write_workbook(
        result, tmp_path / "r.xlsx", language=language, children=kids, mentors=moms,
        carry_columns=["姓名"],
    )  # fmt: skip
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == sheets
    head, rows = _sheet(wb, 0)
    assert head[:2] == pair_head
    assert f"{prefix[1]}姓名" in head
    # the community of each child, from the roster
    where = dict(zip(kids["id"], kids["community"], strict=True))
    col = head.index(community)
    assert [r[col] for r in rows] == [where[r[0]] for r in rows]
    head, rows = _sheet(wb, 1)
    reason = head.index(reason_head)
    code = result.unmatched["reason"].iloc[0]
    assert rows[0][reason] == reason_text(code, language=language)
    assert rows[0][reason + 1] == code
    detail = rows[0][reason + 2]
    assert isinstance(detail, str)
    if language == "zh":
        assert HAN.search(detail) and not WORD.search(detail)
    else:
        assert detail == result.unmatched["detail"].iloc[0]
    # no jargon anywhere, and the cost unit explained once, in words
    texts = [c for ws in wb for row in ws.iter_rows(values_only=True) for c in row]
    words = [t for t in texts if isinstance(t, str)]
    assert not [t for t in words if "公里当量" in t or "目标值" in t or "km-eq" in t]
    explained = [t for t in words if t.startswith(("成本以公里计", "Costs are in kilometres"))]
    assert len(explained) == 1


def test_the_old_workbook_call_still_works(tmp_path: Path, named) -> None:  # type: ignore[no-untyped-def]
    result = named[2]
    wb = openpyxl.load_workbook(write_workbook(result, tmp_path / "r.xlsx", language="zh"))
    head, _rows = _sheet(wb, 0)
    assert "儿童所在社区" not in head and not [h for h in head if "姓名" in h]
    with use_language("zh"):  # the default language is the current one
        wb = openpyxl.load_workbook(write_workbook(result, tmp_path / "d.xlsx"))
    assert wb.sheetnames[0] == "配对名单"


def test_workbook_priority_as_words(tmp_path: Path, named) -> None:  # type: ignore[no-untyped-def]
    kids, moms, result = named
    labels = {0: "普通", 1: "高", 2: "紧急"}
    path = write_workbook(
        result, tmp_path / "r.xlsx", language="zh", children=kids, mentors=moms,
        priority_labels=labels,
    )  # fmt: skip
    head, rows = _sheet(openpyxl.load_workbook(path), 0)
    shown = [r[head.index("优先级")] for r in rows]
    assert shown == [labels[int(p)] for p in result.pairs["child_priority"]]


# ----------------------------------------------------------------------------------------------
# the command line: names in the files staff open, nowhere else


def test_cli_carries_names_into_the_staff_files_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    kids, moms = _named(*district(150, 90, seed=4))
    write_csv(kids, tmp_path / "children.csv")
    write_csv(moms, tmp_path / "mentors.csv")
    out = tmp_path / "out"
    caplog.set_level(logging.DEBUG)
    code = main(
        [
            "match", str(tmp_path / "children.csv"), str(tmp_path / "mentors.csv"),
            "--out", str(out), "--xlsx", "--carry-columns", "姓名,联系电话", "-vv",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    secrets = _secrets(kids, moms)
    wb = openpyxl.load_workbook(out / "report.xlsx")
    cells = {str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row}
    assert set(kids["姓名"]) & cells and set(moms["联系电话"]) & cells
    pairs = (out / "pairs.csv").read_text(encoding="utf-8-sig")
    unmatched = (out / "unmatched.csv").read_text(encoding="utf-8-sig")
    assert "童名0000甲" in pairs + unmatched and any(s in pairs for s in moms["姓名"])
    summary = (out / "summary.json").read_text(encoding="utf-8")
    json.loads(summary)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for where in (summary, captured.out, captured.err, logged):
        assert not [s for s in secrets if s in where]
    assert caplog.records  # -vv did log


def test_cli_carry_columns_from_the_config_and_a_missing_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kids, moms = _named(*district(60, 40, seed=4))
    write_csv(kids, tmp_path / "children.csv")
    write_csv(moms, tmp_path / "mentors.csv")
    config = tmp_path / "c.toml"
    config.write_text('[output]\ncarry_columns = ["姓名"]\n', encoding="utf-8")
    args = ["match", str(tmp_path / "children.csv"), str(tmp_path / "mentors.csv")]
    assert main([*args, "--out", str(tmp_path / "a"), "--config", str(config), "-q"]) == 0
    head = (tmp_path / "a" / "pairs.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("child_id,child 姓名,mentor_id,mentor 姓名,")
    capsys.readouterr()
    code = main([*args, "--out", str(tmp_path / "b"), "--carry-columns", "住址", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "'住址'" in err
    assert not [s for s in _secrets(kids, moms) if s in err]
    assert not (tmp_path / "b").exists()
