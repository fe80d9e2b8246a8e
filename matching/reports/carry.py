"""Staff's own roster columns (names, phone numbers) carried into the files staff open.

With ``--carry-columns 姓名,联系电话`` (or ``carry_columns`` in the ``[output]``
table), the named columns of the rosters go into the CSV and Excel files
staff open, beside each id, so staff can act without looking names up.  They
never go into logs, terminal output, the JSON files or the state store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from matching.errors import InputError
from matching.i18n import gettext as _

__all__ = ["carried_by_roster", "carried_columns", "with_carried"]


def carried_columns(
    roster: pd.DataFrame, columns: Sequence[str], *, roster_name: str
) -> pd.DataFrame:
    """The ``columns`` of a validated roster, indexed by record id (as text).

    Headers are compared after stripping spaces.  A header the roster lacks is
    an ``InputError`` naming the header and the roster, never a cell.

    Examples
    --------
    >>> import pandas as pd
    >>> kids = pd.DataFrame({"id": ["C1", "C2"], "姓名": ["甲", "乙"]})
    >>> carried_columns(kids, ["姓名"], roster_name="children").loc["C2", "姓名"]
    '乙'
    """
    by_header = {str(label).strip(): label for label in roster.columns}
    missing = [c for c in columns if c.strip() not in by_header]
    if missing:
        raise InputError(
            _("cannot carry column {column!r}: the {roster} roster has no such column").format(
                column=missing[0], roster=roster_name
            )
        )
    labels = [by_header[c.strip()] for c in columns]
    out = roster.loc[:, labels].copy()
    out.columns = [c.strip() for c in columns]
    out.index = pd.Index(roster["id"].astype(str), name="id")
    return out


def carried_by_roster(
    rosters: Mapping[str, pd.DataFrame], columns: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Staff's ``columns`` of each roster (by name), indexed by record id.

    Each roster gives the named columns it has (a phone number may be in one
    roster only); a column no roster has is an ``InputError`` naming the
    header, never a cell.

    Examples
    --------
    >>> import pandas as pd
    >>> kids = pd.DataFrame({"id": ["C1"], "姓名": ["甲"], "监护人电话": ["1"]})
    >>> moms = pd.DataFrame({"id": ["M1"], "姓名": ["乙"]})
    >>> got = carried_by_roster({"children": kids, "mentors": moms}, ["姓名", "监护人电话"])
    >>> got["children"].columns.tolist(), got["mentors"].columns.tolist()
    (['姓名', '监护人电话'], ['姓名'])
    """
    wanted = [c.strip() for c in columns]
    headers = {name: {str(c).strip() for c in r.columns} for name, r in rosters.items()}
    missing = [c for c in wanted if not any(c in h for h in headers.values())]
    if missing:
        raise InputError(
            _("cannot carry column {column!r}: no roster given has such a column").format(
                column=missing[0]
            )
        )
    return {
        name: carried_columns(roster, [c for c in wanted if c in headers[name]], roster_name=name)
        for name, roster in rosters.items()
    }


def with_carried(
    table: pd.DataFrame, id_column: str, carried: pd.DataFrame | None, *, prefix: str = ""
) -> pd.DataFrame:
    """``table`` with the carried columns of each row's ``id_column`` inserted after it.

    Each carried column is named ``prefix + header``; an id without a record
    gets blank cells.  ``carried`` None (or without columns) returns ``table``
    unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> carried = pd.DataFrame({"姓名": ["甲"]}, index=pd.Index(["C1"], name="id"))
    >>> pairs = pd.DataFrame({"child_id": ["C1", "C9"], "mentor_id": ["M1", "M2"]})
    >>> with_carried(pairs, "child_id", carried, prefix="儿童").columns.tolist()
    ['child_id', '儿童姓名', 'mentor_id']
    """
    if carried is None or carried.shape[1] == 0:
        return table
    out = table.copy()
    position = list(out.columns).index(id_column) + 1
    ids = out[id_column].astype(str)
    for offset, header in enumerate(carried.columns):
        values = ids.map(carried[header]).astype(object).where(ids.isin(carried.index), "")
        out.insert(position + offset, prefix + header, values.to_numpy(dtype=object))
    return out
