"""Write a :class:`~matching.match.MatchResult` to disk: two CSV tables and a JSON summary.

:func:`write_result` writes three files into an output folder, together:

``pairs.csv``
    One row per pair, columns as :data:`matching.match.PAIR_COLUMNS`.
``unmatched.csv``
    One row per child left without a mentor, columns as
    :data:`matching.match.UNMATCHED_COLUMNS`.
``summary.json``
    ``{"library_version", "metrics", "config", ...extra}``.

Languages
---------
The two CSV files are for staff and follow ``language`` (None: the current
language, see :mod:`matching.i18n`).  In English their headers are the
column keys (``child_id``, ...), reasons are codes and details English, as
in the result itself, so scripts reading them keep working.  In Chinese
the headers, need categories, reasons (in words, the code in a column of
its own) and details are Chinese (:func:`matching.reports.tables.localise`) and
lists are joined with ``、``.  ``summary.json`` is for programs: its keys
and values are always the canonical ones (English keys, reason codes),
whatever the language.  Staff's own roster columns (``carry_columns``, such
as names) go into the CSV files only, never into ``summary.json``.

File conventions
----------------
- CSV files are UTF-8 with a byte-order mark (so Excel shows Chinese text
  correctly), ``\\n`` line endings, a header row and a fixed column order.
- Tuples (need codes, interest tags) are joined with ``";"``; an empty tuple
  is an empty cell.  Missing numbers are empty cells.
- Floats of the result tables are written with exactly 4 decimals
  (``0.5189``); floats of rosters (:func:`write_csv` with ``decimals=None``)
  with the shortest text that reads back as the same number.
- Text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return are prefixed with a single quote ``'`` so a spreadsheet does not
  run them as formulas (CSV injection).  Numbers are never prefixed.
- The folder is written whole or not at all
  (:func:`~matching.reports.folders.staged_folder`), and a single file atomically
  (:func:`~matching.reports.folders.write_bytes_atomic`).
- The output holds no timestamps or timings: the same result always gives
  byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching._engine.explain import reason_text
from matching.i18n import gettext as _
from matching.i18n import use_language
from matching.match import MatchResult
from matching.reports.folders import staged_folder, write_bytes_atomic

__all__ = [
    "FILES",
    "OUTPUT_FILES",
    "RESULT_DECIMALS",
    "STREET_COLUMNS",
    "neutralise",
    "plain_scalar",
    "result_csv_bytes",
    "street_metrics",
    "summary_lines",
    "to_csv_bytes",
    "write_csv",
    "write_result",
]

FILES: tuple[str, ...] = ("pairs.csv", "unmatched.csv", "summary.json")
"""The files written by :func:`write_result`, in writing order."""

RESULT_DECIMALS = 4
"""Decimals of every float column in ``pairs.csv`` and ``unmatched.csv``."""

OUTPUT_FILES: tuple[str, ...] = (*FILES, "report.xlsx")
"""The names ``matching match`` writes: a folder holding only these may be replaced."""

_RESERVED_KEYS = frozenset({"library_version", "metrics", "config"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LIST_SEPARATOR = ";"
_NEEDS_QUOTES = frozenset(',"\r\n')


# ----------------------------------------------------------------------------------------------
# cells


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would read as a formula.

    Examples
    --------
    >>> neutralise('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("-2"), neutralise("C001")
    ("'-2", 'C001')
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _float_text(value: float, decimals: int | None) -> str:
    if math.isnan(value):
        return ""
    if decimals is None:
        return repr(value + 0.0)  # shortest round-trip text; -0.0 becomes 0.0
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and not text.strip("-0."):  # "-0.0000" -> "0.0000"
        text = text[1:]
    return text


def _cell(value: Any, decimals: int | None) -> str:
    """Text of one cell (see the module docstring for the conventions)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _float_text(float(value), decimals)
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, tuple | list | np.ndarray):
        return neutralise(_LIST_SEPARATOR.join(str(v) for v in value))
    if isinstance(value, set | frozenset):
        return neutralise(_LIST_SEPARATOR.join(sorted(str(v) for v in value)))
    return neutralise(str(value))


