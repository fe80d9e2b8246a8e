"""The staff workbook end to end, as a district federation keeps it, with no manual edits.

Rosters as staff keep them (tests/staff_roster.py: a title row, merged street
cells, notes below the table, Chinese headers, 高 / 普通, official and
traditional category names, units in cells, records with only an address)
go through ``matching match ... --xlsx --language zh`` and a few ``matching
nightly`` nights with Chinese events, geocoded through a fake AMap service on
a local HTTP server.  The outputs are read back: Chinese sheets, headers and
reasons; staff's own columns only where staff open files; no English left in
anything staff read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fake_geocoders import KEY, geocode_config, serve
from staff_roster import (
    ADDRESS_ONLY,
    FAR_CHILD,
    TITLES,
    staff_places,
    staff_rosters,
    write_csv_as,
    write_staff_xlsx,
)

from matching.cli import main

openpyxl = pytest.importorskip("openpyxl")

KEY_ENV = "STAFF_TEST_AMAP_KEY"
CARRY = "姓名,联系电话"
# what may stay in Latin letters in a Chinese output: ids, file names and paths, the
# coordinate-system and file-format names, and units
_ALLOWED = re.compile(
    r"ZL-[CM]\d+|[\w./-]*\.(csv|xlsx|json|db|toml)|/[\w./-]+|GB18030|GBK|UTF-8|UTF-16|BOM"
    r"|WGS-84|GCJ-02|xlsx|km|Excel"
)


def english_words(text: str) -> list[str]:
    """Latin words of 3+ letters in ``text`` that are not ids, paths or names of formats."""
    return re.findall(r"[A-Za-z]{3,}", _ALLOWED.sub(" ", text))


@pytest.fixture
def staff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """The staff's files, a fake AMap service and a config pointing at it."""
    kids, moms = staff_rosters()
    files = {
        "children": write_staff_xlsx(kids, tmp_path / "儿童台账.xlsx", title=TITLES["children"]),
        "mentors": write_staff_xlsx(moms, tmp_path / "爱心妈妈名册.xlsx", title=TITLES["mentors"]),
        "children_gbk": write_csv_as(kids, tmp_path / "儿童台账.csv", encoding="gbk"),
        "children_utf8": write_csv_as(kids, tmp_path / "children.csv", encoding="utf-8"),
    }
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(staff_places()) as fake:
        files["config"] = geocode_config(
            tmp_path / "matching.toml", fake, provider="amap", key_env=KEY_ENV,
            cache="geocode-cache.db",
        )  # fmt: skip
        yield files


def _match(files: dict[str, Path], children: Path, out: Path) -> list[str]:
    return ["match", str(children), str(files["mentors"]), "--out", str(out), "--xlsx",
            "--language", "zh", "--carry-columns", CARRY, "--geocode", "amap",
            "--config", str(files["config"])]  # fmt: skip


# the reason codes kept in a column of their own beside the words (snake_case identifiers)
_REASON_CODES = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\bre-matched\b|\bmatched\b|\bmoved\b")


def _workbook_texts(path: Path) -> tuple[list[str], str]:
    """Sheet names, and every header and text cell (reason codes left out: a column of
    its own keeps the code beside the words)."""
    book = openpyxl.load_workbook(path)
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            texts += [str(v) for v in row if isinstance(v, str)]
    return book.sheetnames, _REASON_CODES.sub(" ", "\n".join(texts))


def _csv_texts(folder: Path) -> str:
    """Every CSV file of a folder as text, reason codes left out (see _workbook_texts)."""
    texts = [path.read_text(encoding="utf-8-sig") for path in sorted(folder.glob("*.csv"))]
    return _REASON_CODES.sub(" ", "\n".join(texts))


def _names() -> list[str]:
    kids, moms = staff_rosters()
    return [*kids["姓名"], *moms["姓名"], *kids["联系电话"]]


