"""Cell parsing: each roster cell to its canonical value, or a fixed problem phrase.

The helpers here are the building blocks of :mod:`matching.rosters.validate`:
:func:`check_column` parses one column of a raw table by its
:class:`~matching.rosters.columns.Column` kind and range, :func:`parse_ids`
the id column, :func:`parse_cells` any column with a per-cell parser (each
distinct value parsed once), and :func:`parse_crs` a coordinate-system cell.
Each returns the parsed values and ``[(row, message), ...]``.

A message names the kind of problem and the accepted values or range (for
example ``not a number (expected degrees, -90 to 90)``), never the value of a
cell: rosters hold personal data about children, and a shifted column puts a
name or a phone number where a number was expected.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matching.errors import ConfigError
from matching.geo.crs import CRS_NAMES, normalize_crs
from matching.rosters.columns import ACCEPTED_NEEDS, NEED_LABELS_ZH, NEED_ORDER, NEEDS, Column

__all__ = [
    "RANGES",
    "CellProblems",
    "ValueRange",
    "check_column",
    "default_column",
    "empty_column",
    "parse_cells",
    "parse_crs",
    "parse_ids",
]


@dataclass(frozen=True)
class ValueRange:
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
RANGES: dict[str, ValueRange] = {
    "lat": ValueRange(-90.0, 90.0, "degrees"),
    "lon": ValueRange(-180.0, 180.0, "degrees"),
    "age": ValueRange(0.0, 25.0, "years"),
    "max_distance_km": ValueRange(0.0, 100.0, "km", low_open=True),
    "priority": ValueRange(0, 100, "an integer", integer=True),
    "capacity": ValueRange(1, 100, "an integer", integer=True),
}

# Ids: at most this many characters, and none of these characters (a delimiter in the id
# cell means the row was written with another delimiter or is shifted; see parse_ids).
_ID_MAX_CHARS = 64
_ID_BREAKERS = re.compile(r"[,;\t|，；\r\n]")
_ID_DELIMITER = (
    "malformed id: holds a delimiter (, ; tab | ， ；) or a line break; "
    "the row may be shifted or use another delimiter"
)
_ID_TOO_LONG = f"malformed id: longer than {_ID_MAX_CHARS} characters"
_ID_NOT_TEXT = "malformed id: expected text or an integer"
_NOT_A_NUMBER = "not a number"  # a marker: the column's ValueRange words the problem

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

CellProblems = list[tuple[int, str]]
"""Problems found in a column: (0-based data row, message) pairs."""
# infer_dtype results that cannot hold booleans
_BOOL_FREE = frozenset({"empty", "string", "integer", "floating", "mixed-integer-float"})
# type tuples for isinstance in the per-cell helpers (a union such as
# ``bool | np.bool_`` would be built anew at every call)
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
    marker ``_NOT_A_NUMBER``: the column's :class:`ValueRange` words it."""
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


def parse_crs(value: Any) -> _Result:
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
    needs = tuple(sorted(codes, key=NEED_ORDER.__getitem__))
    if unknown == 0:
        return needs, ()
    what = "unknown need category" if unknown == 1 else f"{unknown} unknown need categories"
    return needs, (f"{what} (accepted: {ACCEPTED_NEEDS})",)


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


def parse_cells(
    values: np.ndarray, parse: Callable[[Any], _Result]
) -> tuple[np.ndarray, CellProblems]:
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


def _as_floats(series: pd.Series) -> tuple[np.ndarray, np.ndarray, CellProblems]:
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
    parsed, problems = parse_cells(cells, _parse_float)
    values = np.fromiter(
        (np.nan if v is None else v for v in parsed), dtype=np.float64, count=len(parsed)
    )
    missing = np.isnan(values)
    if problems:  # a cell that failed to parse is not missing
        missing[[row for row, _ in problems]] = False
    return values, missing, problems


def empty_column(column: Column) -> pd.Series:
    """The column of an empty roster, with the column's dtype."""
    if column.kind == "float":
        return pd.Series([], dtype=np.float64)
    if column.kind == "int":
        return pd.Series([], dtype=np.int64)
    if column.kind == "bool":
        return pd.Series([], dtype=bool)
    return pd.Series([], dtype=object)


def default_column(column: Column, n: int) -> pd.Series:
    """An absent optional column: ``n`` cells of its default."""
    if column.kind == "float":
        return pd.Series(np.full(n, column.default, dtype=np.float64))
    if column.kind == "int":
        return pd.Series(np.full(n, column.default, dtype=np.int64))
    if column.kind == "bool":
        return pd.Series(np.full(n, column.default, dtype=bool))
    return pd.Series([column.default] * n, dtype=object)


def _numbers(
    column: Column, series: pd.Series
) -> tuple[ValueRange, np.ndarray, np.ndarray, np.ndarray, CellProblems]:
    """A numeric column's range, values, missing and present cells, and the cells
    that are not numbers (worded by the range)."""
    accepted = RANGES[column.name]
    values, missing, problems = _as_floats(series)
    problems = [(row, accepted.not_a_number) for row, _ in problems]
    return accepted, values, missing, ~missing & ~np.isnan(values), problems


def _check_float(column: Column, series: pd.Series) -> tuple[pd.Series, CellProblems]:
    accepted, values, missing, present, problems = _numbers(column, series)
    with np.errstate(invalid="ignore"):
        above = values > accepted.low if accepted.low_open else values >= accepted.low
        inside = above & (values <= accepted.high)  # False for NaN and inf
    problems.extend((int(r), accepted.out_of_range) for r in np.flatnonzero(present & ~inside))
    if column.required:
        problems.extend((int(r), "missing value") for r in np.flatnonzero(missing))
    values = np.where(missing, column.default if not column.required else np.nan, values)
    return pd.Series(values.astype(np.float64)), problems


def _check_int(column: Column, series: pd.Series) -> tuple[pd.Series, CellProblems]:
    accepted, values, missing, present, problems = _numbers(column, series)
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


def parse_ids(cells: np.ndarray) -> tuple[np.ndarray, CellProblems]:
    """Parse the id column: (object array of str or None, [(row, message), ...]).

    An id that is missing or malformed (see :func:`_id_problem`) is None: the
    record is then named by its row (or line), never by the cell.
    """
    if pd.api.types.infer_dtype(cells, skipna=True) != "string":
        return parse_cells(cells, _parse_id)
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


def check_column(column: Column, series: pd.Series) -> tuple[pd.Series, CellProblems]:
    """Parse one raw column by its kind: (canonical values, [(row, message), ...])."""
    if column.kind == "float":
        return _check_float(column, series)
    if column.kind == "int":
        return _check_int(column, series)
    if column.kind == "bool" and series.dtype == np.bool_:
        # a bool column holds nothing else (no missing cells): as it is
        return pd.Series(series.to_numpy(dtype=bool, copy=True)), []
    values, problems = parse_cells(series.to_numpy(dtype=object), _PARSERS[column.kind])
    if column.kind == "bool":
        return pd.Series(values.astype(bool)), problems
    return pd.Series(values, dtype=object), problems