def _field(text: str) -> str:
    """One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF."""
    if any(ch in text for ch in _NEEDS_QUOTES):
        return '"' + text.replace('"', '""') + '"'
    return text


def _column_cells(series: pd.Series, decimals: int | None) -> list[str]:
    dtype = series.dtype
    kind = dtype.kind if isinstance(dtype, np.dtype) else "O"
    if kind == "b":
        return ["True" if v else "False" for v in series.to_numpy().tolist()]
    if kind == "f":
        return [_float_text(v, decimals) for v in series.to_numpy(dtype=np.float64).tolist()]
    if kind in "iu":
        return [str(v) for v in series.to_numpy().tolist()]
    return [_cell(v, decimals) for v in series.to_numpy(dtype=object)]


def to_csv_bytes(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    decimals: int | None = None,
) -> bytes:
    """Render ``frame`` as CSV bytes with the conventions of this module.

    Parameters
    ----------
    frame : DataFrame
        The table; its index is not written.
    columns : sequence of str, optional
        Columns to write first, in this order (each must exist); the frame's
        other columns follow in their own order.  By default the frame's order.
    decimals : int, optional
        Write every float with exactly this many decimals; by default the
        shortest text that reads back as the same float.
    """
    order = list(frame.columns)
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"columns not in the frame: {', '.join(map(str, missing))}")
        first = list(columns)
        order = first + [c for c in order if c not in set(first)]
    cells = [_column_cells(frame[c], decimals) for c in order]
    lines = [",".join(_field(neutralise(str(c))) for c in order)]
    lines.extend(",".join(map(_field, row)) for row in zip(*cells, strict=True))
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


# ----------------------------------------------------------------------------------------------
# writing a result


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    decimals: int | None = None,
) -> Path:
    """Write ``frame`` as CSV to ``path`` atomically (see :func:`to_csv_bytes`)."""
    return write_bytes_atomic(path, to_csv_bytes(frame, columns=columns, decimals=decimals))


