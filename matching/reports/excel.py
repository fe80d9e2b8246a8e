"""A staff-ready Excel workbook of a :class:`~matching.match.MatchResult`.

:func:`write_workbook` writes one ``.xlsx`` file with four sheets:

``pairs`` (配对名单)
    One row per pair: ids, distance, the cost terms, needs covered and
    uncovered, shared interests, streets, priority.
``unmatched`` (未匹配儿童)
    One row per child left without a mentor, with the reason (in words, in
    the chosen language), the reason code and the detail.
``streets`` (街道统计)
    Per-street metrics (:func:`matching.reports.files.street_metrics`): pairing
    rate, need coverage, distances.
``summary`` (运行摘要)
    The run summary: counts, rates, distances, unmatched children by reason,
    the configuration and the library version (plus any ``extra`` rows).

Headers, sheet names, reason texts and need categories are in Chinese
(``language="zh"``, the default) or English (``language="en"``), from one
table, :data:`HEADERS`; :func:`localise` applies it to any result table (for
a CSV with Chinese headers, say).

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
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from matching.errors import ConfigError
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS, MatchResult
from matching.reports.files import STREET_COLUMNS, neutralise, plain_scalar, street_metrics
from matching.reports.folders import write_bytes_atomic
from matching.rosters import NEED_LABELS_ZH

__all__ = [
    "HEADERS",
    "LANGUAGES",
    "REASON_TEXT",
    "SHEETS",
    "header",
    "localise",
    "workbook_bytes",
    "write_workbook",
]

Language = Literal["zh", "en"]
LANGUAGES: tuple[str, ...] = ("zh", "en")
"""The languages of headers and labels."""

HEADERS: dict[str, tuple[str, str]] = {
    # pairs
    "child_id": ("儿童编号", "Child ID"),
    "mentor_id": ("爱心妈妈编号", "Mentor ID"),
    "distance_km": ("距离(公里)", "Distance (km)"),
    "need_penalty_km": ("需求未覆盖扣分(公里当量)", "Uncovered-need penalty (km-eq)"),
    "interest_bonus_km": ("共同兴趣加分(公里当量)", "Shared-interest bonus (km-eq)"),
    "cost_km": ("总成本(公里当量)", "Total cost (km-eq)"),
    "needs_covered": ("已覆盖需求", "Needs covered"),
    "needs_uncovered": ("未覆盖需求", "Needs not covered"),
    "shared_interests": ("共同兴趣", "Shared interests"),
    "child_street": ("儿童所在街道", "Child's street"),
    "mentor_street": ("爱心妈妈所在街道", "Mentor's street"),
    "child_priority": ("优先级", "Priority"),
    # unmatched
    "street": ("街道", "Street"),
    "priority": ("优先级", "Priority"),
    "reason": ("未匹配原因", "Reason"),
    "reason_code": ("原因代码", "Reason code"),
    "detail": ("说明", "Detail"),
    "mentors_in_reach": ("范围内爱心妈妈数", "Mentors within reach"),
    "mentors_allowed": ("规则允许的爱心妈妈数", "Mentors allowed by the rules"),
    "unmatched_price_km": ("未匹配代价(公里当量)", "Unmatched price (km-eq)"),
    # streets
    "children": ("儿童数", "Children"),
    "paired": ("已配对", "Paired"),
    "unmatched": ("未配对", "Unmatched"),
    "pairing_rate": ("配对率", "Pairing rate"),
    "priority_children": ("优先儿童数", "Priority children"),
    "priority_paired": ("优先儿童已配对", "Priority children paired"),
    "needs": ("已配对儿童需求数", "Needs of paired children"),
    "needs_covered_count": ("已覆盖需求数", "Needs covered"),
    "needs_covered_share": ("需求覆盖率", "Need coverage"),
    "distance_km_mean": ("平均距离(公里)", "Mean distance (km)"),
    "distance_km_median": ("距离中位数(公里)", "Median distance (km)"),
    # summary
    "item": ("项目", "Item"),
    "value": ("数值", "Value"),
    "library_version": ("程序版本", "Library version"),
    "n_children": ("儿童总数", "Children"),
    "n_mentors": ("爱心妈妈总数", "Mentors"),
    "n_mentors_active": ("在岗爱心妈妈", "Active mentors"),
    "mentor_capacity": ("可结对名额", "Mentor capacity"),
    "n_pairs": ("配对数", "Pairs"),
    "n_unmatched": ("未配对儿童", "Children unmatched"),
    "priority_pairing_rate": ("优先儿童配对率", "Priority pairing rate"),
    "distance_km_p90": ("距离90分位(公里)", "Distance 90th percentile (km)"),
    "needs_covered_share_all_children": ("需求覆盖率(全部儿童)", "Need coverage (all children)"),
    "mentors_used": ("已结对爱心妈妈", "Mentors used"),
    "mentor_utilisation": ("名额使用率", "Mentor utilisation"),
    "objective_km": ("目标值(公里当量)", "Objective (km-eq)"),
    "unmatched_by_reason": ("未配对原因", "Unmatched by reason"),
    "config": ("配置", "Configuration"),
    # sheets
    "sheet_pairs": ("配对名单", "pairs"),
    "sheet_unmatched": ("未匹配儿童", "unmatched"),
    "sheet_streets": ("街道统计", "streets"),
    "sheet_summary": ("运行摘要", "summary"),
}
"""Column key -> (Chinese, English) header; also sheet names (``sheet_*``)."""

SHEETS: tuple[str, ...] = ("pairs", "unmatched", "streets", "summary")
"""The sheets of the workbook, in order (keys; the names depend on the language)."""

REASON_TEXT: dict[str, tuple[str, str]] = {
    "no_mentor_in_reach": (
        "距离上限内没有在岗的爱心妈妈",
        "no active mentor within the distance limit",
    ),
    "forbidden_by_rule": (
        "范围内的爱心妈妈均被规则排除",
        "every mentor within reach is excluded by a rule",
    ),
    "mentors_taken": ("范围内可选的爱心妈妈名额已满", "every allowed mentor within reach is full"),
    "cheaper_unmatched": (
        "范围内空闲的爱心妈妈成本均高于未匹配代价",
        "every free mentor within reach costs more than the unmatched price",
    ),
}
"""Unmatched reason code -> (Chinese, English) text."""

_DECIMALS = 4
# shown as percentages (the stored value stays the fraction, e.g. 0.8125)
_RATES = (
    "pairing_rate",
    "needs_covered_share",
    "priority_pairing_rate",
    "needs_covered_share_all_children",
    "mentor_utilisation",
)
_LIST_SEP = {"zh": "、", "en": "; "}
# characters the xlsx XML cannot hold (openpyxl raises IllegalCharacterError)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f]")


def _check_language(language: str) -> Language:
    if language not in LANGUAGES:
        raise ConfigError(
            f"The 'language' parameter must be 'zh' or 'en', got {language!r} instead."
        )
    return language  # type: ignore[return-value]


def header(key: str, language: str = "zh") -> str:
    """The header of column ``key`` in ``language`` (the key itself if unknown).

    Examples
    --------
    >>> header("child_id"), header("child_id", "en"), header("other")
    ('儿童编号', 'Child ID', 'other')
    """
    lang = _check_language(language)
    pair = HEADERS.get(key)
    return key if pair is None else pair[0 if lang == "zh" else 1]


def _need_text(codes: Iterable[Any], language: Language) -> str:
    if language == "zh":
        return _LIST_SEP["zh"].join(NEED_LABELS_ZH.get(str(c), str(c)) for c in codes)
    return _LIST_SEP["en"].join(str(c) for c in codes)


def _list_text(values: Any, language: Language) -> str:
    if isinstance(values, tuple | list | np.ndarray):
        return _LIST_SEP[language].join(str(v) for v in values)
    if isinstance(values, set | frozenset):
        return _LIST_SEP[language].join(sorted(str(v) for v in values))
    return "" if values is None else str(values)


def localise(frame: pd.DataFrame, language: str = "zh") -> pd.DataFrame:
    """A copy of a result table with headers, need categories and reasons in ``language``.

    Need-code columns (``needs_covered``, ``needs_uncovered``) become text
    (Chinese labels in ``"zh"``), other tuple columns are joined; a
    ``reason`` column becomes the reason in words and its code moves to a
    ``reason_code`` column just after it.  Values are not escaped here (the
    writers do that).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"child_id": ["C1"], "needs_uncovered": [("life_care",)],
    ...                   "reason": ["mentors_taken"]})
    >>> localise(t).columns.tolist()
    ['儿童编号', '未覆盖需求', '未匹配原因', '原因代码']
    >>> localise(t).iloc[0, 1], localise(t, "en").iloc[0, 1]
    ('生活关爱', 'life_care')
    """
    lang = _check_language(language)
    out = frame.copy()
    for col in ("needs_covered", "needs_uncovered"):
        if col in out.columns and out[col].dtype == object:
            out[col] = [_need_text(v, lang) for v in out[col].to_numpy(dtype=object)]
    for col in out.columns:
        if out[col].dtype == object and col not in ("needs_covered", "needs_uncovered"):
            values = out[col].to_numpy(dtype=object)
            if any(isinstance(v, tuple | list | set | frozenset | np.ndarray) for v in values):
                out[col] = [_list_text(v, lang) for v in values]
    if "reason" in out.columns:
        codes = out["reason"].astype(str).to_numpy(dtype=object)
        pos = list(out.columns).index("reason")
        i = 0 if lang == "zh" else 1
        out["reason"] = [REASON_TEXT[c][i] if c in REASON_TEXT else c for c in codes]
        out.insert(pos + 1, "reason_code", codes)
    rename = {c: header(str(c), lang) for c in out.columns}
    if "needs_covered" in rename and "needs" in out.columns:  # street table: counts
        rename["needs_covered"] = header("needs_covered_count", lang)
    return out.rename(columns=rename)


def _summary_rows(
    result: MatchResult, language: Language, extra: Mapping[str, Any] | None
) -> list[tuple[str, Any]]:
    from matching._version import __version__

    m = result.metrics
    rows: list[tuple[str, Any]] = [(header("library_version", language), __version__)]
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
            rows.append((header(key, language), m[key]))
    i = 0 if language == "zh" else 1
    reasons = header("unmatched_by_reason", language)
    for code, count in (m.get("unmatched_by_reason") or {}).items():
        text = REASON_TEXT[code][i] if code in REASON_TEXT else code
        rows.append((f"{reasons}: {text} ({code})", count))
    cfg = header("config", language)
    for key, value in sorted(result.config.to_dict().items()):
        rows.append((f"{cfg}: {key}", value))
    for key, value in (extra or {}).items():
        rows.append((str(key), value))
    return rows


def _cell_value(value: Any) -> Any:
    """A value openpyxl stores as a number, a boolean, text (escaped) or an empty cell."""
    if value is pd.NA or value is pd.NaT:
        return None
    value = plain_scalar(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, _DECIMALS)
    if isinstance(value, tuple | list | set | frozenset | np.ndarray):
        value = _list_text(value, "en")
    elif isinstance(value, Mapping):
        value = "; ".join(f"{k}={v}" for k, v in value.items())
    text = _ILLEGAL.sub(lambda mt: f"\\x{ord(mt.group()):02x}", str(value))
    return neutralise(text)


def _add_sheet(
    wb: Any,
    title: str,
    columns: list[str],
    rows: Iterable[Iterable[Any]],
    percent: Iterable[str] = (),
) -> None:
    """A sheet with a bold, frozen header row; cells whose column header or row
    label (first cell) is in ``percent`` are shown as percentages."""
    from openpyxl.styles import Font

    ws = wb.create_sheet(title=title)
    ws.append([_cell_value(c) for c in columns])
    widths = [len(str(c)) for c in columns]
    pct = set(percent)
    pct_cols = [j for j, c in enumerate(columns) if c in pct]
    for row in rows:
        values = [_cell_value(v) for v in row]
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


def workbook_bytes(
    result: MatchResult,
    *,
    language: str = "zh",
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The bytes of the workbook :func:`write_workbook` writes (nothing touches the disk)."""
    try:
        from openpyxl import Workbook
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "writing Excel workbooks needs openpyxl: pip install 'mentor-matching[excel]'"
        ) from None
    if not isinstance(result, MatchResult):
        raise TypeError(f"result must be a MatchResult, got {type(result).__name__}")
    lang = _check_language(language)
    tables = {
        "pairs": localise(result.pairs[PAIR_COLUMNS], lang),
        "unmatched": localise(result.unmatched[UNMATCHED_COLUMNS], lang),
        "streets": localise(street_metrics(result)[STREET_COLUMNS], lang),
    }
    wb = Workbook()
    wb.remove(wb.active)
    percent = [header(k, lang) for k in _RATES]
    for key, table in tables.items():
        title = header(f"sheet_{key}", lang)
        _add_sheet(wb, title, list(table.columns), _frame_rows(table), percent)
    _add_sheet(
        wb,
        header("sheet_summary", lang),
        [header("item", lang), header("value", lang)],
        _summary_rows(result, lang, extra),
        percent,
    )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def write_workbook(
    result: MatchResult,
    path: str | os.PathLike[str],
    *,
    language: str = "zh",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write the staff workbook of ``result`` to ``path`` (``.xlsx``), atomically.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.
    path : str or os.PathLike
        The ``.xlsx`` file to write (replaced if it exists; its directory
        must exist).
    language : {"zh", "en"}, default "zh"
        Language of sheet names, headers, reasons and need categories.
    extra : mapping, optional
        More rows for the summary sheet (item -> value), e.g. input file names.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        ``language`` is not ``"zh"`` or ``"en"``.
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
    data = workbook_bytes(result, language=language, extra=extra)
    return write_bytes_atomic(path, data)
