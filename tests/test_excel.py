"""The staff workbook: sheets, languages, formula-safe cells, atomic writes, the CLI option."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from matching import ConfigError, match
from matching.cli import main
from matching.datasets.synth import district
from matching.reports.excel import HEADERS, REASON_TEXT, localise, write_workbook
from matching.reports.files import street_metrics, write_csv

EVIL = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "=1+1", "-=cmd|' /C calc'!A0"]


def _evil_rosters() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A tiny district whose ids, streets and interests all look like formulas."""
    kids = pd.DataFrame(
        {
            # an id holding a delimiter (, ; tab |) is a malformed id (the row may be
            # shifted), so the ids drop them; the streets and interests keep EVIL whole
            "id": [v.replace(",", " ").replace("|", " ") for v in EVIL],
            "lat": [31.780 + 0.001 * i for i in range(len(EVIL))],
            "lon": [119.950] * len(EVIL),
            "street": EVIL[::-1],
            "needs": ["life_care"] * len(EVIL),
            "interests": [[v, "=2*3"] for v in EVIL],
        }
    )
    moms = pd.DataFrame(
        {
            "id": ["=M1()", "+M2", "@M3"],
            "lat": [31.7805, 31.7835, 31.9],
            "lon": [119.9505, 119.9505, 119.9],
            "street": ["-S1", "=S2", "@S3"],
            "skills": ["family_education", "life_care", "life_care"],
            "interests": [[v, "=2*3"] for v in EVIL[:3]],
            "capacity": [2, 2, 1],
            "max_distance_km": [5.0, 5.0, 0.5],
        }
    )
    return kids, moms


@pytest.fixture(scope="module")
def small_result():  # type: ignore[no-untyped-def]
    return match(*district(300, 160, seed=5))


