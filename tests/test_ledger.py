"""Each child's ledger (台账) from the state store: a hand-built scenario through the nightly job,
every row and every waiting figure worked out by hand; the ``--child`` filter; the CLI's files
in Chinese and English, written again byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from builders import kids_frame, mentors_frame

from matching.cli import main
from matching.errors import InputError
from matching.programme import (
    CHILD_LEDGER_COLUMNS,
    MENTOR_LEDGER_COLUMNS,
    PAIR_LEDGER_COLUMNS,
    Event,
    StateStore,
    ledger,
    run_nightly,
)

AS_OF = "2026-04-06"


def _exit(child: str, effective_on: str) -> list[Event]:
    """The whole exit workflow of ``child``, approved by the district."""
    steps = ("exit_request", "exit_investigate", "exit_approve")
    return [Event(kind=k, child_id=child, actor="district") for k in steps] + [
        Event(kind="exit_effective", child_id=child, actor="district", date=effective_on)
    ]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six weekly nights on two streets 10 km apart, each mentor taking one child within 2 km.

    - 03-02: C1 (by M1) and C2 (by M2) are paired; C4, 50 km away, waits.
    - 03-09: C3 joins by M2, who is taken: C3 waits.  C1's exit takes effect, dated 03-08.
    - 03-16: M1 pauses; C4 exits (effective that night).
    - 03-23: C1 rejoins; M1 is paused and M2 too far: C1 waits.
    - 03-30: M1 resumes and takes C1 again; staff end C2-M2 ("moved away"), M2 takes C3.
    - 04-06: nothing happens (C2 waits: M2 is taken, M1 too far).
    """
    path = tmp_path_factory.mktemp("ledger") / "state.db"
    kids = kids_frame(
        [{"id": "C1", "x": 0, "y": 0}, {"id": "C2", "x": 10, "y": 0}, {"id": "C4", "x": 50, "y": 0}]
    )
    kids["referral_source"] = ["school", "street", "hotline"]
    mentors = mentors_frame(
        [
            {"id": "M1", "x": 0.5, "y": 0, "max_distance_km": 2.0},
            {"id": "M2", "x": 10.5, "y": 0, "max_distance_km": 2.0},
        ]
    )
    c3 = kids_frame([{"id": "C3", "x": 10.2, "y": 0}])
    c3["referral_source"] = ["petition"]
    run_nightly(path, date="2026-03-02", children=kids, mentors=mentors)
    run_nightly(path, date="2026-03-09", children=c3, events=_exit("C1", "2026-03-08"))
    pause = [Event(kind="mentor_pause", mentor_id="M1")]
    run_nightly(path, date="2026-03-16", events=pause + _exit("C4", "2026-03-16"))
    run_nightly(path, date="2026-03-23", events=[Event(kind="child_rejoin", child_id="C1")])
    end = Event(kind="end_pair", child_id="C2", mentor_id="M2", note="moved away", actor="street")
    run_nightly(path, date="2026-03-30", events=[Event(kind="mentor_resume", mentor_id="M1"), end])
    run_nightly(path, date=AS_OF)
    return path


PAIRS = [
    ("C1", "M1", "2026-03-02", "2026-03-08", "exit_effective", "district"),
    ("C1", "M1", "2026-03-30", "", "", ""),
    ("C2", "M2", "2026-03-02", "2026-03-30", "ended: moved away", "street"),
    ("C3", "M2", "2026-03-30", "", "", ""),
]
CHILDREN = [
    # C1: spell 03-02..03-08 paired throughout; spell 03-23.. waits until 03-30: 7 days
    ("C1", "2026-03-02", 2, "", "", 7, 1, "school", "paired"),
    # C2: paired 03-02..03-30, then waits until 04-06: 7 days
    ("C2", "2026-03-02", 1, "", "", 7, 1, "street", "waiting"),
    # C3: waits 03-09..03-30: 21 days
    ("C3", "2026-03-09", 1, "", "", 21, 1, "petition", "paired"),
    # C4: never paired, enrolled 03-02..03-16: 14 days
    ("C4", "2026-03-02", 1, "2026-03-16", "exit_effective", 14, 1, "hotline", "exited"),
]
MENTORS = [
    ("M1", "C1", "2026-03-02", "", "", 2),
    ("M2", "C2", "2026-03-02", "2026-03-30", "ended: moved away", 1),
    ("M2", "C3", "2026-03-30", "", "", 1),
]


