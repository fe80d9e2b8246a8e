"""A night's plan folder: its files rendered to bytes, and the folder published whole.

The files are rendered once, in canonical form, and stored with the run (so
that ``matching plan`` can write any committed run's plan again); they are
published only after the commit.

*Canonical and published.*  The store keeps one rendering of a plan, the
same in every language: CSV headers are column keys (``child_id``), reasons
are codes (``mentors_taken``), ``plan.json`` holds counts and metrics, and
no roster cell is in it.  Publishing (:func:`published_plan`) applies a
language and staff's options to it:

- Chinese: the CSV files get Chinese headers, reasons and details in words
  (the code kept in a ``reason_code`` column);
- English: the CSV files stay canonical (their headers are the column keys
  scripts read);
- ``plan.json`` gains ``language`` and ``summary_text``, what the night did
  in plain sentences (:func:`matching.programme.plan_text.plan_summary_lines`);
- with ``xlsx``, ``plan.xlsx``: the summary sheet and one sheet per table, in
  words;
- with ``carried`` columns (names, phone numbers), those columns go into the
  CSV files and the workbook beside each id, never into ``plan.json``.

So ``matching plan --run N`` can write a night committed in Chinese again in
English, and the same run, language and options give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from matching.errors import InputError
from matching.i18n import gettext as _
from matching.i18n import use_language
from matching.programme.plan_text import (
    PLAN_SHEETS,
    localise_table,
    plan_summary_lines,
    plan_tables,
    reason_counts,
    waiting_detail,
)
from matching.programme.rematch import RematchPlan
from matching.reports import staged_folder, to_csv_bytes

__all__ = ["PLAN_FILES", "publish_plan", "published_plan"]

_WAITING = ["child_id", "reason", "detail", "mentors_in_reach", "mentors_allowed"]

PLAN_FILES = (
    "plan.json",
    "plan_new_pairs.csv",
    "plan_ended_pairs.csv",
    "plan_moved_pairs.csv",
    "plan_waiting.csv",
    "plan_ignored_rows.csv",
    "plan_duplicate_events.csv",
    "geocode_failures.csv",
    "plan.xlsx",
)
"""Every file a plan folder may hold (``geocode_failures.csv`` only with a geocoder,
``plan.xlsx`` only when asked for; neither ``plan.xlsx`` is stored)."""


def render_plan(
    plan: RematchPlan,
    *,
    ended: Mapping[tuple[str, str], tuple[str, str, str]],
    counts: Mapping[str, int],
    ignored: pd.DataFrame,
    duplicates: Sequence[Mapping[str, object]],
    geo_failures: Mapping[str, pd.DataFrame] | None,
    summary: Mapping[str, Any],
) -> dict[str, bytes]:
    """A night's plan folder, file name -> bytes (deterministic for the same run).

    ``ended`` is every pair that ends, with (reason, approved_by, ended_on);
    ``ignored`` the roster rows set aside and ``duplicates`` the events
    already applied; ``geo_failures`` the records that could not be
    geocoded (None without a geocoder: no such file); ``summary`` goes into
    ``plan.json`` with the counts, the plan's metrics, the ended pairs and
    waiting children counted by reason, and the version.  The files are
    canonical (see the module's documentation): the same in every language.
    """
    from matching._version import __version__

    ended_df = pd.DataFrame(
        [(c, m, r, a, on) for (c, m), (r, a, on) in sorted(ended.items())],
        columns=["child_id", "mentor_id", "reason", "approved_by", "ended_on"],
    )
    duplicate_df = pd.DataFrame(
        list(duplicates), columns=["number", "kind", "child_id", "mentor_id", "date"]
    )
    files = {
        "plan_new_pairs.csv": to_csv_bytes(plan.new_pairs, decimals=4),
        "plan_ended_pairs.csv": to_csv_bytes(ended_df),
        "plan_moved_pairs.csv": to_csv_bytes(plan.moved, decimals=4),
        "plan_waiting.csv": to_csv_bytes(_canonical_waiting(plan.waiting)),
        "plan_ignored_rows.csv": to_csv_bytes(ignored),
        "plan_duplicate_events.csv": to_csv_bytes(duplicate_df),
    }
    if geo_failures is not None:
        cols = ["roster", "id", "reason", "detail"]
        failed = geo_failures.values()
        table = pd.concat([pd.DataFrame(columns=cols), *failed], ignore_index=True)
        files["geocode_failures.csv"] = to_csv_bytes(table)
    document = {
        "library_version": __version__,
        **summary,
        "counts": counts,
        "metrics": plan.metrics,
        "ended_by_reason": reason_counts(ended_df["reason"].astype(str)),
        "waiting_by_reason": reason_counts(plan.waiting["reason"].astype(str)),
    }
    files["plan.json"] = _json_bytes(document)
    return files


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2, default=str) + "\n"
    return text.encode("utf-8")


def _canonical_waiting(waiting: pd.DataFrame) -> pd.DataFrame:
    """The waiting children with their detail in canonical words (English), made from the
    reason and the mentors counted, so that it can be said again in any language."""
    out = waiting.copy()
    for col in ("mentors_in_reach", "mentors_allowed"):
        if col not in out.columns:
            out[col] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    with use_language("en"):
        out["detail"] = [
            waiting_detail(str(r), a, b)
            for r, a, b in zip(
                out["reason"], out["mentors_in_reach"], out["mentors_allowed"], strict=True
            )
        ]
    return out[_WAITING]


def published_plan(
    contents: Mapping[str, bytes],
    *,
    language: str | None = None,
    carried: Mapping[str, pd.DataFrame] | None = None,
    xlsx: bool = False,
) -> dict[str, bytes]:
    """The files of a plan folder as staff get them, from its canonical files.

    Parameters
    ----------
    contents : mapping
        The canonical files (file name -> bytes), as :func:`render_plan`
        makes them and the store keeps them.
    language : {"zh", "en"}, optional
        The language of headers, reasons, details and the summary
        (default: the current language, :func:`matching.i18n.current_language`).
    carried : mapping, optional
        Staff's own columns by roster
        (:func:`matching.programme.plan_text.carry_from_rosters`): put
        into the CSV files and the workbook beside each id; never into
        ``plan.json``.
    xlsx : bool, default False
        Also ``plan.xlsx``: a summary sheet in plain words and one sheet
        per table (needs openpyxl).

    Returns
    -------
    dict
        File name -> bytes; the same for the same input.
    """
    with use_language(language) as lang:
        tables = plan_tables(contents)
        out = {name: data for name, data in contents.items() if name != "plan.xlsx"}
        for name, table in tables.items():
            if lang != "en" or carried:
                shown = localise_table(
                    name, table, words=lang != "en", carried=carried, numbers=True
                )
                out[name] = to_csv_bytes(shown, decimals=4)
        document = json.loads(contents["plan.json"].decode("utf-8"))
        lines = plan_summary_lines(contents)
        out["plan.json"] = _json_bytes(
            {**document, "language": lang, "summary_text": "\n".join(lines)}
        )
        if xlsx:
            out["plan.xlsx"] = _workbook(tables, lines, carried, str(document.get("date", "")))
    return out


def _workbook(
    tables: Mapping[str, pd.DataFrame],
    lines: Sequence[str],
    carried: Mapping[str, pd.DataFrame] | None,
    date: str,
) -> bytes:
    from matching.reports.plan_workbook import sheets_workbook_bytes

    sheets = [
        (_(PLAN_SHEETS[name]), localise_table(name, table, words=True, carried=carried,
                                              numbers=True))
        for name, table in tables.items()
    ]  # fmt: skip
    return sheets_workbook_bytes(
        summary_sheet=_("plan summary"),
        summary_header=_("What tonight's plan does"),
        summary_lines=lines,
        sheets=sheets,
        date=date or "2000-01-01",
    )


def write_plan(
    out_dir: str | Path | None,
    contents: Mapping[str, bytes],
    step: Callable[[str], None],
    **publishing: Any,
) -> dict[str, Path]:
    """Publish the plan into ``out_dir`` (nothing without one), saying so to ``step``;
    ``publishing``: the keywords of :func:`publish_plan`."""
    if out_dir is None:
        return {}
    step("writing the plan")
    return publish_plan(out_dir, contents, **publishing)


def publish_plan(
    out_dir: str | Path,
    contents: Mapping[str, bytes],
    *,
    language: str | None = None,
    carried: Mapping[str, pd.DataFrame] | None = None,
    xlsx: bool = False,
) -> dict[str, Path]:
    """Write a plan folder whole, from the plan's canonical files (name -> bytes).

    The folder holds exactly the files :func:`published_plan` makes of
    ``contents`` in ``language``, with ``carried`` columns and, with
    ``xlsx``, ``plan.xlsx``.  It is written beside ``out_dir`` and swapped
    in at once (:func:`matching.reports.staged_folder`): a failure or a kill
    leaves the previous plan as it was.  A folder holding files other than
    plan files (:data:`PLAN_FILES`) is refused, never replaced.  Returns the
    paths written, by file name.  Used after a commit, and by
    ``matching plan`` with a run's stored files.
    """
    unknown = sorted(set(contents) - set(PLAN_FILES))
    if unknown:
        raise InputError(_("not plan files: {names}").format(names=", ".join(unknown)))
    files = published_plan(contents, language=language, carried=carried, xlsx=xlsx)
    folder = staged_folder(out_dir, owned=PLAN_FILES)
    with folder as stage:
        for name, data in sorted(files.items()):
            (stage / name).write_bytes(data)
    return {name: folder.final(stage / name) for name in sorted(files)}
