"""Roster schemas: the columns of the children and mentor rosters, and their validation.

A roster is a table with one record per child (or per mentor).  The functions
here check a roster against its schema, report *every* problem at once in a
:class:`~matching.errors.RosterError`, and return a normalised copy with the
canonical columns, in the canonical order, with fixed dtypes:

- :func:`validate_children` / :func:`validate_mentors` check a ``DataFrame``;
- :func:`read_children` / :func:`read_mentors` read a ``.csv`` or ``.xlsx``
  file and validate it;
- :data:`CHILD_COLUMNS` / :data:`MENTOR_COLUMNS` document the columns;
- :func:`needs_mask` turns a validated ``needs`` / ``skills`` column into a
  bit mask per record (bit ``i`` is ``NEEDS[i]``).

Headers are matched after stripping whitespace and lower-casing, and the
Chinese headers listed in each :class:`Column`'s ``aliases`` are accepted too.
Columns that are not part of the schema (for example ``name``) are carried
through unchanged after the canonical columns.

Coordinates may be given in WGS-84, GCJ-02 (Gaode, Tencent) or BD-09 (Baidu):
an optional ``crs`` column (Chinese header 坐标系) names the system of each
record, and the ``crs`` keyword of the validate/read functions the system of
records whose cell is blank (``"wgs84"`` by default).  Validated rosters always
hold WGS-84 coordinates (converted with :func:`matching.geo.crs.convert`) and no
``crs`` column, so validating them again changes nothing.

Problems name the file and the line (when read from a file), the record id and
the column, with the kind of problem and the accepted values or range (for
example ``not a number (expected degrees, -90 to 90)``), never the value of a
cell: rosters hold personal data about children, and a shifted column puts a
name or a phone number where a number was expected.  A record whose id is
malformed (it holds a delimiter ``, ; tab | ， ；`` or a line break, or is longer
than 64 characters) or whose row looks shifted (its ``lat`` or ``lon`` cell
holds something that is not a number) is named by its line (or data row) only,
never by its id cell.

Every numeric column has a range (see :data:`CHILD_COLUMNS` and
:data:`MENTOR_COLUMNS`): ``priority`` 0 to 100, ``capacity`` 1 to 100,
``max_distance_km`` more than 0 up to 100, ``age`` 0 to 25.

Files: a CSV line with more or fewer fields than the header, a quote never
closed, or a one-column header holding ``;`` is a problem named by its line.
In an ``.xlsx`` workbook every cell of a merged range takes the merged value.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import numbers
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching._arrays import distinct_codes
from matching.errors import ConfigError, InputError, Problem, RosterError
from matching.geo.crs import CRS_NAMES, convert, normalize_crs

__all__ = [
    "CHILD_COLUMNS",
    "MENTOR_COLUMNS",
    "NEEDS",
    "NEED_LABELS_ZH",
    "Column",
    "needs_mask",
    "read_children",
    "read_mentors",
    "validate_children",
    "validate_mentors",
]

NEEDS: tuple[str, ...] = (
    "life_care",
    "spiritual_growth",
    "social_integration",
    "family_education",
)
"""The canonical need categories, in bit order (bit ``i`` of a need mask is ``NEEDS[i]``)."""

NEED_LABELS_ZH: dict[str, str] = {
    "life_care": "生活关爱",
    "spiritual_growth": "精神素养",
    "social_integration": "社会融入",
    "family_education": "家庭教育",
}
"""The Chinese label of each need category."""


@dataclass(frozen=True)
class Column:
    """One column of a roster schema.

    Attributes
    ----------
    name : str
        Canonical (output) column name.
    required : bool
        Whether the column must be present in the input.
    kind : str
        What the column holds: ``"id"``, ``"float"``, ``"int"``, ``"bool"``,
        ``"text"``, ``"gender"``, ``"categories"`` (need codes) or ``"tags"``
        (free-text tags).
    default : object
        Value used for a blank cell or an absent optional column (``None`` for
        required columns, which have no default).
    doc : str
        One-line description, for the documentation table.
    aliases : tuple of str
        Other accepted headers (Chinese).
    """

    name: str
    required: bool
    kind: str
    default: Any
    doc: str
    aliases: tuple[str, ...] = ()


_ACCEPTED_NEEDS = ", ".join(f"{code}/{NEED_LABELS_ZH[code]}" for code in NEEDS)

_ID = Column(
    "id",
    True,
    "id",
    None,
    'Unique record id, kept as text ("007" stays "007"; the number 12 becomes "12").',
    ("编号",),
)
_LAT = Column("lat", True, "float", None, "Latitude in degrees (WGS-84), -90 to 90.", ("纬度",))
_LON = Column("lon", True, "float", None, "Longitude in degrees (WGS-84), -180 to 180.", ("经度",))
_STREET = Column("street", False, "text", "", "Street (街道) the record belongs to.", ("街道",))
_COMMUNITY = Column(
    "community", False, "text", "", "Community (社区) within the street.", ("社区",)
)
_INTERESTS = Column(
    "interests",
    False,
    "tags",
    (),
    "Free-text interest tags (list or delimited text); compared case-insensitively.",
    ("兴趣",),
)
_GENDER = Column(
    "gender",
    False,
    "gender",
    "",
    'female/女/f, male/男/m, or blank; normalised to "female", "male" or "".',
    ("性别",),
)

CHILD_COLUMNS: tuple[Column, ...] = (
    _ID,
    _LAT,
    _LON,
    _STREET,
    _COMMUNITY,
    Column(
        "needs",
        False,
        "categories",
        (),
        "Need categories (codes or Chinese labels, list or delimited text): " + _ACCEPTED_NEEDS,
        ("需求",),
    ),
    _INTERESTS,
    Column(
        "priority",
        False,
        "int",
        0,
        "Integer, 0 to 100; higher means the child should be matched first.",
        ("优先级",),
    ),
    Column(
        "referral_source",
        False,
        "text",
        "",
        "Who referred the child (free text).",
        ("转介来源",),
    ),
    _GENDER,
    Column(
        "age",
        False,
        "float",
        math.nan,
        "Age in years, 0 to 25; blank if unknown.",
        ("年龄",),
    ),
)
"""The columns of the children roster, in canonical order."""

MENTOR_COLUMNS: tuple[Column, ...] = (
    _ID,
    _LAT,
    _LON,
    _STREET,
    _COMMUNITY,
    Column(
        "skills",
        False,
        "categories",
        (),
        "Need categories the mentor's skills and resources cover (same vocabulary as needs).",
        ("技能",),
    ),
    _INTERESTS,
    Column(
        "capacity",
        False,
        "int",
        1,
        "How many children the mentor can take, integer, 1 to 100.",
        ("容量",),
    ),
    Column(
        "max_distance_km",
        False,
        "float",
        math.nan,
        "Farthest distance the mentor will travel, km, more than 0 up to 100; "
        "blank means the configured default.",
        ("最大距离",),
    ),
    Column(
        "active",
        False,
        "bool",
        True,
        "Whether the mentor takes part: true/false, yes/no, 1/0, 是/否.",
        ("在岗",),
    ),
    _GENDER,
)
"""The columns of the mentor roster, in canonical order."""

# Headers of the optional per-record coordinate-system column.  Its cells hold wgs84, gcj02 or
# bd09 (any case; see matching.geo.crs.normalize_crs); a blank cell means the roster's default (the
# crs keyword).  Validation consumes it: the output holds WGS-84 coordinates and no crs column.
_CRS_HEADERS: tuple[str, ...] = ("crs", "坐标系")


@dataclass(frozen=True)
class _Range:
    """The accepted values of a numeric column, and the fixed phrases of its problems.

    No phrase holds the value found: a shifted column puts a name or a phone
    number where a number was expected.
    """

    low: float
    high: float
    unit: str  # what a cell holds: "degrees", "years", "km", "an integer"
    low_open: bool = False  # low itself excluded
    integer: bool = False

    @property
    def accepted(self) -> str:
        if self.low_open:
            return f"more than {_fmt(self.low)} up to {_fmt(self.high)}"
        return f"{_fmt(self.low)} to {_fmt(self.high)}"

    @property
    def not_a_number(self) -> str:
        return f"not a number (expected {self.unit}, {self.accepted})"

    @property
    def out_of_range(self) -> str:
        return f"out of range (accepted {self.accepted})"

    @property
    def not_an_integer(self) -> str:
        return f"not an integer (accepted integers {self.accepted})"


# The accepted range of every numeric column.  The bounds of priority, capacity and
# max_distance_km also keep the integer costs of a district far from the solver's 64-bit limit
# (matching.solve.integer_costs): with the km weights of MatchConfig bounded (matching.config),
# a district's largest cost stays below 1e12 units of resolution_km.
_RANGES: dict[str, _Range] = {
    "lat": _Range(-90.0, 90.0, "degrees"),
    "lon": _Range(-180.0, 180.0, "degrees"),
    "age": _Range(0.0, 25.0, "years"),
    "max_distance_km": _Range(0.0, 100.0, "km", low_open=True),
    "priority": _Range(0, 100, "an integer", integer=True),
    "capacity": _Range(1, 100, "an integer", integer=True),
}

# Ids: at most this many characters, and none of these characters (a delimiter in the id
# cell means the row was written with another delimiter or is shifted; see _parse_ids).
_ID_MAX_CHARS = 64
_ID_BREAKERS = re.compile(r"[,;\t|，；\r\n]")
_ID_DELIMITER = (
    "malformed id: holds a delimiter (, ; tab | ， ；) or a line break; "
    "the row may be shifted or use another delimiter"
)
_ID_TOO_LONG = f"malformed id: longer than {_ID_MAX_CHARS} characters"
_ID_NOT_TEXT = "malformed id: expected text or an integer"
_NOT_A_NUMBER = "not a number"  # a marker: the column's _Range words the problem

_DELIMITERS = re.compile(r"[;；、,，|]")
_GENDER_PROBLEM = "unknown gender (accepted: female/女/f, male/男/m)"
_BOOL_PROBLEM = "not a yes/no value (accepted: true/false, yes/no, 1/0, 是/否)"
_CRS_PROBLEM = f"unknown coordinate system (accepted: {', '.join(CRS_NAMES)})"
_SEPARATORS = re.compile(r"[\s\-]+")
_MALFORMED_LIST = "malformed list: expected a list or a delimited string"
_MALFORMED_TEXT = "malformed value: expected text"

_NEED_LOOKUP: dict[str, str] = {}
for _code in NEEDS:
    _NEED_LOOKUP[_code] = _code
    _NEED_LOOKUP[NEED_LABELS_ZH[_code]] = _code
_NEED_ORDER = {code: i for i, code in enumerate(NEEDS)}

_GENDERS = {
    "f": "female",
    "female": "female",
    "女": "female",
    "m": "male",
    "male": "male",
    "男": "male",
}
_BOOLS = {
    "true": True,
    "yes": True,
    "1": True,
    "是": True,
    "false": False,
    "no": False,
    "0": False,
    "否": False,
}

_Result = tuple[Any, tuple[str, ...]]
# infer_dtype results that cannot hold booleans
_BOOL_FREE = frozenset({"empty", "string", "integer", "floating", "mixed-integer-float"})
# type tuples for isinstance in the per-cell helpers (a union such as
# ``bool | np.bool_`` is built anew at every call, 2.5x slower)
_BOOL_TYPES = (bool, np.bool_)
_FLOAT_TYPES = (float, np.floating)
_LIST_TYPES = (list, tuple, set, frozenset, np.ndarray, pd.Series)
_MERGING_TYPES = (tuple, frozenset)
_SEQUENCE_TYPES = (list, tuple)
_SET_TYPES = (set, frozenset)


# ----------------------------------------------------------------------------------------------
# scalar helpers


def _is_missing(value: Any) -> bool:
    """True for None, NaN, NA and NaT scalars (never for lists or arrays)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, _FLOAT_TYPES):
        return math.isnan(value)
    return False


