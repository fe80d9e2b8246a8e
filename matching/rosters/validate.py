"""Roster validation: check a raw table against its columns and return it normalised.

:func:`validate_children` / :func:`validate_mentors` check a ``DataFrame``,
report *every* problem at once in a :class:`~matching.errors.RosterError`,
and return a normalised copy with the canonical columns, in the canonical
order, with fixed dtypes.  Columns that are not part of the schema (for
example ``name``) are carried through unchanged after the canonical columns.

Coordinates may be given in WGS-84, GCJ-02 (Gaode, Tencent) or BD-09 (Baidu):
an optional ``crs`` column (Chinese header 坐标系) names the system of each
record, and the ``crs`` keyword the system of records whose cell is blank
(``"wgs84"`` by default).  Validated rosters always hold WGS-84 coordinates
(converted with :func:`matching.geo.crs.convert`) and no ``crs`` column, so
validating them again changes nothing.

Problems name the file and the line (when read from a file), the record id and
the column, with the kind of problem and the accepted values or range, never
the value of a cell.  A record whose id is malformed (it holds a delimiter
``, ; tab | ， ；`` or a line break, or is longer than 64 characters) or whose
row looks shifted (its ``lat`` or ``lon`` cell holds something that is not a
number) is named by its line (or data row) only, never by its id cell.

Validation once
---------------
:class:`ValidRoster` marks a roster that passed validation: its frame and its
kind.  Only this module makes one (:func:`valid_children`,
:func:`valid_mentors`, :func:`validate_roster`; the file loaders of
:mod:`matching.rosters.files` go through the latter).  Functions that take a
roster accept a plain ``DataFrame`` (validated at that boundary) or a
``ValidRoster`` (not validated again), so a roster read, folded into the
programme and matched in one run is parsed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from matching.errors import InputError, Problem, RosterError
from matching.geo.crs import CRS_NAMES, convert, normalize_crs
from matching.i18n import N_, current_language
from matching.i18n import gettext as _
from matching.rosters.cells import (
    RANGES,
    Tally,
    check_column,
    default_column,
    empty_column,
    parse_cells,
    parse_crs,
    parse_ids,
)
from matching.rosters.columns import (
    CHILD_COLUMNS,
    CRS_HEADERS,
    MENTOR_COLUMNS,
    Column,
    header_forms,
)
from matching.rosters.reading import ColumnReading, RosterReading
from matching.rosters.vocabulary import VOCABULARY, Vocabulary

__all__ = [
    "RosterKind",
    "RosterSource",
    "ValidRoster",
    "assume_valid",
    "valid_children",
    "valid_mentors",
    "validate_children",
    "validate_mentors",
    "validate_roster",
]

RosterKind = Literal["children", "mentors"]
"""Which roster a frame is: ``"children"`` or ``"mentors"``."""

_COLUMNS: dict[str, tuple[Column, ...]] = {"children": CHILD_COLUMNS, "mentors": MENTOR_COLUMNS}


@dataclass(frozen=True)
class RosterSource:
    """Where a roster was read from: the file, the line of each data row, and how
    the file was read.

    ``lines`` is called only when there are problems to report; it returns
    the 1-based line (header line counted) of each data row, or None when the
    lines cannot be told (problems then name data rows).  ``encoding``,
    ``header_line`` and ``note_lines`` go into the roster's
    :class:`~matching.rosters.reading.RosterReading`.
    """

    path: str
    lines: Callable[[int], np.ndarray | None]
    encoding: str | None = None
    header_line: int | None = None
    note_lines: tuple[int, ...] = ()


# Made by this module only: ValidRoster checks for it, so a frame cannot be marked valid
# by accident (assume_valid is the one named way to vouch for a derived frame).
_SEAL = object()


@dataclass(frozen=True)
class ValidRoster:
    """A roster that passed validation: its normalised frame and its kind.

    Made by :func:`valid_children`, :func:`valid_mentors`,
    :func:`validate_roster`, :func:`matching.rosters.load_children` /
    :func:`~matching.rosters.load_mentors`, and, for frames derived from
    validated ones, :func:`assume_valid`; calling the class directly raises
    ``TypeError``.  Functions that take a roster (:func:`matching.match`,
    :func:`matching.programme.events.apply_rosters`) use its frame as it is,
    without validating again.  Treat the frame as read-only.

    Attributes
    ----------
    frame : pandas.DataFrame
        The roster as :func:`validate_children` / :func:`validate_mentors`
        return it.
    kind : {"children", "mentors"}
        Which roster it is.
    reading : RosterReading
        How it was read: the file's encoding, the header's line, the notes
        below the table, and per column the cells read through the
        vocabulary (counts and vocabulary words, never a cell's content).
        Empty for a roster that was not validated from a table.
    """

    frame: pd.DataFrame
    kind: RosterKind
    seal: object = field(default=None, repr=False, compare=False)
    reading: RosterReading = field(default=RosterReading(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seal is not _SEAL:
            raise TypeError(
                "a ValidRoster is made by validation: use matching.rosters.valid_children "
                "or valid_mentors"
            )

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, rows: pd.Series | np.ndarray) -> ValidRoster:
        """The records where the boolean mask ``rows`` is true (still valid: a subset)."""
        mask = np.asarray(rows, dtype=bool)
        return ValidRoster(self.frame[mask].reset_index(drop=True), self.kind, _SEAL, self.reading)


def _checked(
    roster: pd.DataFrame | ValidRoster, kind: RosterKind, crs: str, vocabulary: Vocabulary
) -> ValidRoster:
    if isinstance(roster, ValidRoster):
        if roster.kind != kind:
            raise InputError(
                _("expected a {kind} roster, got a validated {other} roster").format(
                    kind=_(_ROSTER_NAMES[kind]), other=_(_ROSTER_NAMES[roster.kind])
                )
            )
        return roster
    return validate_roster(roster, kind, crs=crs, vocabulary=vocabulary)


def valid_children(
    roster: pd.DataFrame | ValidRoster,
    *,
    crs: str = "wgs84",
    vocabulary: Vocabulary = VOCABULARY,
) -> ValidRoster:
    """A children roster in validated form: ``roster`` itself if it is one, else validated.

    A plain ``DataFrame`` is validated with :func:`validate_children` (``crs``
    and ``vocabulary`` as there); a :class:`ValidRoster` of children is
    returned as it is.

    Raises
    ------
    RosterError
        If the frame is invalid (see :func:`validate_children`).
    InputError
        If ``roster`` is a validated mentor roster, or not a ``DataFrame``.

    Examples
    --------
    >>> import pandas as pd
    >>> kids = valid_children(pd.DataFrame({"id": ["C1"], "lat": [31.8], "lon": [119.9]}))
    >>> kids.kind, kids.frame["id"].tolist(), valid_children(kids) is kids
    ('children', ['C1'], True)
    """
    return _checked(roster, "children", crs, vocabulary)


def valid_mentors(
    roster: pd.DataFrame | ValidRoster,
    *,
    crs: str = "wgs84",
    vocabulary: Vocabulary = VOCABULARY,
) -> ValidRoster:
    """A mentor roster in validated form, as :func:`valid_children` for children."""
    return _checked(roster, "mentors", crs, vocabulary)


def validate_roster(
    df: pd.DataFrame,
    kind: RosterKind,
    *,
    crs: str = "wgs84",
    source: RosterSource | None = None,
    vocabulary: Vocabulary = VOCABULARY,
) -> ValidRoster:
    """Validate a raw table as a ``kind`` roster; ``source`` names its file in problems.

    The one place every validation goes through (:func:`validate_children`,
    :func:`validate_mentors`, the file readers); see those for the rules.
    ``vocabulary`` holds the words read in cells
    (:data:`~matching.rosters.vocabulary.VOCABULARY` by default; see
    :func:`matching.config.load_vocabulary`).  Problems are worded in the
    current language (:func:`matching.i18n.current_language`).  The result's
    ``reading`` says how the table was read.
    """
    frame, reading = _validate(df, kind, _COLUMNS[kind], crs, source, vocabulary)
    return ValidRoster(frame, kind, _SEAL, reading)


def assume_valid(frame: pd.DataFrame, kind: RosterKind) -> ValidRoster:
    """Mark a frame derived from validated rosters as valid, without checking its cells.

    For internal callers whose frames come from validated data by their own
    rules (the programme state's records, a subset of them, priorities raised
    for the queue, the capacity a mentor has left): parsing them again would
    only repeat the work, and the rules they follow may step outside a
    roster file's ranges on purpose.  The canonical columns come first in
    their order, with their dtypes, on a fresh index.

    Raises
    ------
    InputError
        If a canonical column is missing (the frame was not derived from a
        validated roster).
    """
    columns = _COLUMNS[kind]
    names = [column.name for column in columns]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise InputError(
            _("not a validated {kind} roster: no column {column!r}").format(
                kind=_(_ROSTER_NAMES[kind]), column=missing[0]
            )
        )
    extras = [label for label in frame.columns if label not in set(names)]
    out = frame.loc[:, names + extras].reset_index(drop=True)
    dtypes = {c.name: _DTYPES[c.kind] for c in columns if c.kind in _DTYPES}
    return ValidRoster(out.astype(dtypes), kind, _SEAL)


_DTYPES = {"float": np.float64, "int": np.int64, "bool": np.bool_}
_ROSTER_NAMES = {"children": N_("children"), "mentors": N_("mentors")}


# A problem before its record is labelled: (row, column order, column, message); row -1 is
# the header.  Labels need the file's lines, which are worked out only if there are problems.
_Raw = tuple[int, int, str, str]


@dataclass
class _Headers:
    """Where each schema column sits in a raw table (positions), and the rest."""

    found: dict[str, list[int]]  # canonical name -> positions of headers naming it
    extras: list[int]  # positions of columns outside the schema, carried through
    crs: list[int]  # positions of coordinate-system columns
    labels: dict[str, str]  # canonical name -> the header the table had (for problems)


def _validate(
    df: pd.DataFrame,
    roster: str,
    columns: Sequence[Column],
    crs: str = "wgs84",
    source: RosterSource | None = None,
    vocabulary: Vocabulary = VOCABULARY,
) -> tuple[pd.DataFrame, RosterReading]:
    """Check ``df`` against ``columns``; raise every problem at once, or return the
    normalised frame (canonical columns, WGS-84, other columns after) and how it
    was read."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(
            _("{roster} roster must be a pandas DataFrame, got {type}").format(
                roster=_(_ROSTER_NAMES.get(roster, roster)), type=type(df).__name__
            )
        )
    default_crs = normalize_crs(crs, parameter="crs")
    order = {column.name: k for k, column in enumerate(columns)}
    problems: list[_Raw] = []
    headers = _match_headers(df, columns, order, problems)
    data, shifted, tallies = _parse_columns(df, columns, headers, order, problems, vocabulary)
    systems = _record_systems(df, headers, default_crs, len(columns), problems)
    ids = data["id"].to_numpy(dtype=object)
    labels = ids  # how problems name records: never by the id cell of a shifted row
    if shifted:
        labels = ids.copy()
        labels[sorted(shifted)] = None
    duplicates = _duplicates(labels) if "id" in headers.found else {}
    if problems or duplicates:
        id_label = headers.labels.get("id", "id")
        raise _roster_error(roster, problems, duplicates, labels, source, id_label)
    _to_wgs84(data, systems)
    return _with_extras(data, df, headers.extras), _reading(headers, tallies, source)


