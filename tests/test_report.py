"""Tests of matching.reports.files: CSV/JSON conventions, formula neutralisation, atomic writes."""

from __future__ import annotations

import csv
import doctest
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import matching.reports.files as report
from matching import MatchConfig, MatchResult, __version__, match
from matching.datasets.synth import district
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS
from matching.reports.files import (
    FILES,
    neutralise,
    summary_lines,
    to_csv_bytes,
    write_csv,
    write_result,
)
from matching.reports.folders import write_bytes_atomic
from matching.rosters import read_children, read_mentors, validate_children, validate_mentors

BOM = b"\xef\xbb\xbf"
NASTY = ['=HYPERLINK("http://x")', "+1", "-2", "@a", "\tcmd", "\rcmd"]


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline="")))


def _table(data: bytes) -> list[dict[str, str]]:
    rows = _rows(data)
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _metrics(**overrides: object) -> dict:
    base = {
        "n_children": 3,
        "n_mentors": 2,
        "n_mentors_active": 2,
        "mentor_capacity": 2,
        "n_pairs": 2,
        "n_unmatched": 1,
        "pairing_rate": 2 / 3,
        "priority_children": 0,
        "priority_pairing_rate": 0.0,
        "pairing_rate_by_street": {"长湖街道": {"children": 3, "paired": 2}},
        "distance_km_mean": 0.5,
        "distance_km_median": 0.5,
        "distance_km_p90": 0.9,
        "needs_covered_share": 1.0,
        "mentor_utilisation": 1.0,
        "objective_km": 12.0,
        "unmatched_by_reason": {"mentors_taken": 1},
    }
    base.update(overrides)
    return base


def _result(**metric_overrides: object) -> MatchResult:
    """A hand-built result with formula-like text and negative numbers."""
    pairs = pd.DataFrame(
        {
            "child_id": ['=HYPERLINK("http://x")', "+1"],
            "mentor_id": ["-2", "@a"],
            "distance_km": [0.123456789, 1.0],
            "need_penalty_km": [2.0, 0.0],
            "interest_bonus_km": [-0.5, -0.0],
            "cost_km": [1.623456789, 1.0],
            "needs_covered": pd.Series([("life_care", "family_education"), ()], dtype=object),
            "needs_uncovered": pd.Series([(), ("spiritual_growth",)], dtype=object),
            "shared_interests": pd.Series([("=cmd", "阅读"), ()], dtype=object),
            "child_street": ["\tcmd", "长湖街道"],
            "mentor_street": ["\rcmd", "-x街道"],
            "child_priority": np.array([1, 0], dtype=np.int64),
        },
        columns=PAIR_COLUMNS,
    )
    unmatched = pd.DataFrame(
        {
            "child_id": ["@child"],
            "street": ["+street"],
            "priority": np.array([0], dtype=np.int64),
            "reason": ["mentors_taken"],
            "detail": ["-detail, with a comma"],
            "mentors_in_reach": np.array([3], dtype=np.int64),
            "mentors_allowed": np.array([3], dtype=np.int64),
            "unmatched_price_km": [10.0],
        },
        columns=UNMATCHED_COLUMNS,
    )
    return MatchResult(
        pairs=pairs, unmatched=unmatched, metrics=_metrics(**metric_overrides), config=MatchConfig()
    )


# ----------------------------------------------------------------------------------------------
# cells and CSV


@pytest.mark.parametrize("text", NASTY)
def test_neutralise_prefixes_formula_starts(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["C001", "", "长湖街道", "a=b", "1+1", " =x", "'=x"])
def test_neutralise_leaves_other_text(text: str) -> None:
    assert neutralise(text) == text


def test_formula_injection_in_pairs_and_unmatched(tmp_path: Path) -> None:
    paths = write_result(_result(), tmp_path)
    pairs = _table(paths["pairs"].read_bytes())
    assert pairs[0]["child_id"] == "'" + '=HYPERLINK("http://x")'
    assert pairs[1]["child_id"] == "'+1"
    assert pairs[0]["mentor_id"] == "'-2"
    assert pairs[1]["mentor_id"] == "'@a"
    assert pairs[0]["child_street"] == "'\tcmd"
    assert pairs[0]["mentor_street"] == "'\rcmd"
    assert pairs[1]["mentor_street"] == "'-x街道"
    assert pairs[1]["child_street"] == "长湖街道"
    assert pairs[0]["shared_interests"] == "'=cmd;阅读"
    # numbers are not text: never prefixed, negative values stay negative numbers
    assert pairs[0]["interest_bonus_km"] == "-0.5000"
    assert pairs[1]["interest_bonus_km"] == "0.0000"  # -0.0 is written as 0
    assert pairs[0]["distance_km"] == "0.1235"
    assert pairs[0]["cost_km"] == "1.6235"
    assert pairs[0]["child_priority"] == "1"
    unmatched = _table(paths["unmatched"].read_bytes())
    assert unmatched == [
        {
            "child_id": "'@child",
            "street": "'+street",
            "priority": "0",
            "reason": "mentors_taken",
            "detail": "'-detail, with a comma",
            "mentors_in_reach": "3",
            "mentors_allowed": "3",
            "unmatched_price_km": "10.0000",
        }
    ]