def _is_number(value: Any) -> bool:
    """True for real numbers that are not booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, _BOOL_TYPES)


def _fmt(value: float) -> str:
    """Format a number for a message: integral values without ``.0``."""
    if math.isfinite(value) and value == math.floor(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def _number_text(value: Any) -> str | None:
    """Decimal text of a number (12 -> "12", 12.0 -> "12"), or None if not finite."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    if not math.isfinite(number):
        return None
    if number == math.floor(number):
        return str(int(number))
    return repr(number)


def _id_problem(text: str) -> str | None:
    """Why an id (stripped, not blank) cannot be trusted, or None."""
    if len(text) > _ID_MAX_CHARS:
        return _ID_TOO_LONG
    if _ID_BREAKERS.search(text):
        return _ID_DELIMITER
    return None


def _parse_id(value: Any) -> _Result:
    if _is_missing(value):
        return None, ("missing id",)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, ("missing id",)
        problem = _id_problem(text)
        return (None, (problem,)) if problem else (text, ())
    if _is_number(value):
        num_text = _number_text(value)
        if num_text is not None:
            problem = _id_problem(num_text)  # a number longer than 64 digits
            return (None, (problem,)) if problem else (num_text, ())
    return None, (_ID_NOT_TEXT,)


def _parse_text(value: Any) -> _Result:
    if _is_missing(value):
        return "", ()
    if isinstance(value, str):
        return value.strip(), ()
    if _is_number(value):
        text = _number_text(value)
        if text is not None:
            return text, ()
    return "", (_MALFORMED_TEXT,)


