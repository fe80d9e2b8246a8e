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
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from matching.errors import ConfigError
from matching.geo.crs import CRS_NAMES, normalize_crs
from matching.i18n import N_, ngettext
from matching.i18n import gettext as _
from matching.rosters.columns import ACCEPTED_NEEDS, NEED_ORDER, Column
from matching.rosters.vocabulary import (
    VOCABULARY,
    Vocabulary,
    normalize_word,
    number_and_unit,
    split_list,
    split_tags,
)

__all__ = [
    "RANGES",
    "CellProblems",
    "Tally",
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
    words: str = ""  # the words the column also takes, for its "not a number" phrase

    @property
    def accepted(self) -> str:
        if self.low_open:
            text = _("more than {low} up to {high}")
        else:
            text = _("{low} to {high}")
        return text.format(low=_fmt(self.low), high=_fmt(self.high))

    @property
    def not_a_number(self) -> str:
        if self.words:
            return _(
                "not a number or a known word (expected {unit}, {accepted}, or {words})"
            ).format(unit=_(self.unit), accepted=self.accepted, words=_(self.words))
        return _("not a number (expected {unit}, {accepted})").format(
            unit=_(self.unit), accepted=self.accepted
        )

    @property
    def out_of_range(self) -> str:
        return _("out of range (accepted {accepted})").format(accepted=self.accepted)

    @property
    def not_an_integer(self) -> str:
        return _("not an integer (accepted integers {accepted})").format(accepted=self.accepted)


# The accepted range of every numeric column.  The bounds of priority, capacity and
# max_distance_km also keep the integer costs of a district far from the solver's 64-bit limit
# (matching.solve.integer_costs): with the km weights of MatchConfig bounded (matching.config),
# a district's largest cost stays below 1e12 units of resolution_km.
RANGES: dict[str, ValueRange] = {
    "lat": ValueRange(-90.0, 90.0, N_("degrees")),
    "lon": ValueRange(-180.0, 180.0, N_("degrees")),
    "age": ValueRange(0.0, 25.0, N_("years")),
    "max_distance_km": ValueRange(0.0, 100.0, N_("km"), low_open=True),
    "priority": ValueRange(
        0, 100, N_("an integer"), integer=True, words=N_("a word: 紧急, 高, 中, 普通, 低")
    ),
    "capacity": ValueRange(1, 100, N_("an integer"), integer=True),
}

# Ids: at most this many characters, and none of these characters (a delimiter in the id
# cell means the row was written with another delimiter or is shifted; see parse_ids).
_ID_MAX_CHARS = 64
_ID_BREAKERS = re.compile(r"[,;\t|，；\r\n]")
# The fixed phrases of cell problems, translated where they are used (the language is
# chosen at run time).
_ID_DELIMITER = N_(
    "malformed id: holds a delimiter (, ; tab | ， ；) or a line break; "
    "the row may be shifted or use another delimiter"
)
_ID_TOO_LONG = N_("malformed id: longer than {n} characters")
_ID_NOT_TEXT = N_("malformed id: expected text or an integer")
_MISSING_ID = N_("missing id")
_NOT_A_NUMBER = "not a number"  # a marker: the column's ValueRange words the problem
_GENDER_PROBLEM = N_("unknown gender (accepted: female/女/f, male/男/m)")
_BOOL_PROBLEM = N_("not a yes/no value (accepted: true/false, yes/no, 1/0, 是/否)")
_CRS_PROBLEM = N_("unknown coordinate system (accepted: {names})")
_MALFORMED_LIST = N_("malformed list: expected a list or a delimited string")
_MALFORMED_TEXT = N_("malformed value: expected text")

_Result = tuple[Any, tuple[str, ...]]
# a parse with notes: (value, problems, notes); a note is ("w", word) for a cell read
# through a vocabulary word, ("u", unit) for a number read with its unit
_Note = tuple[str, str]
_Noted = tuple[Any, tuple[str, ...], tuple[_Note, ...]]
_NO_NOTES: tuple[_Note, ...] = ()

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
    """Why an id (stripped, not blank) cannot be trusted (translated), or None."""
    if len(text) > _ID_MAX_CHARS:
        return _(_ID_TOO_LONG).format(n=_ID_MAX_CHARS)
    if _ID_BREAKERS.search(text):
        return _(_ID_DELIMITER)
    return None


def _parse_id(value: Any) -> _Result:
    if _is_missing(value):
        return None, (_(_MISSING_ID),)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, (_(_MISSING_ID),)
        problem = _id_problem(text)
        return (None, (problem,)) if problem else (text, ())
    if _is_number(value):
        num_text = _number_text(value)
        if num_text is not None:
            problem = _id_problem(num_text)  # a number longer than 64 digits
            return (None, (problem,)) if problem else (num_text, ())
    return None, (_(_ID_NOT_TEXT),)


def _parse_text(value: Any) -> _Result:
    if _is_missing(value):
        return "", ()
    if isinstance(value, str):
        return value.strip(), ()
    if _is_number(value):
        text = _number_text(value)
        if text is not None:
            return text, ()
    return "", (_(_MALFORMED_TEXT),)


def _number_reader(column: Column, vocabulary: Vocabulary) -> Callable[[Any], _Noted]:
    """The parser of one numeric column's cells: a number, a priority word (the
    ``priority`` column), or a number with one of the column's units.

    ``None`` means missing.  A cell that is none of these gives the marker
    ``_NOT_A_NUMBER`` (the column's :class:`ValueRange` words it); a number with a
    unit of another column gives a problem naming the units accepted here.
    """
    words: Mapping[str, int] = vocabulary.priority if column.name == "priority" else {}
    units: Mapping[str, float] = vocabulary.units.get(column.name, {})
    other_units = {unit for table in vocabulary.units.values() for unit in table} - set(units)
    if units:
        wrong_unit = _("a unit this column does not take (accepted: {units})").format(
            units=", ".join(units)
        )
    else:
        wrong_unit = _("a number with a unit: this column takes a number alone")

    def read(value: Any) -> _Noted:
        if _is_missing(value):
            return None, (), _NO_NOTES
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None, (), _NO_NOTES
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                if math.isnan(number):
                    return None, (_NOT_A_NUMBER,), _NO_NOTES
                return number, (), _NO_NOTES
            key = normalize_word(text)
            if key in words:
                return float(words[key]), (), (("w", key),)
            found = number_and_unit(text)
            if found is not None:
                number, unit = found
                if unit in units:
                    return number * units[unit], (), (("u", unit),)
                if unit in other_units:
                    return None, (wrong_unit,), _NO_NOTES
            return None, (_NOT_A_NUMBER,), _NO_NOTES
        if _is_number(value):
            return float(value), (), _NO_NOTES
        return None, (_NOT_A_NUMBER,), _NO_NOTES

    return read


def _gender_reader(vocabulary: Vocabulary) -> Callable[[Any], _Noted]:
    genders = vocabulary.gender

    def read(value: Any) -> _Noted:
        if _is_missing(value):
            return "", (), _NO_NOTES
        if isinstance(value, str):
            key = normalize_word(value)
            if not key:
                return "", (), _NO_NOTES
            gender = genders.get(key)
            if gender is not None:
                return gender, (), (_NO_NOTES if key == gender else (("w", key),))
        return "", (_(_GENDER_PROBLEM),), _NO_NOTES

    return read


def parse_crs(value: Any) -> _Result:
    """A coordinate-system cell: its canonical name, or None for a blank cell."""
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None, ()
    try:
        return normalize_crs(value), ()
    except ConfigError:
        return None, (_(_CRS_PROBLEM).format(names=", ".join(CRS_NAMES)),)


_CANONICAL_BOOLS = frozenset({"true", "false"})


def _bool_reader(vocabulary: Vocabulary) -> Callable[[Any], _Noted]:
    bools = vocabulary.active

    def read(value: Any) -> _Noted:
        if _is_missing(value):
            return True, (), _NO_NOTES
        if isinstance(value, _BOOL_TYPES):
            return bool(value), (), _NO_NOTES
        if isinstance(value, str):
            key = normalize_word(value)
            if not key:
                return True, (), _NO_NOTES
            flag = bools.get(key)
            if flag is not None:
                return flag, (), (_NO_NOTES if key in _CANONICAL_BOOLS else (("w", key),))
        elif _is_number(value) and value in (0, 1):
            return bool(value), (), _NO_NOTES
        return True, (_(_BOOL_PROBLEM),), _NO_NOTES

    return read


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
        return split_list(value)
    return None


def _segments(tokens: list[str], lookup: Mapping[str, str]) -> list[str] | None:
    """The words of ``lookup`` that ``tokens`` (whitespace-separated parts of an item)
    spell one after another, longest first (``life care family education``), or None."""
    n = len(tokens)
    best: list[list[str] | None] = [None] * (n + 1)
    best[n] = []
    for start in range(n - 1, -1, -1):
        for end in range(n, start, -1):
            rest = best[end]
            if rest is not None and "_".join(tokens[start:end]) in lookup:
                best[start] = ["_".join(tokens[start:end]), *rest]
                break
    return best[0]


def _needs_reader(vocabulary: Vocabulary) -> Callable[[Any], _Noted]:
    lookup = vocabulary.needs

    def read(value: Any) -> _Noted:
        items = _split_items(value)
        if items is None:
            return (), (_(_MALFORMED_LIST),), _NO_NOTES
        codes: set[str] = set()
        notes: list[_Note] = []
        unknown = 0
        for item in items:
            key = normalize_word(item)
            keys: list[str] | None = [key] if key in lookup else None
            if keys is None and "_" in key:  # words separated by spaces
                keys = _segments(key.split("_"), lookup)
            if keys is None:
                unknown += 1
                continue
            for word in keys:
                code = lookup[word]
                codes.add(code)
                if word != code:
                    notes.append(("w", word))
        needs = tuple(sorted(codes, key=NEED_ORDER.__getitem__))
        if unknown == 0:
            return needs, (), tuple(notes)
        what = ngettext(
            "unknown need category (accepted: {accepted})",
            "{n} unknown need categories (accepted: {accepted})",
            unknown,
        ).format(n=unknown, accepted=ACCEPTED_NEEDS)
        return needs, (what,), tuple(notes)

    return read


def _parse_tags(value: Any) -> _Noted:
    items = _split_items(value)
    if items is None:
        return (), (_(_MALFORMED_LIST),), _NO_NOTES
    if isinstance(value, str):
        items = [tag for item in items for tag in split_tags(item)]
    return tuple(sorted({item.casefold() for item in items})), (), _NO_NOTES


# ----------------------------------------------------------------------------------------------
# column helpers


@dataclass
class Tally:
    """How many cells of a column were read through the vocabulary, and which
    words and units they used (for :class:`~matching.rosters.reading.ColumnReading`)."""

    words: int = 0
    units: int = 0
    terms: Counter[str] = field(default_factory=Counter)

    def add(self, notes: tuple[_Note, ...], cells: int) -> None:
        """Count ``cells`` cells that each read with ``notes``."""
        kinds = {kind for kind, _term in notes}
        if "w" in kinds:
            self.words += cells
        if "u" in kinds:
            self.units += cells
        for term in dict.fromkeys(term for _kind, term in notes):
            self.terms[term] += cells


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
    out, problems, _tally = _parse_noted(values, lambda value: (*parse(value), _NO_NOTES))
    return out, problems


def _parse_noted(
    values: np.ndarray, parse: Callable[[Any], _Noted]
) -> tuple[np.ndarray, CellProblems, Tally]:
    """:func:`parse_cells` with a parser that notes vocabulary words; the notes counted."""
    n = len(values)
    tally = Tally()
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
        for i, (result, _messages, _notes) in enumerate(results):
            table[i] = result
        out = table[codes]
        noted = [i for i, result in enumerate(results) if result[2]]
        if noted:
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            for i in noted:
                tally.add(results[i][2], int(counts[i]))
        bad = [i for i, result in enumerate(results) if result[1]]
        problems: list[tuple[int, str]] = []
        if bad:
            codes = np.where(codes < 0, len(results) - 1, codes)
            for bad_row in np.flatnonzero(np.isin(codes, bad)).tolist():
                problems.extend((bad_row, m) for m in results[codes[bad_row]][1])
        return out, problems, tally

    out = np.empty(n, dtype=object)
    problems = []
    cache: dict[Any, _Noted] = {}
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
        if result[2]:
            tally.add(result[2], 1)
    return out, problems, tally


def _read_coded(
    codes: np.ndarray,
    uniques: np.ndarray,
    read: Callable[[Any], _Noted],
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, CellProblems, Tally]:
    """Read each distinct text once: (values, missing mask, problems, tally), one entry
    per code; code -1 is a missing cell; problems name ``rows[k]`` (default ``k``)."""
    results = [read(text) for text in uniques]
    table = np.array([np.nan if r[0] is None else r[0] for r in results] + [np.nan])
    blank = np.array([r[0] is None and not r[1] for r in results] + [True], dtype=bool)
    values = table[codes]
    missing = blank[codes]
    tally = Tally()
    noted = [i for i, result in enumerate(results) if result[2]]
    if noted:
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        for i in noted:
            tally.add(results[i][2], int(counts[i]))
    problems: CellProblems = []
    bad = [i for i, result in enumerate(results) if result[1]]
    if bad:
        for k in np.flatnonzero(np.isin(codes, bad)).tolist():
            row = k if rows is None else int(rows[k])
            problems.extend((row, m) for m in results[codes[k]][1])
    return values, missing, problems, tally


def _as_floats(
    series: pd.Series, read: Callable[[Any], _Noted]
) -> tuple[np.ndarray, np.ndarray, CellProblems, Tally]:
    """Return (values, missing mask, [(row, message), ...], tally) for a numeric column."""
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isnan(values), [], Tally()
    cells = series.to_numpy(dtype=object)
    kind = pd.api.types.infer_dtype(cells, skipna=True)
    if kind in ("empty", "integer", "floating", "mixed-integer-float"):
        values = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        return values, np.isnan(values), [], Tally()
    if kind == "string":  # the usual case (CSV)
        if len(cells) > _FEW_SAMPLE and len(set(cells[:_FEW_SAMPLE].tolist())) < _FEW_DISTINCT:
            # few distinct texts (priority, capacity, words): each read once
            codes, uniques = pd.factorize(cells, use_na_sentinel=True)
            return _read_coded(codes, uniques, read)
        # many: parse in bulk, then read the texts that are no plain number
        missing = pd.isna(cells) | (cells == "")
        values = np.array(  # writable copy
            pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            dtype=np.float64,
        )
        rows = np.flatnonzero(np.isnan(values) & ~missing)
        tally = Tally()
        problems: CellProblems = []
        if rows.size:
            codes, uniques = pd.factorize(cells[rows])
            values[rows], missing[rows], problems, tally = _read_coded(codes, uniques, read, rows)
        values[missing] = np.nan
        return values, missing, problems, tally
    parsed, problems, tally = _parse_noted(cells, read)
    values = np.fromiter(
        (np.nan if v is None else v for v in parsed), dtype=np.float64, count=len(parsed)
    )
    missing = np.isnan(values)
    if problems:  # a cell that failed to parse is not missing
        missing[[row for row, _ in problems]] = False
    return values, missing, problems, tally


# A text column whose first _FEW_SAMPLE cells hold fewer than _FEW_DISTINCT distinct texts is
# read one distinct text at a time (pandas' bulk text-to-number parse costs more per cell).
_FEW_SAMPLE = 1000
_FEW_DISTINCT = 500


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
    column: Column, series: pd.Series, vocabulary: Vocabulary
) -> tuple[ValueRange, np.ndarray, np.ndarray, np.ndarray, CellProblems, Tally]:
    """A numeric column's range, values, missing and present cells, the cells that
    are not numbers (worded by the range) or carry a wrong unit, and the tally."""
    accepted = RANGES[column.name]
    values, missing, problems, tally = _as_floats(series, _number_reader(column, vocabulary))
    if problems:
        not_a_number = accepted.not_a_number
        problems = [(row, not_a_number if m == _NOT_A_NUMBER else m) for row, m in problems]
    return accepted, values, missing, ~missing & ~np.isnan(values), problems, tally


