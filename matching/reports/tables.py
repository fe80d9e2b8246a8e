"""The result tables as staff read them: headers, need categories and reasons in words.

A :class:`~matching.match.MatchResult` is data: column keys (``child_id``),
need codes, reason codes and English details, whatever the language.  The
files staff open put these into words when they are written, in the
language asked for (``language=None``: the current language, see
:mod:`matching.i18n`), from the one catalogue:

- :func:`header` gives the header of a column key, :func:`localise` turns a
  whole table into staff's words (headers, need categories, reasons and
  details, joined lists);
- :func:`staff_tables` adds staff's own roster columns (``carry_columns``,
  such as names) and the communities (社区) to the pairs and unmatched
  tables, by id, before they are put into words.

Staff's own columns go only into the files staff open (CSV and Excel), never
into logs, terminal output or JSON files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matching._engine.explain import reason_text, unmatched_details
from matching.errors import ConfigError
from matching.i18n import N_, use_language
from matching.i18n import gettext as _
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS, MatchResult
from matching.reports.carry import carried_by_roster, with_carried
from matching.rosters import NEED_LABELS_ZH

if TYPE_CHECKING:
    from matching.config import MatchConfig

__all__ = [
    "CONFIG_TEXT",
    "COST_UNIT",
    "HEADER_TEXT",
    "config_rows",
    "header",
    "list_text",
    "localise",
    "staff_tables",
]

HEADER_TEXT: dict[str, str] = {
    # pairs
    "child_id": N_("Child ID"),
    "mentor_id": N_("Mentor ID"),
    "distance_km": N_("Distance (km)"),
    "need_penalty_km": N_("Penalty for uncovered needs (km)"),
    "interest_bonus_km": N_("Bonus for shared interests (km)"),
    "cost_km": N_("Cost of the pair (km)"),
    "needs_covered": N_("Needs covered"),
    "needs_uncovered": N_("Needs not covered"),
    "shared_interests": N_("Shared interests"),
    "child_street": N_("Child's street"),
    "child_community": N_("Child's community"),
    "mentor_street": N_("Mentor's street"),
    "mentor_community": N_("Mentor's community"),
    "child_priority": N_("Priority"),
    # unmatched
    "street": N_("Street"),
    "community": N_("Community"),
    "priority": N_("Priority"),
    "reason": N_("Reason"),
    "reason_code": N_("Reason code"),
    "detail": N_("Detail"),
    "mentors_in_reach": N_("Mentors within reach"),
    "mentors_allowed": N_("Mentors allowed by the rules"),
    "unmatched_price_km": N_("Cost of leaving the child unmatched (km)"),
    "district": N_("District"),
    # streets
    "children": N_("Children"),
    "paired": N_("Paired"),
    "unmatched": N_("Unmatched"),
    "pairing_rate": N_("Pairing rate"),
    "priority_children": N_("Priority children"),
    "priority_paired": N_("Priority children paired"),
    "needs": N_("Needs of paired children"),
    "needs_covered_count": N_("Needs covered (count)"),
    "needs_covered_share": N_("Need coverage"),
    "distance_km_mean": N_("Mean distance (km)"),
    "distance_km_median": N_("Median distance (km)"),
    # summary
    "item": N_("Item"),
    "value": N_("Value"),
    "library_version": N_("Library version"),
    "n_children": N_("Children in the roster"),
    "n_mentors": N_("Mentors in the roster"),
    "n_mentors_active": N_("Active mentors"),
    "mentor_capacity": N_("Places mentors offer"),
    "n_pairs": N_("Pairs"),
    "n_unmatched": N_("Children unmatched"),
    "priority_pairing_rate": N_("Priority pairing rate"),
    "distance_km_p90": N_("Distance 9 in 10 pairs stay within (km)"),
    "needs_covered_share_all_children": N_("Need coverage (all children)"),
    "mentors_used": N_("Mentors with a child"),
    "mentor_utilisation": N_("Share of places used"),
    "objective_km": N_("Total cost of the plan (km)"),
    "cost_unit": N_("How costs are counted"),
    "unmatched_by_reason": N_("Unmatched by reason"),
    "config": N_("Configuration"),
    # sheets
    "sheet_pairs": N_("pairs"),
    "sheet_unmatched": N_("unmatched"),
    "sheet_streets": N_("streets"),
    "sheet_summary": N_("summary"),
}
"""Column key -> its header in English, marked for the catalogue (translated by
:func:`header`); also the sheet names of the workbook (``sheet_*``)."""

CONFIG_TEXT: dict[str, str] = {
    "max_distance_km": N_("maximum distance between a child and a mentor (km)"),
    "uncovered_need_km": N_("penalty for each need the mentor does not cover (km)"),
    "shared_interest_km": N_("bonus for each shared interest (km)"),
    "max_shared_interests": N_("shared interests counted at most"),
    "unmatched_km": N_("cost of leaving a child unpaired (km)"),
    "priority_km": N_("extra cost of leaving a priority child unpaired, per level (km)"),
    "objective": N_("goal"),
    "same_street": N_("pairs within the same street only"),
    "same_gender": N_("pairs of the same gender only"),
    "forbidden_pairs": N_("pairs excluded by staff"),
    "k_nearest": N_("nearest mentors considered per child"),
    "resolution_km": N_("cost rounded to (km)"),
}
"""The setting of each :class:`~matching.config.MatchConfig` field in words."""

_CONFIG_VALUES = {
    "max_pairs": N_("as many children paired as possible, then the lowest cost"),
    "min_cost": N_("the lowest cost"),
}


def config_rows(config: MatchConfig) -> list[tuple[str, Any]]:
    """The settings of a run as (words, value) rows, in the current language.

    Yes/no settings read 是/否 (yes/no), the goal in words, no limit as blank,
    excluded pairs as ``child-mentor`` ids.

    Examples
    --------
    >>> from matching.config import MatchConfig
    >>> rows = dict(config_rows(MatchConfig(same_street=True)))
    >>> rows["pairs within the same street only"], rows["goal"][:23]
    ('yes', 'as many children paired')
    """
    rows: list[tuple[str, Any]] = []
    for key, value in config.to_dict().items():
        if isinstance(value, bool):
            shown: Any = _("yes") if value else _("no")
        elif isinstance(value, str) and value in _CONFIG_VALUES:
            shown = _(_CONFIG_VALUES[value])
        elif key == "forbidden_pairs":
            shown = "; ".join(f"{c}-{m}" for c, m in value) if value else None
        else:
            shown = value
        rows.append((_(CONFIG_TEXT[key]) if key in CONFIG_TEXT else key, shown))
    return rows


COST_UNIT = N_(
    "Costs are in kilometres: the real distance, plus a penalty for each need the mentor "
    "does not cover, minus a bonus for shared interests. Leaving a child unmatched counts "
    "as a fixed number of kilometres, more for a priority child, so the plan pairs as many "
    "children as it can at the lowest total."
)
"""The cost unit explained in words, once per workbook (translated where used)."""

_LIST_SEP = {"zh": "、", "en": "; "}
_NEED_COLUMNS = ("needs_covered", "needs_uncovered")
_PRIORITY_COLUMNS = ("child_priority", "priority")


def header(key: str, language: str | None = None) -> str:
    """The header of column ``key`` in ``language`` (the key itself if unknown).

    Examples
    --------
    >>> header("child_id", "zh"), header("child_id", "en"), header("other")
    ('儿童编号', 'Child ID', 'other')
    """
    with use_language(language):
        text = HEADER_TEXT.get(key)
        return key if text is None else _(text)


def _need_text(codes: Iterable[Any], language: str) -> str:
    if language == "zh":
        return _LIST_SEP["zh"].join(NEED_LABELS_ZH.get(str(c), str(c)) for c in codes)
    return _LIST_SEP["en"].join(str(c) for c in codes)


def list_text(values: Any, language: str) -> str:
    """A list cell (tuple, list, set, array) as text joined in ``language``'s way."""
    sep = _LIST_SEP.get(language, "; ")
    if isinstance(values, tuple | list | np.ndarray):
        return sep.join(str(v) for v in values)
    if isinstance(values, set | frozenset):
        return sep.join(sorted(str(v) for v in values))
    return "" if values is None else str(values)


