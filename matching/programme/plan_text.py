"""The words of a nightly plan: headers, reasons, details and the summary, in either language.

The state store keeps one rendering of each plan, the *canonical* one: CSV
headers are column keys (``child_id``), reasons are codes
(``mentors_taken``) and ``plan.json`` holds counts and metrics.  The
language is applied when the folder is published
(:func:`matching.programme.plan.published_plan`), so any committed night can
be written again in Chinese or English.

- :func:`plan_tables` reads the canonical CSV files back as tables;
- :func:`localise_table` gives one of them headers, reasons and details in
  words (and staff's own columns, carried by id);
- :func:`plan_summary_lines` says what the night did, in plain sentences,
  including the price of stability as one sentence and the cost unit
  explained once.

Staff's own columns (names, phone numbers) are never part of the canonical
files: they are added here, at publication, from the rosters given that
night.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from matching.i18n import N_, ngettext
from matching.i18n import gettext as _
from matching.reports import carried_by_roster, with_carried

__all__ = [
    "PLAN_SHEETS",
    "carry_from_rosters",
    "end_reason_code",
    "end_reason_text",
    "localise_table",
    "plan_summary_lines",
    "plan_tables",
    "reason_counts",
    "waiting_detail",
]

PLAN_SHEETS: dict[str, str] = {
    "plan_new_pairs.csv": N_("new pairs"),
    "plan_ended_pairs.csv": N_("ended pairs"),
    "plan_moved_pairs.csv": N_("moved pairs"),
    "plan_waiting.csv": N_("waiting children"),
    "plan_ignored_rows.csv": N_("ignored roster rows"),
    "plan_duplicate_events.csv": N_("duplicate events"),
    "geocode_failures.csv": N_("geocode failures"),
}
"""The plan's tables (CSV file name -> sheet name, translated where used), in order."""

_HEADERS: dict[str, str] = {
    "child_id": N_("child id"),
    "mentor_id": N_("mentor id"),
    "from_mentor_id": N_("previous mentor id"),
    "to_mentor_id": N_("new mentor id"),
    "distance_km": N_("distance (km)"),
    "cost_km": N_("cost (km, equivalent)"),
    "gain_km": N_("saving of the move (km, equivalent)"),
    "reason": N_("reason"),
    "reason_code": N_("reason code"),
    "detail": N_("detail"),
    "approved_by": N_("approved by"),
    "ended_on": N_("ended on"),
    "left_on": N_("left on"),
    "mentors_in_reach": N_("mentors within reach"),
    "mentors_allowed": N_("mentors allowed by the rules"),
    "roster": N_("roster"),
    "id": N_("record id"),
    "number": N_("event number in the file"),
    "kind": N_("event kind"),
    "date": N_("event date"),
}

_REASONS: dict[str, dict[str, str]] = {
    "plan_new_pairs.csv": {
        "matched": N_("newly matched"),
        "first_in_line": N_("first in line: the child's previous pair ended"),
        "moved": N_("moved from another mentor"),
    },
    "plan_ended_pairs.csv": {
        "exit_effective": N_("the child's exit took effect"),
        "mentor_left": N_("the mentor left the programme"),
        "staff_override": N_("replaced by a pair staff fixed"),
        "forbidden": N_("the pair was forbidden"),
        "ended": N_("ended by staff"),
        "re-matched": N_("moved to another mentor"),
        "capacity_reduced": N_("the mentor takes fewer children now"),
    },
    "plan_waiting.csv": {
        "no_mentor_in_reach": N_("no active mentor within reach"),
        "forbidden_by_rule": N_("every mentor within reach is excluded by a rule"),
        "mentors_taken": N_("every mentor within reach is full"),
        "cheaper_unmatched": N_("no free mentor within reach suits the child well enough"),
        "exit_approved": N_("exit approved: not matched again"),
    },
    "plan_ignored_rows.csv": {
        "child_exited": N_("the child has left the programme"),
        "mentor_left": N_("the mentor has left the programme"),
    },
}
_ROSTERS = {"children": N_("children's roster"), "mentors": N_("mentors' roster")}
# the id columns of each table: (column, roster, prefix of the columns carried beside it)
_ROLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "plan_new_pairs.csv": (("child_id", "children", N_("child's ")),
                           ("mentor_id", "mentors", N_("mentor's "))),
    "plan_ended_pairs.csv": (("child_id", "children", N_("child's ")),
                             ("mentor_id", "mentors", N_("mentor's "))),
    "plan_moved_pairs.csv": (("child_id", "children", N_("child's ")),
                             ("from_mentor_id", "mentors", N_("previous mentor's ")),
                             ("to_mentor_id", "mentors", N_("new mentor's "))),
    "plan_waiting.csv": (("child_id", "children", N_("child's ")),),
    "plan_duplicate_events.csv": (("child_id", "children", N_("child's ")),
                                  ("mentor_id", "mentors", N_("mentor's "))),
}  # fmt: skip
_BY_ROSTER = ("plan_ignored_rows.csv", "geocode_failures.csv")  # an id column and a roster column
_FLOATS = ("distance_km", "cost_km", "gain_km")
_INTEGERS = ("mentors_in_reach", "mentors_allowed", "number")
_ENDED_BY_STAFF = "ended: "  # an end_pair event's reason: this prefix and staff's note


