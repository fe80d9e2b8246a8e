"""Round trips of roster files (Hypothesis): a valid roster written to a file and read back
gives the frame that validating it directly gives.

Each example is a small valid roster as a user's frame holds it: ids as text
or integers, coordinates in WGS-84, GCJ-02 or BD-09 (an optional ``crs``
column and the ``crs`` keyword), need categories as codes or Chinese labels in
a list or delimited text, tags in any case, genders and yes/no values in
their accepted spellings, numbers as numbers or as text, blank optional
cells, headers in canonical, Chinese or oddly cased and spaced forms, and a
free-text column the schema does not know.  It is written as

- CSV, UTF-8 with and without a byte-order mark (pandas' writer: a cell
  holding a delimiter, a quote or a line break is quoted);
- an ``.xlsx`` workbook (openpyxl), numbers as numbers and text as text;

and :func:`matching.read_children` / :func:`matching.read_mentors` must give
exactly (values and dtypes of the schema's columns) what
:func:`matching.rosters.validate_children` / :func:`~matching.rosters.validate_mentors`
give for the frame.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import read_children, read_mentors
from matching.rosters import NEED_LABELS_ZH, NEEDS, validate_children, validate_mentors

# Text cells: letters, digits, Chinese, spaces, punctuation that CSV must quote (, " and a
# line break); no "=" (a workbook cell starting with it is a formula) and no control
# characters (a workbook cannot hold them).
TEXT = st.text(
    alphabet=st.sampled_from(list("aZ9 ,.\"'-_/()#\n街道社区张伟é")), max_size=12
) | st.sampled_from(["NA", "nan", "None", "null", "0", "007", "1e5", " padded "])
ID_TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ0123456789-_ .儿童导师")), max_size=10)
TAGS = ["chess", "Chess", "ART", "书法", "football", "paper cutting"]
DELIMITERS = [";", "；", "、", ",", "，", "|", " ; "]
CRS_CELLS = ["wgs84", "WGS-84", "gcj02", "GCJ_02", "bd09", "BD09", "百度坐标", ""]
GENDERS = ["female", "Female", "女", "f", "male", "MALE", "男", "m", ""]
BOOLS = [True, False, "true", "False", "yes", "NO", "1", "0", "是", "否", ""]

# (canonical header, other accepted spellings) of every column the strategies fill
HEADERS = {
    "id": ["ID", " Id ", "编号"],
    "lat": ["LAT", "纬度"],
    "lon": ["Lon ", "经度"],
    "street": ["Street", "街道"],
    "community": ["社区"],
    "needs": ["Needs", "需求"],
    "skills": ["SKILLS", "技能"],
    "interests": ["兴趣"],
    "priority": ["Priority", "优先级"],
    "referral_source": ["转介来源"],
    "gender": ["性别"],
    "age": ["年龄"],
    "capacity": ["容量"],
    "max_distance_km": ["最大距离"],
    "active": ["在岗"],
    "crs": ["CRS", "坐标系"],
}
CHILD_OPTIONAL = ["street", "community", "needs", "interests", "priority"]
CHILD_OPTIONAL += ["referral_source", "gender", "age"]
MENTOR_OPTIONAL = ["street", "community", "skills", "interests", "capacity"]
MENTOR_OPTIONAL += ["max_distance_km", "active", "gender"]


def _number(draw: st.DrawFn, value: float | int) -> object:
    """A number as a number or as its text (the frame may hold either).  Floats keep 15
    significant digits, which a workbook keeps (openpyxl writes 16)."""
    if isinstance(value, float):
        value = float(f"{value:.15g}")
    return value if draw(st.booleans()) else repr(value)


def _maybe_blank(draw: st.DrawFn, value: object) -> object:
    return None if draw(st.integers(0, 4)) == 0 else value


def _categories(draw: st.DrawFn) -> object:
    """Need codes or labels (some spelt with capitals and a hyphen), as a list or text."""
    codes = draw(st.lists(st.sampled_from(NEEDS), unique=True, max_size=4))
    spell = st.sampled_from(["code", "label", "loud"])
    words = []
    for code in codes:
        how = draw(spell)
        if how == "label":
            words.append(NEED_LABELS_ZH[code])
        else:
            words.append(code.replace("_", "-").title() if how == "loud" else code)
    if draw(st.booleans()):
        return words
    return draw(st.sampled_from(DELIMITERS)).join(words)


def _tags(draw: st.DrawFn) -> object:
    tags = draw(st.lists(st.sampled_from(TAGS), max_size=3))
    return tags if draw(st.booleans()) else draw(st.sampled_from(DELIMITERS)).join(tags)


def _cell(draw: st.DrawFn, column: str) -> object:
    """One valid cell of ``column`` (an optional column's cell may be blank)."""
    if column in ("street", "community", "referral_source"):
        return _maybe_blank(draw, draw(TEXT))
    if column in ("needs", "skills"):
        return _maybe_blank(draw, _categories(draw))
    if column == "interests":
        return _maybe_blank(draw, _tags(draw))
    if column == "priority":
        return _maybe_blank(draw, _number(draw, draw(st.integers(0, 100))))
    if column == "capacity":
        return _maybe_blank(draw, _number(draw, draw(st.integers(1, 100))))
    if column == "age":
        return _maybe_blank(draw, _number(draw, draw(st.floats(0, 25))))
    if column == "max_distance_km":
        km = draw(st.floats(0, 100, exclude_min=True))
        return _maybe_blank(draw, _number(draw, km))
    if column == "gender":
        return draw(st.sampled_from(GENDERS))
    if column == "active":
        return draw(st.sampled_from(BOOLS))
    if column == "crs":
        return draw(st.sampled_from(CRS_CELLS))
    raise AssertionError(column)


@st.composite
def rosters(draw: st.DrawFn, optional: list[str]) -> tuple[pd.DataFrame, str]:
    """A valid roster frame (columns in a random order, headers in random spellings) and the
    ``crs`` keyword to read it with."""
    n = draw(st.integers(0, 8))
    id_cells = st.one_of(ID_TEXT.filter(lambda s: s.strip()), st.integers(0, 10**9))
    ids = draw(
        st.lists(id_cells, min_size=n, max_size=n, unique_by=lambda v: str(v).strip().lower())
    )
    columns = ["id", "lat", "lon", *draw(st.lists(st.sampled_from(optional), unique=True))]
    if draw(st.booleans()):
        columns.append("crs")
    data: dict[str, list[object]] = {}
    # inside China, so that GCJ-02 and BD-09 coordinates are converted
    lat = st.floats(23.0, 40.0)
    lon = st.floats(105.0, 120.0)
    for column in columns:
        if column == "id":
            data[column] = list(ids)
        elif column in ("lat", "lon"):
            data[column] = [_number(draw, draw(lat if column == "lat" else lon)) for _ in ids]
        else:
            data[column] = [_cell(draw, column) for _ in ids]
    data["name"] = [draw(TEXT) for _ in ids]  # not in the schema: carried through
    order = draw(st.permutations(list(data)))
    headers = {c: draw(st.sampled_from([c, *HEADERS.get(c, [])])) for c in order}
    frame = pd.DataFrame({headers[c]: data[c] for c in order}, dtype=object)
    return frame, draw(st.sampled_from(["wgs84", "gcj02", "bd09"]))


def _file_cell(value: object) -> object:
    """What a file holds for a frame cell: lists as ';'-joined text, blanks empty."""
    if isinstance(value, list):
        return ";".join(value)
    return value


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str) -> Path:
    frame.map(_file_cell).to_csv(path, index=False, encoding=encoding)
    return path