def _reading(
    headers: _Headers, tallies: dict[str, Tally], source: RosterSource | None
) -> RosterReading:
    """How the table was read: the file's part (from ``source``) and the columns' part."""
    read = tuple(
        ColumnReading(
            name,
            headers.labels[name],
            words=tally.words,
            units=tally.units,
            terms=tuple(tally.terms.most_common()),
        )
        for name, tally in tallies.items()
        if tally.words or tally.units
    )
    return RosterReading(
        encoding=source.encoding if source is not None else None,
        header_line=source.header_line if source is not None else None,
        note_lines=source.note_lines if source is not None else (),
        headers=tuple((name, headers.labels[name]) for name in headers.found),
        columns=read,
    )


def _match_headers(
    df: pd.DataFrame, columns: Sequence[Column], order: dict[str, int], problems: list[_Raw]
) -> _Headers:
    """Map the table's headers to the schema; a column named twice or a required
    column missing is a problem."""
    lookup: dict[str, str] = {}
    for column in columns:
        lookup[column.name] = column.name
        for alias in column.aliases:
            lookup[alias.strip().lower()] = column.name
    headers = _Headers({}, [], [], {})
    for position, label in enumerate(df.columns):
        forms = header_forms(label)
        header = forms[0]
        canonical = next((lookup[form] for form in forms if form in lookup), None)
        if header in CRS_HEADERS:
            headers.crs.append(position)
            headers.labels.setdefault("crs", str(label).strip())
        elif canonical is None:
            headers.extras.append(position)
        else:
            headers.found.setdefault(canonical, []).append(position)
            headers.labels.setdefault(canonical, str(label).strip())
    named = [(column.name, headers.found.get(column.name, [])) for column in columns]
    for name, positions in [*named, ("crs", headers.crs)]:
        # problems with the crs column sort after the others
        rank = order.get(name, len(columns))
        if len(positions) > 1:
            # these headers are the column's own names (known, never personal data)
            listed = ", ".join(repr(str(df.columns[p])) for p in positions)
            message = _("{n} columns map to {name!r}: {listed}").format(
                n=len(positions), name=name, listed=listed
            )
            # several headers: the column is named canonically, the message lists them
            problems.append((-1, rank, name, message))
    missing = _("missing required column")
    for column in columns:
        if column.name not in headers.found and column.required and len(df) > 0:
            # named as staff would head it: the Chinese header in Chinese
            label = column.name
            if current_language() == "zh" and column.aliases:
                label = column.aliases[0]
            problems.append((-1, order[column.name], label, missing))
    return headers