def _parse_float(value: Any) -> _Result:
    """Parse one cell as a float; ``None`` means missing.  The problem is the
    marker ``_NOT_A_NUMBER``: the column's :class:`_Range` words it."""
    if _is_missing(value):
        return None, ()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, ()
        try:
            number = float(text)
        except ValueError:
            return None, (_NOT_A_NUMBER,)
        if math.isnan(number):
            return None, (_NOT_A_NUMBER,)
        return number, ()
    if _is_number(value):
        return float(value), ()
    return None, (_NOT_A_NUMBER,)


def _parse_gender(value: Any) -> _Result:
    if _is_missing(value):
        return "", ()
    if isinstance(value, str):
        key = value.strip().casefold()
        if not key:
            return "", ()
        if key in _GENDERS:
            return _GENDERS[key], ()
    return "", (_GENDER_PROBLEM,)


def _parse_crs(value: Any) -> _Result:
    """A coordinate-system cell: its canonical name, or None for a blank cell."""
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None, ()
    try:
        return normalize_crs(value), ()
    except ConfigError:
        return None, (_CRS_PROBLEM,)


def _parse_bool(value: Any) -> _Result:
    if _is_missing(value):
        return True, ()
    if isinstance(value, _BOOL_TYPES):
        return bool(value), ()
    if isinstance(value, str):
        key = value.strip().casefold()
        if not key:
            return True, ()
        if key in _BOOLS:
            return _BOOLS[key], ()
    elif _is_number(value) and value in (0, 1):
        return bool(value), ()
    return True, (_BOOL_PROBLEM,)


def _split_items(value: Any) -> list[str] | None:
    """Split a list cell into stripped, non-empty items; None if malformed."""
    if isinstance(value, _LIST_TYPES):  # stripped in one pass
        try:
            return [item for item in map(str.strip, value) if item]
        except TypeError:  # an item that is not text
            return None
    if _is_missing(value):
        return []
    if isinstance(value, str):
        return [item for item in (part.strip() for part in _DELIMITERS.split(value)) if item]
    return None


def _parse_needs(value: Any) -> _Result:
    items = _split_items(value)
    if items is None:
        return (), (_MALFORMED_LIST,)
    codes: set[str] = set()
    unknown = 0
    for item in items:
        code = _NEED_LOOKUP.get(_SEPARATORS.sub("_", item.casefold()))
        if code is None:
            unknown += 1
        else:
            codes.add(code)
    needs = tuple(sorted(codes, key=_NEED_ORDER.__getitem__))
    if unknown == 0:
        return needs, ()
    what = "unknown need category" if unknown == 1 else f"{unknown} unknown need categories"
    return needs, (f"{what} (accepted: {_ACCEPTED_NEEDS})",)


def _parse_tags(value: Any) -> _Result:
    items = _split_items(value)
    if items is None:
        return (), (_MALFORMED_LIST,)
    return tuple(sorted({item.casefold() for item in items})), ()


# ----------------------------------------------------------------------------------------------
# column helpers


def _bool_like(value: Any) -> bool:
    """Whether ``value`` could stand for a bool merged into it by
    ``pd.factorize`` (a bool, anything equal to 0 or 1, or a tuple holding
    one)."""
    if isinstance(value, _MERGING_TYPES):  # (True,) and (1,) merge too; text never does
        for item in value:
            if type(item) is not str and _bool_like(item):
                return True
        return False
    if isinstance(value, _BOOL_TYPES):
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(value == 0 or value == 1)
    except Exception:  # an odd type: look at every cell
        return True


def _apply(values: np.ndarray, parse: Callable[[Any], _Result]) -> tuple[np.ndarray, list]:
    """Parse every cell; return (object array of results, [(row, message), ...]).

    Each distinct value is parsed once (values repeat a lot in rosters).
    """
    n = len(values)
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists)
        codes = None
    if (
        codes is not None
        and pd.api.types.infer_dtype(values, skipna=True) not in _BOOL_FREE
        # a bool cell leaves a distinct value equal to 0 or 1: only then
        # is every cell looked at
        and any(_bool_like(u) for u in uniques)
        and any(isinstance(v, _BOOL_TYPES) for v in values)
    ):
        codes = None  # factorize merges True with 1 and 1.0: parse cell by cell
    if codes is not None:
        results = [parse(u) for u in uniques]
        results.append(parse(None))  # code -1 (missing) picks the last entry
        table = np.empty(len(results), dtype=object)
        for i, (result, _) in enumerate(results):
            table[i] = result
        out = table[codes]
        bad = [i for i, (_, messages) in enumerate(results) if messages]
        problems: list[tuple[int, str]] = []
        if bad:
            codes = np.where(codes < 0, len(results) - 1, codes)
            for bad_row in np.flatnonzero(np.isin(codes, bad)).tolist():
                problems.extend((bad_row, m) for m in results[codes[bad_row]][1])
        return out, problems

    out = np.empty(n, dtype=object)
    problems = []
    cache: dict[Any, _Result] = {}
    for row, value in enumerate(values):
        if isinstance(value, _SEQUENCE_TYPES):
            key: Any = (list, tuple(value))
        elif isinstance(value, _SET_TYPES):
            key = (set, frozenset(value))
        else:
            key = (type(value), value)
        try:
            result = cache.get(key)
        except TypeError:  # unhashable (nested lists, arrays, dicts)
            result = parse(value)
        else:
            if result is None:
                result = cache[key] = parse(value)
        out[row] = result[0]
        if result[1]:
            problems.extend((row, m) for m in result[1])
    return out, problems