def test_no_cell_starts_with_a_formula_character_unless_number(tmp_path: Path) -> None:
    paths = write_result(_result(), tmp_path)
    numeric = {"distance_km", "need_penalty_km", "interest_bonus_km", "cost_km"}
    for name in ("pairs", "unmatched"):
        for row in _table(paths[name].read_bytes()):
            for col, cell in row.items():
                if col in numeric:
                    float(cell)
                else:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (col, cell)


def test_formula_injection_through_match(tmp_path: Path) -> None:
    kids = pd.DataFrame(
        {
            "id": ["=1+2", "-3", "C3"],
            "lat": [31.78, 31.79, 31.80],
            "lon": [-119.95, -119.96, -119.97],
            "street": ["@s", "+s", "plain"],
            "interests": ["=SUM(A1);阅读", "", ""],
        }
    )
    moms = pd.DataFrame(
        {
            "id": ["+M1", "M2"],
            "lat": [31.781, 31.791],
            "lon": [-119.951, -119.961],
            "street": ["-s", "plain"],
            "interests": ["=sum(a1)", ""],
        }
    )
    paths = write_result(match(kids, moms), tmp_path)
    pairs = {r["child_id"]: r for r in _table(paths["pairs"].read_bytes())}
    assert set(pairs) == {"'=1+2", "'-3"}
    first = pairs["'=1+2"]
    assert first["mentor_id"] == "'+M1"
    assert first["shared_interests"] == "'=sum(a1)"
    assert (first["child_street"], first["mentor_street"]) == ("'@s", "'-s")
    assert first["interest_bonus_km"] == "-0.5000"  # a number, not prefixed
    assert first["cost_km"].startswith("-") and float(first["cost_km"]) < 0
    assert pairs["'-3"]["child_street"] == "'+s"
    unmatched = _table(paths["unmatched"].read_bytes())
    assert [r["child_id"] for r in unmatched] == ["C3"]


def test_csv_bom_line_endings_and_column_order(tmp_path: Path) -> None:
    paths = write_result(_result(), tmp_path)
    for key, columns in (("pairs", PAIR_COLUMNS), ("unmatched", UNMATCHED_COLUMNS)):
        data = paths[key].read_bytes()
        assert data.startswith(BOM)
        assert data.count(BOM) == 1
        body = data[len(BOM) :]
        assert body.endswith(b"\n")
        # the only CR is the one inside the quoted "\rcmd" cell
        assert b"\r\n" not in body
        assert _rows(data)[0] == columns
        assert body.decode("utf-8")  # valid UTF-8


def test_csv_has_crlf_free_lines_for_real_result(tmp_path: Path) -> None:
    result = match(*district(80, 60, seed=1))
    paths = write_result(result, tmp_path)
    data = paths["pairs"].read_bytes()
    assert b"\r" not in data
    rows = _rows(data)
    assert rows[0] == PAIR_COLUMNS
    assert len(rows) == len(result.pairs) + 1
    for row in rows[1:]:
        for col in ("distance_km", "need_penalty_km", "interest_bonus_km", "cost_km"):
            cell = row[PAIR_COLUMNS.index(col)]
            assert len(cell.split(".")[1]) == 4, cell


def test_empty_tuple_is_empty_cell_and_nan_is_empty(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "tags": pd.Series([(), ("x", "y")], dtype=object),
            "x": [math.nan, 1.5],
            "flag": [True, False],
            "n": np.array([-3, 4], dtype=np.int64),
        }
    )
    rows = _rows(to_csv_bytes(frame))
    assert rows == [
        ["id", "tags", "x", "flag", "n"],
        ["a", "", "", "True", "-3"],
        ["b", "x;y", "1.5", "False", "4"],
    ]


def test_float_formatting_is_shortest_round_trip_without_decimals() -> None:
    frame = pd.DataFrame({"lat": [31.812345678901234, -0.0, 1e-7, 119.5]})
    cells = [r[0] for r in _rows(to_csv_bytes(frame))[1:]]
    assert [float(c) for c in cells] == [31.812345678901234, 0.0, 1e-7, 119.5]
    assert cells[1] == "0.0"
    cells4 = [r[0] for r in _rows(to_csv_bytes(frame, decimals=4))[1:]]
    assert cells4 == ["31.8123", "0.0000", "0.0000", "119.5000"]


