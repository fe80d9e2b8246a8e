"""A staff-ready Excel workbook of a :class:`~matching.match.MatchResult`.

:func:`write_workbook` writes one ``.xlsx`` file with four sheets:

``pairs`` (配对名单)
    One row per pair: ids (and staff's own columns, such as names, with
    ``carry_columns``), distance, the cost terms, needs covered and
    uncovered, shared interests, streets and communities (社区), priority.
``unmatched`` (未配对儿童)
    One row per child left without a mentor, with the reason (in words, in
    the chosen language), the reason code and the detail.
``streets`` (街道统计)
    Per-street metrics (:func:`matching.reports.files.street_metrics`): pairing
    rate, need coverage, distances.
``summary`` (运行摘要)
    The run summary: counts, rates, distances, how costs are counted (in
    words, once), unmatched children by reason, the configuration and the
    library version (plus any ``extra`` rows).

Sheet names, headers, reasons, details and need categories are in Chinese or
English (``language``; None: the current language, see :mod:`matching.i18n`),
from the one catalogue (:func:`matching.reports.tables.header`,
:func:`matching.reports.tables.localise`).  Costs are shown in kilometres, with
their meaning explained on the summary sheet.

Safety
------
Text cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return are prefixed with ``'`` (:func:`matching.reports.files.neutralise`, the same
rule as the CSV files), so no cell of the workbook is ever a formula, whatever
the rosters hold.  Control characters that the xlsx format cannot store are
written as visible ``\\xNN`` escapes rather than dropped.  The file is written
atomically (rendered in memory, then a temporary file in the same directory
and ``os.replace``): a failed write leaves no partial file.

Requires openpyxl: ``pip install "mentor-matching[excel]"``.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching._engine.explain import REASONS, reason_text
from matching.i18n import LANGUAGES, current_language, use_language
from matching.i18n import gettext as _
from matching.match import MatchResult
from matching.reports.files import STREET_COLUMNS, neutralise, plain_scalar, street_metrics
from matching.reports.folders import write_bytes_atomic
from matching.reports.tables import (
    COST_UNIT,
    HEADER_TEXT,
    config_rows,
    header,
    list_text,
    localise,
    staff_tables,
)
from matching.rosters import PRIORITY_WORDS

__all__ = [
    "HEADERS",
    "LANGUAGES",
    "REASON_TEXT",
    "SHEETS",
    "add_sheet",
    "cell_value",
    "header",
    "localise",
    "sheets_bytes",
    "workbook_bytes",
    "write_workbook",
]

HEADERS: dict[str, tuple[str, str]] = {
    key: (_(text, "zh"), _(text, "en")) for key, text in HEADER_TEXT.items()
}
"""Column key -> (Chinese, English) header; also sheet names (``sheet_*``).  Read from
the catalogue (:data:`matching.reports.tables.HEADER_TEXT`); kept for earlier callers."""

SHEETS: tuple[str, ...] = ("pairs", "unmatched", "streets", "summary")
"""The sheets of the workbook, in order (keys; the names depend on the language)."""

REASON_TEXT: dict[str, tuple[str, str]] = {
    code: (_(text, "zh"), _(text, "en")) for code, text in REASONS.items()
}
"""Unmatched reason code -> (Chinese, English) text, read from the catalogue
(:func:`matching.reports.reason_text` gives one language); kept for earlier callers."""

_DECIMALS = 4
# shown as percentages (the stored value stays the fraction, e.g. 0.8125)
_RATES = (
    "pairing_rate",
    "needs_covered_share",
    "priority_pairing_rate",
    "needs_covered_share_all_children",
    "mentor_utilisation",
)
# colon and brackets of the summary's labels, per language
_PUNCTUATION = {"zh": ("：", "（", "）"), "en": (": ", " (", ")")}
# characters the xlsx XML cannot hold (openpyxl raises IllegalCharacterError)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f]")


def _summary_rows(result: MatchResult, extra: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """The summary sheet's rows (item, value), in the current language."""
    from matching._version import __version__

    m = result.metrics
    rows: list[tuple[str, Any]] = [(header("library_version"), __version__)]
    keys = [
        "n_children",
        "n_mentors",
        "n_mentors_active",
        "mentor_capacity",
        "n_pairs",
        "n_unmatched",
        "pairing_rate",
        "priority_children",
        "priority_pairing_rate",
        "distance_km_mean",
        "distance_km_median",
        "distance_km_p90",
        "needs_covered_share",
        "needs_covered_share_all_children",
        "mentors_used",
        "mentor_utilisation",
        "objective_km",
    ]
    for key in keys:
        if key in m:
            rows.append((header(key), m[key]))
    rows.append((header("cost_unit"), _(COST_UNIT)))
    colon, left, right = _PUNCTUATION[current_language()]
    reasons = header("unmatched_by_reason")
    for code, count in (m.get("unmatched_by_reason") or {}).items():
        rows.append((f"{reasons}{colon}{reason_text(code)}{left}{code}{right}", count))
    cfg = header("config")
    for label, value in config_rows(result.config):
        rows.append((f"{cfg}{colon}{label}", value))
    for key, value in (extra or {}).items():
        rows.append((str(key), value))
    return rows


