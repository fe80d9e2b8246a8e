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
hold WGS-84 coordinates (converted with :func:`matching.crs.convert`) and no
``crs`` column, so validating them again changes nothing.

Problems name the record id (or ``"row N"``) and the column, never the value
of a text column, because rosters hold personal data about children.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching._arrays import distinct_codes
from matching.crs import CRS_NAMES, convert, normalize_crs
from matching.errors import ConfigError, InputError, Problem, RosterError

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
        "Integer >= 0; higher means the child should be matched first.",
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
        "How many children the mentor can take, integer >= 1.",
        ("容量",),
    ),
    Column(
        "max_distance_km",
        False,
        "float",
        math.nan,
        "Farthest distance the mentor will travel, km > 0; blank means the configured default.",
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
# bd09 (any case; see matching.crs.normalize_crs); a blank cell means the roster's default (the
# crs keyword).  Validation consumes it: the output holds WGS-84 coordinates and no crs column.
_CRS_HEADERS: tuple[str, ...] = ("crs", "坐标系")

# Numeric rules per column: (low, high, inclusive-low) for floats, minimum for ints.
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "age": (0.0, 25.0),
}
_INT_MINIMA: dict[str, int] = {"priority": 0, "capacity": 1}
_INT_LIMIT = 2**53

_DELIMITERS = re.compile(r"[;；、,，|]")
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