def test_columns_argument_orders_and_checks() -> None:
    frame = pd.DataFrame({"b": [1], "a": [2], "c": [3]})
    assert _rows(to_csv_bytes(frame, columns=["a", "b"]))[0] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="zz"):
        to_csv_bytes(frame, columns=["zz"])


def test_empty_result_writes_headers_only(tmp_path: Path) -> None:
    result = match(
        pd.DataFrame(columns=["id", "lat", "lon"]), pd.DataFrame(columns=["id", "lat", "lon"])
    )
    paths = write_result(result, tmp_path)
    assert paths["pairs"].read_bytes() == BOM + (",".join(PAIR_COLUMNS) + "\n").encode()
    assert paths["unmatched"].read_bytes() == BOM + (",".join(UNMATCHED_COLUMNS) + "\n").encode()


def test_roster_round_trip(tmp_path: Path) -> None:
    children, mentors = district(150, 120, seed=5)
    write_csv(children, tmp_path / "children.csv")
    write_csv(mentors, tmp_path / "mentors.csv")
    pd.testing.assert_frame_equal(
        read_children(tmp_path / "children.csv"), validate_children(children)
    )
    pd.testing.assert_frame_equal(read_mentors(tmp_path / "mentors.csv"), validate_mentors(mentors))


# ----------------------------------------------------------------------------------------------
# summary.json


def test_summary_json_content(tmp_path: Path) -> None:
    result = _result()
    paths = write_result(result, tmp_path, extra={"command": "test", "inputs": {"n": 1}})
    text = paths["summary"].read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    data = json.loads(text)
    assert set(data) == {"library_version", "metrics", "config", "command", "inputs"}
    assert data["library_version"] == __version__
    assert data["config"] == MatchConfig().to_dict()
    assert data["metrics"] == json.loads(json.dumps(result.metrics))
    assert data["command"] == "test"
    assert "长湖街道" in text  # ensure_ascii=False
    assert text == json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


def test_summary_json_deterministic_and_byte_identical(tmp_path: Path) -> None:
    result = match(*district(100, 80, seed=4))
    a = write_result(result, tmp_path / "a", extra={"k": [1, 2]})
    again = match(*district(100, 80, seed=4))
    b = write_result(again, tmp_path / "b", extra={"k": [1, 2]})
    for key in ("pairs", "unmatched", "summary"):
        assert a[key].read_bytes() == b[key].read_bytes(), key


def test_summary_json_numpy_and_nan_values(tmp_path: Path) -> None:
    result = _result(distance_km_mean=np.float64(0.25), n_pairs=np.int64(2), extra_nan=float("nan"))
    paths = write_result(result, tmp_path, extra={"flag": np.bool_(True)})
    data = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert data["metrics"]["distance_km_mean"] == 0.25
    assert data["metrics"]["n_pairs"] == 2
    assert data["metrics"]["extra_nan"] is None  # strict JSON: no NaN literal
    assert data["flag"] is True


@pytest.mark.parametrize("key", ["metrics", "config", "library_version"])
def test_extra_cannot_override_reserved_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        write_result(_result(), tmp_path, extra={key: 1})
    assert list(tmp_path.iterdir()) == []


def test_unserialisable_extra_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_result(_result(), tmp_path / "out", extra={"bad": object()})
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_write_result_rejects_non_result(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_result("not a result", tmp_path)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# atomic writes


def test_write_result_creates_directory_and_only_final_files(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "er"
    paths = write_result(_result(), out)
    assert set(paths) == {"pairs", "unmatched", "summary"}
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert all(p.parent == out for p in paths.values())


def test_failed_replace_leaves_no_partial_or_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_result(_result(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_fsync_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "pairs.csv"
    target.write_bytes(b"old contents")

    def fail(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr(report.os, "fsync", fail)
    with pytest.raises(OSError, match="I/O error"):
        write_bytes_atomic(target, b"new contents")
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["pairs.csv"]


def test_failed_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(Exception):
        pass

    real_fdopen = report.os.fdopen

    def fdopen(fd: int, mode: str = "r") -> object:
        fh = real_fdopen(fd, mode)

        class Wrapper:
            def __enter__(self) -> Wrapper:
                return self

            def __exit__(self, *exc: object) -> None:
                fh.close()

            def write(self, data: bytes) -> int:
                fh.write(data[:3])
                raise Boom

        return Wrapper()

    monkeypatch.setattr(report.os, "fdopen", fdopen)
    with pytest.raises(Boom):
        write_bytes_atomic(tmp_path / "summary.json", b"0123456789")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_existing(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    target.write_bytes(b"old")
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


# ----------------------------------------------------------------------------------------------
# misc


def test_summary_lines_match_summary() -> None:
    result = _result()
    assert summary_lines(result) == result.summary().splitlines()
    assert summary_lines(result)[0].startswith("children: 3")


def test_doctests() -> None:
    failures, tested = doctest.testmod(report)
    assert tested > 0
    assert failures == 0