def cell_value(value: Any) -> Any:
    """A value as openpyxl should store it: a number (rounded to 4 decimals), a
    boolean, formula-safe escaped text, or None (an empty cell, also for NaN).

    Text that a spreadsheet would read as a formula is prefixed with ``'``
    (:func:`matching.reports.neutralise`); control characters the xlsx format
    cannot store become visible ``\\xNN`` escapes; lists are joined.

    Examples
    --------
    >>> cell_value("=HYPERLINK(1)"), cell_value(float("nan")), cell_value(0.123456)
    ("'=HYPERLINK(1)", None, 0.1235)
    """
    if value is pd.NA or value is pd.NaT:
        return None
    value = plain_scalar(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, _DECIMALS) if math.isfinite(value) else None
    if isinstance(value, tuple | list | set | frozenset | np.ndarray):
        value = list_text(value, "en")
    elif isinstance(value, Mapping):
        value = "; ".join(f"{k}={v}" for k, v in value.items())
    text = _ILLEGAL.sub(lambda mt: f"\\x{ord(mt.group()):02x}", str(value))
    return neutralise(text)


def add_sheet(
    wb: Any,
    title: str,
    columns: list[str],
    rows: Iterable[Iterable[Any]],
    percent: Iterable[str] = (),
) -> None:
    """Add a sheet to the openpyxl workbook ``wb``: a bold, frozen header row, every
    cell through :func:`cell_value`, widths fitted to the text; cells whose column
    header or row label (first cell) is in ``percent`` are shown as percentages."""
    from openpyxl.styles import Font

    ws = wb.create_sheet(title=title)
    ws.append([cell_value(c) for c in columns])
    widths = [len(str(c)) for c in columns]
    pct = set(percent)
    pct_cols = [j for j, c in enumerate(columns) if c in pct]
    for row in rows:
        values = [cell_value(v) for v in row]
        ws.append(values)
        cells = ws[ws.max_row]
        targets = range(1, len(values)) if values and values[0] in pct else pct_cols
        for j in targets:
            if isinstance(values[j], float | int) and not isinstance(values[j], bool):
                cells[j].number_format = "0.0%"
        for j, v in enumerate(values[: len(widths)]):
            if v is not None:
                widths[j] = max(widths[j], min(len(str(v)), 60))
    bold = Font(bold=True)
    for cell in ws[1]:
        cell.font = bold
    ws.freeze_panes = "A2"
    from openpyxl.utils import get_column_letter

    factor = 2.0 if any(ord(ch) > 0x2E80 for c in columns for ch in str(c)) else 1.2
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(8 + w * factor, 80)


def _frame_rows(frame: pd.DataFrame) -> Iterable[list[Any]]:
    columns = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    for i in range(len(frame)):
        yield [col[i] for col in columns]


def _require_openpyxl() -> Any:
    try:
        from openpyxl import Workbook
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "writing Excel workbooks needs openpyxl: pip install 'mentor-matching[excel]'"
        ) from None
    return Workbook


