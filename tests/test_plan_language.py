"""The nightly plan staff act on: canonical in the store, published in Chinese or English,
with a workbook in plain words and staff's own columns only where staff open files."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from matching.cli import main
from matching.datasets.synth import district
from matching.errors import InputError
from matching.i18n import use_language
from matching.programme import Event, StateStore, run_nightly
from matching.programme.plan import published_plan
from matching.programme.plan_text import plan_summary_lines
from matching.reports import write_csv

NAMES_ZH = ["计划概要", "新结对", "结束的结对", "改配的结对", "等待结对的儿童", "未采用的名单行",
            "重复的事件"]  # fmt: skip
NAMES_EN = ["plan summary", "new pairs", "ended pairs", "moved pairs", "waiting children",
            "ignored roster rows", "duplicate events"]  # fmt: skip
CARRY = ["姓名", "联系电话"]
FORMULA = '=HYPERLINK("http://x")'


def _rosters() -> tuple[pd.DataFrame, pd.DataFrame]:
    kids, moms = district(60, 30, seed=3)
    kids["姓名"] = [f"童{i:03d}" for i in range(len(kids))]
    kids.loc[0, "姓名"] = FORMULA  # a cell a spreadsheet would run
    moms["姓名"] = [f"妈{i:03d}" for i in range(len(moms))]
    moms["联系电话"] = [f"139{i:08d}" for i in range(len(moms))]
    return kids, moms


def _secrets(kids: pd.DataFrame, moms: pd.DataFrame) -> list[str]:
    """Every carried cell (names, phone numbers)."""
    return [*kids["姓名"], *moms["姓名"], *moms["联系电话"]]


def _two_nights(tmp_path: Path, **publishing: object) -> tuple[Path, object]:
    kids, moms = _rosters()
    db = tmp_path / "state.db"
    first = run_nightly(
        db, date="2026-03-02", out_dir=tmp_path / "n1", children=kids, mentors=moms,
        **publishing,  # type: ignore[arg-type]
    )  # fmt: skip
    assert first.plan is not None
    pair = first.plan.new_pairs.iloc[0]
    end = Event(kind="end_pair", child_id=pair.child_id, mentor_id=pair.mentor_id, actor="S1",
                note="moved house")  # fmt: skip
    second = run_nightly(
        db, date="2026-03-09", out_dir=tmp_path / "n2", children=kids, mentors=moms,
        events=[end], **publishing,  # type: ignore[arg-type]
    )  # fmt: skip
    return db, second


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _cells(path: Path) -> dict[str, list[list[object]]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb}


def test_a_chinese_night_publishes_chinese_files_and_a_workbook_in_plain_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG, logger="matching"):
        db, report = _two_nights(tmp_path, language="zh", xlsx=True, carry_columns=CARRY)
    out = tmp_path / "n2"
    new = _csv(out / "plan_new_pairs.csv")
    assert new.columns.tolist()[:5] == ["儿童编号", "儿童姓名", "爱心妈妈编号", "爱心妈妈姓名",
                                        "爱心妈妈联系电话"]  # fmt: skip
    ended = _csv(out / "plan_ended_pairs.csv")
    assert ended["原因"].tolist() == ["工作人员结束配对：moved house"]
    assert ended["原因代码"].tolist() == ["ended"]
    waiting = _csv(out / "plan_waiting.csv")
    assert set(waiting["原因代码"]) == {"mentors_taken"}
    assert waiting["说明"].str.contains("位爱心妈妈名额均已满").all()

    cells = _cells(out / "plan.xlsx")
    assert list(cells) == NAMES_ZH
    summary = [row[0] for row in cells["计划概要"]]
    assert summary[1] == "2026-03-09 夜间结对计划（第 2 次运行）。"
    assert "结束结对 1 对。" in summary and "  - 工作人员结束配对：1 对" in summary
    assert "名额已满的爱心妈妈 28 位。" in summary
    assert sum("公里（折合）" in str(s) and "是成本的单位" in str(s) for s in summary) == 1
    assert any(str(s).startswith("保持现有结对") for s in summary)
    assert not any("km-eq" in str(s) or "price of stability" in str(s) for s in summary)
    header = cells["新结对"][0]
    assert header[:2] == ["儿童编号", "儿童姓名"] and "距离（公里）" in header
    first_child = cells["新结对"][1]
    assert first_child[1] == "'" + FORMULA  # neutralised, never a formula
    assert isinstance(first_child[header.index("距离（公里）")], float)

    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["language"] == "zh" and "新建结对" in plan["summary_text"]
    assert plan["waiting_by_reason"] == {"mentors_taken": 29} and plan["mentors_full"] == 28
    assert list(report.summary) == plan["summary_text"].split("\n")  # type: ignore[attr-defined]

    # the names and phone numbers are where staff open files, and nowhere else
    kids, moms = _rosters()
    with StateStore.open(db, readonly=True) as store:
        stored = store.run_files(2)
    assert "plan.xlsx" not in stored
    assert _csv_bytes_headers(stored["plan_new_pairs.csv"])[:2] == ["child_id", "mentor_id"]
    assert b"\xe7\xab\xa5" not in b"".join(stored.values())  # "童" of no child's name
    places = {
        "store": b"".join(stored.values()).decode("utf-8", "replace"),
        "plan.json": (out / "plan.json").read_text(encoding="utf-8"),
        "summary": "\n".join(report.summary),  # type: ignore[attr-defined]
        "log": caplog.text,
        "terminal": "".join(capsys.readouterr()),
    }
    for secret in _secrets(kids, moms):
        for place, text in places.items():
            assert secret not in text, place
    by_id = dict(zip(kids["id"], kids["姓名"], strict=True))
    assert waiting["儿童姓名"].tolist() == [by_id[i] for i in waiting["儿童编号"]]


def _csv_bytes_headers(data: bytes) -> list[str]:
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", nrows=0).columns.tolist()


def test_an_english_night_keeps_the_canonical_csv_and_says_the_price_in_words(
    tmp_path: Path,
) -> None:
    db, _ = _two_nights(tmp_path, language="en", xlsx=True)
    out = tmp_path / "n2"
    with StateStore.open(db, readonly=True) as store:
        stored = store.run_files(2)
    for name in ("plan_new_pairs.csv", "plan_ended_pairs.csv", "plan_waiting.csv"):
        assert (out / name).read_bytes() == stored[name], name  # scripts read these
    cells = _cells(out / "plan.xlsx")
    assert list(cells) == NAMES_EN
    assert cells["new pairs"][0][:2] == ["child id", "mentor id"]
    assert cells["waiting children"][1][1] == "every mentor within reach is full"
    summary = [str(row[0]) for row in cells["plan summary"]]
    assert any(s.startswith("Keeping the existing pairs costs") for s in summary)
    assert sum(s.startswith("A km (equivalent) is the unit of cost") for s in summary) == 1


def test_the_price_of_stability_is_one_sentence_with_the_unit_explained_once() -> None:
    doc = {"date": "2026-03-09", "run_id": 4, "dry_run": False,
           "counts": {"pairs_started": 2, "changes": 2},
           "metrics": {"price_of_stability_km": 56.6}}  # fmt: skip
    contents = {"plan.json": json.dumps(doc).encode("utf-8")}
    with use_language("zh"):
        zh = plan_summary_lines(contents)
    with use_language("en"):
        en = plan_summary_lines(contents)
    assert "保持现有结对比重新全部匹配多出 56.6 公里（折合）。" in zh
    assert "Keeping the existing pairs costs 56.6 km (equivalent) more than re-matching " \
           "everyone from scratch." in en  # fmt: skip
    assert sum("cost" in line and "km (equivalent)" in line for line in en) == 2
    doc["metrics"] = {"price_of_stability_km": None}
    with use_language("zh"):
        lines = plan_summary_lines({"plan.json": json.dumps(doc).encode("utf-8")})
    assert "本次未计算保持现有结对的额外成本。" in lines


def test_a_committed_chinese_night_is_published_again_in_english_and_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kids, moms = _rosters()
    db, _ = _two_nights(tmp_path, language="zh", xlsx=True, carry_columns=CARRY)
    rosters = [str(write_csv(kids, tmp_path / "c.csv")), str(write_csv(moms, tmp_path / "m.csv"))]
    again = tmp_path / "again-en"
    assert main(["plan", "--db", str(db), "--run", "2", "--out", str(again), "--xlsx"]) == 0
    assert "plan of run 2:" in capsys.readouterr().out
    assert _csv(again / "plan_new_pairs.csv").columns[0] == "child_id"
    plan = json.loads((again / "plan.json").read_text(encoding="utf-8"))
    assert plan["language"] == "en" and "1 new pair made." in plan["summary_text"]
    assert list(_cells(again / "plan.xlsx")) == NAMES_EN
    assert "童001" not in (again / "plan_new_pairs.csv").read_text(encoding="utf-8-sig")

    # in Chinese with the same columns: the night's folder again, byte for byte
    monkeypatch.setenv("LANGUAGE", "zh")
    zh = tmp_path / "again-zh"
    argv = ["plan", "--db", str(db), "--run", "2", "--out", str(zh), "--xlsx",
            "--carry-columns", "姓名，联系电话",
            "--children", rosters[0], "--mentors", rosters[1]]  # fmt: skip
    assert main(argv) == 0
    assert "第 2 次运行的结对计划：" in capsys.readouterr().out
    night = {p.name: p.read_bytes() for p in (tmp_path / "n2").iterdir()}
    assert {p.name: p.read_bytes() for p in zh.iterdir()} == night


def _config(path: Path, language: str, carry: list[str]) -> Path:
    path.write_text(
        f'[matching]\nmax_distance_km = 4.0\n[output]\nlanguage = "{language}"\n'
        f"carry_columns = {json.dumps(carry, ensure_ascii=False)}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_nightly_command_prints_the_summary_in_words_and_no_roster_cell(
    tmp_path: Path, language: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kids, moms = _rosters()
    files = [str(write_csv(kids, tmp_path / "c.csv")), str(write_csv(moms, tmp_path / "m.csv"))]
    config = _config(tmp_path / "cfg.toml", language, CARRY)
    argv = ["nightly", "--db", str(tmp_path / "s.db"), "--out", str(tmp_path / "plan"),
            "--date", "2026-03-02", "--children", files[0], "--mentors", files[1],
            "--config", str(config), "--xlsx", "-v"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr()
    text = printed.out + printed.err
    if language == "zh":
        assert "2026-03-02 夜间运行：第 1 次运行" in printed.out
        assert "新建结对" in printed.out and "公里（折合）" in printed.out
        assert "2026-03-02 夜间运行：新建结对" in printed.err  # the logged night line
        assert _csv(tmp_path / "plan" / "plan_new_pairs.csv").columns[1] == "儿童姓名"
    else:
        assert "nightly 2026-03-02: run 1" in printed.out
        assert "A km (equivalent) is the unit of cost" in printed.out
        assert _csv(tmp_path / "plan" / "plan_new_pairs.csv").columns[1] == "child's 姓名"
    assert "km-eq" not in text and "price of stability" not in text
    for secret in _secrets(kids, moms):
        assert secret not in text
    assert (tmp_path / "plan" / "plan.xlsx").is_file()


def test_a_column_no_roster_has_is_refused_before_the_store_is_touched(tmp_path: Path) -> None:
    kids, moms = _rosters()
    with pytest.raises(InputError, match="'监护人'"):
        run_nightly(tmp_path / "s.db", date="2026-03-02", children=kids, mentors=moms,
                    carry_columns=["姓名", "监护人"])  # fmt: skip
    assert not (tmp_path / "s.db").exists()


def test_a_plan_stored_before_the_waiting_counts_is_published_with_its_own_details() -> None:
    doc = {"date": "2026-01-05", "run_id": 1, "counts": {}, "metrics": {}}
    old = {
        "plan.json": json.dumps(doc).encode("utf-8"),
        "plan_waiting.csv": b"child_id,reason,detail\nC1,mentors_taken,all 3 full\n",
    }
    with use_language("zh"):
        files = published_plan(old, xlsx=True)
    waiting = _csv_from(files["plan_waiting.csv"])
    assert waiting.columns.tolist() == ["儿童编号", "原因", "原因代码", "说明"]
    assert waiting.iloc[0].tolist() == ["C1", "范围内的爱心妈妈名额均已满", "mentors_taken",
                                        "all 3 full"]  # fmt: skip
    assert "  - 范围内的爱心妈妈名额均已满：1 名" in json.loads(files["plan.json"])["summary_text"]


def _csv_from(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