def _parse_columns(
    df: pd.DataFrame,
    columns: Sequence[Column],
    headers: _Headers,
    order: dict[str, int],
    problems: list[_Raw],
    vocabulary: Vocabulary,
) -> tuple[dict[str, pd.Series], set[int], dict[str, Tally]]:
    """Every schema column parsed (ids first: they label every other problem; a
    malformed id is None), the rows that look shifted, and each column's tally of
    cells read through the vocabulary."""
    n = len(df)
    found = headers.found
    if "id" in found:
        ids, id_problems = parse_ids(df.iloc[:, found["id"][0]].to_numpy(dtype=object))
        label = headers.labels["id"]
        problems.extend((row, 0, label, message) for row, message in id_problems)
    else:
        ids = np.full(n, None, dtype=object)
    data: dict[str, pd.Series] = {"id": pd.Series(ids, dtype=object)}
    shifted: set[int] = set()
    tallies: dict[str, Tally] = {}
    for column in columns:
        if column.name == "id":
            continue
        if n == 0:
            data[column.name] = empty_column(column)
            continue
        if column.name not in found:
            data[column.name] = (
                pd.Series(np.full(n, np.nan)) if column.required else default_column(column, n)
            )
            continue
        series, column_problems, tallies[column.name] = check_column(
            column, df.iloc[:, found[column.name][0]], vocabulary
        )
        data[column.name] = series
        label = headers.labels[column.name]
        for row, message in column_problems:
            problems.append((row, order[column.name], label, message))
        if column.name in ("lat", "lon"):
            # a coordinate that is not a number (a name, an address) means the row looks
            # shifted: its id cell may hold something else too
            not_a_number = RANGES[column.name].not_a_number
            shifted.update(row for row, message in column_problems if message == not_a_number)
    return data, shifted, tallies