def _as_floats(series: pd.Series) -> tuple[np.ndarray, np.ndarray, list]:
    """Return (values, missing mask, [(row, message), ...]) for a numeric column."""
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isnan(values), []
    cells = series.to_numpy(dtype=object)
    kind = pd.api.types.infer_dtype(cells, skipna=True)
    if kind in ("empty", "integer", "floating", "mixed-integer-float"):
        values = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        return values, np.isnan(values), []
    if kind == "string":  # the usual case (CSV): parse in bulk, re-examine the failures
        missing = pd.isna(cells) | (cells == "")
        values = np.array(  # writable copy
            pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            dtype=np.float64,
        )
        problems: list[tuple[int, str]] = []
        for row in np.flatnonzero(np.isnan(values) & ~missing):
            value, messages = _parse_float(cells[row])
            problems.extend((int(row), message) for message in messages)
            if value is not None:
                values[row] = value
            elif not messages:  # whitespace only
                missing[row] = True
        values[missing] = np.nan
        return values, missing, problems
    parsed, problems = _apply(cells, _parse_float)
    values = np.fromiter(
        (np.nan if v is None else v for v in parsed), dtype=np.float64, count=len(parsed)
    )
    missing = np.isnan(values)
    if problems:  # a cell that failed to parse is not missing
        missing[[row for row, _ in problems]] = False
    return values, missing, problems


def _empty_column(column: Column) -> pd.Series:
    if column.kind == "float":
        return pd.Series([], dtype=np.float64)
    if column.kind == "int":
        return pd.Series([], dtype=np.int64)
    if column.kind == "bool":
        return pd.Series([], dtype=bool)
    return pd.Series([], dtype=object)


def _default_column(column: Column, n: int) -> pd.Series:
    if column.kind == "float":
        return pd.Series(np.full(n, column.default, dtype=np.float64))
    if column.kind == "int":
        return pd.Series(np.full(n, column.default, dtype=np.int64))
    if column.kind == "bool":
        return pd.Series(np.full(n, column.default, dtype=bool))
    return pd.Series([column.default] * n, dtype=object)


def _check_float(column: Column, series: pd.Series) -> tuple[pd.Series, list]:
    accepted = _RANGES[column.name]
    values, missing, problems = _as_floats(series)
    problems = [(row, accepted.not_a_number) for row, _ in problems]
    present = ~missing & ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        above = values > accepted.low if accepted.low_open else values >= accepted.low
        inside = above & (values <= accepted.high)  # False for NaN and inf
    problems.extend((int(r), accepted.out_of_range) for r in np.flatnonzero(present & ~inside))
    if column.required:
        problems.extend((int(r), "missing value") for r in np.flatnonzero(missing))
    values = np.where(missing, column.default if not column.required else np.nan, values)
    return pd.Series(values.astype(np.float64)), problems


def _check_int(column: Column, series: pd.Series) -> tuple[pd.Series, list]:
    accepted = _RANGES[column.name]
    values, missing, problems = _as_floats(series)
    problems = [(row, accepted.not_a_number) for row, _ in problems]
    present = ~missing & ~np.isnan(values)
    # the range first: a value beyond it (5550001234, 2**53) is out of range, integral or not
    with np.errstate(invalid="ignore"):
        inside = (values >= accepted.low) & (values <= accepted.high)
        integral = inside & (np.floor(values) == values)
    problems.extend((int(r), accepted.out_of_range) for r in np.flatnonzero(present & ~inside))
    problems.extend(
        (int(r), accepted.not_an_integer) for r in np.flatnonzero(present & inside & ~integral)
    )
    values = np.where(missing | ~integral, column.default, values)
    return pd.Series(values.astype(np.int64)), problems


def _parse_ids(cells: np.ndarray) -> tuple[np.ndarray, list]:
    """Parse the id column: (object array of str or None, [(row, message), ...]).

    An id that is missing or malformed (see :func:`_id_problem`) is None: the
    record is then named by its row (or line), never by the cell.
    """
    if pd.api.types.infer_dtype(cells, skipna=True) != "string":
        return _apply(cells, _parse_id)
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    texts = [text.strip() for text in uniques]
    table = np.empty(len(uniques) + 1, dtype=object)  # code -1 (missing) picks the last entry
    table[:-1] = [text or None for text in texts]
    # malformed ids, each distinct text once: the lengths in one pass, the delimiters in one
    # regex scan over all texts joined (positions map back through the offsets)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    offsets = np.cumsum(lengths + 1) - (lengths + 1)
    hits = [m.start() for m in _ID_BREAKERS.finditer("\x00".join(texts))]
    bad: dict[int, str] = {
        int(i): _ID_DELIMITER for i in np.searchsorted(offsets, hits, side="right") - 1
    }
    bad.update((int(i), _ID_TOO_LONG) for i in np.flatnonzero(lengths > _ID_MAX_CHARS))
    problems: list[tuple[int, str]] = []
    if bad:
        keys = np.fromiter(bad, dtype=np.int64, count=len(bad))
        table[keys] = None
        rows = np.flatnonzero(np.isin(codes, keys))
        problems.extend((int(row), bad[int(codes[row])]) for row in rows)
    ids = table[codes]
    missing = pd.isna(ids)
    if problems:
        missing[[row for row, _ in problems]] = False
    problems.extend((int(row), "missing id") for row in np.flatnonzero(missing))
    return ids, problems


_PARSERS: dict[str, Callable[[Any], _Result]] = {
    "text": _parse_text,
    "gender": _parse_gender,
    "bool": _parse_bool,
    "categories": _parse_needs,
    "tags": _parse_tags,
}


def _check_column(column: Column, series: pd.Series) -> tuple[pd.Series, list]:
    if column.kind == "float":
        return _check_float(column, series)
    if column.kind == "int":
        return _check_int(column, series)
    if column.kind == "bool" and series.dtype == np.bool_:
        # a bool column holds nothing else (no missing cells): as it is
        return pd.Series(series.to_numpy(dtype=bool, copy=True)), []
    values, problems = _apply(series.to_numpy(dtype=object), _PARSERS[column.kind])
    if column.kind == "bool":
        return pd.Series(values.astype(bool)), problems
    return pd.Series(values, dtype=object), problems


# ----------------------------------------------------------------------------------------------
# validation


@dataclass(frozen=True)
class _Source:
    """Where a roster was read from: the file, and the line of each data row.

    ``lines`` is called only when there are problems to report; it returns
    the 1-based line (header line counted) of each data row, or None when the
    lines cannot be told (problems then name data rows).
    """

    path: str
    lines: Callable[[int], np.ndarray | None]


