"""Each child's ledger (台账), rebuilt from the state store: pairs, enrolment and waiting.

:func:`ledger` reads the store's history (every pair episode), enrolments
(every spell of a child in the programme) and current state, and returns a
:class:`Ledger` of three tables:

``pairs``
    One row per pair episode (:data:`PAIR_LEDGER_COLUMNS`): who, from when,
    until when (``""`` while the pair lasts), why it ended (the stored code,
    such as ``exit_effective`` or ``ended: <staff's note>``) and who approved.
``children``
    One row per child (:data:`CHILD_LEDGER_COLUMNS`): first enrolment, the
    number of enrolment spells, when and why the last spell ended (``""``
    while enrolled), the days spent waiting and the number of waiting
    periods, the referral source and the current status.
``mentors``
    One row per mentor and child served (:data:`MENTOR_LEDGER_COLUMNS`): the
    first start, the last end (``""`` while a pair lasts), the last end's
    reason and the number of episodes.

*Waiting.*  Days are counted as half-open intervals of dates: a spell runs
from ``joined_on`` up to ``left_on`` (for a spell that has not ended, up to
the ledger's ``as_of``, the store's last run date), and a pair covers
``started_on`` up to ``ended_on`` (or ``as_of``).  A child waits on the
days of a spell no pair covers; a waiting period is a maximal run of such
days (at least one day).  A child paired the day they joined never waited.

:func:`ledger_files` renders the tables as the files of ``matching ledger``
(English: the canonical keys and codes; Chinese: headers, reasons and
statuses in words, the codes kept beside them); :func:`write_ledger` writes
them into a folder whole.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching.errors import InputError
from matching.i18n import N_, ngettext, use_language
from matching.i18n import gettext as _
from matching.programme.plan_text import end_reason_code, end_reason_text
from matching.programme.store import StateStore
from matching.reports import staged_folder, to_csv_bytes

__all__ = [
    "CHILD_LEDGER_COLUMNS",
    "LEDGER_FILES",
    "MENTOR_LEDGER_COLUMNS",
    "PAIR_LEDGER_COLUMNS",
    "Ledger",
    "ledger",
    "ledger_files",
    "ledger_summary_lines",
    "localise_ledger_table",
    "write_ledger",
]

PAIR_LEDGER_COLUMNS = ("child_id", "mentor_id", "started_on", "ended_on", "end_reason",
                       "approved_by")  # fmt: skip
"""The columns of :attr:`Ledger.pairs`."""
CHILD_LEDGER_COLUMNS = (
    "child_id",
    "enrolled_on",
    "spells",
    "left_on",
    "left_reason",
    "waiting_days",
    "waiting_periods",
    "referral_source",
    "status",
)
"""The columns of :attr:`Ledger.children`."""
MENTOR_LEDGER_COLUMNS = ("mentor_id", "child_id", "started_on", "ended_on", "end_reason",
                         "episodes")  # fmt: skip
"""The columns of :attr:`Ledger.mentors`."""
LEDGER_FILES = ("ledger.csv", "ledger_children.csv", "ledger_mentors.csv", "ledger.xlsx")
"""Every file a ledger folder may hold (``ledger.xlsx`` only when asked for)."""

_INTS = ("spells", "waiting_days", "waiting_periods", "episodes")

_SHEETS = {
    "ledger.csv": N_("pair episodes"),
    "ledger_children.csv": N_("children's ledger"),
    "ledger_mentors.csv": N_("mentors and children served"),
}
_HEADERS = {
    "child_id": N_("child id"),
    "mentor_id": N_("mentor id"),
    "started_on": N_("started on"),
    "ended_on": N_("ended on"),
    "end_reason": N_("end reason"),
    "end_reason_code": N_("end reason code"),
    "approved_by": N_("approved by"),
    "enrolled_on": N_("first enrolled on"),
    "spells": N_("enrolment spells"),
    "left_on": N_("left on"),
    "left_reason": N_("reason for leaving"),
    "left_reason_code": N_("reason for leaving (code)"),
    "waiting_days": N_("days waiting"),
    "waiting_periods": N_("waiting periods"),
    "referral_source": N_("referral source"),
    "status": N_("current status"),
    "episodes": N_("number of pair episodes"),
}
_STATUSES = {"waiting": N_("waiting"), "paired": N_("paired"), "exited": N_("exited")}


@dataclass(frozen=True)
class Ledger:
    """The ledgers of a store (see the module docstring for the tables).

    Attributes
    ----------
    pairs : DataFrame
        One row per pair episode, sorted by child then start.
    children : DataFrame
        One row per child, sorted by id.
    mentors : DataFrame
        One row per mentor and child served, sorted by mentor then first start.
    as_of : str
        The store's last run date (ISO; ``""`` for a store without runs): the
        end of waiting and of the pairs still going.
    """

    pairs: pd.DataFrame
    children: pd.DataFrame
    mentors: pd.DataFrame
    as_of: str


def ledger(
    store_or_path: StateStore | str | os.PathLike[str], *, child: str | None = None
) -> Ledger:
    """The ledgers of the store (or the store file) ``store_or_path``.

    Parameters
    ----------
    store_or_path : StateStore or path
        An open store, or the path of one (opened read-only).
    child : str, optional
        Only this child's rows (their pairs, their row, and their mentors'
        rows about them).

    Returns
    -------
    Ledger
        Text columns hold ``""`` where a value is missing; counts are int64.

    Raises
    ------
    InputError
        If ``child`` is not a child of the store (naming the id).
    StoreError
        If the store cannot be read.
    """
    if isinstance(store_or_path, StateStore):
        return _ledger(store_or_path, child)
    with StateStore.open(store_or_path, readonly=True) as store:
        return _ledger(store, child)


def _ledger(store: StateStore, child: str | None) -> Ledger:
    runs = store.runs()
    as_of = str(runs["run_date"].max()) if len(runs) else ""
    history = store.history()
    enrolments = store.enrolments()
    kids = store.load().children
    if child is not None:
        if child not in set(kids["id"].astype(str)):
            raise InputError(_("no child {id!r} in the state store").format(id=child))
        history = history[history["child_id"] == child]
        enrolments = enrolments[
            (enrolments["role"] == "child") & (enrolments["person_id"] == child)
        ]
        kids = kids[kids["id"] == child]
    history = history.assign(
        **{c: history[c].fillna("") for c in ("ended_on", "end_reason", "end_approved_by")}
    )
    pairs = pd.DataFrame(
        {
            "child_id": history["child_id"].astype(str),
            "mentor_id": history["mentor_id"].astype(str),
            "started_on": history["started_on"].astype(str),
            "ended_on": history["ended_on"].astype(str),
            "end_reason": history["end_reason"].astype(str),
            "approved_by": history["end_approved_by"].astype(str),
        },
        columns=list(PAIR_LEDGER_COLUMNS),
    )
    pairs = pairs.sort_values(["child_id", "started_on", "mentor_id"], kind="stable")
    pairs = pairs.reset_index(drop=True).astype(object)
    return Ledger(
        pairs=pairs,
        children=_children(kids, enrolments, pairs, as_of),
        mentors=_mentors(pairs),
        as_of=as_of,
    )


def _day(text: str) -> int:
    return dt.date.fromisoformat(text).toordinal()


def _waiting(
    spells: Iterable[tuple[int, int]], paired: Iterable[tuple[int, int]]
) -> tuple[int, int]:
    """Days and periods of ``spells`` no interval of ``paired`` covers (half-open day ranges)."""
    covers = sorted(paired)
    days = periods = 0
    for start, end in sorted(spells):
        at = start  # the first day of the spell not yet accounted for
        for p_start, p_end in covers:
            if p_end <= at or p_start >= end:
                continue
            if p_start > at:
                days, periods = days + p_start - at, periods + 1
            at = max(at, p_end)
            if at >= end:
                break
        if at < end:
            days, periods = days + end - at, periods + 1
    return days, periods


def _children(
    kids: pd.DataFrame, enrolments: pd.DataFrame, pairs: pd.DataFrame, as_of: str
) -> pd.DataFrame:
    """One row per child of ``kids`` (see :data:`CHILD_LEDGER_COLUMNS`)."""
    end = _day(as_of) if as_of else 0
    spells: dict[str, list[tuple[str, str, str]]] = {}
    child_spells = enrolments[enrolments["role"] == "child"]
    for person, joined, left, why in zip(
        child_spells["person_id"], child_spells["joined_on"], child_spells["left_on"],
        child_spells["left_reason"], strict=True,
    ):  # fmt: skip
        spells.setdefault(str(person), []).append((str(joined), left or "", why or ""))
    covered: dict[str, list[tuple[int, int]]] = {}
    for kid, started, ended in zip(pairs["child_id"], pairs["started_on"], pairs["ended_on"],
                                   strict=True):  # fmt: skip
        covered.setdefault(kid, []).append((_day(started), _day(ended) if ended else end))
    rows = []
    source = kids["referral_source"] if "referral_source" in kids.columns else None
    for i, (kid, status) in enumerate(zip(kids["id"], kids["status"], strict=True)):
        kid = str(kid)
        own = sorted(spells.get(kid, []))
        if not own:  # a child the store shows no spell of: its record's dates
            record = kids.iloc[i]
            own = [(str(record["joined_on"]), str(record["left_on"]), str(record["left_reason"]))]
        ranges = [
            (_day(joined), _day(left) if left else end) for joined, left, _why in own if joined
        ]
        days, periods = _waiting(ranges, covered.get(kid, []))
        _joined, last_left, last_why = own[-1]
        referral = source.iloc[i] if source is not None else ""
        rows.append(
            (kid, own[0][0], len(own), last_left, last_why if last_left else "", days, periods,
             "" if pd.isna(referral) else str(referral), str(status))
        )  # fmt: skip
    out = pd.DataFrame(rows, columns=list(CHILD_LEDGER_COLUMNS)).astype(object)
    out = out.sort_values("child_id", kind="stable").reset_index(drop=True)
    return _typed(out)


def _mentors(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per mentor and child of the episodes ``pairs`` (sorted by child, start)."""
    rows: dict[tuple[str, str], list[object]] = {}
    for kid, mentor, started, ended, why in zip(
        pairs["child_id"], pairs["mentor_id"], pairs["started_on"], pairs["ended_on"],
        pairs["end_reason"], strict=True,
    ):  # fmt: skip
        row = rows.get((mentor, kid))
        if row is None:
            rows[(mentor, kid)] = [mentor, kid, started, ended, why, 1]
        else:  # a later episode: it has the last end (or none while it lasts)
            row[3], row[4], row[5] = ended, why, int(str(row[5])) + 1
    out = pd.DataFrame(list(rows.values()), columns=list(MENTOR_LEDGER_COLUMNS)).astype(object)
    out = out.sort_values(["mentor_id", "started_on", "child_id"], kind="stable")
    return _typed(out.reset_index(drop=True))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in _INTS:
        if column in frame.columns:
            frame[column] = frame[column].to_numpy(dtype=np.int64)
    return frame