def _cells(path: Path) -> list[openpyxl.cell.cell.Cell]:
    wb = openpyxl.load_workbook(path)
    return [cell for ws in wb for row in ws.iter_rows() for cell in row]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_malicious_roster_gives_no_formula_cells(tmp_path: Path, language: str) -> None:
    kids, moms = _evil_rosters()
    result = match(kids, moms)
    assert len(result.pairs) >= 2 and len(result.unmatched) >= 1  # every sheet has evil rows
    path = write_workbook(result, tmp_path / "r.xlsx", language=language)
    cells = _cells(path)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    for value in EVIL:
        assert "'" + value in texts, value  # preserved, escaped with a leading quote
        assert value not in texts
    assert "'=M1()" in texts and "'=S2" in texts
    # no text cell starts with a formula character at all
    assert not [t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # shared interests (joined lists) are escaped too
    assert any(t.startswith("'=") and "=2*3" in t for t in texts)


def test_tab_and_carriage_return_prefixes_are_escaped(tmp_path: Path, small_result) -> None:  # type: ignore[no-untyped-def]
    # roster validation strips surrounding whitespace, so put them into the result directly
    pairs = small_result.pairs.copy()
    pairs.loc[0, "mentor_street"] = "\t=1+1"
    pairs.loc[1, "mentor_street"] = "\r=1+1"
    evil = dataclasses.replace(small_result, pairs=pairs)
    path = write_workbook(evil, tmp_path / "r.xlsx", language="en")
    texts = {c.value for c in _cells(path) if isinstance(c.value, str)}
    assert "'\t=1+1" in texts
    # XML readers normalise a stored CR to LF; the quote prefix is what matters
    assert texts & {"'\r=1+1", "'\n=1+1"}


def test_chinese_headers_reasons_and_sheets_round_trip(tmp_path: Path, small_result) -> None:  # type: ignore[no-untyped-def]
    path = write_workbook(small_result, tmp_path / "报告.xlsx", language="zh")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["配对名单", "未匹配儿童", "街道统计", "运行摘要"]
    pairs = wb["配对名单"]
    head = [c.value for c in pairs[1]]
    assert head[:3] == ["儿童编号", "爱心妈妈编号", "距离(公里)"]
    assert pairs.max_row == len(small_result.pairs) + 1
    ids = [r[0] for r in pairs.iter_rows(min_row=2, values_only=True)]
    assert ids == small_result.pairs["child_id"].tolist()
    dist = [r[2] for r in pairs.iter_rows(min_row=2, values_only=True)]
    assert dist == pytest.approx(small_result.pairs["distance_km"].tolist(), abs=1e-4)
    # need categories in Chinese
    covered = {r[6] for r in pairs.iter_rows(min_row=2, values_only=True) if r[6]}
    assert any("生活关爱" in v for v in covered)
    un = wb["未匹配儿童"]
    head = [c.value for c in un[1]]
    assert head[3:6] == ["未匹配原因", "原因代码", "说明"]
    rows = list(un.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(small_result.unmatched) > 0
    for row, code in zip(rows, small_result.unmatched["reason"], strict=True):
        assert row[4] == code
        assert row[3] == REASON_TEXT[code][0]
        assert row[5]  # the detail is present
    streets = list(wb["街道统计"].iter_rows(values_only=True))
    table = street_metrics(small_result)
    assert [r[0] for r in streets[1:]] == table["street"].tolist()
    assert sum(r[1] for r in streets[1:]) == small_result.metrics["n_children"]
    summary = dict(wb["运行摘要"].iter_rows(min_row=2, values_only=True))
    assert summary["配对数"] == small_result.metrics["n_pairs"]
    assert summary["儿童总数"] == 300


def test_english_headers(tmp_path: Path, small_result) -> None:  # type: ignore[no-untyped-def]
    path = write_workbook(small_result, tmp_path / "r.xlsx", language="en", extra={"run": "x"})
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["pairs", "unmatched", "streets", "summary"]
    assert [c.value for c in wb["pairs"][1]][:2] == ["Child ID", "Mentor ID"]
    reasons = {r[3] for r in wb["unmatched"].iter_rows(min_row=2, values_only=True)}
    assert reasons <= {t[1] for t in REASON_TEXT.values()}
    summary = dict(wb["summary"].iter_rows(min_row=2, values_only=True))
    assert summary["Pairs"] == small_result.metrics["n_pairs"]
    assert summary["run"] == "x"


def test_every_result_column_has_both_headers(small_result) -> None:  # type: ignore[no-untyped-def]
    for frame in (small_result.pairs, small_result.unmatched, street_metrics(small_result)):
        assert set(frame.columns) <= set(HEADERS), set(frame.columns) - set(HEADERS)
        for lang in ("zh", "en"):
            out = localise(frame, lang).columns
            assert len(set(out)) == len(out)  # no two columns share a header
            assert not set(out) & set(frame.columns) - {"street"}  # every header translated


def test_rates_are_shown_as_percentages(tmp_path: Path, small_result) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.load_workbook(write_workbook(small_result, tmp_path / "r.xlsx", language="en"))
    streets = wb["streets"]
    head = [c.value for c in streets[1]]
    rate = streets.cell(row=2, column=head.index("Pairing rate") + 1)
    assert rate.number_format == "0.0%" and 0 <= rate.value <= 1
    assert streets.cell(row=2, column=head.index("Children") + 1).number_format == "General"
    summary = {r[0].value: r[1] for r in wb["summary"].iter_rows(min_row=2)}
    assert summary["Pairing rate"].number_format == "0.0%"
    assert summary["Pairs"].number_format == "General"


def test_bad_language_is_a_config_error(tmp_path: Path, small_result) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="'language'"):
        write_workbook(small_result, tmp_path / "r.xlsx", language="fr")
    assert not list(tmp_path.iterdir())


def test_atomic_write_leaves_old_file_on_failure(
    tmp_path: Path,
    small_result,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_workbook(small_result, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]  # no temporary file left


def test_control_characters_are_escaped_not_dropped(tmp_path: Path) -> None:
    kids = pd.DataFrame({"id": ["C1"], "lat": [31.78], "lon": [119.95], "street": ["a\x01b"]})
    moms = pd.DataFrame({"id": ["M1"], "lat": [31.781], "lon": [119.95]})
    path = write_workbook(match(kids, moms), tmp_path / "r.xlsx")
    texts = {c.value for c in _cells(path) if isinstance(c.value, str)}
    assert "a\\x01b" in texts


def test_cli_match_and_demo_write_the_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children, mentors = district(200, 150, seed=4)
    write_csv(children, tmp_path / "children.csv")
    write_csv(mentors, tmp_path / "mentors.csv")
    out = tmp_path / "out"
    code = main(
        [
            "match",
            str(tmp_path / "children.csv"),
            str(tmp_path / "mentors.csv"),
            "--out",
            str(out),
            "--xlsx",
            "--language",
            "en",
            "-q",
        ]
    )
    assert code == 0
    wb = openpyxl.load_workbook(out / "report.xlsx")
    assert wb.sheetnames == ["pairs", "unmatched", "streets", "summary"]
    assert (out / "pairs.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # CSV keeps its BOM
    demo = tmp_path / "demo"
    args = ["demo", "--out", str(demo), "--children", "120", "--mentors", "90"]
    code = main([*args, "--nights", "0", "--xlsx", "--language", "zh", "-q"])
    assert code == 0
    assert openpyxl.load_workbook(demo / "report.xlsx").sheetnames[0] == "配对名单"
    # without --language the locale decides
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    assert main([*args, "--nights", "0", "--xlsx", "-q"]) == 0
    assert openpyxl.load_workbook(demo / "report.xlsx").sheetnames[0] == "配对名单"
    monkeypatch.setenv("LANGUAGE", "en")
    assert main([*args, "--nights", "0", "--xlsx", "-q"]) == 0
    assert openpyxl.load_workbook(demo / "report.xlsx").sheetnames[0] == "pairs"
    # without --xlsx no workbook
    args = ["demo", "--out", str(tmp_path / "d2"), "--children", "50", "--nights", "0", "-q"]
    assert main(args) == 0
    assert not (tmp_path / "d2" / "report.xlsx").exists()