# A problem before its record is labelled: (row, column order, column, message); row -1 is
# the header.  Labels need the file's lines, which are worked out only if there are problems.
_Raw = tuple[int, int, str, str]


def _validate(
    df: pd.DataFrame,
    roster: str,
    columns: Sequence[Column],
    crs: str = "wgs84",
    source: _Source | None = None,
) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{roster} roster must be a pandas DataFrame, got {type(df).__name__}")
    default_crs = normalize_crs(crs, parameter="crs")
    n = len(df)
    order = {column.name: k for k, column in enumerate(columns)}
    problems: list[_Raw] = []

    # -- headers
    lookup: dict[str, str] = {}
    for column in columns:
        lookup[column.name] = column.name
        for alias in column.aliases:
            lookup[alias.strip().lower()] = column.name
    found: dict[str, list[int]] = {}
    extras: list[int] = []
    crs_positions: list[int] = []
    for position, label in enumerate(df.columns):
        header = str(label).strip().lower()
        canonical = lookup.get(header)
        if header in _CRS_HEADERS:
            crs_positions.append(position)
        elif canonical is None:
            extras.append(position)
        else:
            found.setdefault(canonical, []).append(position)
    for column in columns:
        positions = found.get(column.name, [])
        if len(positions) > 1:
            # these headers are the column's own names (known, never personal data)
            headers = ", ".join(repr(str(df.columns[p])) for p in positions)
            message = f"{len(positions)} columns map to {column.name!r}: {headers}"
            problems.append((-1, order[column.name], column.name, message))
        elif not positions and column.required and n > 0:
            problems.append((-1, order[column.name], column.name, "missing required column"))
    crs_order = len(columns)  # problems with the crs column sort after the others
    if len(crs_positions) > 1:
        headers = ", ".join(repr(str(df.columns[p])) for p in crs_positions)
        message = f"{len(crs_positions)} columns map to 'crs': {headers}"
        problems.append((-1, crs_order, "crs", message))

    # -- ids (they label every other problem; a malformed id is None)
    if "id" in found:
        ids, id_problems = _parse_ids(df.iloc[:, found["id"][0]].to_numpy(dtype=object))
    else:
        ids, id_problems = np.full(n, None, dtype=object), []
    problems.extend((row, 0, "id", message) for row, message in id_problems)

    # -- every other column
    data: dict[str, pd.Series] = {}
    data["id"] = pd.Series(ids, dtype=object)
    shifted: set[int] = set()
    for column in columns:
        if column.name == "id":
            continue
        if n == 0:
            data[column.name] = _empty_column(column)
            continue
        if column.name not in found:
            data[column.name] = (
                pd.Series(np.full(n, np.nan)) if column.required else _default_column(column, n)
            )
            continue
        series, column_problems = _check_column(column, df.iloc[:, found[column.name][0]])
        data[column.name] = series
        for row, message in column_problems:
            problems.append((row, order[column.name], column.name, message))
        if column.name in ("lat", "lon"):
            # a coordinate that is not a number (a name, an address) means the row looks
            # shifted: its id cell may hold something else too
            not_a_number = _RANGES[column.name].not_a_number
            shifted.update(row for row, message in column_problems if message == not_a_number)

    # -- coordinate systems: one per record (blank cells take the roster's default)
    systems = np.full(n, default_crs, dtype=object)
    if crs_positions and n > 0:
        parsed, crs_problems = _apply(
            df.iloc[:, crs_positions[0]].to_numpy(dtype=object), _parse_crs
        )
        systems = np.where(pd.isna(parsed), default_crs, parsed)
        problems.extend((row, crs_order, "crs", message) for row, message in crs_problems)

    labels = ids  # how problems name records: never by the id cell of a shifted row
    if shifted:
        labels = ids.copy()
        labels[sorted(shifted)] = None
    duplicates = _duplicates(labels) if "id" in found else {}
    if problems or duplicates:
        raise _roster_error(roster, problems, duplicates, labels, source)

    for system in CRS_NAMES:
        picked = np.flatnonzero(systems == system)
        if system == "wgs84" or len(picked) == 0:
            continue
        lat = data["lat"].to_numpy(dtype=np.float64, copy=True)
        lon = data["lon"].to_numpy(dtype=np.float64, copy=True)
        lat[picked], lon[picked] = convert(lat[picked], lon[picked], system, "wgs84")
        data["lat"] = pd.Series(lat)
        data["lon"] = pd.Series(lon)

    carried = [df.columns[position] for position in extras]
    if len(set(carried)) == len(carried):
        # the other columns as they are, after ours (one frame built, not two
        # joined; duplicate headers are joined as they come)
        for header, position in zip(carried, extras, strict=True):
            data[header] = df.iloc[:, position].reset_index(drop=True)
        return pd.DataFrame(data)
    out = pd.DataFrame(data)
    return pd.concat([out, df.iloc[:, extras].reset_index(drop=True)], axis=1)


def _duplicates(labels: np.ndarray) -> dict[str, list[int]]:
    """The rows of every id given more than once (None labels are left out)."""
    series = pd.Series(labels, dtype=object)
    duplicated = series.duplicated(keep=False) & series.notna()
    rows_by_id: dict[str, list[int]] = {}
    if duplicated.any():
        for row in np.flatnonzero(duplicated.to_numpy()):
            rows_by_id.setdefault(labels[row], []).append(int(row))
    return rows_by_id


def _roster_error(
    roster: str,
    raw: list[_Raw],
    duplicates: dict[str, list[int]],
    labels: np.ndarray,
    source: _Source | None,
) -> RosterError:
    """Every problem, labelled by id (or by line/row where the id cannot be trusted)."""
    lines = source.lines(len(labels)) if source is not None else None

    def problem(row: int, column: str, message: str, ident: str | None = None) -> Problem:
        if row < 0:
            return Problem("(header)", column, message)
        line = int(lines[row]) if lines is not None else None
        if ident is None:
            ident = labels[row]
        if ident is None:
            ident = f"line {line}" if line is not None else f"row {row + 1}"
        return Problem(ident, column, message, row=row + 1, line=line)

    items = [(row, k, problem(row, column, message)) for row, k, column, message in raw]
    for ident, rows in duplicates.items():
        if lines is not None:
            listed = "lines " + ", ".join(str(int(lines[r])) for r in rows)
        else:
            listed = "rows " + ", ".join(str(r + 1) for r in rows)
        items.append((rows[0], 0, problem(rows[0], "id", f"duplicate id ({listed})", ident)))
    items.sort(key=lambda item: (item[0], item[1]))
    return RosterError(
        roster, [p for _, _, p in items], source=source.path if source is not None else None
    )