def plain_scalar(value: Any) -> Any:
    """A numpy or Python number as a plain Python one; a NaN or infinite float as None.

    Anything that is not a number is returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> plain_scalar(np.int64(3)), plain_scalar(np.float32(0.5)), plain_scalar(float("nan"))
    (3, 0.5, None)
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars to Python, non-finite floats to null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [_jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, Path):
        return str(value)
    value = plain_scalar(value)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise TypeError(f"summary value of type {type(value).__name__} is not JSON-serialisable")


def _summary_bytes(result: MatchResult, extra: Mapping[str, Any] | None) -> bytes:
    from matching._version import __version__

    data: dict[str, Any] = {
        "library_version": __version__,
        "metrics": result.metrics,
        "config": result.config.to_dict(),
    }
    if extra:
        clash = sorted(_RESERVED_KEYS & set(extra))
        if clash:
            raise ValueError(f"extra must not set the reserved key(s) {', '.join(clash)}")
        data.update(extra)
    text = json.dumps(
        _jsonable(data), sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def result_csv_bytes(
    result: MatchResult,
    *,
    language: str | None = None,
    children: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
    carry_columns: Sequence[str] = (),
) -> dict[str, bytes]:
    """The bytes of ``pairs.csv`` and ``unmatched.csv`` (see :func:`write_result`).

    Returns ``{"pairs": bytes, "unmatched": bytes}``; nothing touches the disk.
    """
    from matching.reports.tables import localise, staff_tables

    with use_language(language) as lang:
        tables = staff_tables(
            result, children=children, mentors=mentors, carry_columns=carry_columns
        )
        if lang != "en":  # English keeps the result's own columns and values
            tables = {key: localise(t, config=result.config) for key, t in tables.items()}
        return {key: to_csv_bytes(t, decimals=RESULT_DECIMALS) for key, t in tables.items()}


def write_result(
    result: MatchResult,
    out_dir: str | os.PathLike[str],
    *,
    extra: dict[str, Any] | None = None,
    replace_folder: bool = True,
    language: str | None = None,
    children: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
    carry_columns: Sequence[str] = (),
) -> dict[str, Path]:
    """Write ``pairs.csv``, ``unmatched.csv`` and ``summary.json`` into ``out_dir``.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.
    out_dir : str or os.PathLike
        Output folder, created (with its parents) if needed.
    extra : dict, optional
        More top-level keys for ``summary.json`` (JSON-able; must not be
        ``library_version``, ``metrics`` or ``config``).
    replace_folder : bool, default True
        True: the three files appear together or not at all.  They are written
        into a staging folder that then replaces ``out_dir`` as a whole
        (:func:`~matching.reports.folders.staged_folder` with ``owned=OUTPUT_FILES``): an existing
        ``out_dir`` may hold only :data:`OUTPUT_FILES` (a ``report.xlsx`` of
        an earlier run is dropped with the rest), otherwise :class:`InputError`.
        False: each file is replaced atomically on its own inside ``out_dir``,
        whatever else the folder holds (for a folder shared with other files,
        such as the demo's or a staging folder); a failure between files can
        leave old and new files side by side.
    language : {"zh", "en"}, optional
        Language of the CSV files (None: the current language); see the
        module docstring.  ``summary.json`` is the same in every language.
    children, mentors : DataFrame, optional
        The validated rosters the result was matched from; needed for
        ``carry_columns``.
    carry_columns : sequence of str, default ()
        Staff's own roster columns (names, phone numbers) to write beside
        each child's and mentor's id in the CSV files (a column one roster
        lacks is left out for that roster; a column neither has is an
        :class:`InputError`).  Never written into ``summary.json``.

    Returns
    -------
    dict
        ``{"pairs": Path, "unmatched": Path, "summary": Path}``, the final paths.

    Raises
    ------
    InputError
        With ``replace_folder=True``: ``out_dir`` holds other entries, is not
        a folder, or is the current folder (see :func:`~matching.reports.folders.staged_folder`).

    Notes
    -----
    All three files are rendered before anything is written, so a problem
    with the data leaves the folder untouched.  With ``replace_folder=True``
    a failed or killed run leaves the previous folder byte-identical, and the
    next run removes its leftovers.  See the module docstring for the formats.
    """
    if not isinstance(result, MatchResult):
        raise TypeError(f"result must be a MatchResult, got {type(result).__name__}")
    tables = result_csv_bytes(
        result, language=language, children=children, mentors=mentors,
        carry_columns=carry_columns,
    )  # fmt: skip
    contents = {**tables, "summary": _summary_bytes(result, extra)}
    directory = Path(out_dir)
    if not replace_folder:
        directory.mkdir(parents=True, exist_ok=True)
        return {
            key: write_bytes_atomic(directory / name, data)
            for (key, data), name in zip(contents.items(), FILES, strict=True)
        }
    folder = staged_folder(directory, owned=OUTPUT_FILES)
    with folder as stage:
        paths = {
            key: folder.final(write_bytes_atomic(stage / name, data))
            for (key, data), name in zip(contents.items(), FILES, strict=True)
        }
    return paths


# ----------------------------------------------------------------------------------------------
# per-street metrics


STREET_COLUMNS: list[str] = [
    "street",
    "children",
    "paired",
    "unmatched",
    "pairing_rate",
    "priority_children",
    "priority_paired",
    "needs",
    "needs_covered",
    "needs_covered_share",
    "distance_km_mean",
    "distance_km_median",
]
"""Columns of :func:`street_metrics`, in order."""


def street_metrics(result: MatchResult) -> pd.DataFrame:
    """Per-street metrics of a result: pairing rate, need coverage and distances.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.

    Returns
    -------
    DataFrame
        One row per street of the children's roster (sorted by street; the
        empty street ``""`` is a street of its own), columns
        :data:`STREET_COLUMNS`: ``children``, ``paired``, ``unmatched``,
        ``pairing_rate`` (paired / children), ``priority_children`` and
        ``priority_paired``, ``needs`` (the need categories of the *paired*
        children), ``needs_covered`` (of those, how many the mentor's skills
        cover), ``needs_covered_share`` (covered / needs; 0 when there are no
        needs, the same definition as ``metrics["needs_covered_share"]``),
        and the mean and median pair distance in km (NaN for a street without
        pairs).  Streets are the *child's* street.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> kids, moms = district(60, 40, seed=1)
    >>> table = street_metrics(match(kids, moms))
    >>> int(table["children"].sum()), bool((table["pairing_rate"] <= 1).all())
    (60, True)
    """
    pairs, unmatched = result.pairs, result.unmatched
    by_street = result.metrics["pairing_rate_by_street"]
    streets = sorted(by_street)
    pstreet = pairs["child_street"].astype(str).to_numpy(dtype=object)
    ustreet = unmatched["street"].astype(str).to_numpy(dtype=object)
    n_cov = np.fromiter((len(t) for t in pairs["needs_covered"]), np.int64, len(pairs))
    n_unc = np.fromiter((len(t) for t in pairs["needs_uncovered"]), np.int64, len(pairs))
    dist = pairs["distance_km"].to_numpy(dtype=np.float64)
    pprio = pairs["child_priority"].to_numpy(dtype=np.int64) > 0
    uprio = unmatched["priority"].to_numpy(dtype=np.int64) > 0
    rows = []
    for s in streets:
        sel = pstreet == s
        usel = ustreet == s
        needs = int(n_cov[sel].sum() + n_unc[sel].sum())
        covered = int(n_cov[sel].sum())
        d = dist[sel]
        rows.append(
            {
                "street": s,
                "children": int(by_street[s]["children"]),
                "paired": int(by_street[s]["paired"]),
                "unmatched": int(usel.sum()),
                "pairing_rate": float(by_street[s]["pairing_rate"]),
                "priority_children": int(pprio[sel].sum() + uprio[usel].sum()),
                "priority_paired": int(pprio[sel].sum()),
                "needs": needs,
                "needs_covered": covered,
                "needs_covered_share": covered / needs if needs else 0.0,
                "distance_km_mean": float(d.mean()) if d.size else math.nan,
                "distance_km_median": float(np.median(d)) if d.size else math.nan,
            }
        )
    frame = pd.DataFrame(rows, columns=STREET_COLUMNS)
    for col in ("children", "paired", "unmatched", "priority_children", "priority_paired"):
        frame[col] = frame[col].astype(np.int64)
    for col in ("needs", "needs_covered"):
        frame[col] = frame[col].astype(np.int64)
    return frame


def summary_lines(result: MatchResult, *, language: str | None = None) -> list[str]:
    """A few lines for a terminal, in ``language``: counts, rates and distances (ids only).

    The English lines are those of :meth:`MatchResult.summary`.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> result = match(*district(60, 40, seed=1))
    >>> summary_lines(result, language="en")[0]
    'children: 60  mentors (active): 37  capacity: 43'
    >>> summary_lines(result, language="zh")[0]
    '儿童：60  在岗爱心妈妈：37  可结对名额：43'
    """
    m = result.metrics
    with use_language(language) as lang:
        lines = [
            _("children: {children}  mentors (active): {mentors}  capacity: {capacity}").format(
                children=m["n_children"], mentors=m["n_mentors_active"],
                capacity=m["mentor_capacity"],
            ),
            _(
                "paired: {pairs} ({rate})  unmatched: {unmatched}  priority paired: {priority}"
            ).format(
                pairs=m["n_pairs"], rate=f"{m['pairing_rate']:.1%}", unmatched=m["n_unmatched"],
                priority=f"{m['priority_pairing_rate']:.1%}",
            ),
            _("distance km: mean {mean}  median {median}  p90 {p90}").format(
                mean=f"{m['distance_km_mean']:.2f}", median=f"{m['distance_km_median']:.2f}",
                p90=f"{m['distance_km_p90']:.2f}",
            ),
            _(
                "needs covered: {needs}  mentor utilisation: {used}  objective: {cost} km-eq"
            ).format(
                needs=f"{m['needs_covered_share']:.1%}", used=f"{m['mentor_utilisation']:.1%}",
                cost=f"{m['objective_km']:.3f}",
            ),
        ]  # fmt: skip
        if m["unmatched_by_reason"]:
            # English names each reason by its code, as the result does; other languages in words
            reasons = (", " if lang == "en" else "；").join(
                _("{reason} {count}").format(
                    reason=code if lang == "en" else reason_text(code), count=count
                )
                for code, count in m["unmatched_by_reason"].items()
            )
            lines.append(_("unmatched by reason: {reasons}").format(reasons=reasons))
        return lines