def _check_float(
    column: Column, series: pd.Series, vocabulary: Vocabulary
) -> tuple[pd.Series, CellProblems, Tally]:
    accepted, values, missing, present, problems, tally = _numbers(column, series, vocabulary)
    with np.errstate(invalid="ignore"):
        above = values > accepted.low if accepted.low_open else values >= accepted.low
        inside = above & (values <= accepted.high)  # False for NaN and inf
    problems.extend((int(r), accepted.out_of_range) for r in np.flatnonzero(present & ~inside))
    if column.required:
        problems.extend((int(r), _("missing value")) for r in np.flatnonzero(missing))
    values = np.where(missing, column.default if not column.required else np.nan, values)
    return pd.Series(values.astype(np.float64)), problems, tally


def _check_int(
    column: Column, series: pd.Series, vocabulary: Vocabulary
) -> tuple[pd.Series, CellProblems, Tally]:
    accepted, values, missing, present, problems, tally = _numbers(column, series, vocabulary)
    # the range first: a value beyond it (5550001234, 2**53) is out of range, integral or not
    with np.errstate(invalid="ignore"):
        inside = (values >= accepted.low) & (values <= accepted.high)
        integral = inside & (np.floor(values) == values)
    problems.extend((int(r), accepted.out_of_range) for r in np.flatnonzero(present & ~inside))
    problems.extend(
        (int(r), accepted.not_an_integer) for r in np.flatnonzero(present & inside & ~integral)
    )
    values = np.where(missing | ~integral, column.default, values)
    return pd.Series(values.astype(np.int64)), problems, tally


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
    delimiter, too_long = _(_ID_DELIMITER), _(_ID_TOO_LONG).format(n=_ID_MAX_CHARS)
    bad: dict[int, str] = {
        int(i): delimiter for i in np.searchsorted(offsets, hits, side="right") - 1
    }
    bad.update((int(i), too_long) for i in np.flatnonzero(lengths > _ID_MAX_CHARS))
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
    missing_id = _(_MISSING_ID)
    problems.extend((int(row), missing_id) for row in np.flatnonzero(missing))
    return ids, problems