def _write_xlsx(frame: pd.DataFrame, path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append([_file_cell(v) for v in row])
    book.save(path)
    return path


Writer = Callable[[pd.DataFrame, Path], Path]
WRITERS: dict[str, tuple[str, Writer]] = {
    "csv-bom": (".csv", lambda f, p: _write_csv(f, p, "utf-8-sig")),
    "csv": (".csv", lambda f, p: _write_csv(f, p, "utf-8")),
    "xlsx": (".xlsx", _write_xlsx),
}


def _round_trip(frame: pd.DataFrame, crs: str, validate, read) -> None:
    want = validate(frame, crs=crs)
    # a folder per example: Hypothesis runs many examples in one test, tmp_path is one folder
    with tempfile.TemporaryDirectory() as folder:
        for name, (suffix, write) in WRITERS.items():
            got = read(write(frame, Path(folder) / f"{name}{suffix}"), crs=crs)
            # the schema's columns exactly; the free-text column as the file's text (a CSV
            # file reads as strings, which pandas may keep in its string dtype)
            canonical = [c for c in want.columns if c != "name"]
            pd.testing.assert_frame_equal(got[canonical], want[canonical], check_exact=True)
            assert list(got.columns) == list(want.columns), name
            free = [got["name"].astype(object).tolist(), want["name"].astype(object).tolist()]
            assert free[0] == free[1], name


@settings(max_examples=50)
@given(case=rosters(CHILD_OPTIONAL))
def test_children_file_reads_as_the_frame_validates(case) -> None:
    frame, crs = case
    _round_trip(frame, crs, validate_children, read_children)


@settings(max_examples=50)
@given(case=rosters(MENTOR_OPTIONAL))
def test_mentors_file_reads_as_the_frame_validates(case) -> None:
    frame, crs = case
    _round_trip(frame, crs, validate_mentors, read_mentors)