def sheets_bytes(sheets: Mapping[str, pd.DataFrame], *, percent: Sequence[str] = ()) -> bytes:
    """The bytes of a workbook with one sheet per table, formatted as :func:`write_workbook`'s.

    For other staff workbooks (a nightly plan's, say): each table's headers and
    values are written as they are (put them into words first with
    :func:`localise` / :func:`header`), with a bold, frozen header row, the
    same formula-safe escaping and number formats; cells whose column header,
    or whose row's first cell, is in ``percent`` are shown as percentages.

    Parameters
    ----------
    sheets : mapping of str to DataFrame
        Sheet name (at most 31 characters) -> table, in order.
    percent : sequence of str, default ()
        Headers (or first-column labels) of values to show as percentages.

    Examples
    --------
    >>> import io, openpyxl, pandas as pd
    >>> data = sheets_bytes({"摘要": pd.DataFrame({"项目": ["配对率"], "数值": [0.5]})},
    ...                     percent=["配对率"])
    >>> ws = openpyxl.load_workbook(io.BytesIO(data))["摘要"]
    >>> ws["B2"].value, ws["B2"].number_format
    (0.5, '0.0%')
    """
    workbook = _require_openpyxl()()
    workbook.remove(workbook.active)
    for title, table in sheets.items():
        add_sheet(workbook, title, [str(c) for c in table.columns], _frame_rows(table), percent)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def workbook_bytes(
    result: MatchResult,
    *,
    language: str | None = None,
    extra: Mapping[str, Any] | None = None,
    children: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
    carry_columns: Sequence[str] = (),
    priority_labels: Mapping[int, str] | None = None,
) -> bytes:
    """The bytes of the workbook :func:`write_workbook` writes (nothing touches the disk)."""
    _require_openpyxl()
    if not isinstance(result, MatchResult):
        raise TypeError(f"result must be a MatchResult, got {type(result).__name__}")
    with use_language(language):
        staff = staff_tables(
            result, children=children, mentors=mentors, carry_columns=carry_columns,
            community=True,
        )  # fmt: skip
        cfg, labels = result.config, priority_labels
        if labels is None:  # the vocabulary's words (紧急 / 高 / 中 / 普通) for its levels
            labels = {level: _(word) for level, word in PRIORITY_WORDS.items()}
        tables = {
            "pairs": localise(staff["pairs"], config=cfg, priority_labels=labels),
            "unmatched": localise(staff["unmatched"], config=cfg, priority_labels=labels),
            "streets": localise(street_metrics(result)[STREET_COLUMNS]),
        }
        sheets = {header(f"sheet_{key}"): table for key, table in tables.items()}
        rows = _summary_rows(result, extra)  # object dtype: counts stay whole numbers
        summary = pd.DataFrame(rows, columns=[header("item"), header("value")], dtype=object)
        sheets[header("sheet_summary")] = summary
        return sheets_bytes(sheets, percent=[header(k) for k in _RATES])


def write_workbook(
    result: MatchResult,
    path: str | os.PathLike[str],
    *,
    language: str | None = None,
    extra: Mapping[str, Any] | None = None,
    children: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
    carry_columns: Sequence[str] = (),
    priority_labels: Mapping[int, str] | None = None,
) -> Path:
    """Write the staff workbook of ``result`` to ``path`` (``.xlsx``), atomically.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.
    path : str or os.PathLike
        The ``.xlsx`` file to write (replaced if it exists; its directory
        must exist).
    language : {"zh", "en"}, optional
        Language of sheet names, headers, reasons, details and need
        categories (None: the current language, see :mod:`matching.i18n`).
    extra : mapping, optional
        More rows for the summary sheet (item -> value), e.g. input file names.
    children, mentors : DataFrame, optional
        The validated rosters the result was matched from (as
        :func:`matching.read_children` returns them): with them the pairs
        and unmatched sheets show each child's and mentor's community (社区).
    carry_columns : sequence of str, default ()
        Staff's own roster columns (names, phone numbers) shown beside each
        id, headed ``儿童<column>`` / ``爱心妈妈<column>`` (``child <column>`` /
        ``mentor <column>`` in English); needs ``children`` and ``mentors``.
        A column one roster lacks is left out for that roster; one neither
        has is an :class:`~matching.errors.InputError`.
    priority_labels : mapping of int to str, optional
        A word for each priority level (such as ``{0: "普通", 2: "高"}``);
        by default the words of the rosters' vocabulary for its levels
        (:data:`matching.rosters.PRIORITY_WORDS`: 普通 0, 中 1, 高 2, 紧急 3);
        other levels are shown as their number.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        ``language`` is not ``"zh"`` or ``"en"``, or ``carry_columns``
        without the rosters.
    InputError
        A carried column that neither roster has.
    ImportError
        openpyxl is not installed (``pip install "mentor-matching[excel]"``).

    Notes
    -----
    See the module docstring for the sheets and the formula-safe escaping.
    The workbook is rendered in memory first, so a problem with the data
    leaves ``path`` untouched.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> result = match(*district(40, 30, seed=2))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = write_workbook(result, f"{tmp}/report.xlsx", language="en")
    ...     openpyxl.load_workbook(p).sheetnames
    ['pairs', 'unmatched', 'streets', 'summary']
    """
    data = workbook_bytes(
        result, language=language, extra=extra, children=children, mentors=mentors,
        carry_columns=carry_columns, priority_labels=priority_labels,
    )  # fmt: skip
    return write_bytes_atomic(path, data)