def _quote(value: Any, limit: int = 40) -> str:
    """Quote a (short) value for a message."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


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


def _parse_id(value: Any) -> _Result:
    if _is_missing(value):
        return None, ("missing id",)
    if isinstance(value, str):
        text = value.strip()
        return (text, ()) if text else (None, ("missing id",))
    if _is_number(value):
        num_text = _number_text(value)
        if num_text is not None:
            return num_text, ()
    return None, ("malformed id: expected text or an integer",)


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
    """Parse one cell as a float; ``None`` means missing."""
    if _is_missing(value):
        return None, ()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, ()
        try:
            number = float(text)
        except ValueError:
            return None, (f"not a number: {_quote(text)}",)
        if math.isnan(number):
            return None, (f"not a number: {_quote(text)}",)
        return number, ()
    if _is_number(value):
        return float(value), ()
    return None, (f"not a number: {_quote(value)}",)


def _parse_gender(value: Any) -> _Result:
    if _is_missing(value):
        return "", ()
    if isinstance(value, str):
        key = value.strip().casefold()
        if not key:
            return "", ()
        if key in _GENDERS:
            return _GENDERS[key], ()
    return "", (f"unknown gender {_quote(value)} (accepted: female/女/f, male/男/m)",)


def _parse_crs(value: Any) -> _Result:
    """A coordinate-system cell: its canonical name, or None for a blank cell."""
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None, ()
    try:
        return normalize_crs(value), ()
    except ConfigError:
        accepted = ", ".join(CRS_NAMES)
        return None, (f"unknown coordinate system {_quote(value)} (accepted: {accepted})",)


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
    return True, (
        f"not a yes/no value: {_quote(value)} (accepted: true/false, yes/no, 1/0, 是/否)",
    )


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
    messages = []
    for item in items:
        code = _NEED_LOOKUP.get(_SEPARATORS.sub("_", item.casefold()))
        if code is None:
            messages.append(f"unknown need category {_quote(item)} (accepted: {_ACCEPTED_NEEDS})")
        else:
            codes.add(code)
    return tuple(sorted(codes, key=_NEED_ORDER.__getitem__)), tuple(messages)


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
    values, missing, problems = _as_floats(series)
    present = ~missing & ~np.isnan(values)
    if column.name == "max_distance_km":
        with np.errstate(invalid="ignore"):
            bad = present & ~((values > 0) & np.isfinite(values))
        problems.extend(
            (int(r), f"max_distance_km must be a finite number > 0, got {_fmt(values[r])}")
            for r in np.flatnonzero(bad)
        )
    else:
        low, high = _FLOAT_RANGES[column.name]
        bad = present & ~((values >= low) & (values <= high))
        problems.extend(
            (int(r), f"out of range: {_fmt(values[r])} (expected {_fmt(low)} to {_fmt(high)})")
            for r in np.flatnonzero(bad)
        )
    if column.required:
        problems.extend((int(r), "missing value") for r in np.flatnonzero(missing))
    values = np.where(missing, column.default if not column.required else np.nan, values)
    return pd.Series(values.astype(np.float64)), problems


def _check_int(column: Column, series: pd.Series) -> tuple[pd.Series, list]:
    values, missing, problems = _as_floats(series)
    present = ~missing & ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(values) & (np.floor(values) == values)
        integral &= np.abs(values) < _INT_LIMIT
    not_int = present & ~integral
    problems.extend((int(r), f"not an integer: {_fmt(values[r])}") for r in np.flatnonzero(not_int))
    minimum = _INT_MINIMA[column.name]
    too_small = present & integral & (values < minimum)
    problems.extend(
        (int(r), f"{column.name} must be >= {minimum}, got {_fmt(values[r])}")
        for r in np.flatnonzero(too_small)
    )
    values = np.where(missing | ~integral, column.default, values)
    return pd.Series(values.astype(np.int64)), problems


def _parse_ids(cells: np.ndarray) -> tuple[np.ndarray, list]:
    """Parse the id column: (object array of str or None, [(row, message), ...])."""
    if pd.api.types.infer_dtype(cells, skipna=True) != "string":
        return _apply(cells, _parse_id)
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)  # code -1 (missing) picks the last entry
    table[:-1] = [text.strip() or None for text in uniques]
    ids = table[codes]
    missing = pd.isna(ids)
    return ids, [(int(row), "missing id") for row in np.flatnonzero(missing)]


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


def _validate(
    df: pd.DataFrame, roster: str, columns: Sequence[Column], crs: str = "wgs84"
) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{roster} roster must be a pandas DataFrame, got {type(df).__name__}")
    default_crs = normalize_crs(crs, parameter="crs")
    n = len(df)
    order = {column.name: k for k, column in enumerate(columns)}
    problems: list[tuple[int, int, Problem]] = []

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
            headers = ", ".join(_quote(df.columns[p]) for p in positions)
            message = f"{len(positions)} columns map to {column.name!r}: {headers}"
            problems.append((-1, order[column.name], Problem("(header)", column.name, message)))
        elif not positions and column.required and n > 0:
            problems.append(
                (
                    -1,
                    order[column.name],
                    Problem("(header)", column.name, "missing required column"),
                )
            )
    crs_order = len(columns)  # problems with the crs column sort after the others
    if len(crs_positions) > 1:
        headers = ", ".join(_quote(df.columns[p]) for p in crs_positions)
        message = f"{len(crs_positions)} columns map to 'crs': {headers}"
        problems.append((-1, crs_order, Problem("(header)", "crs", message)))

    # -- ids (needed to label every other problem)
    if "id" in found:
        ids, id_problems = _parse_ids(df.iloc[:, found["id"][0]].to_numpy(dtype=object))
    else:
        ids, id_problems = np.full(n, None, dtype=object), []

    def record(row: int) -> str:  # how a problem names its record
        ident = ids[row]
        return f"row {row + 1}" if ident is None else str(ident)

    for row, message in id_problems:
        problems.append((row, 0, Problem(record(row), "id", message)))
    if "id" in found:
        id_series = pd.Series(ids, dtype=object)
        duplicated = id_series.duplicated(keep=False) & id_series.notna()
        if duplicated.any():
            rows_by_id: dict[str, list[int]] = {}
            for row in np.flatnonzero(duplicated.to_numpy()):
                rows_by_id.setdefault(ids[row], []).append(int(row))
            for ident, rows in rows_by_id.items():
                listed = ", ".join(str(r + 1) for r in rows)
                problems.append((rows[0], 0, Problem(ident, "id", f"duplicate id (rows {listed})")))

    # -- every other column
    data: dict[str, pd.Series] = {}
    data["id"] = pd.Series(ids, dtype=object)
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
            problems.append((row, order[column.name], Problem(record(row), column.name, message)))

    # -- coordinate systems: one per record (blank cells take the roster's default)
    systems = np.full(n, default_crs, dtype=object)
    if crs_positions and n > 0:
        parsed, crs_problems = _apply(
            df.iloc[:, crs_positions[0]].to_numpy(dtype=object), _parse_crs
        )
        systems = np.where(pd.isna(parsed), default_crs, parsed)
        for row, message in crs_problems:
            problems.append((row, crs_order, Problem(record(row), "crs", message)))

    if problems:
        problems.sort(key=lambda item: (item[0], item[1]))
        raise RosterError(roster, [problem for _, _, problem in problems])

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
        converted from the record's system (:func:`matching.crs.convert`,
        round trip < 1 m); the ``crs`` column is not carried over.

    Raises
    ------
    RosterError
        If anything is wrong; ``problems`` lists every problem found, each
        naming the record id (``"row N"`` if the id is missing) and the column
        (an unknown coordinate system is reported in column ``crs``).
    ConfigError
        If ``crs`` is not a known coordinate system.
    InputError
        If ``df`` is not a ``DataFrame``.

    Examples
    --------
    >>> import pandas as pd
    >>> from matching.schema import validate_children
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


def _read_table(path: str | os.PathLike[str], sheet: str | int | None) -> pd.DataFrame:
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
        try:
            return pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except UnicodeDecodeError as exc:
            raise InputError(
                f'cannot read {str(file)!r}: not UTF-8 text (save it as "CSV UTF-8")'
            ) from exc
        except (pd.errors.ParserError, OSError) as exc:
            raise InputError(f"cannot read {str(file)!r}: {exc}") from exc
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"cannot read {str(file)!r}: reading .xlsx files needs openpyxl; "
            'install it with: pip install "mentor-matching[excel]"'
        ) from exc
    try:
        return pd.read_excel(
            file,
            sheet_name=0 if sheet is None else sheet,
            dtype=object,
            keep_default_na=False,
            na_values=[],
            engine="openpyxl",
        )
    except (ValueError, IndexError, KeyError) as exc:
        raise InputError(f"cannot read sheet {sheet!r} of {str(file)!r}: {exc}") from exc
    except Exception as exc:  # corrupt archive, unreadable file, ...
        raise InputError(f"cannot read {str(file)!r}: {exc}") from exc


def read_children(
    path: str | os.PathLike[str], *, sheet: str | int | None = None, crs: str = "wgs84"
) -> pd.DataFrame:
    """Read a children roster from a ``.csv`` or ``.xlsx`` file and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        A UTF-8 CSV file (a byte-order mark is allowed; every cell is read as
        text, so ids like ``"007"`` keep their zeros) or an Excel ``.xlsx``
        workbook (needs ``pip install "mentor-matching[excel]"``).
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
        If the roster is invalid.
    """
    return validate_children(_read_table(path, sheet), crs=crs)


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
        If the roster is invalid.
    """
    return validate_mentors(_read_table(path, sheet), crs=crs)


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
            raise InputError(f"needs_mask: unknown need code {_quote(code)}")
        mask |= 1 << _NEED_ORDER[code]
    return mask
