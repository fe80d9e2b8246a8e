"""The roster columns, the need categories and the header vocabulary.

A roster is a table with one record per child (or per mentor).
:data:`CHILD_COLUMNS` / :data:`MENTOR_COLUMNS` describe its columns; headers
are matched after stripping whitespace and lower-casing, and the Chinese
headers listed in each :class:`Column`'s ``aliases`` are accepted too.
:func:`find_column` finds a column of a raw table by its headers, and
:func:`needs_mask` turns a validated ``needs`` / ``skills`` column into a bit
mask per record (bit ``i`` is ``NEEDS[i]``).

Every numeric column has a range (see :data:`CHILD_COLUMNS` and
:data:`MENTOR_COLUMNS`): ``priority`` 0 to 100, ``capacity`` 1 to 100,
``max_distance_km`` more than 0 up to 100, ``age`` 0 to 25.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matching._arrays import distinct_codes
from matching.errors import InputError

__all__ = [
    "ACCEPTED_NEEDS",
    "ADDRESS_HEADERS",
    "CHILD_COLUMNS",
    "CRS_HEADERS",
    "MENTOR_COLUMNS",
    "NEEDS",
    "NEED_LABELS_ZH",
    "NEED_ORDER",
    "Column",
    "find_column",
    "header_forms",
    "needs_mask",
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


ACCEPTED_NEEDS = ", ".join(f"{code}/{NEED_LABELS_ZH[code]}" for code in NEEDS)
"""The accepted need values, code and Chinese label, for messages and documentation."""

NEED_ORDER: dict[str, int] = {code: i for i, code in enumerate(NEEDS)}
"""The bit of each need code in a need mask."""

_ID_DOC = 'Unique record id, kept as text ("007" stays "007"; the number 12 becomes "12").'
_CHILD_ID = Column("id", True, "id", None, _ID_DOC, ("编号", "儿童编号"))
_MENTOR_ID = Column("id", True, "id", None, _ID_DOC, ("编号", "爱心妈妈编号", "妈妈编号"))
_LAT = Column("lat", True, "float", None, "Latitude in degrees (WGS-84), -90 to 90.", ("纬度",))
_LON = Column("lon", True, "float", None, "Longitude in degrees (WGS-84), -180 to 180.", ("经度",))
_STREET = Column(
    "street", False, "text", "", "Street (街道) the record belongs to.", ("街道", "所在街道")
)
_COMMUNITY = Column(
    "community", False, "text", "", "Community (社区) within the street.", ("社区", "所在社区")
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

# Where every record is (after its id).
_PLACE = (_LAT, _LON, _STREET, _COMMUNITY)

CHILD_COLUMNS: tuple[Column, ...] = (
    _CHILD_ID,
    *_PLACE,
    Column(
        "needs",
        False,
        "categories",
        (),
        "Need categories (codes, short or official names, simplified or traditional; list or "
        "delimited text): " + ACCEPTED_NEEDS,
        ("需求", "需求类别"),
    ),
    _INTERESTS,
    Column(
        "priority",
        False,
        "int",
        0,
        "Integer, 0 to 100, or a word: 紧急/urgent 3, 高/high 2, 中/medium 1, 普通/normal 0; "
        "higher means the child should be matched first.",
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
        "Age in years, 0 to 25 (10 or 10岁); blank if unknown.",
        ("年龄",),
    ),
)
"""The columns of the children roster, in canonical order."""

MENTOR_COLUMNS: tuple[Column, ...] = (
    _MENTOR_ID,
    *_PLACE,
    Column(
        "skills",
        False,
        "categories",
        (),
        "Need categories the mentor's skills and resources cover (same vocabulary as needs).",
        ("技能", "特长"),
    ),
    _INTERESTS,
    Column(
        "capacity",
        False,
        "int",
        1,
        "How many children the mentor can take, integer, 1 to 100 (2 or 2人).",
        ("容量", "可结对人数"),
    ),
    Column(
        "max_distance_km",
        False,
        "float",
        math.nan,
        "Farthest distance the mentor will travel, km, more than 0 up to 100 (3, 3公里, "
        "3 km, 500米); "
        "blank means the configured default.",
        ("最大距离",),
    ),
    Column(
        "active",
        False,
        "bool",
        True,
        "Whether the mentor takes part: 在岗/是/yes/true/1, or 离岗/暂停/否/no/false/0.",
        ("在岗", "状态", "在岗状态"),
    ),
    _GENDER,
)
"""The columns of the mentor roster, in canonical order."""

CRS_HEADERS: tuple[str, ...] = ("crs", "坐标系")
"""Headers of the optional per-record coordinate-system column.

Its cells hold wgs84, gcj02 or bd09 (any case; see
:func:`matching.geo.crs.normalize_crs`); a blank cell means the roster's
default (the ``crs`` keyword of validation).  Validation consumes it: the
output holds WGS-84 coordinates and no ``crs`` column.
"""


ADDRESS_HEADERS: tuple[str, ...] = ("address", "地址", "家庭住址", "住址", "居住地址", "现住址")
"""Headers of a roster's address column (stripped, lower-cased), for geocoding
(:data:`matching.geo.ADDRESS_ALIASES`) and for finding the header row of a file
whose records have addresses before coordinates."""


_BRACKETED_TAIL = re.compile(r"\s*[（(][^（）()]*[）)]\s*$")


def header_forms(label: object) -> tuple[str, ...]:
    """The forms a roster header is matched by: stripped and lower-cased, and, when it
    ends in a bracketed unit or note, the same without it (``年龄（岁）`` reads as
    ``年龄``, ``Capacity (persons)`` as ``capacity``).

    Examples
    --------
    >>> header_forms(" 年龄（岁） "), header_forms("ID")
    (('年龄（岁）', '年龄'), ('id',))
    """
    text = str(label).strip().lower()
    bare = _BRACKETED_TAIL.sub("", text)
    return (text, bare) if bare and bare != text else (text,)


def find_column(df: pd.DataFrame, headers: Sequence[str]) -> Any:
    """The first column label of ``df`` matching one of ``headers``, or None.

    Labels are compared after stripping whitespace and lower-casing, with or
    without a bracketed tail (:func:`header_forms`); pass
    ``headers`` in that form (for example ``("address", "地址")``).  Used on
    raw tables, before validation names their columns.

    Examples
    --------
    >>> import pandas as pd
    >>> find_column(pd.DataFrame(columns=["编号", " Address "]), ("address", "地址"))
    ' Address '
    >>> find_column(pd.DataFrame(columns=["id"]), ("lat", "纬度")) is None
    True
    """
    for label in df.columns:
        if any(form in headers for form in header_forms(label)):
            return label
    return None


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
        if code not in NEED_ORDER:
            raise InputError(
                f"needs_mask: row {row + 1} holds an unknown need code "
                f"(accepted: {', '.join(NEEDS)})"
            )
        mask |= 1 << NEED_ORDER[code]
    return mask