def _readers(vocabulary: Vocabulary) -> dict[str, Callable[[Any], _Noted]]:
    """The parser of each non-numeric column kind, reading through ``vocabulary``."""
    return {
        "text": lambda value: (*_parse_text(value), _NO_NOTES),
        "gender": _gender_reader(vocabulary),
        "bool": _bool_reader(vocabulary),
        "categories": _needs_reader(vocabulary),
        "tags": _parse_tags,
    }


def check_column(
    column: Column, series: pd.Series, vocabulary: Vocabulary = VOCABULARY
) -> tuple[pd.Series, CellProblems, Tally]:
    """Parse one raw column by its kind: (canonical values, [(row, message), ...], tally)."""
    if column.kind == "float":
        return _check_float(column, series, vocabulary)
    if column.kind == "int":
        return _check_int(column, series, vocabulary)
    if column.kind == "bool" and series.dtype == np.bool_:
        # a bool column holds nothing else (no missing cells): as it is
        return pd.Series(series.to_numpy(dtype=bool, copy=True)), [], Tally()
    read = _readers(vocabulary)[column.kind]
    values, problems, tally = _parse_noted(series.to_numpy(dtype=object), read)
    if column.kind == "bool":
        return pd.Series(values.astype(bool)), problems, tally
    return pd.Series(values, dtype=object), problems, tally
