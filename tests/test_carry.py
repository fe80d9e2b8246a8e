"""Staff's own columns carried into outputs: by id, blank for an unknown id, a
missing header named (never a cell)."""

from __future__ import annotations

import pandas as pd
import pytest

from matching.errors import InputError
from matching.i18n import use_language
from matching.reports import carried_columns, with_carried


def test_columns_are_carried_by_id_and_blank_for_an_unknown_id() -> None:
    roster = pd.DataFrame({"id": ["C1", "C2"], " 姓名 ": ["甲", "乙"], "联系电话": ["1", "2"]})
    carried = carried_columns(roster, ["联系电话", "姓名"], roster_name="children")
    table = pd.DataFrame({"child_id": ["C2", "C7"], "x": [1, 2]})
    out = with_carried(table, "child_id", carried, prefix="儿童")
    assert out.columns.tolist() == ["child_id", "儿童联系电话", "儿童姓名", "x"]
    assert out["儿童姓名"].tolist() == ["乙", ""]
    assert with_carried(table, "child_id", None) is table


def test_a_missing_column_is_named_in_the_staff_language() -> None:
    roster = pd.DataFrame({"id": ["C1"], "姓名": ["甲"]})
    with pytest.raises(InputError, match="'电话'") as info:
        carried_columns(roster, ["电话"], roster_name="children")
    assert "甲" not in str(info.value)
    with use_language("zh"), pytest.raises(InputError, match="没有这一列"):
        carried_columns(roster, ["电话"], roster_name="儿童")
