"""Roster files as staff keep them: GBK or UTF-16 CSV, a title row above the header,
notes below the table, merged street cells, Chinese headers and words; the same roster
in every form reads the same."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching.errors import InputError, RosterError
from matching.geo import ADDRESS_ALIASES
from matching.i18n import use_language
from matching.rosters import (
    ADDRESS_HEADERS,
    VOCABULARY,
    find_column,
    load_children,
    load_mentors,
    load_rosters,
    read_children,
    read_table,
)

openpyxl = pytest.importorskip("openpyxl")

TITLE = "钟楼区困境儿童结对帮扶台账（2026年3月）"
HEADER = ["编号", "姓名", "纬度", "经度", "街道", "社区", "需求", "优先级", "年龄", "性别"]
STREETS = ["西林街道", "南大街街道", "荷花池街道", "新闸街道"]
NEEDS = ["生活关爱服务", "精神素養", "社会融入促进、家庭教育指导", "生活关爱/家庭教育", ""]
PRIORITIES = ["高", "普通", "", "紧急", "2"]
AGES = ["10岁", "9周岁", "8", "", "12岁"]
GENDERS = ["女性", "男", "女", "男性", ""]


def staff_rows(n: int = 12, seed: int = 3) -> list[list[str]]:
    """Data rows of a Chinese children roster, streets in blocks (to be merged)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        street = STREETS[i * len(STREETS) // n]
        rows.append(
            [
                f"C{i + 1:03d}",
                f"儿童{i + 1}",
                f"{31.76 + rng.random() / 20:.6f}",
                f"{119.92 + rng.random() / 20:.6f}",
                street,
                f"{street[:2]}社区{i % 2 + 1}",
                NEEDS[int(rng.integers(len(NEEDS)))],
                PRIORITIES[int(rng.integers(len(PRIORITIES)))],
                AGES[int(rng.integers(len(AGES)))],
                GENDERS[int(rng.integers(len(GENDERS)))],
            ]
        )
    return rows


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    encoding: str = "utf-8",
    title: bool = False,
    notes: tuple[str, ...] = (),
    pad_title: bool = True,
) -> Path:
    width = len(HEADER)
    lines = []
    if title:
        lines.append(TITLE + ("," * (width - 1) if pad_title else ""))
        lines.append("," * (width - 1))  # a blank row of empty cells
    lines.append(",".join(HEADER))
    lines += [",".join(f'"{cell}"' if "," in cell else cell for cell in row) for row in rows]
    lines += [note + "," * (width - 1) for note in notes]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def write_xlsx(
    path: Path, rows: list[list[str]], *, title: bool = True, notes: tuple[str, ...] = ()
) -> Path:
    """A workbook as staff keep it: a title merged across the header's width, the header,
    the records with each street merged over its rows, notes below."""
    book = openpyxl.Workbook()
    sheet = book.active
    width = len(HEADER)
    top = 1
    if title:
        sheet.cell(1, 1, TITLE)
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        top = 3  # row 2 left blank
    for j, header in enumerate(HEADER, start=1):
        sheet.cell(top, j, header)
    street_column = HEADER.index("街道") + 1
    for i, row in enumerate(rows):
        for j, cell in enumerate(row, start=1):
            if cell == "":
                continue
            value: object = cell
            if HEADER[j - 1] in ("纬度", "经度"):
                value = float(cell)  # numbers as numbers, as Excel holds them
            sheet.cell(top + 1 + i, j, value)
    # merge each street's block (only its top cell keeps the value, as Excel does)
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][4] != rows[start][4]:
            if i - start > 1:
                for k in range(start + 1, i):
                    sheet.cell(top + 1 + k, street_column).value = None
                sheet.merge_cells(
                    start_row=top + 1 + start,
                    start_column=street_column,
                    end_row=top + i,
                    end_column=street_column,
                )
            start = i
    below = top + 1 + len(rows)
    for k, note in enumerate(notes):
        sheet.cell(below + k, 1, note)
        sheet.merge_cells(start_row=below + k, start_column=1, end_row=below + k, end_column=width)
    book.save(path)
    return path


# ---------------------------------------------------------------------------------------------
# encodings


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),
    ],
)
def test_csv_encodings_are_read_and_named(tmp_path, encoding, named):
    rows = staff_rows()
    path = write_csv(tmp_path / "kids.csv", rows, encoding=encoding)
    roster = load_children(path)
    assert roster.frame["id"].tolist() == [row[0] for row in rows]
    assert roster.frame["街道" if False else "street"].tolist() == [row[4] for row in rows]
    assert roster.reading.encoding == named
    assert roster.frame["姓名"].tolist() == [row[1] for row in rows]