def _rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(r) for r in frame.itertuples(index=False)]


def test_every_ledger_row_is_as_worked_out_by_hand(db: Path) -> None:
    book = ledger(db)
    assert book.as_of == AS_OF
    assert tuple(book.pairs.columns) == PAIR_LEDGER_COLUMNS
    assert tuple(book.children.columns) == CHILD_LEDGER_COLUMNS
    assert tuple(book.mentors.columns) == MENTOR_LEDGER_COLUMNS
    assert _rows(book.pairs) == PAIRS
    assert _rows(book.children) == CHILDREN
    assert _rows(book.mentors) == MENTORS
    for column in ("spells", "waiting_days", "waiting_periods"):
        assert book.children[column].dtype == "int64"


def test_an_open_store_gives_the_same_ledger(db: Path) -> None:
    with StateStore.open(db, readonly=True) as store:
        book = ledger(store)
    assert _rows(book.children) == CHILDREN and _rows(book.pairs) == PAIRS


def test_child_filter_keeps_one_childs_rows(db: Path) -> None:
    book = ledger(db, child="C1")
    assert _rows(book.pairs) == PAIRS[:2]
    assert _rows(book.children) == CHILDREN[:1]
    assert _rows(book.mentors) == MENTORS[:1]
    book = ledger(db, child="C3")
    assert _rows(book.mentors) == MENTORS[2:]


def test_unknown_child_is_an_input_error_naming_the_id(db: Path) -> None:
    with pytest.raises(InputError, match="C9"):
        ledger(db, child="C9")


def test_waiting_before_the_first_run_date_counts_from_joining(tmp_path: Path) -> None:
    """A store of one night: a child paired that night never waited; one who waits has 0 days
    so far (the spell ends at the last run date) and no period yet."""
    path = tmp_path / "state.db"
    kids = kids_frame([{"id": "A", "x": 0, "y": 0}, {"id": "B", "x": 50, "y": 0}])
    mentors = mentors_frame([{"id": "M", "x": 0.5, "y": 0, "max_distance_km": 2.0}])
    run_nightly(path, date="2026-05-04", children=kids, mentors=mentors)
    rows = _rows(ledger(path).children)
    assert rows == [
        ("A", "2026-05-04", 1, "", "", 0, 0, "", "paired"),
        ("B", "2026-05-04", 1, "", "", 0, 0, "", "waiting"),
    ]


def test_two_waiting_periods_in_one_spell(tmp_path: Path) -> None:
    """X is paired to M on 05-04; M leaves on 05-11 (X waits); N joins on 05-18 and takes X;
    N leaves on 05-25 (X waits again) until the last run, 06-01: 7 + 7 days in 2 periods."""
    path = tmp_path / "state.db"
    x = kids_frame([{"id": "X", "x": 0, "y": 0}])
    m = mentors_frame([{"id": "M", "x": 0.5, "y": 0, "max_distance_km": 2.0}])
    n = mentors_frame([{"id": "N", "x": 0, "y": 0.5, "max_distance_km": 2.0}])
    run_nightly(path, date="2026-05-04", children=x, mentors=m)
    run_nightly(path, date="2026-05-11", events=[Event(kind="mentor_leave", mentor_id="M")])
    run_nightly(path, date="2026-05-18", mentors=n)
    run_nightly(path, date="2026-05-25", events=[Event(kind="mentor_leave", mentor_id="N")])
    run_nightly(path, date="2026-06-01")
    book = ledger(path)
    assert _rows(book.pairs) == [
        ("X", "M", "2026-05-04", "2026-05-11", "mentor_left", ""),
        ("X", "N", "2026-05-18", "2026-05-25", "mentor_left", ""),
    ]
    assert _rows(book.children) == [("X", "2026-05-04", 1, "", "", 14, 2, "", "waiting")]
    assert _rows(book.mentors) == [
        ("M", "X", "2026-05-04", "2026-05-11", "mentor_left", 1),
        ("N", "X", "2026-05-18", "2026-05-25", "mentor_left", 1),
    ]