def validate_children(df: pd.DataFrame, *, crs: str = "wgs84") -> pd.DataFrame:
    """Check and normalise a children roster.

    Parameters
    ----------
    df : pandas.DataFrame
        The roster, one row per child.  Headers may be the canonical names of
        :data:`CHILD_COLUMNS` (any case, surrounding spaces ignored) or their
        Chinese aliases.  The frame is not modified.  An optional ``crs``
        column (header ``crs`` or 坐标系) names each record's coordinate system.
    crs : str, optional
        Coordinate system of records with no ``crs`` value: ``"wgs84"``
        (default; GPS, OpenStreetMap), ``"gcj02"`` (Gaode, Tencent) or
        ``"bd09"`` (Baidu), case-insensitive.

    Returns
    -------
    pandas.DataFrame
        A new frame with a fresh ``RangeIndex`` and the input row order:
        ``id`` (str), ``lat``, ``lon`` (float64), ``street``, ``community``
        (str), ``needs`` (tuple of codes in :data:`NEEDS` order),
        ``interests`` (sorted tuple of case-folded tags), ``priority``
        (int64), ``referral_source`` (str), ``gender`` (``"female"``,
        ``"male"`` or ``""``) and ``age`` (float64, NaN if unknown), followed
        by any other input columns, unchanged.  Coordinates are WGS-84,
        converted from the record's system (:func:`matching.geo.crs.convert`,
        round trip < 1 m); the ``crs`` column is not carried over.

    Raises
    ------
    RosterError
        If anything is wrong; ``problems`` lists every problem found, each
        naming the record id (``"row N"`` if the id is missing, malformed or
        the row looks shifted), the data row and the column (an unknown
        coordinate system is reported in column ``crs``), never a cell's
        content.
    ConfigError
        If ``crs`` is not a known coordinate system.
    InputError
        If ``df`` is not a ``DataFrame``.

    Examples
    --------
    >>> import pandas as pd
    >>> from matching.rosters.schema import validate_children
    >>> raw = pd.DataFrame(
    ...     {
    ...         "编号": [7, "008"],
    ...         "纬度": ["39.91", 39.95],
    ...         "经度": [116.40, "116.45"],
    ...         "需求": ["生活关爱、Family education", None],
    ...     }
    ... )
    >>> kids = validate_children(raw)
    >>> kids["id"].tolist()
    ['7', '008']
    >>> kids["needs"].tolist()
    [('life_care', 'family_education'), ()]
    >>> kids["lat"].tolist()
    [39.91, 39.95]
    >>> int(kids["priority"].sum())
    0

    Coordinates read off Baidu Maps (BD-09) are converted to WGS-84:

    >>> baidu = pd.DataFrame({"id": ["a"], "lat": [31.81404], "lon": [119.98123], "crs": ["BD09"]})
    >>> kids = validate_children(baidu)
    >>> [round(float(v), 4) for v in (kids["lat"][0], kids["lon"][0])], "crs" in kids.columns
    ([31.81, 119.97], False)
    """
    return _validate(df, "children", CHILD_COLUMNS, crs)


def validate_mentors(df: pd.DataFrame, *, crs: str = "wgs84") -> pd.DataFrame:
    """Check and normalise a mentor roster.

    Parameters
    ----------
    df : pandas.DataFrame
        The roster, one row per mentor; headers as for :func:`validate_children`
        (see :data:`MENTOR_COLUMNS`), including the optional ``crs`` column.
        The frame is not modified.
    crs : str, optional
        Coordinate system of records with no ``crs`` value, as for
        :func:`validate_children`.

    Returns
    -------
    pandas.DataFrame
        A new frame with a fresh ``RangeIndex`` and the input row order:
        ``id``, ``lat``, ``lon``, ``street``, ``community``, ``skills`` (tuple
        of need codes), ``interests``, ``capacity`` (int64 >= 1),
        ``max_distance_km`` (float64, NaN means the configured default),
        ``active`` (bool) and ``gender``, followed by any other input columns.
        Coordinates are WGS-84, as for :func:`validate_children`.

    Raises
    ------
    RosterError
        If anything is wrong, listing every problem found.
    ConfigError
        If ``crs`` is not a known coordinate system.
    InputError
        If ``df`` is not a ``DataFrame``.
    """
    return _validate(df, "mentors", MENTOR_COLUMNS, crs)


# ----------------------------------------------------------------------------------------------
# files


# A header of one column holding one of these was written with it as the delimiter.
_FOREIGN_DELIMITERS: dict[str, str] = {";": "';'", "\t": "tab", "|": "'|'", "；": "'；'"}
_UNTERMINATED = "unterminated quote: a quoted field starting on this line is never closed"


def _not_utf8(file: Path) -> InputError:
    return InputError(f'cannot read {str(file)!r}: not UTF-8 text (save it as "CSV UTF-8")')


@dataclass(frozen=True)
class _Layout:
    """The records of a CSV file as the csv grammar sees them, blank lines left
    out (as pandas leaves them out): how many fields each has and the line it
    starts on, the header first."""

    fields: np.ndarray
    lines: np.ndarray
    header: str  # the header's text when it is one field (for the delimiter hint), else ""
    unterminated: int | None  # the line of a record that never closes its quotes