def test_a_gbk_file_reports_the_file_lines(tmp_path):
    rows = staff_rows(4)
    rows[2][7] = "很高"
    path = write_csv(tmp_path / "kids.csv", rows, encoding="gbk")
    with pytest.raises(RosterError) as info:
        read_children(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.row_id, problem.column) == (4, "C003", "优先级")


# ---------------------------------------------------------------------------------------------
# title rows above the header


@pytest.mark.parametrize("pad_title", [True, False])
def test_csv_title_row_above_the_header(tmp_path, pad_title):
    rows = staff_rows(5)
    path = write_csv(tmp_path / "kids.csv", rows, title=True, pad_title=pad_title)
    roster = load_children(path)
    assert roster.frame["id"].tolist() == [row[0] for row in rows]
    assert roster.reading.header_line == 3
    assert any("line 3" in line for line in roster.reading.describe(language="en"))


def test_csv_title_row_keeps_file_lines_in_problems(tmp_path):
    rows = staff_rows(5)
    rows[1][2] = "不知道"  # a latitude that is no number: line 5 of the file
    rows[3][8] = "3公里"
    path = write_csv(tmp_path / "kids.csv", rows, title=True)
    with pytest.raises(RosterError) as info:
        read_children(path)
    found = [(p.line, p.row_id, p.column) for p in info.value.problems]
    assert found == [(5, "line 5", "纬度"), (7, "C004", "年龄")]
    assert "不知道" not in str(info.value)