# ---------------------------------------------------------------------------------------------
# the command


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_cli_in_english_writes_the_keys_and_codes(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "en"
    assert main(["ledger", "--db", str(db), "--out", str(out), "--language", "en"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "ledger.csv", "ledger_children.csv", "ledger_mentors.csv"
    ]  # fmt: skip
    pairs = _csv(out / "ledger.csv")
    assert tuple(pairs.columns) == PAIR_LEDGER_COLUMNS
    assert [tuple(r) for r in pairs.itertuples(index=False)] == PAIRS
    children = _csv(out / "ledger_children.csv")
    assert tuple(children.columns) == CHILD_LEDGER_COLUMNS
    assert children["waiting_days"].tolist() == ["7", "7", "21", "14"]
    assert tuple(_csv(out / "ledger_mentors.csv").columns) == MENTOR_LEDGER_COLUMNS
    printed = capsys.readouterr().out
    assert "4 pair episodes" in printed and "4 children" in printed
    # counts only: no cell of a record reaches the terminal
    for cell in ("school", "petition", "hotline", "moved away", "district"):
        assert cell not in printed


def test_cli_in_chinese_writes_headers_and_reasons_in_words(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "zh"
    assert main(["ledger", "--db", str(db), "--out", str(out), "--language", "zh", "-q"]) == 0
    pairs = _csv(out / "ledger.csv")
    assert list(pairs.columns) == [
        "儿童编号", "爱心妈妈编号", "开始日期", "结束日期", "结束原因", "结束原因代码", "批准人"
    ]  # fmt: skip
    assert pairs["结束原因"].tolist() == ["儿童退出生效", "", "工作人员结束配对：moved away", ""]
    assert pairs["结束原因代码"].tolist() == ["exit_effective", "", "ended", ""]
    children = _csv(out / "ledger_children.csv")
    assert children.columns[0] == "儿童编号" and "等待天数" in children.columns
    assert children["当前状态"].tolist() == ["已结对", "等待结对", "已结对", "已退出"]
    assert children["退出原因"].tolist() == ["", "", "", "儿童退出生效"]
    mentors = _csv(out / "ledger_mentors.csv")
    assert mentors.columns[0] == "爱心妈妈编号" and "结对次数" in mentors.columns


def test_cli_child_filter_and_rerun_are_byte_identical(db: Path, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    argv = ["ledger", "--db", str(db), "--child", "C1", "--xlsx", "--language", "zh", "-q"]
    first, second = tmp_path / "a", tmp_path / "b"
    assert main([*argv, "--out", str(first)]) == 0
    assert main([*argv, "--out", str(second)]) == 0
    assert _files(first) == _files(second)
    assert set(_files(first)) == {
        "ledger.csv", "ledger_children.csv", "ledger_mentors.csv", "ledger.xlsx"
    }  # fmt: skip
    assert _csv(first / "ledger.csv")["儿童编号"].tolist() == ["C1", "C1"]
    # written again into the same folder: the same bytes
    assert main([*argv, "--out", str(first)]) == 0
    assert _files(first) == _files(second)
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(_files(first)["ledger.xlsx"]))
    assert book.sheetnames == ["台账摘要", "结对记录", "儿童台账", "爱心妈妈服务的儿童"]


def test_cli_unknown_child_exits_1_and_writes_nothing(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "none"
    assert main(["ledger", "--db", str(db), "--child", "C9", "--out", str(out)]) == 1
    assert "C9" in capsys.readouterr().err
    assert not out.exists()