def _record_systems(
    df: pd.DataFrame, headers: _Headers, default_crs: str, rank: int, problems: list[_Raw]
) -> np.ndarray:
    """The coordinate system of each record (blank cells take the roster's default)."""
    systems = np.full(len(df), default_crs, dtype=object)
    positions = headers.crs
    if positions and len(df) > 0:
        parsed, crs_problems = parse_cells(
            df.iloc[:, positions[0]].to_numpy(dtype=object), parse_crs
        )
        systems = np.where(pd.isna(parsed), default_crs, parsed)
        label = headers.labels["crs"]
        problems.extend((row, rank, label, message) for row, message in crs_problems)
    return systems


def _to_wgs84(data: dict[str, pd.Series], systems: np.ndarray) -> None:
    """Convert the ``lat`` / ``lon`` of records given in another system, in place."""
    for system in CRS_NAMES:
        picked = np.flatnonzero(systems == system)
        if system == "wgs84" or len(picked) == 0:
            continue
        lat = data["lat"].to_numpy(dtype=np.float64, copy=True)
        lon = data["lon"].to_numpy(dtype=np.float64, copy=True)
        lat[picked], lon[picked] = convert(lat[picked], lon[picked], system, "wgs84")
        data["lat"] = pd.Series(lat)
        data["lon"] = pd.Series(lon)


def _with_extras(data: dict[str, pd.Series], df: pd.DataFrame, extras: list[int]) -> pd.DataFrame:
    """The canonical columns, then the table's other columns as they are."""
    carried = [df.columns[position] for position in extras]
    if len(set(carried)) == len(carried):
        # one frame built, not two joined; duplicate headers are joined as they come
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
    source: RosterSource | None,
    id_label: str = "id",
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
            listed = _("duplicate id (lines {lines})").format(
                lines=", ".join(str(int(lines[r])) for r in rows)
            )
        else:
            listed = _("duplicate id (rows {rows})").format(
                rows=", ".join(str(r + 1) for r in rows)
            )
        items.append((rows[0], 0, problem(rows[0], id_label, listed, ident)))
    items.sort(key=lambda item: (item[0], item[1]))
    return RosterError(
        roster, [p for _, _, p in items], source=source.path if source is not None else None
    )


def validate_children(
    df: pd.DataFrame, *, crs: str = "wgs84", vocabulary: Vocabulary = VOCABULARY
) -> pd.DataFrame:
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
    vocabulary : Vocabulary, optional
        The words read in cells (priority words, need names, units …):
        :data:`~matching.rosters.vocabulary.VOCABULARY` by default, or one
        extended by :func:`matching.config.load_vocabulary`.

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
    >>> from matching.rosters import validate_children
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
    return validate_roster(df, "children", crs=crs, vocabulary=vocabulary).frame


def validate_mentors(
    df: pd.DataFrame, *, crs: str = "wgs84", vocabulary: Vocabulary = VOCABULARY
) -> pd.DataFrame:
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
    vocabulary : Vocabulary, optional
        The words read in cells, as for :func:`validate_children`.

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
    return validate_roster(df, "mentors", crs=crs, vocabulary=vocabulary).frame