def carry_from_rosters(
    columns: Sequence[str],
    *,
    children: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Staff's ``columns`` of tonight's rosters, by roster name and record id.

    Each roster gives the named columns it has (a phone number may be in
    one roster only); a column in neither roster given is an
    ``InputError`` naming the header, never a cell.  No roster, or no
    column, gives an empty mapping: the outputs hold ids only.

    Examples
    --------
    >>> import pandas as pd
    >>> kids = pd.DataFrame({"id": ["C1"], "姓名": ["甲"], "监护人电话": ["1"]})
    >>> moms = pd.DataFrame({"id": ["M1"], "姓名": ["乙"]})
    >>> got = carry_from_rosters(["姓名", "监护人电话"], children=kids, mentors=moms)
    >>> got["children"].columns.tolist(), got["mentors"].columns.tolist()
    (['姓名', '监护人电话'], ['姓名'])
    """
    rosters = {k: v for k, v in (("children", children), ("mentors", mentors)) if v is not None}
    if not [c for c in columns if c.strip()] or not rosters:
        return {}
    return carried_by_roster(rosters, columns)


def plan_tables(contents: Mapping[str, bytes]) -> dict[str, pd.DataFrame]:
    """The plan's canonical CSV files as tables of text, by file name (in :data:`PLAN_SHEETS`
    order; a file the plan lacks is left out)."""
    tables = {}
    for name in PLAN_SHEETS:
        if name in contents:
            tables[name] = pd.read_csv(
                io.BytesIO(contents[name]), dtype=str, keep_default_na=False, encoding="utf-8-sig"
            )
    return tables


def waiting_detail(reason: str, in_reach: object, allowed: object) -> str:
    """Why a child waits, in words and with the mentors counted (current language).

    Examples
    --------
    >>> waiting_detail("mentors_taken", 3, 3)
    'all 3 mentors within reach are paired to capacity'
    """
    n_reach, n_allowed = _count(in_reach), _count(allowed)
    if reason == "forbidden_by_rule" and n_reach:
        return ngettext(
            "the {n} mentor within reach is excluded by a rule",
            "all {n} mentors within reach are excluded by a rule",
            n_reach,
        ).format(n=n_reach)
    if reason == "mentors_taken" and (n_allowed or n_reach):
        n = n_allowed or n_reach
        return ngettext(
            "the {n} mentor within reach is paired to capacity",
            "all {n} mentors within reach are paired to capacity",
            n,
        ).format(n=n)
    if reason == "cheaper_unmatched":
        return _(
            "every free mentor within reach costs more than leaving the child waiting "
            "(distance and needs, counted in km equivalent)"
        )
    if reason == "no_mentor_in_reach":
        return _("no active mentor within the distance limit (the programme's or the mentor's)")
    words = _REASONS["plan_waiting.csv"].get(reason)
    return _(words) if words is not None else reason


def _count(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _reason_words(name: str, code: str) -> str:
    if name == "plan_ended_pairs.csv":
        return end_reason_text(code)
    table = _REASONS.get(name, {})
    return _(table[code]) if code in table else code


def end_reason_text(code: str) -> str:
    """Why a pair ended (a stored reason code), in words in the current language; an
    ``end_pair`` event's reason keeps staff's note.

    Examples
    --------
    >>> end_reason_text("mentor_left"), end_reason_text("ended: moved away")
    ('the mentor left the programme', 'ended by staff: moved away')
    """
    if code.startswith(_ENDED_BY_STAFF):
        return _("ended by staff: {note}").format(note=code[len(_ENDED_BY_STAFF) :])
    table = _REASONS["plan_ended_pairs.csv"]
    return _(table[code]) if code in table else code


def end_reason_code(code: str) -> str:
    """A stored end reason as a code: ``ended`` for an ``end_pair`` event's (staff's note
    left out), the code itself otherwise.

    Examples
    --------
    >>> end_reason_code("ended: moved away"), end_reason_code("mentor_left")
    ('ended', 'mentor_left')
    """
    return "ended" if code.startswith(_ENDED_BY_STAFF) else code


def localise_table(
    name: str,
    table: pd.DataFrame,
    *,
    words: bool,
    carried: Mapping[str, pd.DataFrame] | None = None,
    numbers: bool = False,
) -> pd.DataFrame:
    """One plan table as staff read it, in the current language.

    Parameters
    ----------
    name : str
        The table's file name (a key of :data:`PLAN_SHEETS`).
    table : DataFrame
        The canonical table, as :func:`plan_tables` reads it (text).
    words : bool
        Headers, reasons, rosters and the waiting children's details in
        words (a ``reason_code`` column keeps the code); False keeps the
        canonical headers and codes (the English CSV files, which scripts
        read).
    carried : mapping, optional
        Staff's own columns by roster (:func:`carry_from_rosters`), put
        beside each id.
    numbers : bool
        Distances, costs and counts as numbers (for the workbook and for
        CSV files written again); False leaves the canonical text.
    """
    out = table.copy()
    if numbers:
        for col in _FLOATS:
            if col in out.columns:
                out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        for col in _INTEGERS:
            if col in out.columns:
                out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    if words:
        out = _in_words(name, out)
    out = _with_staff_columns(name, out, carried or {})
    if words:
        out = out.rename(columns={c: _(_HEADERS[c]) for c in out.columns if c in _HEADERS})
    return out


def _in_words(name: str, out: pd.DataFrame) -> pd.DataFrame:
    if name == "plan_waiting.csv" and {"mentors_in_reach", "mentors_allowed"} <= set(out.columns):
        out["detail"] = [
            waiting_detail(str(r), a, b)
            for r, a, b in zip(
                out["reason"], out["mentors_in_reach"], out["mentors_allowed"], strict=True
            )
        ]
    if "reason" in out.columns and name in _REASONS:
        codes = out["reason"].astype(str).tolist()
        out["reason"] = [_reason_words(name, c) for c in codes]
        out.insert(list(out.columns).index("reason") + 1, "reason_code", codes)
        if name == "plan_ended_pairs.csv":  # staff's note stays in the words, not in the code
            out["reason_code"] = [end_reason_code(c) for c in out["reason_code"]]
    if "roster" in out.columns:
        out["roster"] = [_(_ROSTERS[r]) if r in _ROSTERS else r for r in out["roster"]]
    return out


def _with_staff_columns(
    name: str, out: pd.DataFrame, carried: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    if not carried:
        return out
    for column, roster, prefix in reversed(_ROLES.get(name, ())):
        out = with_carried(out, column, carried.get(roster), prefix=_(prefix))
    if name in _BY_ROSTER and "id" in out.columns and "roster" in out.columns:
        rosters = out["roster"].astype(str).tolist()
        ids = out["id"].astype(str).tolist()
        headers = list(dict.fromkeys(c for frame in carried.values() for c in frame.columns))
        at = list(out.columns).index("id") + 1
        for offset, header in enumerate(headers):
            cells = []
            for roster, i in zip(rosters, ids, strict=True):
                frame = carried.get(roster)
                known = frame is not None and header in frame.columns and i in frame.index
                cells.append(frame.at[i, header] if known else "")  # type: ignore[union-attr]
            out.insert(at + offset, header, pd.Series(cells, dtype=object, index=out.index))
    return out


def reason_counts(codes: Iterable[str]) -> dict[str, int]:
    """How many rows have each reason code, by code (sorted); an ``end_pair`` event's
    reason counts as ``ended`` (staff's note is no key).

    Examples
    --------
    >>> reason_counts(["mentor_left", "ended: moved away", "mentor_left"])
    {'ended': 1, 'mentor_left': 2}
    """
    counts: dict[str, int] = {}
    for code in codes:
        key = end_reason_code(code)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _by_reason(table: pd.DataFrame | None) -> dict[str, int]:
    if table is None or "reason" not in table.columns:
        return {}
    return reason_counts(table["reason"].astype(str))


def plan_summary_lines(contents: Mapping[str, bytes]) -> list[str]:
    """What the night did, in plain sentences in the current language.

    Read from a plan's canonical files (``plan.json`` and the CSV files):
    new, ended (by reason) and moved pairs, the children waiting (by
    reason), full mentors, rows and events set aside, addresses not found,
    and the price of stability as one sentence, with the cost unit
    explained once.  Counts and ids only: nothing from a roster's cells.
    """
    doc: dict[str, Any] = json.loads(contents["plan.json"].decode("utf-8"))
    tables = plan_tables(contents)
    counts: Mapping[str, int] = doc.get("counts", {})
    metrics: Mapping[str, Any] = doc.get("metrics", {})
    lines = [_head(doc)]
    joined = (counts.get("children_joined", 0), counts.get("mentors_joined", 0))
    if any(joined):
        lines.append(
            _("New on the rosters: {children} children and {mentors} mentors.").format(
                children=joined[0], mentors=joined[1]
            )
        )
    n = counts.get("events_applied", 0)
    if n:
        lines.append(ngettext("{n} event applied.", "{n} events applied.", n).format(n=n))
    if not counts.get("changes", 0):
        lines.append(_("No change to the pairs tonight."))
    n = counts.get("pairs_started", 0)
    lines.append(ngettext("{n} new pair made.", "{n} new pairs made.", n).format(n=n))
    ended = doc.get("ended_by_reason") or _by_reason(tables.get("plan_ended_pairs.csv"))
    n = counts.get("pairs_ended", 0)
    lines.append(ngettext("{n} pair ended.", "{n} pairs ended.", n).format(n=n))
    lines += _reason_lines("plan_ended_pairs.csv", ended)
    n = counts.get("pairs_moved", 0)
    if n:
        lines.append(
            ngettext("{n} pair moved to another mentor.", "{n} pairs moved to another mentor.", n)
            .format(n=n)
        )  # fmt: skip
    waiting = doc.get("waiting_by_reason") or _by_reason(tables.get("plan_waiting.csv"))
    n = counts.get("children_waiting", 0)
    lines.append(
        ngettext("{n} child still waits for a mentor.", "{n} children still wait for a mentor.", n)
        .format(n=n)
    )  # fmt: skip
    lines += _reason_lines("plan_waiting.csv", waiting)
    if doc.get("mentors_full") is not None:
        n = int(doc["mentors_full"])
        lines.append(
            ngettext(
                "{n} mentor is full (paired to capacity).",
                "{n} mentors are full (paired to capacity).",
                n,
            ).format(n=n)
        )
    lines += _set_aside_lines(counts)
    lines += _price_lines(metrics)
    return lines


def _head(doc: Mapping[str, Any]) -> str:
    if doc.get("dry_run"):
        return _("Nightly plan of {date} (dry run: nothing committed).").format(
            date=doc.get("date")
        )
    return _("Nightly plan of {date}, run {run}.").format(
        date=doc.get("date"), run=doc.get("run_id")
    )


def _reason_lines(name: str, by_reason: Mapping[str, int]) -> list[str]:
    lines = []
    for code, n in by_reason.items():
        words = _(_REASONS[name][code]) if code in _REASONS[name] else code
        if name == "plan_waiting.csv":
            line = ngettext("  - {reason}: {n} child", "  - {reason}: {n} children", n)
        else:
            line = ngettext("  - {reason}: {n} pair", "  - {reason}: {n} pairs", n)
        lines.append(line.format(reason=words, n=n))
    return lines


def _set_aside_lines(counts: Mapping[str, int]) -> list[str]:
    lines = []
    n = counts.get("roster_rows_ignored", 0)
    if n:
        lines.append(
            ngettext(
                "{n} roster row names someone who has left the programme and was not used.",
                "{n} roster rows name people who have left the programme and were not used.",
                n,
            ).format(n=n)
        )
    n = counts.get("events_duplicate", 0)
    if n:
        lines.append(
            ngettext(
                "{n} event was recorded before and was skipped.",
                "{n} events were recorded before and were skipped.",
                n,
            ).format(n=n)
        )
    n = sum(v for k, v in counts.items() if k.endswith("_geocode_failed"))
    if n:
        lines.append(
            ngettext(
                "{n} record could not be placed from its address and waits until it is corrected.",
                "{n} records could not be placed from their addresses and wait until they are "
                "corrected.",
                n,
            ).format(n=n)
        )
    return lines


def _price_lines(metrics: Mapping[str, Any]) -> list[str]:
    price = metrics.get("price_of_stability_km")
    if price is None:
        return [_("The cost of keeping the existing pairs was not computed tonight.")]
    km = float(price)
    if km < 0.05:
        sentence = _("Keeping the existing pairs costs nothing more than re-matching everyone.")
    else:
        sentence = _(
            "Keeping the existing pairs costs {km} km (equivalent) more than re-matching "
            "everyone from scratch."
        ).format(km=f"{km:.1f}")
    unit = _(
        "A km (equivalent) is the unit of cost: the distance between child and mentor in "
        "kilometres, plus a penalty counted in kilometres for each of the child's needs the "
        "mentor cannot meet, less a bonus for shared interests."
    )
    return [sentence, unit]