# ----------------------------------------------------------------------------------------------
# the files


def localise_ledger_table(table: pd.DataFrame) -> pd.DataFrame:
    """One ledger table in words, in the current language: reasons and statuses in words
    (each reason's code kept in a column beside it), headers in words."""
    out = table.copy()
    for column in ("end_reason", "left_reason"):
        if column in out.columns:
            codes = [str(c) for c in out[column]]
            out[column] = [end_reason_text(c) for c in codes]
            out.insert(list(out.columns).index(column) + 1, f"{column}_code",
                       [end_reason_code(c) for c in codes])  # fmt: skip
    if "status" in out.columns:
        out["status"] = [_(_STATUSES[s]) if s in _STATUSES else s for s in out["status"]]
    return out.rename(columns={c: _(_HEADERS[c]) for c in out.columns if c in _HEADERS})


def _summary_lines(book: Ledger) -> list[str]:
    n_pairs, n_kids, n_rows = len(book.pairs), len(book.children), len(book.mentors)
    return [
        _("ledger as of {date}").format(date=book.as_of or "-"),
        ngettext("{n} pair episode", "{n} pair episodes", n_pairs).format(n=n_pairs),
        ngettext("{n} child", "{n} children", n_kids).format(n=n_kids),
        ngettext("{n} mentor and child served", "{n} mentors and children served", n_rows).format(
            n=n_rows
        ),
    ]