def test_csv_title_row_and_a_line_with_too_many_fields(tmp_path):
    rows = staff_rows(3)
    path = write_csv(tmp_path / "kids.csv", rows, title=True)
    text = path.read_text(encoding="utf-8").replace("C002,", "C002,extra,", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as info:
        read_children(path)
    assert [(p.line, p.column) for p in info.value.problems] == [(5, "")]


def test_no_header_anywhere_is_reported_as_before(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text(f"{TITLE}\n名单,备注\n1,2\n", encoding="utf-8")
    with pytest.raises(RosterError) as info:
        read_children(path)
    # the first row stays the header: the rows under it have a field too many
    assert [(p.row_id, p.column) for p in info.value.problems] == [("line 2", ""), ("line 3", "")]


def test_read_table_finds_an_address_only_header_below_a_title(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text(
        f"{TITLE},,\n编号,姓名,家庭住址\nC1,张,常州市钟楼区西林街道1号\n填表人：李四,,\n",
        encoding="utf-8",
    )
    raw = read_table(path)
    assert list(raw.columns) == ["编号", "姓名", "家庭住址"]
    assert len(raw) == 1
    assert find_column(raw, ADDRESS_ALIASES) == "家庭住址"


@pytest.mark.parametrize("header", ["地址", "家庭住址", "住址", "居住地址", "现住址", "Address"])
def test_address_aliases(header):
    assert header.lower() in ADDRESS_HEADERS
    assert find_column(pd.DataFrame(columns=["编号", header]), ADDRESS_ALIASES) == header


# ---------------------------------------------------------------------------------------------
# notes below the table


def test_csv_notes_below_the_table_are_reported_not_read(tmp_path):
    rows = staff_rows(4)
    notes = ("填表人：张三", "注：数据截至3月底", "")
    path = write_csv(tmp_path / "kids.csv", rows, title=True, notes=notes)
    roster = load_children(path)
    assert roster.frame["id"].tolist() == [row[0] for row in rows]
    assert roster.reading.note_lines == (8, 9)  # title, blank, header, 4 records
    described = "\n".join(roster.reading.describe(language="en"))
    assert "2 rows below the table read as notes, not records: lines 8, 9" in described
    assert "张三" not in described


def test_csv_short_note_lines_are_no_field_count_problem(tmp_path):
    rows = staff_rows(3)
    path = write_csv(tmp_path / "kids.csv", rows)
    with path.open("a", encoding="utf-8") as stream:
        stream.write("填表人：张三\r\n")  # one field, under a ten-field header
    roster = load_children(path)
    assert len(roster.frame) == 3
    assert roster.reading.note_lines == (5,)


def test_a_lone_id_like_text_below_the_table_stays_a_record(tmp_path):
    rows = staff_rows(3)
    path = write_csv(tmp_path / "kids.csv", rows, notes=("C004",))
    with pytest.raises(RosterError) as info:
        read_children(path)
    assert {(p.line, p.row_id, p.column) for p in info.value.problems} == {
        (5, "C004", "纬度"),
        (5, "C004", "经度"),
    }


def test_a_note_in_an_extra_first_column(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text(
        "序号,编号,纬度,经度\n1,C1,31.8,119.9\n2,C2,31.81,119.9\n3,,,\n合计2人,,,\n",
        encoding="utf-8",
    )
    roster = load_children(path)
    assert roster.frame["id"].tolist() == ["C1", "C2"]
    assert roster.reading.note_lines == (4, 5)


def test_a_record_missing_coordinates_at_the_end_is_still_reported(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text("编号,纬度,经度,街道\nC1,31.8,119.9,西林\nC2,,,西林\n", encoding="utf-8")
    with pytest.raises(RosterError) as info:
        read_children(path)
    assert {(p.line, p.row_id) for p in info.value.problems} == {(3, "C2")}


# ---------------------------------------------------------------------------------------------
# workbooks


def test_xlsx_title_row_merged_streets_and_notes(tmp_path):
    rows = staff_rows(8)
    path = write_xlsx(tmp_path / "kids.xlsx", rows, notes=("填表人：张三", "注：台账每月更新"))
    roster = load_children(path)
    frame = roster.frame
    assert frame["id"].tolist() == [row[0] for row in rows]
    assert frame["street"].tolist() == [row[4] for row in rows]  # merged cells filled
    assert roster.reading.header_line == 3
    assert roster.reading.note_lines == (12, 13)
    assert roster.reading.encoding is None


def test_xlsx_title_row_keeps_sheet_rows_in_problems(tmp_path):
    rows = staff_rows(6)
    rows[4][7] = "很高"  # sheet row 3 (header) + 5
    path = write_xlsx(tmp_path / "kids.xlsx", rows, notes=("填表人：张三",))
    with pytest.raises(RosterError) as info:
        read_children(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.row_id, problem.column) == (8, "C005", "优先级")


# ---------------------------------------------------------------------------------------------
# the same roster in every form


def test_the_same_roster_reads_the_same_in_every_form(tmp_path):
    rows = staff_rows(20, seed=11)
    forms = {
        "csv": write_csv(tmp_path / "plain.csv", rows),
        "csv with title and notes": write_csv(
            tmp_path / "title.csv", rows, title=True, notes=("填表人：张三",)
        ),
        "gbk csv with title": write_csv(tmp_path / "gbk.csv", rows, encoding="gbk", title=True),
        "xlsx with title, merged streets, notes": write_xlsx(
            tmp_path / "book.xlsx", rows, notes=("注：数据截至3月底",)
        ),
    }
    frames = {name: read_children(path) for name, path in forms.items()}
    reference = frames["csv"]
    assert reference["street"].tolist() == [row[4] for row in rows]
    canonical = list(reference.columns[:-1])
    assert canonical[-1] == "age" and reference.columns[-1] == "姓名"
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame[canonical], reference[canonical], obj=name)
        # the staff's own column is carried as read (text; its dtype follows the reader)
        assert frame["姓名"].tolist() == reference["姓名"].tolist(), name


def test_the_same_roster_in_chinese_words_and_in_canonical_english(tmp_path):
    rows = staff_rows(20, seed=5)
    zh = read_children(write_csv(tmp_path / "zh.csv", rows, encoding="gbk", title=True))
    canonical = pd.DataFrame(
        {
            "id": zh["id"],
            "lat": zh["lat"].map(repr),
            "lon": zh["lon"].map(repr),
            "street": zh["street"],
            "community": zh["community"],
            "needs": [";".join(needs) for needs in zh["needs"]],
            "priority": zh["priority"].astype(str),
            "age": ["" if np.isnan(a) else str(a) for a in zh["age"]],
            "gender": zh["gender"],
        }
    )
    path = tmp_path / "en.csv"
    canonical.to_csv(path, index=False)
    en = read_children(path)
    columns = ["id", "lat", "lon", "street", "community", "needs", "priority", "age", "gender"]
    pd.testing.assert_frame_equal(en[columns], zh[columns])


# ---------------------------------------------------------------------------------------------
# both rosters' problems in one run, in Chinese


def _mentor_rows() -> str:
    return (
        "编号,纬度,经度,容量,最大距离,在岗\n"
        "M1,31.8,119.9,2人,3公里,在岗\n"
        "M2,31.8,119.9,很多,3岁,暂停\n"
    )


def test_load_rosters_reports_both_rosters_at_once(tmp_path):
    rows = staff_rows(4)
    rows[1][7] = "很高"
    kids = write_csv(tmp_path / "kids.csv", rows, encoding="gbk", title=True)
    mentors = tmp_path / "mentors.csv"
    mentors.write_text(_mentor_rows(), encoding="utf-8")
    with use_language("zh"), pytest.raises(RosterError) as info:
        load_rosters(kids, mentors)
    error = info.value
    assert [e.roster for e in error.errors] == ["children", "mentors"]  # type: ignore[attr-defined]
    assert [(p.line, p.row_id, p.column) for p in error.problems] == [
        (5, "C002", "优先级"),
        (3, "M2", "容量"),
        (3, "M2", "最大距离"),
    ]
    text = str(error)
    assert f"儿童名单有误：共 1 处问题，文件“{kids}”" in text
    assert f"爱心妈妈名单有误：共 2 处问题，文件“{mentors}”" in text
    assert (
        "  - 第 5 行，编号 C002：列“优先级”：不是数字或可识别的词（应为 0 到 100 的整数，"
        "或填写：紧急、高、中、普通、低）" in text
    )
    assert "很高" not in text and "很多" not in text


def test_load_rosters_when_both_are_valid(tmp_path):
    kids = write_csv(tmp_path / "kids.csv", staff_rows(4))
    mentors = tmp_path / "mentors.csv"
    mentors.write_text(_mentor_rows().replace("很多,3岁", "1,500米"), encoding="utf-8")
    children, mentor_roster = load_rosters(kids, mentors, vocabulary=VOCABULARY)
    assert len(children) == 4
    assert mentor_roster.frame["capacity"].tolist() == [2, 1]
    assert mentor_roster.frame["max_distance_km"].tolist() == [3.0, 0.5]
    assert mentor_roster.frame["active"].tolist() == [True, False]
    assert load_mentors(mentors).frame.equals(mentor_roster.frame)


def test_load_rosters_one_invalid_raises_its_own_error(tmp_path):
    kids = write_csv(tmp_path / "kids.csv", staff_rows(2))
    mentors = tmp_path / "mentors.csv"
    mentors.write_text(_mentor_rows(), encoding="utf-8")
    with pytest.raises(RosterError) as info:
        load_rosters(kids, mentors)
    assert info.value.roster == "mentors"
    assert info.value.source == str(mentors)


def test_load_rosters_unreadable_file_is_an_input_error(tmp_path):
    kids = tmp_path / "kids.csv"
    kids.write_bytes(codecs.BOM_UTF8 + b"\xff\xfe\x00")
    mentors = tmp_path / "mentors.csv"
    mentors.write_text(_mentor_rows(), encoding="utf-8")
    with pytest.raises(InputError):
        load_rosters(kids, mentors)


def _column_table(columns) -> str:  # type: ignore[no-untyped-def]
    rows = ["| column | required | Chinese headers | meaning |", "|---|---|---|---|"]
    for c in columns:
        required = "yes" if c.required else "no"
        rows.append(f"| `{c.name}` | {required} | {', '.join(c.aliases)} | {c.doc} |")
    return "\n".join(rows)


def test_readme_lists_every_roster_column_with_its_chinese_headers() -> None:
    from pathlib import Path

    from matching.rosters import CHILD_COLUMNS, MENTOR_COLUMNS

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "Children:\n\n" + _column_table(CHILD_COLUMNS) + "\n" in readme
    assert "Mentors:\n\n" + _column_table(MENTOR_COLUMNS) + "\n" in readme


def test_headers_as_staff_write_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from matching.rosters import load_rosters

    kids = tmp_path / "kids.csv"
    kids.write_text(
        "钟楼区儿童名单\n儿童编号,纬度,经度,年龄（岁）,优先级(等级),所在街道\n"
        "C1,31.80,119.97,10岁,高,永红街道\n",
        encoding="utf-8",
    )
    moms = tmp_path / "moms.csv"
    moms.write_text(
        "爱心妈妈编号,纬度,经度,容量（人）,最大距离（公里）,状态\nM1,31.80,119.97,2,3,暂停\n",
        encoding="utf-8",
    )
    children, mentors = load_rosters(kids, moms)
    row = children.frame.iloc[0]
    assert (row["id"], row["age"], row["priority"], row["street"]) == ("C1", 10.0, 2, "永红街道")
    mentor = mentors.frame.iloc[0]
    assert (mentor["id"], mentor["capacity"], mentor["max_distance_km"]) == ("M1", 2, 3.0)
    assert not bool(mentor["active"])
    assert children.reading.header_line == 2