def localise(
    frame: pd.DataFrame,
    language: str | None = None,
    *,
    config: MatchConfig | None = None,
    priority_labels: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """A copy of a result table with headers, need categories and reasons in ``language``.

    Need-code columns (``needs_covered``, ``needs_uncovered``) become text
    (Chinese labels in ``"zh"``), other tuple columns are joined; a
    ``reason`` column becomes the reason in words and its code moves to a
    ``reason_code`` column just after it; a ``detail`` column is written in
    ``language`` from the reason code and the counts (``config``: the
    result's :class:`~matching.config.MatchConfig`, for the distance limit
    it names; see :func:`matching.reports.unmatched_details`).  With
    ``priority_labels`` (integer -> word) a priority column shows the word of
    each level it names.  Columns this module has no header for (staff's own
    columns) keep theirs.  Values are not escaped here (the writers do that).

    Parameters
    ----------
    frame : DataFrame
        A result table (pairs, unmatched, street metrics), with column keys.
    language : {"zh", "en"}, optional
        The language (None: the current language).
    config : MatchConfig, optional
        The configuration of the result (default: the defaults).
    priority_labels : mapping of int to str, optional
        A word for each priority level.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"child_id": ["C1"], "needs_uncovered": [("life_care",)],
    ...                   "reason": ["mentors_taken"]})
    >>> localise(t, "zh").columns.tolist()
    ['儿童编号', '未覆盖需求', '未匹配原因', '原因代码']
    >>> localise(t, "zh").iloc[0, 1], localise(t, "en").iloc[0, 1]
    ('生活关爱', 'life_care')
    """
    with use_language(language) as lang:
        out = frame.copy()
        for col in _NEED_COLUMNS:
            if col in out.columns and out[col].dtype == object:
                out[col] = [_need_text(v, lang) for v in out[col].to_numpy(dtype=object)]
        for col in out.columns:
            if out[col].dtype == object and col not in _NEED_COLUMNS:
                values = out[col].to_numpy(dtype=object)
                if any(isinstance(v, tuple | list | set | frozenset | np.ndarray) for v in values):
                    out[col] = [list_text(v, lang) for v in values]
        if priority_labels:
            for col in _PRIORITY_COLUMNS:
                if col in out.columns:
                    out[col] = [
                        priority_labels.get(int(v), v) for v in out[col].to_numpy(dtype=object)
                    ]
        if "reason" in out.columns and "detail" in out.columns:
            out["detail"] = unmatched_details(frame, config, language=lang)
        if "reason" in out.columns:
            codes = out["reason"].astype(str).to_numpy(dtype=object)
            pos = list(out.columns).index("reason")
            out["reason"] = [reason_text(c) for c in codes]
            out.insert(pos + 1, "reason_code", codes)
        rename = {c: header(str(c)) for c in out.columns}
        if "needs_covered" in rename and "needs" in out.columns:  # street table: counts
            rename["needs_covered"] = header("needs_covered_count")
        return out.rename(columns=rename)


def _by_id(roster: pd.DataFrame, column: str) -> pd.Series:
    """A roster's ``column`` indexed by record id (as text)."""
    return pd.Series(
        roster[column].to_numpy(dtype=object), index=roster["id"].astype(str).to_numpy()
    )


def _insert_after(
    table: pd.DataFrame, after: str, name: str, ids: pd.Series, values: pd.Series
) -> None:
    """Insert ``name`` after ``after``: ``values`` looked up by ``ids`` (blank if absent)."""
    looked_up = ids.astype(str).map(values)
    column = looked_up.astype(object).where(looked_up.notna(), "").to_numpy(dtype=object)
    table.insert(list(table.columns).index(after) + 1, name, column)


def _ordered(frame: pd.DataFrame, first: Sequence[str]) -> pd.DataFrame:
    """A copy of ``frame`` with the columns ``first`` first, then any others (a district)."""
    return frame[[*first, *(c for c in frame.columns if c not in set(first))]].copy()


def staff_tables(
    result: MatchResult,
    *,
    children: pd.DataFrame | None = None,
    mentors: pd.DataFrame | None = None,
    carry_columns: Sequence[str] = (),
    community: bool = False,
    language: str | None = None,
) -> dict[str, pd.DataFrame]:
    """The pairs and unmatched tables of ``result`` with staff's columns, by id.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.
    children, mentors : DataFrame, optional
        The validated rosters the result was matched from (as
        :func:`matching.read_children` returns them); needed for
        ``carry_columns`` and ``community``.
    carry_columns : sequence of str, default ()
        Headers of staff's own roster columns (names, phone numbers) to put
        beside each id: ``儿童<header>`` / ``爱心妈妈<header>`` in Chinese,
        ``child <header>`` / ``mentor <header>`` in English.  A roster that
        lacks one is an :class:`~matching.errors.InputError` naming the header.
    community : bool, default False
        Add each child's (and mentor's) community (社区) after the street.
    language : {"zh", "en"}, optional
        The language of the carried columns' headers (None: the current one).

    Returns
    -------
    dict
        ``{"pairs": DataFrame, "unmatched": DataFrame}``, the result's columns
        (:data:`~matching.match.PAIR_COLUMNS`, :data:`~matching.match.UNMATCHED_COLUMNS`,
        column keys, not yet in words: see :func:`localise`) with the added
        columns.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> kids, moms = district(30, 20, seed=1)
    >>> kids["姓名"] = [f"name{i}" for i in range(30)]
    >>> tables = staff_tables(match(kids, moms), children=kids, mentors=moms,
    ...                       carry_columns=["姓名"], language="zh")
    >>> tables["pairs"].columns[:3].tolist()
    ['child_id', '儿童姓名', 'mentor_id']
    """
    pairs = _ordered(result.pairs, PAIR_COLUMNS)
    unmatched = _ordered(result.unmatched, UNMATCHED_COLUMNS)
    if community and children is not None and "community" in children.columns:
        where = _by_id(children, "community")
        _insert_after(pairs, "child_street", "child_community", pairs["child_id"], where)
        _insert_after(unmatched, "street", "community", unmatched["child_id"], where)
    if community and mentors is not None and "community" in mentors.columns:
        where = _by_id(mentors, "community")
        _insert_after(pairs, "mentor_street", "mentor_community", pairs["mentor_id"], where)
    columns = [str(c).strip() for c in carry_columns]
    if not columns:
        return {"pairs": pairs, "unmatched": unmatched}
    if children is None or mentors is None:
        raise ConfigError(_("carry_columns needs the rosters: pass children= and mentors="))
    with use_language(language):
        carried = carried_by_roster({"children": children, "mentors": mentors}, columns)
        kids, moms = carried["children"], carried["mentors"]
        kids.columns = [_("child {column}").format(column=c) for c in kids.columns]
        moms.columns = [_("mentor {column}").format(column=c) for c in moms.columns]
    pairs = with_carried(pairs, "child_id", kids)
    pairs = with_carried(pairs, "mentor_id", moms)
    unmatched = with_carried(unmatched, "child_id", kids)
    return {"pairs": pairs, "unmatched": unmatched}
