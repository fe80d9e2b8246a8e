"""Events files as staff keep them: Chinese headers and kinds, CSV in GBK/UTF-8/UTF-16,
XLSX with title rows, merged cells and date cells, and Chinese messages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from matching.datasets.synth import district
from matching.errors import EventError
from matching.i18n import use_language
from matching.programme import run_nightly
from matching.programme.events import (
    EVENT_FIELDS,
    EVENT_FILE_SUFFIXES,
    EVENT_KINDS,
    EVENT_STATE_NAMES,
    EVENT_VOCABULARY,
    Event,
    apply_events,
    apply_rosters,
    parse_event_date,
    read_events,
    read_events_file,
    vocabulary_markdown,
)
from matching.programme.events.vocabulary import column_fields, kinds_for
from matching.programme.state import empty_state
from matching.programme.store import StateStore

ROOT = Path(__file__).resolve().parents[1]

EN_HEADER = ["kind", "child_id", "mentor_id", "actor", "note", "date"]
ZH_HEADER = ["类型", "儿童编号", "爱心妈妈编号", "操作人", "备注", "日期"]
# (Chinese kind, English kind, child, mentor, actor, note, date as staff write it, ISO date)
ROWS = [
    ("退出申请", "exit_request", "C1", "", "家长", "", "2026/3/2", "2026-03-02"),
    ("街道调查", "exit_investigate", "C1", "", "街道", "", "2026年3月3日", "2026-03-03"),
    ("区级审批", "exit_approve", "C1", "", "区妇联", "", "2026-03-04", "2026-03-04"),
    ("退出生效", "exit_effective", "C1", "", "", "", "2026.3.5", "2026-03-05"),
    ("退出驳回", "exit_reject", "C2", "", "", "", "", ""),
    ("暂停", "mentor_pause", "", "M1", "", "", "", ""),
    ("恢复", "mentor_resume", "", "M1", "", "", "", ""),
    ("退出志愿服务", "mentor_leave", "", "M2", "", "", "", ""),
    ("重新加入", "child_rejoin", "C3", "", "", "", "", ""),
    ("重新加入", "mentor_rejoin", "", "M3", "", "", "", ""),
    ("固定配对", "pin", "C4", "M4", "staff-07", "", "", ""),
    ("取消固定", "unpin", "C4", "M4", "", "", "", ""),
    ("禁止配对", "forbid", "C5", "M5", "", "", "", ""),
    ("结束配对", "end_pair", "C6", "M6", "", "搬家，转学", "", ""),
]
EXPECTED = [
    Event(kind=en, child_id=c, mentor_id=m, actor=a, note=n, date=iso)
    for _zh, en, c, m, a, n, _day, iso in ROWS
]


def _csv_text(header: list[str], rows: list[list[object]], titles: int = 0) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for _ in range(titles):
        writer.writerow(["钟楼区事件登记（2026年3月）"] + [""] * (len(header) - 1))
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _zh_rows() -> list[list[object]]:
    return [[zh, c, m, a, n, day] for zh, _en, c, m, a, n, day, _iso in ROWS]


def _en_rows() -> list[list[object]]:
    return [[en, c, m, a, n, iso] for _zh, en, c, m, a, n, _day, iso in ROWS]


def _xlsx(path: Path, header: list[str], rows: list[list[object]], titles: int = 1) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for at in range(titles):
        sheet.append(["钟楼区事件登记（2026年3月）"] + [None] * (len(header) - 1))
        sheet.merge_cells(start_row=at + 1, start_column=1, end_row=at + 1, end_column=len(header))
    sheet.append(header)
    for row in rows:
        sheet.append([None if cell == "" else cell for cell in row])
    book.save(path)
    return path


# ----------------------------------------------------------------------------------------------
# the vocabulary table


def test_the_vocabulary_covers_every_field_and_kind_once() -> None:
    columns = [t.name for t in EVENT_VOCABULARY if t.what == "column"]
    kinds = [t.name for t in EVENT_VOCABULARY if t.what == "kind"]
    assert sorted(columns) == sorted(EVENT_FIELDS)
    assert sorted(kinds) == sorted(EVENT_KINDS)
    chinese = [t.chinese for t in EVENT_VOCABULARY]
    assert len(set(chinese)) == len(chinese)
    for term in EVENT_VOCABULARY:
        spellings = [term.chinese, *term.aliases] + ([term.name] if term.name else [])
        for spelling in spellings:
            if term.what == "kind":
                assert term.name in kinds_for(spelling), spelling
                assert kinds_for(spelling.upper()) == kinds_for(spelling)  # any case
            else:
                assert column_fields(f"  {spelling} ") == term.name, spelling


def test_every_chinese_kind_name_means_one_kind() -> None:
    for term in EVENT_VOCABULARY:
        if term.what == "kind":
            assert kinds_for(term.chinese) == (term.name,)
            assert re.search(r"[\u4e00-\u9fff]", term.chinese)


def test_the_issue_table_maps_to_the_model_kinds() -> None:
    issue = {
        "退出申请": "exit_request", "街道调查": "exit_investigate", "区级审批": "exit_approve",
        "退出生效": "exit_effective", "退出驳回": "exit_reject", "暂停": "mentor_pause",
        "恢复": "mentor_resume", "退出志愿服务": "mentor_leave", "固定配对": "pin",
        "取消固定": "unpin", "禁止配对": "forbid", "结束配对": "end_pair",
    }  # fmt: skip
    for chinese, kind in issue.items():
        assert kinds_for(chinese) == (kind,)
    assert kinds_for("重新加入") == ("child_rejoin", "mentor_rejoin")


def test_readme_shows_the_vocabulary_table() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"<!-- events-vocabulary: begin.*?-->\n(.*?)<!-- events-vocabulary: end -->", text, re.S
    )
    assert found, "README.md has no events vocabulary block"
    assert found.group(1).strip() == vocabulary_markdown().strip(), (
        "README's events table differs from EVENT_VOCABULARY: paste vocabulary_markdown()"
    )


def test_state_names_are_chinese() -> None:
    assert set(EVENT_STATE_NAMES) >= {"none", "requested", "investigated", "approved"}
    assert set(EVENT_STATE_NAMES) >= {"active", "paused", "left"}
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name in EVENT_STATE_NAMES.values())


# ----------------------------------------------------------------------------------------------
# the same events in every form


def test_the_english_file_reads_as_expected(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(_csv_text(EN_HEADER, _en_rows()), encoding="utf-8")
    assert read_events(path) == EXPECTED


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
@pytest.mark.parametrize("titles", [0, 2])
def test_a_chinese_csv_reads_to_the_same_events(tmp_path: Path, encoding: str, titles: int) -> None:
    path = tmp_path / "事件.csv"
    path.write_bytes(_csv_text(ZH_HEADER, _zh_rows(), titles=titles).encode(encoding))
    read = read_events_file(path)
    assert list(read.events) == EXPECTED
    assert read.header_line == titles + 1
    assert read.encoding == {"gbk": "gb18030"}.get(encoding, encoding)
    assert read.columns == dict(zip(ZH_HEADER, EN_HEADER, strict=True))
    # each event knows its file and line: the header's line + its row
    assert [e.line for e in read.events] == list(range(titles + 2, titles + 2 + len(ROWS)))
    assert {e.source for e in read.events} == {str(path)}


def test_a_chinese_xlsx_with_a_title_row_merged_and_date_cells(tmp_path: Path) -> None:
    rows = _zh_rows()
    for row, (*_rest, iso) in zip(rows, ROWS, strict=True):
        if iso:  # Excel date cells
            row[5] = dt.datetime.fromisoformat(iso)
    path = _xlsx(tmp_path / "事件.xlsx", ZH_HEADER, rows, titles=2)
    read = read_events_file(path)
    assert list(read.events) == EXPECTED
    assert read.encoding == "xlsx" and read.header_line == 3
    assert [e.line for e in read.events] == list(range(4, 4 + len(ROWS)))


def test_xlsx_merged_cells_fill_every_row_and_numbers_are_ids(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["序号", "类型", "儿童编号", "日期"])
    sheet.append([1, "退出申请", 1001, dt.date(2026, 3, 5)])
    sheet.append([2, "退出申请", 1002.0, None])
    sheet.merge_cells("D2:D3")  # one date for both rows
    book.save(tmp_path / "e.xlsx")
    assert read_events(tmp_path / "e.xlsx") == [
        Event(kind="exit_request", child_id="1001", date="2026-03-05"),
        Event(kind="exit_request", child_id="1002", date="2026-03-05"),
    ]


def test_a_json_file_with_chinese_keys_and_kinds(tmp_path: Path) -> None:
    items = [
        {key: value for key, value in zip(ZH_HEADER, row, strict=True) if value != ""}
        for row in _zh_rows()
    ]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    assert read_events(path) == EXPECTED


@pytest.mark.parametrize("term", [t for t in EVENT_VOCABULARY if t.what == "kind"])
def test_every_kind_reads_in_chinese(tmp_path: Path, term) -> None:
    from matching.programme.events.model import REQUIRED

    values = {"child_id": "C1", "mentor_id": "M1", "actor": "a", "note": "n"}
    needed = {name: values[name] for name in REQUIRED[term.name]}
    row = [term.chinese, needed.get("child_id", ""), needed.get("mentor_id", "")]
    row += [needed.get("actor", ""), needed.get("note", ""), ""]
    path = tmp_path / "events.csv"
    path.write_text(_csv_text(ZH_HEADER, [row]), encoding="utf-8")
    assert read_events(path) == [Event(kind=term.name, **needed)]


def test_headers_with_spaces_any_case_and_english_kinds_any_case(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        " Kind , Child ID ,  儿童 备注  \n EXIT_Request ,C1,x\nExit Reject,C1,\n", encoding="utf-8"
    )
    with pytest.raises(EventError):  # "儿童 备注" is no header of the vocabulary
        read_events(path)
    path.write_text(" Kind , Child ID , 备注 \n EXIT_Request ,C1,x\nExit Reject,C1,\n", "utf-8")
    assert read_events(path) == [
        Event(kind="exit_request", child_id="C1", note="x"),
        Event(kind="exit_reject", child_id="C1"),
    ]


def test_rejoin_is_decided_by_the_ids(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(_csv_text(ZH_HEADER, [["重新加入", "C1", "M1", "", "", ""]]), "utf-8")
    with use_language("zh"), pytest.raises(EventError) as info:
        read_events(path)
    assert info.value.problems == [
        "第 2 行（儿童 C1，爱心妈妈 M1）：'类型' 列：“儿童重新加入/爱心妈妈重新加入”针对一名儿童"
        "或一位爱心妈妈：'儿童编号' 和 '爱心妈妈编号' 只填其中一个"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-05", "2026-03-05"),
        ("2026/3/5", "2026-03-05"),
        ("2026-3-5", "2026-03-05"),
        ("2026.3.5", "2026-03-05"),
        ("2026年3月5日", "2026-03-05"),
        ("２０２６年３月５日", "2026-03-05"),
        ("2026/3/5 0:00:00", "2026-03-05"),
        (dt.datetime(2026, 3, 5, 0, 0), "2026-03-05"),
        (dt.date(2026, 3, 5), "2026-03-05"),
        ("2026/2/30", None),
        ("3/5/2026", None),
        ("昨天", None),
        (46086, None),
    ],
)
def test_dates_as_staff_write_them(text: object, expected: str | None) -> None:
    assert parse_event_date(text) == expected


def test_notes_below_the_table_are_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.csv"
    text = _csv_text(["序号", *ZH_HEADER], [[1, "退出申请", "C1", "", "", "", ""]], titles=1)
    text += "填表人：张三,,,,,,\r\n,,,,,,\r\n审核人：李四,,,,,,\r\n"
    path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        read = read_events_file(path)
    assert list(read.events) == [Event(kind="exit_request", child_id="C1")]
    assert read.notes_lines == (4, 6)
    assert read.columns["序号"] == ""
    assert "4, 6" in caplog.text and "张三" not in caplog.text


def test_a_note_row_between_events_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    rows = [["退出申请", "C1", "", "", "", ""], ["备注行", "", "", "", "", ""]]
    rows.append(["退出申请", "C2", "", "", "", ""])
    path.write_text(_csv_text(ZH_HEADER, rows), encoding="utf-8")
    with pytest.raises(EventError) as info:
        read_events(path, language="zh")
    assert info.value.problems[0].startswith("第 3 行：'类型' 列：无法识别的事件类型")


def test_xlsx_without_openpyxl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _xlsx(tmp_path / "e.xlsx", ZH_HEADER, _zh_rows())
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(EventError) as info:
        read_events(path)
    assert info.value.problems == [
        'reading .xlsx files needs openpyxl; install it with: pip install "mentor-matching[excel]"'
    ]
    assert ".xlsx" in EVENT_FILE_SUFFIXES


# ----------------------------------------------------------------------------------------------
# Chinese messages: file, line, the file's header, ids; never a cell


SECRET = "王小明家住幸福路8号"


def test_bad_kinds_headers_and_dates_in_chinese(tmp_path: Path) -> None:
    rows = [
        ["退出申请", "C1", "", "", SECRET, "2026/3/5"],  # line 3: fine
        [SECRET, "C2", "", "", "", ""],  # 4: unknown kind
        ["区级审批", "C3", "", "", SECRET, "2026/13/1"],  # 5: no actor, bad date
        ["固定配对", "", "M4", "", "", ""],  # 6: no child id
        ["", "C5", "", "", SECRET, ""],  # 7: no kind
    ]
    path = tmp_path / "事件.csv"
    path.write_bytes(_csv_text(ZH_HEADER, rows, titles=1).encode("gbk"))
    with pytest.raises(EventError) as info:
        read_events(path, language="zh")
    accepted = "、".join(t.chinese for t in EVENT_VOCABULARY if t.what == "kind")
    assert info.value.problems == [
        f"第 4 行（儿童 C2）：'类型' 列：无法识别的事件类型（可填：{accepted}）",
        "第 5 行（儿童 C3）：'操作人' 列：缺少操作人（批准退出的人）",
        "第 5 行（儿童 C3）：'日期' 列：不是日期（应写成 2026-03-05、2026/3/5 或 2026年3月5日）",
        "第 6 行（爱心妈妈 M4）：'儿童编号' 列：缺少儿童编号",
        "第 7 行（儿童 C5）：'类型' 列：缺少事件类型",
    ]
    message = str(info.value)
    assert message.splitlines()[0] == f"事件文件 {str(path)!r} 有误：共 5 个问题"
    assert SECRET not in message and "2026/13/1" not in message
    # the same file in English names the same headers and lines
    with pytest.raises(EventError) as info:
        read_events(path, language="en")
    assert info.value.problems[1] == (
        "line 5 (child C3): column '操作人': missing 操作人 (who approved the exit)"
    )


def test_a_missing_column_is_named_in_the_language(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("类型,儿童编号\n区级审批,C1\n", encoding="utf-8")
    with pytest.raises(EventError) as info:
        read_events(path, language="zh")
    assert info.value.problems == ["第 2 行（儿童 C1）：'操作人' 列：缺少操作人（批准退出的人）"]
    with pytest.raises(EventError) as info:
        read_events(path, language="en")
    assert info.value.problems == [
        "line 2 (child C1): column 'actor': missing actor (who approved the exit)"
    ]


def test_header_problems_in_chinese_name_the_header_line(tmp_path: Path) -> None:
    path = tmp_path / "事件.csv"
    header = ["类型", "儿童编号", "儿童姓名", "备注", "原因", "", "备注"]
    rows = [["退出申请", "C1", SECRET, "", "", "x", ""]]
    path.write_text(_csv_text(header, rows, titles=1), encoding="utf-8")
    with pytest.raises(EventError) as info:
        read_events(path, language="zh")
    fields = "类型、儿童编号、爱心妈妈编号、操作人、备注、日期"
    assert info.value.problems == [
        f"表头（第 2 行）：第 3 列 '儿童姓名' 不是事件的列（可用列名：{fields}）",
        "表头（第 2 行）：'备注'、'原因'、'备注' 这几列都表示'备注'，只能保留一列",
        f"表头（第 2 行）：第 6 列没有列名（可用列名：{fields}）",
    ]
    assert SECRET not in str(info.value)


def test_no_kind_column_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(f"儿童编号,备注\nC1,{SECRET}\n", encoding="utf-8")
    with pytest.raises(EventError) as info:
        read_events(path, language="zh")
    assert info.value.problems == ["表头：缺少必需的 '类型' 列"]


def test_xlsx_problems_name_the_sheet_row(tmp_path: Path) -> None:
    rows = _zh_rows()[:2]
    rows[1][1] = dt.datetime(2026, 3, 1)  # Excel turned an id into a date
    rows[0][5] = "下周"
    path = _xlsx(tmp_path / "e.xlsx", ZH_HEADER, rows, titles=1)
    with pytest.raises(EventError) as info:
        read_events(path, language="zh")
    assert info.value.problems == [
        "第 3 行（儿童 C1）：'日期' 列：不是日期（应写成 2026-03-05、2026/3/5 或 2026年3月5日）",
        "第 4 行：'儿童编号' 列：此处应为文本，单元格却是日期或时间（请把这一列设为文本格式）",
    ]


def test_file_errors_in_chinese(tmp_path: Path) -> None:
    with pytest.raises(EventError) as info:
        read_events(tmp_path / "无.csv", language="zh")
    assert str(info.value).splitlines()[0].startswith("无法读取 ")
    assert info.value.problems == ["文件不存在"]
    other = tmp_path / "e.xls"
    other.write_bytes(b"x")
    with pytest.raises(EventError) as info:
        read_events(other, language="zh")
    assert info.value.problems == ["不支持的文件类型 '.xls'；应为 .csv、.xlsx 或 .json"]


# ----------------------------------------------------------------------------------------------
# applying: Chinese messages naming the file and line


def _state():
    kids = pd.DataFrame({"id": ["C1", "C2"], "lat": [31.8, 31.81], "lon": [119.9, 119.91]})
    mums = pd.DataFrame({"id": ["M1"], "lat": [31.8], "lon": [119.9], "capacity": [2]})
    return apply_rosters(empty_state(), kids, mums, date="2026-03-01")[0]


def test_apply_problems_in_chinese_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "事件.csv"
    rows = [["退出申请", "C1", "", "", "", ""], ["退出生效", "C2", "", "", "", ""]]
    rows.append(["暂停", "", "M1", "", "", ""])
    rows.append(["恢复", "", "M1", "", "", ""])
    rows.append(["恢复", "", "M1", "", "", ""])
    path.write_text(_csv_text(ZH_HEADER, rows, titles=1), encoding="utf-8")
    events = read_events(path)
    with pytest.raises(EventError) as info:
        apply_events(_state(), events, date="2026-03-02", language="zh")
    assert str(info.value).splitlines()[0] == (
        f"事件文件 {str(path)!r} 中有 2 条事件无效；所有事件均未执行"
    )
    assert info.value.problems == [
        "第 2 条事件，第 4 行（退出生效，儿童 C2）：退出进度是“无”；“退出生效”需要“已审批”",
        "第 5 条事件，第 7 行（恢复，爱心妈妈 M1）：该爱心妈妈的状态是“在岗”；“恢复”需要“暂停”",
    ]
    with pytest.raises(EventError) as info:  # English, the same facts
        apply_events(_state(), events, date="2026-03-02")
    assert info.value.problems[0] == (
        "event 2, line 4 (exit_effective, child C2): exit_state is none; "
        "exit_effective needs approved"
    )


def test_events_from_a_file_equal_and_key_as_events_written_in_code(tmp_path: Path) -> None:
    from matching.programme.events import event_key

    path = tmp_path / "events.csv"
    path.write_text(_csv_text(ZH_HEADER, _zh_rows()), encoding="utf-8")
    read = read_events(path)
    assert [event_key(e, "2026-03-09") for e in read] == [
        event_key(e, "2026-03-09") for e in EXPECTED
    ]
    assert repr(read[0]) == repr(EXPECTED[0])


# ----------------------------------------------------------------------------------------------
# a night run with a Chinese events file


def _night_state(db: Path) -> tuple:
    with StateStore.open(db, readonly=True) as store:
        state = store.load()
        history = store.history()
    return (
        state.children.to_json(),
        state.mentors.to_json(),
        state.pairs.to_json(),
        state.forbidden,
        state.first_in_line,
        history.drop(columns=[c for c in history.columns if "run_id" in c]).to_json(),
    )


def test_run_nightly_applies_a_chinese_exit_workflow(tmp_path: Path) -> None:
    kids, mentors = district(30, 20, seed=3, area_km2=40.0)
    db_zh, db_en = tmp_path / "zh.db", tmp_path / "en.db"
    for db in (db_zh, db_en):
        run_nightly(db, date="2026-03-01", children=kids, mentors=mentors)
    with StateStore.open(db_zh, readonly=True) as store:
        pairs = store.load().pairs
    (child, mentor), (other, other_mentor) = list(
        zip(pairs["child_id"], pairs["mentor_id"], strict=True)
    )[:2]
    zh_rows = [
        ["退出申请", child, "", "家长", "", "2026/3/2"],
        ["街道调查", child, "", "", "", "2026年3月3日"],
        ["区级审批", child, "", "区妇联", "", "2026-03-04"],
        ["退出生效", child, "", "", "", "2026.3.5"],
        ["固定配对", other, other_mentor, "staff-07", "", ""],
    ]
    en_rows = [
        ["exit_request", child, "", "家长", "", "2026-03-02"],
        ["exit_investigate", child, "", "", "", "2026-03-03"],
        ["exit_approve", child, "", "区妇联", "", "2026-03-04"],
        ["exit_effective", child, "", "", "", "2026-03-05"],
        ["pin", other, other_mentor, "staff-07", "", ""],
    ]
    zh_file = tmp_path / "事件.csv"
    zh_file.write_bytes(_csv_text(ZH_HEADER, zh_rows, titles=1).encode("gbk"))
    en_file = tmp_path / "events.csv"
    en_file.write_text(_csv_text(EN_HEADER, en_rows), encoding="utf-8")
    report = run_nightly(db_zh, date="2026-03-06", events=zh_file)
    run_nightly(db_en, date="2026-03-06", events=en_file)
    assert report.counts["events_applied"] == 5
    assert _night_state(db_zh) == _night_state(db_en)
    with StateStore.open(db_zh, readonly=True) as store:
        state = store.load()
        history = store.history()
    kid = state.children.set_index("id").loc[child]
    assert (kid["status"], kid["left_on"], kid["left_reason"]) == (
        "exited",
        "2026-03-05",
        "exit_effective",
    )
    ended = history[(history["child_id"] == child) & (history["mentor_id"] == mentor)]
    assert ended[["ended_on", "end_reason", "end_approved_by"]].values.tolist() == [
        ["2026-03-05", "exit_effective", "区妇联"]
    ]
    pinned = state.pairs.set_index(["child_id", "mentor_id"]).loc[(other, other_mentor)]
    assert bool(pinned["pinned"])


def test_run_nightly_refuses_a_bad_chinese_events_file_in_chinese(tmp_path: Path) -> None:
    kids, mentors = district(30, 20, seed=3, area_km2=40.0)
    db = tmp_path / "s.db"
    run_nightly(db, date="2026-03-01", children=kids, mentors=mentors)
    path = tmp_path / "事件.xlsx"
    _xlsx(path, ZH_HEADER, [["退出生效", "C000001", None, None, SECRET, None]], titles=1)
    with use_language("zh"), pytest.raises(EventError) as info:
        run_nightly(db, date="2026-03-02", events=path)
    assert info.value.problems == [
        "第 1 条事件，第 3 行（退出生效，儿童 C000001）：退出进度是“无”；“退出生效”需要“已审批”"
    ]
    assert SECRET not in str(info.value)
    with StateStore.open(db, readonly=True) as store:
        assert len(store.runs()) == 1  # nothing committed