def test_match_writes_a_chinese_workbook_with_staff_names(
    staff: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "结果"
    assert main(_match(staff, staff["children"], out)) == 0
    printed = capsys.readouterr()
    terminal = printed.out + printed.err
    assert "已结对：29" in terminal and "未配对原因：距离上限内没有在岗的爱心妈妈 1 人" in terminal
    assert english_words(terminal) == []

    sheets, texts = _workbook_texts(out / "report.xlsx")
    assert sheets == ["配对名单", "未匹配儿童", "街道统计", "运行摘要"]
    assert english_words(texts) == []
    book = openpyxl.load_workbook(out / "report.xlsx")
    header = [c.value for c in book["配对名单"][1]]
    assert header[:3] == ["儿童编号", "儿童姓名", "儿童联系电话"]
    assert {"爱心妈妈编号", "爱心妈妈姓名", "儿童所在社区", "距离(公里)"} <= set(header)
    sheet = pd.DataFrame(list(book["配对名单"].values)[1:], columns=header)
    assert set(sheet["优先级"]) == {"高", "普通"}  # as staff wrote it (a blank is 普通)
    unmatched = pd.DataFrame(list(book["未匹配儿童"].values)[1:],
                             columns=[c.value for c in book["未匹配儿童"][1]])  # fmt: skip
    assert unmatched["儿童编号"].tolist() == [FAR_CHILD]
    assert unmatched["未匹配原因"].tolist() == ["距离上限内没有在岗的爱心妈妈"]

    pairs = pd.read_csv(out / "pairs.csv", dtype=str, encoding="utf-8-sig")
    assert english_words(_csv_texts(out)) == []
    # every child placed: those with only an address were geocoded (none failed)
    assert sorted([*pairs["儿童编号"], FAR_CHILD]) == [f"ZL-C{i:02d}" for i in range(1, 31)]
    assert set(ADDRESS_ONLY) & {*pairs["儿童编号"], *pairs["爱心妈妈编号"]}
    # staff's names where staff open files, and nowhere else
    names = _names()
    assert set(pairs["儿童姓名"]) <= set(names)
    summary = (out / "summary.json").read_text(encoding="utf-8")
    assert not [n for n in names if n in summary or n in terminal]
    assert json.loads(summary)["metrics"]["n_pairs"] == 29


def test_the_same_roster_in_every_form_gives_the_same_pairs(
    staff: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = []
    for form in ("children", "children_gbk", "children_utf8"):
        out = tmp_path / form
        assert main([*_match(staff, staff[form], out), "-q"]) == 0, capsys.readouterr().err
        results.append(pd.read_csv(out / "pairs.csv", dtype=str, encoding="utf-8-sig"))
    assert len(results[0]) == 29
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0], other)


def _events(path: Path, rows: list[tuple[str, ...]], *, encoding: str = "gbk") -> Path:
    """A Chinese events file as staff save it from Excel (GBK CSV), with a title row."""
    table = pd.DataFrame(
        rows, columns=["类型", "儿童编号", "爱心妈妈编号", "日期", "操作人", "备注"]
    )
    text = "钟楼区结对事件登记（2026年3月）\n" + table.to_csv(index=False)
    path.write_bytes(text.encode(encoding))
    return path


def _night(files: dict[str, Path], tmp_path: Path, date: str, events: Path | None) -> list[str]:
    argv = ["nightly", "--db", str(tmp_path / "state.db"), "--out", str(tmp_path / f"plan-{date}"),
            "--date", date, "--children", str(files["children"]),
            "--mentors", str(files["mentors"]), "--xlsx", "--language", "zh",
            "--carry-columns", CARRY, "--geocode", "amap",
            "--config", str(files["config"])]  # fmt: skip
    return argv + (["--events", str(events)] if events is not None else [])


def test_nights_with_chinese_events_give_plans_staff_can_act_on(
    staff: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # night 1: everyone joins; a mentor pauses and a child's exit is requested
    first = _events(tmp_path / "事件1.csv", [
        ("暂停", "", "ZL-M02", "2026/3/2", "北港街道", ""),
        ("退出申请", "ZL-C05", "", "2026年3月2日", "家长", ""),
    ])  # fmt: skip
    assert main(_night(staff, tmp_path, "2026-03-02", first)) == 0
    night1 = capsys.readouterr()
    # night 2: the exit goes through the workflow, the mentor comes back
    second = _events(tmp_path / "事件2.csv", [
        ("街道调查", "ZL-C05", "", "2026-03-09", "北港街道", ""),
        ("区级审批", "ZL-C05", "", "2026-03-09", "区妇联", ""),
        ("退出生效", "ZL-C05", "", "2026-03-09", "区妇联", ""),
        ("恢复", "", "ZL-M02", "2026-03-09", "北港街道", ""),
    ])  # fmt: skip
    assert main(_night(staff, tmp_path, "2026-03-09", second)) == 0
    night2 = capsys.readouterr()
    terminal = night1.out + night1.err + night2.out + night2.err
    assert english_words(terminal) == []
    assert (
        "保持现有结对比重新全部匹配多出" in terminal or "无需多出" in terminal or "公里" in terminal
    )

    plan = tmp_path / "plan-2026-03-09"
    sheets, texts = _workbook_texts(plan / "plan.xlsx")
    assert sheets[0] == "计划概要" and "结束的结对" in sheets
    assert english_words(texts) == []
    ended = pd.read_csv(plan / "plan_ended_pairs.csv", dtype=str, encoding="utf-8-sig")
    assert english_words(_csv_texts(plan)) == []
    assert "ZL-C05" in set(ended["儿童编号"])  # the exit ended the child's pair
    assert "儿童姓名" in ended.columns  # staff's names beside the ids
    # names never in the plan's JSON, the store or the terminal
    names = _names()
    document = (plan / "plan.json").read_text(encoding="utf-8")
    store = (tmp_path / "state.db").read_bytes()
    assert not [n for n in names if n in document or n in terminal or n.encode() in store]