def _csv_layout(data: bytes, *, parser_failed: bool) -> _Layout:
    """The layout of a UTF-8 CSV file's bytes (raises ``UnicodeDecodeError``)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if data.count(b"\r") != data.count(b"\r\n"):  # lines ended by a lone CR (old Macs)
        return _quoted_layout(data.decode("utf-8"), parser_failed=parser_failed)
    return _bulk_layout(data, parser_failed=parser_failed)


def _bulk_layout(data: bytes, *, parser_failed: bool) -> _Layout:
    """The layout in bulk, without a loop over the lines.

    A newline ends a record, and a comma separates two fields, unless it is
    inside quotes: between the quote characters 2k and 2k + 1 (a quote inside
    a quoted field is written twice, which keeps the pairs aligned).  UTF-8
    never puts a comma, a quote or a newline byte inside another character.
    """
    if parser_failed:
        data.decode("utf-8")  # the error pandas would have given first for a file not UTF-8
    octets = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(octets == ord('"'))
    newlines = np.flatnonzero(octets == ord("\n"))
    commas = np.flatnonzero(octets == ord(","))
    ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0] if quotes.size else newlines
    if len(data) and (ends.size == 0 or ends[-1] < len(data) - 1):
        ends = np.append(ends, len(data))  # the last record has no newline (or never closes)
    begins = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, begins) + 1
    if quotes.size:  # less the commas inside quotes, counted per quoted stretch
        opens, closes = quotes[0::2], quotes[1::2]
        if closes.size < opens.size:
            closes = np.append(closes, len(data))
        inside = np.searchsorted(commas, closes) - np.searchsorted(commas, opens)
        owner = np.searchsorted(ends, opens)
        fields -= np.bincount(owner, weights=inside, minlength=ends.size).astype(np.int64)
    keep = np.ones(ends.size, dtype=bool)
    for i in np.flatnonzero(fields == 1):  # blank lines (spaces only, too) are no records
        keep[i] = bool(data[begins[i] : ends[i]].strip())
    lines = np.searchsorted(newlines, begins[keep]) + 1
    fields = fields[keep]
    header = ""
    if fields.size and fields[0] == 1:
        first = int(np.flatnonzero(keep)[0])
        header = data[begins[first] : ends[first]].decode("utf-8").strip()
    unterminated = None
    if parser_failed and quotes.size % 2 == 1 and lines.size:
        unterminated, lines, fields = int(lines[-1]), lines[:-1], fields[:-1]
    return _Layout(fields, lines, header, unterminated)


def _quoted_layout(text: str, *, parser_failed: bool) -> _Layout:
    """A file with quotes: the csv module's records (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    fields: list[int] = []
    lines: list[int] = []
    header = ""
    unterminated = None
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a runaway quoted field beyond the csv module's field size limit
            unterminated = start
            break
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if not fields and len(record) == 1:
            header = record[0].strip()
        fields.append(len(record))
        lines.append(start)
    if unterminated is None and parser_failed and text.count('"') % 2 == 1 and lines:
        # quotes come in pairs ("" inside a quoted field is a pair too): an odd count leaves
        # the last record open to the end of the file
        unterminated = lines.pop()
        fields.pop()
    return _Layout(np.array(fields, dtype=np.int64), np.array(lines, dtype=np.int64), header,
                   unterminated)  # fmt: skip


def _layout_problems(layout: _Layout) -> list[Problem]:
    """Lines whose field count is not the header's, a quote never closed, or a
    header that shows the file was written with another delimiter."""
    if layout.fields.size == 0:
        return []
    expected = int(layout.fields[0])
    if expected == 1:
        for char, name in _FOREIGN_DELIMITERS.items():
            if char in layout.header:
                message = (
                    f"the header is one column holding {name}: the file looks "
                    f"{name}-delimited; save it as CSV with ',' delimiters"
                )
                return [Problem("(header)", "", message)]
    unit = "field" if expected == 1 else "fields"
    problems = [
        Problem(
            f"line {layout.lines[i]}",
            "",
            f"expected {expected} {unit} (as in the header), found {layout.fields[i]}",
            row=int(i),
            line=int(layout.lines[i]),
        )
        for i in np.flatnonzero(layout.fields != expected)
    ]
    if layout.unterminated is not None:
        line = layout.unterminated
        problems.append(Problem(f"line {line}", "", _UNTERMINATED, line=line))
    return problems


def _read_csv(file: Path, roster: str) -> tuple[pd.DataFrame, _Source | None]:
    name = str(file)
    layouts: list[_Layout] = []  # worked out once, only when needed

    def layout(parser_failed: bool = False) -> _Layout:
        if not layouts:
            try:
                layouts.append(_csv_layout(file.read_bytes(), parser_failed=parser_failed))
            except UnicodeDecodeError as exc:
                raise _not_utf8(file) from exc
            except OSError as exc:
                raise InputError(f"cannot read {name!r}: {exc}") from exc
        return layouts[0]

    df: pd.DataFrame | None
    try:
        df = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), None
    except UnicodeDecodeError as exc:
        raise _not_utf8(file) from exc
    except pd.errors.ParserError:  # its message is not shown: it may quote the line
        df = None
    except OSError as exc:
        raise InputError(f"cannot read {name!r}: {exc}") from exc
    # pandas pads a short line with empty fields (they end up in the last column), takes the
    # first column as the index when the first data line has a field too many, and reads a
    # ';'-delimited file as one column: then look at the file's lines
    if (
        df is None
        or len(df.columns) == 1
        or not isinstance(df.index, pd.RangeIndex)
        or (len(df) > 0 and bool((df.iloc[:, -1] == "").any()))
    ):
        problems = _layout_problems(layout(parser_failed=df is None))
        if problems:
            raise RosterError(roster, problems, source=name)
        if df is None:
            raise InputError(f"cannot read {name!r}: not a well-formed CSV file")

    def lines(n: int) -> np.ndarray | None:
        data_lines = layout().lines[1:]
        return data_lines if len(data_lines) == n else None

    return df, _Source(name, lines)


def _has_merged_cells(file: Path) -> bool:
    """Whether a worksheet of the workbook merges cells (read from the archive,
    without loading the workbook)."""
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if not (
                    info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
                ):
                    continue
                with archive.open(info) as stream:
                    tail = b""
                    while chunk := stream.read(1 << 20):
                        # (the tag may carry a namespace prefix: <x:mergeCell ...>)
                        if b"mergeCell" in chunk or b"mergeCell" in tail + chunk[:16]:
                            return True
                        tail = chunk[-16:]
    except (OSError, zipfile.BadZipFile):
        return False  # pandas reports the file
    return False


def _unmerged_workbook(file: Path) -> Any:
    """The workbook with every cell of a merged range holding the range's value
    (openpyxl gives it to the top-left cell only, the others read as blank)."""
    import openpyxl

    book = openpyxl.load_workbook(file, data_only=True, keep_links=False)
    for sheet in book.worksheets:
        for cells in list(sheet.merged_cells.ranges):
            value = sheet.cell(cells.min_row, cells.min_col).value
            sheet.unmerge_cells(cells.coord)
            for row in sheet.iter_rows(
                min_row=cells.min_row,
                max_row=cells.max_row,
                min_col=cells.min_col,
                max_col=cells.max_col,
            ):
                for cell in row:
                    cell.value = value
    return book