def ledger_summary_lines(book: Ledger, *, language: str | None = None) -> list[str]:
    """What the ledger holds, counted (no cell), in ``language`` (default: the current one)."""
    with use_language(language):
        return _summary_lines(book)


def ledger_files(
    book: Ledger, *, language: str | None = None, xlsx: bool = False
) -> dict[str, bytes]:
    """The files of a ledger folder, file name -> bytes (the same for the same ledger).

    Parameters
    ----------
    book : Ledger
        What :func:`ledger` returns.
    language : {"zh", "en"}, optional
        English: the CSV headers are the canonical column keys and reasons
        are codes (what scripts read); Chinese: headers, reasons and
        statuses in words, each reason's code in a column beside it.
        Default: the current language.
    xlsx : bool, default False
        Also ``ledger.xlsx``: a summary sheet and the three tables in words
        (needs openpyxl).
    """
    tables = {
        "ledger.csv": book.pairs,
        "ledger_children.csv": book.children,
        "ledger_mentors.csv": book.mentors,
    }
    with use_language(language) as lang:
        out = {
            name: to_csv_bytes(table if lang == "en" else localise_ledger_table(table))
            for name, table in tables.items()
        }
        if xlsx:
            from matching.reports.plan_workbook import sheets_workbook_bytes

            out["ledger.xlsx"] = sheets_workbook_bytes(
                summary_sheet=_("ledger summary"),
                summary_header=_("What the ledger holds"),
                summary_lines=_summary_lines(book),
                sheets=[(_(_SHEETS[n]), localise_ledger_table(t)) for n, t in tables.items()],
                date=book.as_of or "2000-01-01",
            )
    return out


def write_ledger(
    out_dir: str | os.PathLike[str],
    book: Ledger,
    *,
    language: str | None = None,
    xlsx: bool = False,
) -> dict[str, Path]:
    """Write the ledger folder ``out_dir`` whole (:func:`ledger_files`); return the paths by name.

    The folder is written beside ``out_dir`` and swapped in at once
    (:func:`matching.reports.staged_folder`); a folder holding files other
    than :data:`LEDGER_FILES` is refused, never replaced.
    """
    files: Mapping[str, bytes] = ledger_files(book, language=language, xlsx=xlsx)
    folder = staged_folder(out_dir, owned=LEDGER_FILES)
    with folder as stage:
        for name, data in sorted(files.items()):
            (stage / name).write_bytes(data)
    return {name: folder.final(stage / name) for name in sorted(files)}