def _read_xlsx(file: Path, sheet: str | int | None) -> tuple[pd.DataFrame, _Source]:
    name = str(file)
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"cannot read {name!r}: reading .xlsx files needs openpyxl; "
            'install it with: pip install "mentor-matching[excel]"'
        ) from exc
    try:
        book = _unmerged_workbook(file) if _has_merged_cells(file) else file
        df = pd.read_excel(
            book,
            sheet_name=0 if sheet is None else sheet,
            dtype=object,
            keep_default_na=False,
            na_values=[],
            engine="openpyxl",
        )
    except (ValueError, IndexError, KeyError) as exc:
        # pandas' message for a missing sheet names the sheet; any other is not shown
        detail = str(exc) if "orksheet" in str(exc) else f"unreadable ({type(exc).__name__})"
        raise InputError(f"cannot read sheet {sheet!r} of {name!r}: {detail}") from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {name!r}: {exc}") from exc
    except Exception as exc:  # corrupt workbook: the library's message is not shown
        raise InputError(
            f"cannot read {name!r}: not a readable .xlsx workbook ({type(exc).__name__})"
        ) from exc
    # pandas keeps every sheet row from row 1 (the header) on, blank rows too, when the
    # sheet is more than one column wide: data row i is sheet row i + 2
    wide = len(df.columns) > 1
    return df, _Source(name, lambda n: np.arange(2, n + 2) if wide else None)


def _read_source(
    path: str | os.PathLike[str], sheet: str | int | None, roster: str
) -> tuple[pd.DataFrame, _Source | None]:
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(
            f"cannot read {str(file)!r}: unsupported file type {suffix or '(none)'!r}; "
            "expected .csv or .xlsx"
        )
    if not file.is_file():
        raise InputError(f"cannot read {str(file)!r}: no such file")
    if suffix == ".csv":
        if sheet is not None:
            raise InputError(f"cannot read {str(file)!r}: sheet= only applies to .xlsx files")
        return _read_csv(file, roster)
    return _read_xlsx(file, sheet)


def _read_table(
    path: str | os.PathLike[str], sheet: str | int | None, roster: str = "input"
) -> pd.DataFrame:
    """A roster file as a raw table (every cell as read), for modules that
    validate later; a malformed CSV raises a ``RosterError`` naming its lines."""
    return _read_source(path, sheet, roster)[0]


def read_children(
    path: str | os.PathLike[str], *, sheet: str | int | None = None, crs: str = "wgs84"
) -> pd.DataFrame:
    """Read a children roster from a ``.csv`` or ``.xlsx`` file and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        A UTF-8 CSV file (a byte-order mark is allowed; every cell is read as
        text, so ids like ``"007"`` keep their zeros) or an Excel ``.xlsx``
        workbook (needs ``pip install "mentor-matching[excel]"``); every cell of
        a merged range reads as the merged value (its top-left cell's).
    sheet : str or int, optional
        Worksheet name or 0-based index, for ``.xlsx`` files only; the first
        sheet by default.
    crs : str, optional
        Coordinate system of records with no ``crs`` value (``"wgs84"``,
        ``"gcj02"`` or ``"bd09"``), as for :func:`validate_children`.

    Returns
    -------
    pandas.DataFrame
        The validated roster, as returned by :func:`validate_children`.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type or unreadable.
    RosterError
        If the roster is invalid, or a CSV line has more or fewer fields than
        the header or a quote never closed; problems name the file
        (``source``) and each record's line (the header is line 1; for
        ``.xlsx``, the sheet's row).
    """
    df, source = _read_source(path, sheet, "children")
    return _validate(df, "children", CHILD_COLUMNS, crs, source)


def read_mentors(
    path: str | os.PathLike[str], *, sheet: str | int | None = None, crs: str = "wgs84"
) -> pd.DataFrame:
    """Read a mentor roster from a ``.csv`` or ``.xlsx`` file and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        As for :func:`read_children`.
    sheet : str or int, optional
        Worksheet name or 0-based index, for ``.xlsx`` files only.
    crs : str, optional
        Coordinate system of records with no ``crs`` value, as for
        :func:`validate_children`.

    Returns
    -------
    pandas.DataFrame
        The validated roster, as returned by :func:`validate_mentors`.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type or unreadable.
    RosterError
        If the roster is invalid, or a CSV line has more or fewer fields than
        the header or a quote never closed; problems name the file
        (``source``) and each record's line (the header is line 1; for
        ``.xlsx``, the sheet's row).
    """
    df, source = _read_source(path, sheet, "mentors")
    return _validate(df, "mentors", MENTOR_COLUMNS, crs, source)


# ----------------------------------------------------------------------------------------------
# masks


def needs_mask(needs: pd.Series) -> np.ndarray:
    """Bit mask of need codes per record.

    Parameters
    ----------
    needs : pandas.Series
        A validated ``needs`` or ``skills`` column (tuples of codes from
        :data:`NEEDS`).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array, one entry per row; bit ``i`` is set when the record
        has ``NEEDS[i]``.

    Raises
    ------
    InputError
        If an entry holds something other than codes from :data:`NEEDS`.

    Examples
    --------
    >>> import pandas as pd
    >>> needs_mask(pd.Series([("life_care", "family_education"), ()])).tolist()
    [9, 0]
    """
    # one hash per row, the bits once per distinct value (they repeat)
    try:
        codes, distinct = distinct_codes(needs)
    except TypeError:  # a list somewhere (not hashable): row by row
        return np.fromiter(
            (_need_bits(value, row) for row, value in enumerate(needs)),
            dtype=np.uint8,
            count=len(needs),
        )
    _, first = np.unique(codes, return_index=True)  # the row each value first appears in
    table = np.fromiter(
        (_need_bits(value, int(row)) for value, row in zip(distinct, first, strict=True)),
        dtype=np.uint8,
        count=len(distinct),
    )
    return table[codes] if codes.size else np.zeros(0, dtype=np.uint8)


def _need_bits(codes: Any, row: int) -> int:
    """The bit mask of one record's need codes (``row`` names it in errors)."""
    if isinstance(codes, str) or not isinstance(codes, Sequence | set | frozenset):
        raise InputError(f"needs_mask: row {row + 1} is not a tuple of need codes")
    mask = 0
    for code in codes:
        if code not in _NEED_ORDER:
            raise InputError(
                f"needs_mask: row {row + 1} holds an unknown need code "
                f"(accepted: {', '.join(NEEDS)})"
            )
        mask |= 1 << _NEED_ORDER[code]
    return mask
