"""Tests of matching.rosters: roster columns, validation, file reading and need masks."""

from __future__ import annotations

import doctest
import math
import sys
import time

import numpy as np
import pandas as pd
import pytest

import matching.rosters as rosters
import matching.rosters.cells
import matching.rosters.columns
import matching.rosters.files as files
import matching.rosters.validate
from matching.errors import InputError, MatchingError, Problem, RosterError
from matching.rosters import (
    CHILD_COLUMNS,
    MENTOR_COLUMNS,
    NEED_LABELS_ZH,
    NEEDS,
    Column,
    needs_mask,
    read_children,
    read_mentors,
    validate_children,
    validate_mentors,
)

PRIORITY_NOT_A_NUMBER = (
    "not a number or a known word (expected an integer, 0 to 100, or a word: "
    "紧急, 高, 中, 普通, 低)"
)


CHILD_ORDER = [
    "id",
    "lat",
    "lon",
    "street",
    "community",
    "needs",
    "interests",
    "priority",
    "referral_source",
    "gender",
    "age",
]
MENTOR_ORDER = [
    "id",
    "lat",
    "lon",
    "street",
    "community",
    "skills",
    "interests",
    "capacity",
    "max_distance_km",
    "active",
    "gender",
]
CHILD_DTYPES = {
    "id": object,
    "lat": np.float64,
    "lon": np.float64,
    "street": object,
    "community": object,
    "needs": object,
    "interests": object,
    "priority": np.int64,
    "referral_source": object,
    "gender": object,
    "age": np.float64,
}
MENTOR_DTYPES = {
    "id": object,
    "lat": np.float64,
    "lon": np.float64,
    "street": object,
    "community": object,
    "skills": object,
    "interests": object,
    "capacity": np.int64,
    "max_distance_km": np.float64,
    "active": bool,
    "gender": object,
}
ACCEPTED = (
    "(accepted: life_care/生活关爱, spiritual_growth/精神素养, "
    "social_integration/社会融入, family_education/家庭教育)"
)
LAT_NAN = "not a number (expected degrees, -90 to 90)"
MAX_KM_RANGE = "out of range (accepted more than 0 up to 100)"


def children(n: int = 2, **columns) -> pd.DataFrame:
    """A valid children frame with ``n`` rows; keyword arguments add/replace columns."""
    data = {
        "id": [f"c{i}" for i in range(n)],
        "lat": [39.9 + i / 100 for i in range(n)],
        "lon": [116.4 + i / 100 for i in range(n)],
    }
    data.update(columns)
    return pd.DataFrame(data)


def mentors(n: int = 2, **columns) -> pd.DataFrame:
    data = {
        "id": [f"m{i}" for i in range(n)],
        "lat": [39.9 + i / 100 for i in range(n)],
        "lon": [116.4 + i / 100 for i in range(n)],
    }
    data.update(columns)
    return pd.DataFrame(data)


def problems_of(validate, df) -> list[tuple[str, str, str]]:
    with pytest.raises(RosterError) as info:
        validate(df)
    return [(p.row_id, p.column, p.message) for p in info.value.problems]


def one_problem(validate, df) -> tuple[str, str, str]:
    found = problems_of(validate, df)
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------------------------------------
# constants and column specs


def test_needs_and_labels():
    assert NEEDS == ("life_care", "spiritual_growth", "social_integration", "family_education")
    assert NEED_LABELS_ZH == {
        "life_care": "生活关爱",
        "spiritual_growth": "精神素养",
        "social_integration": "社会融入",
        "family_education": "家庭教育",
    }


def test_public_names():
    assert set(rosters.__all__) == {
        "ACCEPTED_NEEDS",
        "ADDRESS_HEADERS",
        "CHILD_COLUMNS",
        "CRS_HEADERS",
        "LIST_SEPARATORS",
        "MENTOR_COLUMNS",
        "NEEDS",
        "NEED_LABELS_ZH",
        "NEED_ORDER",
        "PRIORITY_WORDS",
        "VOCABULARY",
        "Column",
        "ColumnReading",
        "RosterKind",
        "RosterReading",
        "RosterSource",
        "ValidRoster",
        "Vocabulary",
        "assume_valid",
        "find_column",
        "header_forms",
        "load_children",
        "load_mentors",
        "load_rosters",
        "needs_mask",
        "read_children",
        "read_mentors",
        "read_table",
        "valid_children",
        "valid_mentors",
        "validate_children",
        "validate_mentors",
        "validate_roster",
    }
    for name in rosters.__all__:
        assert hasattr(rosters, name)


@pytest.mark.parametrize(
    ("columns", "order"), [(CHILD_COLUMNS, CHILD_ORDER), (MENTOR_COLUMNS, MENTOR_ORDER)]
)
def test_column_specs(columns, order):
    assert [c.name for c in columns] == order
    assert [c.name for c in columns if c.required] == ["id", "lat", "lon"]
    for column in columns:
        assert isinstance(column, Column)
        assert column.doc.strip()
        assert column.kind in {"id", "float", "int", "bool", "text", "gender", "categories", "tags"}
        if column.required:
            assert column.default is None
    with pytest.raises(AttributeError):
        columns[0].name = "x"  # frozen


def test_column_defaults_documented():
    child = {c.name: c.default for c in CHILD_COLUMNS}
    mentor = {c.name: c.default for c in MENTOR_COLUMNS}
    assert child["priority"] == 0
    assert child["needs"] == ()
    assert math.isnan(child["age"])
    assert mentor["capacity"] == 1
    assert mentor["active"] is True
    assert math.isnan(mentor["max_distance_km"])


def test_errors_hierarchy():
    assert issubclass(RosterError, InputError)
    assert issubclass(RosterError, ValueError)
    assert issubclass(InputError, MatchingError)


@pytest.mark.parametrize(
    "module",
    [matching.rosters.columns, matching.rosters.cells, matching.rosters.validate, files],
)
def test_module_doctests(module):
    result = doctest.testmod(module)
    assert result.failed == 0


def test_module_doctests_ran():
    modules = (matching.rosters.columns, matching.rosters.validate)
    assert sum(doctest.testmod(m).attempted for m in modules) >= 5


# ---------------------------------------------------------------------------------------------
# children: happy path and normalisation


def test_children_full_normalisation():
    df = pd.DataFrame(
        {
            "id": ["007", 12, 12.0 + 1, " c4 "],
            "lat": ["39.9", 40, 41.5, " -33.86 "],
            "lon": [116.4, "116.5", "-0.1", 151.2],
            "street": ["东华门街道", None, np.nan, " 朝阳 "],
            "community": [3, "", None, "社区A"],
            "needs": [
                "生活关爱、Family education",
                ["spiritual_growth", "LIFE-CARE"],
                None,
                "social integration；生活关爱；生活关爱",
            ],
            "interests": ["Art, music ,,art", ["Sports", " chess "], "", None],
            "priority": ["3", "", 2.0, None],
            "referral_source": ["school", None, "", "  社工  "],
            "gender": ["F", "男", "", "Female"],
            "age": ["8", None, 12.5, ""],
        }
    )
    out = validate_children(df)
    assert list(out.columns) == CHILD_ORDER
    assert out["id"].tolist() == ["007", "12", "13", "c4"]
    assert out["lat"].tolist() == [39.9, 40.0, 41.5, -33.86]
    assert out["lon"].tolist() == [116.4, 116.5, -0.1, 151.2]
    assert out["street"].tolist() == ["东华门街道", "", "", "朝阳"]
    assert out["community"].tolist() == ["3", "", "", "社区A"]
    assert out["needs"].tolist() == [
        ("life_care", "family_education"),
        ("life_care", "spiritual_growth"),
        (),
        ("life_care", "social_integration"),
    ]
    assert out["interests"].tolist() == [("art", "music"), ("chess", "sports"), (), ()]
    assert out["priority"].tolist() == [3, 0, 2, 0]
    assert out["referral_source"].tolist() == ["school", "", "", "社工"]
    assert out["gender"].tolist() == ["female", "male", "", "female"]
    assert out["age"].tolist()[0] == 8.0
    assert math.isnan(out["age"].tolist()[1])
    assert out["age"].tolist()[2] == 12.5
    assert math.isnan(out["age"].tolist()[3])
    for name, dtype in CHILD_DTYPES.items():
        assert out[name].dtype == dtype, name
    assert all(type(v) is str for v in out["id"])
    assert all(type(v) is tuple for v in out["needs"])
    assert all(type(v) is tuple for v in out["interests"])


@pytest.mark.parametrize("delimiter", [";", "；", "、", ",", "，", "|"])
def test_every_needs_delimiter(delimiter):
    text = delimiter.join(["家庭教育", "life_care", " 精神素养 "])
    out = validate_children(children(1, needs=[text]))
    assert out["needs"].iloc[0] == ("life_care", "spiritual_growth", "family_education")


@pytest.mark.parametrize("delimiter", [";", "；", "、", ",", "，", "|"])
def test_every_interests_delimiter(delimiter):
    out = validate_children(children(1, interests=[delimiter.join(["Zoo", "ART", "zoo"])]))
    assert out["interests"].iloc[0] == ("art", "zoo")


@pytest.mark.parametrize(
    "item",
    ["life_care", "LIFE_CARE", "Life care", "life-care", "Life  Care", " life_care ", "生活关爱"],
)
def test_need_spellings(item):
    assert validate_children(children(1, needs=[item]))["needs"].iloc[0] == ("life_care",)


@pytest.mark.parametrize("code", NEEDS)
def test_each_chinese_label(code):
    out = validate_children(children(1, needs=[NEED_LABELS_ZH[code]]))
    assert out["needs"].iloc[0] == (code,)


@pytest.mark.parametrize(
    "value",
    [
        ["family_education", "life_care"],
        ("family_education", "life_care"),
        {"family_education", "life_care"},
        np.array(["family_education", "life_care"], dtype=object),
        ["家庭教育", "life_care", "生活关爱", ""],
    ],
)
def test_needs_given_as_python_containers(value):
    df = children(1)
    df["needs"] = pd.Series([value], dtype=object)
    assert validate_children(df)["needs"].iloc[0] == ("life_care", "family_education")


def test_needs_mixed_lists_and_strings_across_rows():
    df = children(4)
    df["needs"] = pd.Series(
        [["生活关爱"], "social_integration", None, ("精神素养", "family education")], dtype=object
    )
    assert validate_children(df)["needs"].tolist() == [
        ("life_care",),
        ("social_integration",),
        (),
        ("spiritual_growth", "family_education"),
    ]


def test_repeated_values_parsed_consistently():
    needs = ["生活关爱", "family_education;社会融入", ""] * 50
    out = validate_children(children(150, needs=needs))
    expected = [("life_care",), ("social_integration", "family_education"), ()] * 50
    assert out["needs"].tolist() == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("f", "female"),
        ("F", "female"),
        (" female ", "female"),
        ("FEMALE", "female"),
        ("女", "female"),
        ("m", "male"),
        ("Male", "male"),
        ("男", "male"),
        ("", ""),
        (None, ""),
    ],
)
def test_gender_normalisation(given, expected):
    df = children(1)
    df["gender"] = pd.Series([given], dtype=object)
    assert validate_children(df)["gender"].iloc[0] == expected
    assert validate_mentors(mentors(1, gender=df["gender"]))["gender"].iloc[0] == expected


@pytest.mark.parametrize(
    ("given", "expected"), [(12, "12"), (12.0, "12"), ("007", "007"), (" a b ", "a b")]
)
def test_id_normalisation(given, expected):
    df = children(1)
    df["id"] = pd.Series([given], dtype=object)
    out = validate_children(df)
    assert out["id"].iloc[0] == expected
    assert type(out["id"].iloc[0]) is str


def test_integer_and_float_id_columns():
    assert validate_children(children(2, id=[5, 7]))["id"].tolist() == ["5", "7"]
    assert validate_children(children(2, id=[5.0, 70.0]))["id"].tolist() == ["5", "70"]


def test_priority_accepts_integral_forms():
    df = children(4)
    df["priority"] = pd.Series(["4", " 2 ", 3.0, "1.0"], dtype=object)
    out = validate_children(df)
    assert out["priority"].tolist() == [4, 2, 3, 1]
    assert out["priority"].dtype == np.int64


def test_nullable_dtypes_are_accepted():
    df = children(
        2,
        priority=pd.array([2, None], dtype="Int64"),
        age=pd.array([7.5, None], dtype="Float64"),
        street=pd.array(["东城", None], dtype="string"),
    )
    out = validate_children(df)
    assert out["priority"].tolist() == [2, 0]
    assert out["age"].iloc[0] == 7.5
    assert math.isnan(out["age"].iloc[1])
    assert out["street"].tolist() == ["东城", ""]


def test_optional_columns_absent_get_defaults():
    out = validate_children(children(2))
    assert out["street"].tolist() == ["", ""]
    assert out["needs"].tolist() == [(), ()]
    assert out["interests"].tolist() == [(), ()]
    assert out["priority"].tolist() == [0, 0]
    assert out["gender"].tolist() == ["", ""]
    assert out["age"].isna().all()
    for name, dtype in CHILD_DTYPES.items():
        assert out[name].dtype == dtype, name


def test_fresh_range_index_and_row_order():
    df = children(3, id=["b", "c", "a"])
    df.index = [10, 3, 10]
    out = validate_children(df)
    assert isinstance(out.index, pd.RangeIndex)
    assert out.index.tolist() == [0, 1, 2]
    assert out["id"].tolist() == ["b", "c", "a"]


def test_boundary_coordinates_accepted():
    out = validate_children(children(2, lat=[-90, 90], lon=[-180, 180]))
    assert out["lat"].tolist() == [-90.0, 90.0]
    assert out["lon"].tolist() == [-180.0, 180.0]


# ---------------------------------------------------------------------------------------------
# mentors: happy path


def test_mentors_full_normalisation():
    df = pd.DataFrame(
        {
            "id": ["m1", 2, "m3"],
            "lat": [39.9, "40.1", 40],
            "lon": ["116.3", 116.4, 116.5],
            "skills": ["生活关爱|家庭教育", ["Social integration"], None],
            "interests": ["Music", "", ["art", "ART"]],
            "capacity": ["3", "", 2.0],
            "max_distance_km": ["2.5", "", 10],
            "active": ["是", "no", None],
            "gender": ["女", "", "m"],
        }
    )
    out = validate_mentors(df)
    assert list(out.columns) == MENTOR_ORDER
    assert out["id"].tolist() == ["m1", "2", "m3"]
    assert out["skills"].tolist() == [
        ("life_care", "family_education"),
        ("social_integration",),
        (),
    ]
    assert out["interests"].tolist() == [("music",), (), ("art",)]
    assert out["capacity"].tolist() == [3, 1, 2]
    assert out["max_distance_km"].iloc[0] == 2.5
    assert math.isnan(out["max_distance_km"].iloc[1])
    assert out["max_distance_km"].iloc[2] == 10.0
    assert out["active"].tolist() == [True, False, True]
    assert out["gender"].tolist() == ["female", "", "male"]
    for name, dtype in MENTOR_DTYPES.items():
        assert out[name].dtype == dtype, name


def test_mentor_defaults():
    out = validate_mentors(mentors(2))
    assert out["capacity"].tolist() == [1, 1]
    assert out["active"].tolist() == [True, True]
    assert out["max_distance_km"].isna().all()
    assert out["skills"].tolist() == [(), ()]
    for name, dtype in MENTOR_DTYPES.items():
        assert out[name].dtype == dtype, name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (True, True),
        (False, False),
        (np.True_, True),
        (np.False_, False),
        (1, True),
        (0, False),
        (1.0, True),
        (0.0, False),
        ("true", True),
        ("FALSE", False),
        ("Yes", True),
        (" no ", False),
        ("1", True),
        ("0", False),
        ("是", True),
        ("否", False),
        ("", True),
        (None, True),
    ],
)
def test_active_values(given, expected):
    df = mentors(1)
    df["active"] = pd.Series([given], dtype=object)
    assert validate_mentors(df)["active"].iloc[0] is np.bool_(expected)


def test_active_bool_column():
    df = mentors(3, active=[True, False, True])
    assert df["active"].dtype == bool  # the bool column's own path
    out = validate_mentors(df)
    assert out["active"].tolist() == [True, False, True]
    assert out["active"].dtype == bool
    out.loc[0, "active"] = False  # a copy: the input is untouched
    assert df["active"].tolist() == [True, False, True]


def test_active_mixed_bools_and_numbers():
    df = mentors(4)
    df["active"] = pd.Series([True, 1, 0, False], dtype=object)
    assert validate_mentors(df)["active"].tolist() == [True, True, False, False]


def test_mentors_ignore_children_only_columns():
    out = validate_mentors(mentors(1, needs=["nonsense that is not validated"], priority=["x"]))
    assert list(out.columns) == [*MENTOR_ORDER, "needs", "priority"]
    assert out["needs"].tolist() == ["nonsense that is not validated"]


# ---------------------------------------------------------------------------------------------
# one bad cell at a time


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("lat", "abc", LAT_NAN),
        ("lat", "", "missing value"),
        ("lat", None, "missing value"),
        ("lat", 123.4, "out of range (accepted -90 to 90)"),
        ("lat", -90.5, "out of range (accepted -90 to 90)"),
        ("lat", "inf", "out of range (accepted -90 to 90)"),
        ("lat", "nan", LAT_NAN),
        ("lat", True, LAT_NAN),
        ("lon", 180.5, "out of range (accepted -180 to 180)"),
        ("lon", "1,5", "not a number (expected degrees, -180 to 180)"),
        ("lon", float("-inf"), "out of range (accepted -180 to 180)"),
        ("needs", "xyz", f"unknown need category {ACCEPTED}"),
        ("needs", "生活关爱;xyz", f"unknown need category {ACCEPTED}"),
        ("needs", ["life_care", 3], "malformed list: expected a list or a delimited string"),
        ("needs", 5, "malformed list: expected a list or a delimited string"),
        ("needs", {"a": 1}, "malformed list: expected a list or a delimited string"),
        ("interests", [None], "malformed list: expected a list or a delimited string"),
        ("interests", 2.5, "malformed list: expected a list or a delimited string"),
        ("needs", ("life_care", 3), "malformed list: expected a list or a delimited string"),
        ("interests", ("chess", None), "malformed list: expected a list or a delimited string"),
        ("interests", (b"chess",), "malformed list: expected a list or a delimited string"),
        ("priority", "-1", "out of range (accepted 0 to 100)"),
        ("priority", 2.5, "not an integer (accepted integers 0 to 100)"),
        (
            "priority",
            "two",
            PRIORITY_NOT_A_NUMBER,
        ),
        ("priority", "inf", "out of range (accepted 0 to 100)"),
        ("gender", "x", "unknown gender (accepted: female/女/f, male/男/m)"),
        ("gender", 1, "unknown gender (accepted: female/女/f, male/男/m)"),
        ("age", "old", "not a number (expected years, 0 to 25)"),
        ("age", 30, "out of range (accepted 0 to 25)"),
        ("age", -1, "out of range (accepted 0 to 25)"),
        ("street", ["a"], "malformed value: expected text"),
        ("community", {"k": "v"}, "malformed value: expected text"),
        ("referral_source", float("inf"), "malformed value: expected text"),
    ],
)
def test_children_single_problem(column, value, message):
    df = children(2)
    cells = [None, value] if column not in ("lat", "lon") else [39.0, value]
    df[column] = pd.Series(cells, dtype=object)
    # a coordinate that is not a number makes the row look shifted: named by its row
    ident = "row 2" if message.startswith("not a number (expected degrees") else "c1"
    assert one_problem(validate_children, df) == (ident, column, message)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("capacity", 0, "out of range (accepted 1 to 100)"),
        ("capacity", "0", "out of range (accepted 1 to 100)"),
        ("capacity", -2, "out of range (accepted 1 to 100)"),
        ("capacity", 1.5, "not an integer (accepted integers 1 to 100)"),
        ("capacity", "many", "not a number (expected an integer, 1 to 100)"),
        ("max_distance_km", 0, MAX_KM_RANGE),
        ("max_distance_km", "-3", MAX_KM_RANGE),
        ("max_distance_km", "inf", MAX_KM_RANGE),
        ("max_distance_km", "far", "not a number (expected km, more than 0 up to 100)"),
        ("active", "maybe", "not a yes/no value (accepted: true/false, yes/no, 1/0, 是/否)"),
        ("active", 2, "not a yes/no value (accepted: true/false, yes/no, 1/0, 是/否)"),
        ("skills", "cooking", f"unknown need category {ACCEPTED}"),
        ("skills", 7, "malformed list: expected a list or a delimited string"),
        ("gender", "other", "unknown gender (accepted: female/女/f, male/男/m)"),
        ("lat", "north", LAT_NAN),
    ],
)
def test_mentors_single_problem(column, value, message):
    df = mentors(2)
    df[column] = pd.Series([39.0 if column == "lat" else None, value], dtype=object)
    ident = "row 2" if message == LAT_NAN else "m1"
    assert one_problem(validate_mentors, df) == (ident, column, message)


def test_numeric_dtype_columns_checked_too():
    df = mentors(3, capacity=[2, 0, -1], max_distance_km=[1.5, np.nan, -0.5])
    assert problems_of(validate_mentors, df) == [
        ("m1", "capacity", "out of range (accepted 1 to 100)"),
        ("m2", "capacity", "out of range (accepted 1 to 100)"),
        ("m2", "max_distance_km", MAX_KM_RANGE),
    ]
    df = children(3, lat=[1.0, np.nan, 95.0], priority=[1, -3, 2])
    assert problems_of(validate_children, df) == [
        ("c1", "lat", "missing value"),
        ("c1", "priority", "out of range (accepted 0 to 100)"),
        ("c2", "lat", "out of range (accepted -90 to 90)"),
    ]


def test_booleans_are_not_numbers_even_next_to_equal_numbers():
    # True == 1 and hash(True) == hash(1): values must not be merged before parsing
    df = children(3)
    df["priority"] = pd.Series([1, True, 1.0], dtype=object)
    assert one_problem(validate_children, df) == (
        "c1",
        "priority",
        PRIORITY_NOT_A_NUMBER,
    )
    df = children(2)
    df["id"] = pd.Series([1, True], dtype=object)
    assert one_problem(validate_children, df) == (
        "row 2",
        "id",
        "malformed id: expected text or an integer",
    )


def test_several_unknown_needs_in_one_cell():
    found = problems_of(validate_children, children(1, needs=["foo、生活关爱、bar"]))
    assert found == [("c0", "needs", f"2 unknown need categories {ACCEPTED}")]


def test_missing_ids_are_named_by_row():
    df = children(4)
    df["id"] = pd.Series(["a", None, "  ", np.nan], dtype=object)
    df["lat"] = pd.Series([1.0, 2.0, "bad", 3.0], dtype=object)
    assert problems_of(validate_children, df) == [
        ("row 2", "id", "missing id"),
        ("row 3", "id", "missing id"),
        ("row 3", "lat", LAT_NAN),
        ("row 4", "id", "missing id"),
    ]


def test_malformed_id():
    df = children(2)
    df["id"] = pd.Series(["a", ["x"]], dtype=object)
    assert one_problem(validate_children, df) == (
        "row 2",
        "id",
        "malformed id: expected text or an integer",
    )


def test_duplicate_ids_one_problem_per_id():
    ids = ["a", "b", "x", "c", "d", "e", "x", "b", "b"]
    found = problems_of(validate_children, children(len(ids), id=ids))
    assert found == [
        ("b", "id", "duplicate id (rows 2, 8, 9)"),
        ("x", "id", "duplicate id (rows 3, 7)"),
    ]


def test_duplicate_ids_after_normalisation():
    df = children(2)
    df["id"] = pd.Series([12, " 12 "], dtype=object)
    assert one_problem(validate_children, df) == ("12", "id", "duplicate id (rows 1, 2)")


def test_one_error_lists_every_problem():
    df = pd.DataFrame(
        {
            "id": ["k1", "k2", None, "k1", "k5"],
            "lat": ["39.9", "abc", "100", "", "40"],
            "lon": [116.4, 116.4, 116.4, 116.4, 200],
            "needs": ["生活关爱", "xyz", 5, "", "family education"],
            "priority": ["", "-1", "1.5", "2", "x"],
            "gender": ["f", "q", "", "m", ""],
            "age": ["", "30", "", "", "ten"],
            "name": ["张小明", "李华", "王芳", "赵强", "钱多"],
        }
    )
    with pytest.raises(RosterError) as info:
        validate_children(df)
    error = info.value
    assert error.roster == "children"
    assert all(isinstance(p, Problem) for p in error.problems)
    found = [(p.row_id, p.column, p.message) for p in error.problems]
    assert found == [
        ("k1", "id", "duplicate id (rows 1, 4)"),
        # lat holds text: the row looks shifted, so k2 is named by its row
        ("row 2", "lat", "not a number (expected degrees, -90 to 90)"),
        ("row 2", "needs", f"unknown need category {ACCEPTED}"),
        ("row 2", "priority", "out of range (accepted 0 to 100)"),
        ("row 2", "gender", "unknown gender (accepted: female/女/f, male/男/m)"),
        ("row 2", "age", "out of range (accepted 0 to 25)"),
        ("row 3", "id", "missing id"),
        ("row 3", "lat", "out of range (accepted -90 to 90)"),
        ("row 3", "needs", "malformed list: expected a list or a delimited string"),
        ("row 3", "priority", "not an integer (accepted integers 0 to 100)"),
        ("k1", "lat", "missing value"),
        ("k5", "lon", "out of range (accepted -180 to 180)"),
        (
            "k5",
            "priority",
            PRIORITY_NOT_A_NUMBER,
        ),
        ("k5", "age", "not a number (expected years, 0 to 25)"),
    ]
    text = str(error)
    assert "14 problem(s)" in text
    for name in df["name"]:
        assert name not in text


def test_mentor_error_lists_every_problem():
    df = mentors(3, capacity=[0, "x", 2], active=["yes", "perhaps", "否"], skills=["", "", "abc"])
    with pytest.raises(RosterError) as info:
        validate_mentors(df)
    assert info.value.roster == "mentors"
    assert [(p.row_id, p.column) for p in info.value.problems] == [
        ("m0", "capacity"),
        ("m1", "capacity"),
        ("m1", "active"),
        ("m2", "skills"),
    ]


def test_text_values_are_not_quoted_in_messages():
    df = children(
        1, street=[["北京市东城区某某路 12 号"]], referral_source=[{"电话": "13800000000"}]
    )
    with pytest.raises(RosterError) as info:
        validate_children(df)
    text = str(info.value)
    assert "某某路" not in text
    assert "13800000000" not in text
    assert [(p.column, p.message) for p in info.value.problems] == [
        ("street", "malformed value: expected text"),
        ("referral_source", "malformed value: expected text"),
    ]


def test_long_values_are_not_in_messages():
    # (once quoted and truncated to 40 characters; now never quoted at all)
    message = one_problem(validate_children, children(1, lat=["x" * 500]))[2]
    assert message == "not a number (expected degrees, -90 to 90)"


def test_not_a_dataframe():
    with pytest.raises(InputError, match="DataFrame"):
        validate_children([{"id": "a", "lat": 1, "lon": 2}])
    with pytest.raises(InputError, match="DataFrame"):
        validate_mentors(None)


# ---------------------------------------------------------------------------------------------
# headers


def test_missing_required_columns():
    df = pd.DataFrame({"ID": ["a"], "street": ["x"]})
    assert problems_of(validate_children, df) == [
        ("(header)", "lat", "missing required column"),
        ("(header)", "lon", "missing required column"),
    ]
    assert problems_of(validate_mentors, pd.DataFrame({"lat": [1.0], "lon": [2.0]})) == [
        ("(header)", "id", "missing required column"),
    ]


def test_missing_column_reported_with_row_problems():
    df = pd.DataFrame({"id": ["a", "b"], "lat": [1.0, "bad"]})
    assert problems_of(validate_children, df) == [
        ("(header)", "lon", "missing required column"),
        ("row 2", "lat", "not a number (expected degrees, -90 to 90)"),
    ]


def test_missing_id_column_names_rows():
    df = pd.DataFrame({"lat": [1.0, 500.0], "lon": [2.0, 3.0]})
    assert problems_of(validate_children, df) == [
        ("(header)", "id", "missing required column"),
        ("row 2", "lat", "out of range (accepted -90 to 90)"),
    ]


def test_rows_without_columns():
    df = pd.DataFrame(index=range(2))
    assert [p[:2] for p in problems_of(validate_children, df)] == [
        ("(header)", "id"),
        ("(header)", "lat"),
        ("(header)", "lon"),
    ]


def test_two_columns_map_to_the_same_name():
    df = pd.DataFrame({"id": ["a"], "编号": ["b"], "lat": [1.0], "lon": [2.0]})
    ((row_id, column, message),) = problems_of(validate_children, df)
    assert (row_id, column) == ("(header)", "id")
    assert message == "2 columns map to 'id': 'id', '编号'"
    df = pd.DataFrame({"id": ["a"], "lat": [1.0], " LAT ": [1.0], "lon": [2.0]})
    assert problems_of(validate_children, df) == [
        ("(header)", "lat", "2 columns map to 'lat': 'lat', ' LAT '"),
    ]


def test_headers_are_stripped_and_lowercased():
    df = pd.DataFrame({" ID ": ["a"], "Lat": [1.0], "LON ": [2.0], " Needs": ["生活关爱"]})
    out = validate_children(df)
    assert list(out.columns) == CHILD_ORDER
    assert out["needs"].iloc[0] == ("life_care",)


def test_chinese_headers_children():
    df = pd.DataFrame(
        {
            "编号": ["a"],
            "纬度": ["39.9"],
            "经度": ["116.4"],
            "街道": ["东华门"],
            "社区": ["多福巷"],
            "需求": ["生活关爱；精神素养"],
            "兴趣": ["书法"],
            "优先级": ["2"],
            "转介来源": ["学校"],
            "性别": ["女"],
            "年龄": ["9"],
        }
    )
    out = validate_children(df)
    assert list(out.columns) == CHILD_ORDER
    assert out.iloc[0].tolist() == [
        "a",
        39.9,
        116.4,
        "东华门",
        "多福巷",
        ("life_care", "spiritual_growth"),
        ("书法",),
        2,
        "学校",
        "female",
        9.0,
    ]


def test_chinese_headers_mentors():
    df = pd.DataFrame(
        {
            "编号": ["m"],
            "纬度": [39.9],
            "经度": [116.4],
            "技能": ["家庭教育"],
            "容量": ["2"],
            "最大距离": ["3.5"],
            "在岗": ["否"],
            "性别": ["男"],
        }
    )
    out = validate_mentors(df)
    assert list(out.columns) == MENTOR_ORDER
    row = out.iloc[0]
    assert row["skills"] == ("family_education",)
    assert row["capacity"] == 2
    assert row["max_distance_km"] == 3.5
    assert not row["active"]
    assert row["gender"] == "male"


def test_mentor_only_alias_is_extra_for_children():
    out = validate_children(children(1, 技能=["生活关爱"]))
    assert list(out.columns) == [*CHILD_ORDER, "技能"]
    assert out["技能"].tolist() == ["生活关爱"]


def test_extra_columns_carried_through_unchanged():
    df = children(3, name=["张三", "李四", "王五"], score=[1.5, 2.5, 3.5])
    df.insert(0, "phone", ["1", "2", "3"])
    out = validate_children(df)
    assert list(out.columns) == [*CHILD_ORDER, "phone", "name", "score"]
    assert out["name"].tolist() == ["张三", "李四", "王五"]
    assert out["phone"].tolist() == ["1", "2", "3"]
    assert out["score"].dtype == np.float64
    assert out["score"].tolist() == [1.5, 2.5, 3.5]


def test_extra_columns_repeated_or_not_text_headers():
    # two extra columns with the same header are both kept, in order; a
    # header that is not text (an int, a tuple) is kept as it is
    df = children(2, note=["a", "b"])
    df = pd.concat([df, pd.DataFrame({"note": ["c", "d"], 7: [1, 2]})], axis=1)
    out = validate_children(df)
    assert list(out.columns) == [*CHILD_ORDER, "note", "note", 7]
    assert out.iloc[:, -3].tolist() == ["a", "b"]
    assert out.iloc[:, -2].tolist() == ["c", "d"]
    assert out[7].tolist() == [1, 2]
    single = validate_children(children(2, x=[1, 2]).rename(columns={"x": ("a", 1)}))
    assert list(single.columns) == [*CHILD_ORDER, ("a", 1)]
    assert single[("a", 1)].tolist() == [1, 2]


def test_extra_columns_with_custom_index():
    df = children(2, name=["x", "y"])
    df.index = ["p", "q"]
    out = validate_children(df)
    assert out["name"].tolist() == ["x", "y"]
    assert not out.isna()[["id", "name"]].any().any()


def test_input_is_not_mutated():
    df = pd.DataFrame(
        {
            " ID ": [7, "008"],
            "纬度": ["39.9", 40.0],
            "lon": [116.4, "116.5"],
            "needs": [["生活关爱"], "family education;life_care"],
            "interests": ["Art", None],
            "priority": ["", "2"],
            "name": ["a", "b"],
        },
        index=[5, 9],
    )
    before = df.copy(deep=True)
    before_lists = [list(v) if isinstance(v, list) else v for v in df["needs"]]
    out = validate_children(df)
    pd.testing.assert_frame_equal(df, before)
    assert [list(v) if isinstance(v, list) else v for v in df["needs"]] == before_lists
    assert list(df.columns) == [" ID ", "纬度", "lon", "needs", "interests", "priority", "name"]
    out.loc[0, "name"] = "changed"
    out.loc[0, "lat"] = 0.0
    pd.testing.assert_frame_equal(df, before)


def test_input_not_mutated_on_error():
    df = children(2, lat=["x", 1.0])
    before = df.copy(deep=True)
    with pytest.raises(RosterError):
        validate_children(df)
    pd.testing.assert_frame_equal(df, before)


# ---------------------------------------------------------------------------------------------
# empty rosters


@pytest.mark.parametrize(
    ("validate", "order", "dtypes"),
    [
        (validate_children, CHILD_ORDER, CHILD_DTYPES),
        (validate_mentors, MENTOR_ORDER, MENTOR_DTYPES),
    ],
)
@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(),
        pd.DataFrame({"id": [], "lat": [], "lon": []}),
        pd.DataFrame({"id": pd.Series([], dtype=str)}),
    ],
)
def test_empty_roster(validate, order, dtypes, frame):
    out = validate(frame)
    assert len(out) == 0
    assert list(out.columns) == order
    for name, dtype in dtypes.items():
        assert out[name].dtype == dtype, name


def test_empty_roster_keeps_extra_columns():
    out = validate_children(pd.DataFrame({"id": [], "lat": [], "lon": [], "name": []}))
    assert list(out.columns) == [*CHILD_ORDER, "name"]
    assert len(out) == 0


# ---------------------------------------------------------------------------------------------
# files


CSV_TEXT = (
    "编号,lat,lon,需求,interests,priority,name\n"
    "007,39.9,116.4,生活关爱、家庭教育,Art|music,2,张三\n"
    '012,40.0,116.5,"social_integration,spiritual_growth",,,李四\n'
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_read_children_csv(tmp_path, encoding):
    path = tmp_path / "kids.csv"
    path.write_text(CSV_TEXT, encoding=encoding)
    out = read_children(path)
    assert list(out.columns) == [*CHILD_ORDER, "name"]
    assert out["id"].tolist() == ["007", "012"]
    assert out["lat"].tolist() == [39.9, 40.0]
    assert out["needs"].tolist() == [
        ("life_care", "family_education"),
        ("spiritual_growth", "social_integration"),
    ]
    assert out["interests"].tolist() == [("art", "music"), ()]
    assert out["priority"].tolist() == [2, 0]
    assert out["name"].tolist() == ["张三", "李四"]
    assert read_children(str(path))["id"].tolist() == ["007", "012"]


def test_csv_round_trip(tmp_path):
    original = validate_children(
        children(
            3,
            id=["007", "010", "x"],
            needs=["生活关爱", "", "家庭教育;精神素养"],
            age=[7, None, 12],
        )
    )
    written = original.copy()
    for column in ("needs", "interests"):
        written[column] = written[column].map(";".join)
    path = tmp_path / "kids.csv"
    written.to_csv(path, index=False, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    pd.testing.assert_frame_equal(read_children(path), original)


def test_csv_text_like_na_is_kept(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text("id,lat,lon,street\nNA,1,2,NULL\nnan,3,4,\n", encoding="utf-8")
    out = read_children(path)
    assert out["id"].tolist() == ["NA", "nan"]
    assert out["street"].tolist() == ["NULL", ""]


def test_read_mentors_csv_and_errors(tmp_path):
    path = tmp_path / "mentors.csv"
    path.write_text(
        "id,lat,lon,skills,capacity,active\nm1,39.9,116.4,生活关爱,2,是\nm2,39.8,116.3,,0,maybe\n",
        encoding="utf-8-sig",
    )
    with pytest.raises(RosterError) as info:
        read_mentors(path)
    assert [(p.row_id, p.column) for p in info.value.problems] == [
        ("m2", "capacity"),
        ("m2", "active"),
    ]
    path.write_text("id,lat,lon,capacity\nm1,39.9,116.4,3\n", encoding="utf-8")
    out = read_mentors(path)
    assert out["capacity"].tolist() == [3]
    assert out["active"].tolist() == [True]


def test_csv_header_only_and_empty_file(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text("id,lat,lon\n", encoding="utf-8")
    assert len(read_children(path)) == 0
    path.write_text("", encoding="utf-8")
    out = read_children(path)
    assert len(out) == 0
    assert list(out.columns) == CHILD_ORDER


def test_csv_in_gbk_is_read(tmp_path):
    # Excel on Chinese Windows saves "CSV" as GBK: read as GB18030, its superset
    path = tmp_path / "kids.csv"
    path.write_bytes("id,lat,lon,street\na,1,2,东城\n".encode("gbk"))
    kids = rosters.load_children(path)
    assert kids.frame["street"].tolist() == ["东城"]
    assert kids.reading.encoding == "gb18030"


def test_csv_not_text(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_bytes(b"id,lat,lon,street\na,1,2,\xff\x80\n")
    with pytest.raises(InputError, match="UTF-8, GB18030") as info:
        read_children(path)
    assert not isinstance(info.value, RosterError)
    assert str(path) in str(info.value)


def test_read_xlsx_round_trip(tmp_path):
    path = tmp_path / "roster.xlsx"
    kids = pd.DataFrame(
        {
            "编号": ["007", 12],
            "纬度": [39.9, "40.1"],
            "经度": [116.4, 116.5],
            "需求": ["生活关爱、家庭教育", None],
            "优先级": [1, None],
            "name": ["张三", "NA"],
        }
    )
    helpers = pd.DataFrame(
        {"id": ["m1"], "lat": [39.9], "lon": [116.4], "capacity": [2], "active": [False]}
    )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        kids.to_excel(writer, sheet_name="children", index=False)
        helpers.to_excel(writer, sheet_name="mentors", index=False)
    out = read_children(path)
    assert out["id"].tolist() == ["007", "12"]
    assert out["lat"].tolist() == [39.9, 40.1]
    assert out["needs"].tolist() == [("life_care", "family_education"), ()]
    assert out["priority"].tolist() == [1, 0]
    assert out["name"].tolist() == ["张三", "NA"]
    pd.testing.assert_frame_equal(read_children(path, sheet="children"), out)
    pd.testing.assert_frame_equal(read_children(path, sheet=0), out)
    m = read_mentors(path, sheet="mentors")
    assert m["id"].tolist() == ["m1"]
    assert m["capacity"].tolist() == [2]
    assert m["active"].tolist() == [False]
    assert read_mentors(path, sheet=1)["lat"].tolist() == [39.9]


def test_xlsx_invalid_roster(tmp_path):
    path = tmp_path / "kids.XLSX"
    children(2, lat=[1.0, 91.0]).to_excel(path, index=False, engine="openpyxl")
    assert one_problem(read_children, path) == (
        "c1",
        "lat",
        "out of range (accepted -90 to 90)",
    )


def test_xlsx_missing_sheet(tmp_path):
    path = tmp_path / "kids.xlsx"
    children(1).to_excel(path, index=False, engine="openpyxl")
    with pytest.raises(InputError, match="nope") as info:
        read_children(path, sheet="nope")
    assert str(path) in str(info.value)
    with pytest.raises(InputError):
        read_mentors(path, sheet=3)


def test_xlsx_without_openpyxl(tmp_path, monkeypatch):
    path = tmp_path / "kids.xlsx"
    children(1).to_excel(path, index=False, engine="openpyxl")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(InputError) as info:
        read_children(path)
    assert 'pip install "mentor-matching[excel]"' in str(info.value)


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "kids.xlsx"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(InputError) as info:
        read_children(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "kids.csv"
    with pytest.raises(InputError, match="no such file") as info:
        read_children(path)
    assert str(path) in str(info.value)
    with pytest.raises(InputError) as info:
        read_mentors(tmp_path / "mentors.xlsx")
    assert str(tmp_path / "mentors.xlsx") in str(info.value)


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "looks_like.csv"
    folder.mkdir()
    with pytest.raises(InputError, match="no such file"):
        read_children(folder)


@pytest.mark.parametrize("name", ["kids.xls", "kids.txt", "kids.json", "kids"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("id,lat,lon\na,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="unsupported file type") as info:
        read_children(path)
    assert str(path) in str(info.value)


def test_sheet_with_csv_rejected(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text("id,lat,lon\na,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="sheet"):
        read_children(path, sheet="Sheet1")


# ---------------------------------------------------------------------------------------------
# needs_mask


def test_needs_mask_bits():
    series = pd.Series(
        [(), ("life_care",), ("spiritual_growth",), ("social_integration",), ("family_education",)]
    )
    mask = needs_mask(series)
    assert mask.dtype == np.uint8
    assert mask.tolist() == [0, 1, 2, 4, 8]


def test_needs_mask_combinations_and_validated_columns():
    out = validate_children(
        children(
            4, needs=["生活关爱;家庭教育", "", "精神素养、社会融入、生活关爱、家庭教育", "社会融入"]
        )
    )
    assert needs_mask(out["needs"]).tolist() == [9, 0, 15, 4]
    skills = validate_mentors(mentors(2, skills=["家庭教育", "spiritual growth"]))["skills"]
    assert needs_mask(skills).tolist() == [8, 2]


def test_needs_mask_empty_and_lists():
    assert needs_mask(pd.Series([], dtype=object)).shape == (0,)
    assert needs_mask(pd.Series([], dtype=object)).dtype == np.uint8
    assert needs_mask(pd.Series([["family_education", "life_care"]] * 3)).tolist() == [9, 9, 9]


def test_needs_mask_repeated_values_and_mixed_cells():
    # each distinct value is worked out once: the result is still per row
    values = [("life_care",), (), ("family_education", "life_care"), ("life_care",), ()]
    assert needs_mask(pd.Series(values * 3)).tolist() == [1, 0, 9, 1, 0] * 3
    # a list cell (not hashable) among tuples: row by row, the same masks
    mixed = pd.Series([("life_care",), ["family_education"], ("life_care",)], dtype=object)
    assert needs_mask(mixed).tolist() == [1, 8, 1]


def test_needs_mask_names_the_first_row_of_a_bad_value():
    values = pd.Series([("life_care",), (), "life_care", ("life_care",), "life_care"])
    with pytest.raises(InputError, match="row 3 is not a tuple"):
        needs_mask(values)


@pytest.mark.parametrize("bad", [("cooking",), "life_care", 3])
def test_needs_mask_rejects_unvalidated(bad):
    with pytest.raises(InputError):
        needs_mask(pd.Series([("life_care",), bad], dtype=object))


# ---------------------------------------------------------------------------------------------
# scale


def test_hundred_thousand_rows_validate_quickly():
    n = 100_000
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "id": [f"C{i:06d}" for i in range(n)],
            "lat": [f"{v:.6f}" for v in rng.uniform(39, 41, n)],
            "lon": [f"{v:.6f}" for v in rng.uniform(116, 117, n)],
            "street": rng.choice(["东城", "西城", "朝阳"], n),
            "needs": rng.choice(
                ["生活关爱", "life_care;family_education", "社会融入、精神素养", ""], n
            ),
            "interests": rng.choice(["Art, music", "sports", ""], n),
            "priority": rng.choice(["0", "1", "", "3"], n),
            "gender": rng.choice(["f", "m", ""], n),
            "age": rng.choice(["7", "", "12.5"], n),
        }
    ).astype(str)
    start = time.perf_counter()
    out = validate_children(df)
    elapsed = time.perf_counter() - start
    assert len(out) == n
    assert out["id"].iloc[-1] == f"C{n - 1:06d}"
    assert needs_mask(out["needs"]).max() <= 15
    assert elapsed < 5.0, elapsed


# ---------------------------------------------------------------------------------------------
# issue: error messages quote cell contents (a shifted column puts a name or a phone number
# where a number was expected).  Problems name the file, the line, the record and the column,
# the kind of problem and what is accepted, never the cell.

NAME, PHONE = "王小明", "13912345678"


def error_of(call, *args, **kwargs) -> RosterError:
    with pytest.raises(RosterError) as info:
        call(*args, **kwargs)
    return info.value


def assert_no_leak(error: Exception, *secrets: str) -> None:
    text = str(error) + repr(getattr(error, "problems", ""))
    for secret in secrets:
        assert secret not in text, secret


def test_issue_name_in_lat_is_not_echoed():
    # the bug report: "C3: column 'lat': not a number: '王小明'"
    df = children(3, id=["C1", "C2", "C3"], lat=["39.9", "39.9", NAME])
    error = error_of(validate_children, df)
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [
        # lat holds text: the row looks shifted, so it is named by its row, not by its id cell
        ("row 3", "lat", "not a number (expected degrees, -90 to 90)"),
    ]
    assert error.problems[0].row == 3
    assert error.problems[0].line is None
    assert_no_leak(error, NAME, "'王")


def test_issue_phone_number_in_lat_is_not_echoed():
    # the bug report: "C000003: column 'lat': out of range: 5550001234"
    df = children(3, id=["C000001", "C000002", "C000003"], lat=["39.9", "39.9", "5550001234"])
    error = error_of(validate_children, df)
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [
        ("C000003", "lat", "out of range (accepted -90 to 90)"),
    ]
    assert str(error.problems[0]) == (
        "row 3, id C000003: column 'lat': out of range (accepted -90 to 90)"
    )
    assert_no_leak(error, "5550001234")


def test_issue_semicolon_row_is_not_shown_as_the_id():
    # a row written with ';' delimiters lands whole in the id column
    row = f"C1;39.9;116.4;{NAME};{PHONE}"
    df = pd.DataFrame({"id": [row, "C2"], "lat": ["", "39.9"], "lon": ["", "116.4"]})
    error = error_of(validate_children, df)
    assert [(p.row_id, p.column) for p in error.problems] == [
        ("row 1", "id"),
        ("row 1", "lat"),
        ("row 1", "lon"),
    ]
    assert error.problems[0].message.startswith("malformed id: holds a delimiter")
    assert_no_leak(error, NAME, PHONE, "C1;", "116.4")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|", "，", "；", "\n"])
def test_an_id_holding_a_delimiter_is_named_by_its_row(delimiter):
    df = children(2, id=["c0", f"C7{delimiter}{NAME}"], lat=[39.9, 95.0])
    error = error_of(validate_children, df)
    assert [(p.row_id, p.column) for p in error.problems] == [("row 2", "id"), ("row 2", "lat")]
    assert error.problems[0].message == ID_DELIMITER
    assert_no_leak(error, NAME, "C7")


def test_an_id_longer_than_64_characters_is_named_by_its_row():
    long_id = "C" + "7" * 64
    error = error_of(validate_children, children(2, id=["c0", long_id], priority=[0, -1]))
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [
        ("row 2", "id", "malformed id: longer than 64 characters"),
        ("row 2", "priority", "out of range (accepted 0 to 100)"),
    ]
    assert_no_leak(error, long_id[:20])
    # 64 characters are fine, and so are ids given as numbers or in an object column
    ok = validate_children(children(2, id=["c0", "C" + "7" * 63]))
    assert ok["id"].tolist() == ["c0", "C" + "7" * 63]
    mixed = pd.Series([12, long_id], dtype=object)
    error = error_of(validate_children, children(2, id=mixed))
    assert [(p.row_id, p.message) for p in error.problems] == [
        ("row 2", "malformed id: longer than 64 characters")
    ]


def test_malformed_ids_are_not_reported_as_duplicates():
    row = f"C1;{NAME};{PHONE}"
    error = error_of(validate_children, children(3, id=[row, row, "C3"]))
    assert [(p.row_id, p.column) for p in error.problems] == [("row 1", "id"), ("row 2", "id")]
    assert_no_leak(error, NAME, PHONE)


def test_a_shifted_row_is_named_by_its_row_only():
    # the id cell holds a phone number (a valid-looking id), lat a name, lon a street: the row
    # looks shifted, so none of its problems is labelled with the id cell
    df = children(
        3,
        id=["c0", PHONE, "c2"],
        lat=[39.9, NAME, 39.9],
        lon=[116.4, "东城区", 116.4],
        priority=[0, 7.5, 0],
        gender=["", "某某", ""],
    )
    error = error_of(validate_children, df)
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [
        ("row 2", "lat", "not a number (expected degrees, -90 to 90)"),
        ("row 2", "lon", "not a number (expected degrees, -180 to 180)"),
        ("row 2", "priority", "not an integer (accepted integers 0 to 100)"),
        ("row 2", "gender", "unknown gender (accepted: female/女/f, male/男/m)"),
    ]
    assert_no_leak(error, NAME, PHONE, "东城区", "某某", "7.5")


SECRET = "王小明 13912345678"
BOOL_PROBLEM = "not a yes/no value (accepted: true/false, yes/no, 1/0, 是/否)"
GENDER_PROBLEM = "unknown gender (accepted: female/女/f, male/男/m)"
ID_DELIMITER = (
    "malformed id: holds a delimiter (, ; tab | ， ；) or a line break; "
    "the row may be shifted or use another delimiter"
)


@pytest.mark.parametrize(
    ("validate", "column", "message"),
    [
        (validate_children, "lat", "not a number (expected degrees, -90 to 90)"),
        (validate_children, "lon", "not a number (expected degrees, -180 to 180)"),
        (
            validate_children,
            "priority",
            PRIORITY_NOT_A_NUMBER,
        ),
        (validate_children, "age", "not a number (expected years, 0 to 25)"),
        (validate_children, "gender", "unknown gender (accepted: female/女/f, male/男/m)"),
        (validate_children, "needs", f"unknown need category {ACCEPTED}"),
        (validate_children, "crs", "unknown coordinate system (accepted: wgs84, gcj02, bd09)"),
        (validate_mentors, "capacity", "not a number (expected an integer, 1 to 100)"),
        (
            validate_mentors,
            "max_distance_km",
            "not a number (expected km, more than 0 up to 100)",
        ),
        (
            validate_mentors,
            "active",
            "not a yes/no value (accepted: true/false, yes/no, 1/0, 是/否)",
        ),
        (validate_mentors, "skills", f"unknown need category {ACCEPTED}"),
    ],
)
def test_no_message_echoes_the_cell(validate, column, message):
    make = children if validate is validate_children else mentors
    df = make(2)
    df[column] = pd.Series([None, SECRET], dtype=object)
    lat_or_lon = column in ("lat", "lon")
    if lat_or_lon:
        df[column] = pd.Series([39.0, SECRET], dtype=object)
    error = error_of(validate, df)
    ident = "row 2" if lat_or_lon else ("c1" if validate is validate_children else "m1")
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [(ident, column, message)]
    assert_no_leak(error, "王小明", "13912345678")


@pytest.mark.parametrize(
    ("validate", "column", "value", "message"),
    [
        (validate_children, "lat", 13912345678, "out of range (accepted -90 to 90)"),
        (validate_children, "lon", "13912345678", "out of range (accepted -180 to 180)"),
        (validate_children, "age", 13912345678, "out of range (accepted 0 to 25)"),
        (validate_children, "priority", "13912345678", "out of range (accepted 0 to 100)"),
        (validate_children, "priority", 13912345678.5, "out of range (accepted 0 to 100)"),
        (validate_mentors, "capacity", 13912345678, "out of range (accepted 1 to 100)"),
        (
            validate_mentors,
            "max_distance_km",
            13912345678,
            "out of range (accepted more than 0 up to 100)",
        ),
        (validate_mentors, "active", 13912345678, BOOL_PROBLEM),
        (validate_children, "gender", 13912345678, GENDER_PROBLEM),
    ],
)
def test_numbers_in_the_wrong_place_are_not_echoed(validate, column, value, message):
    make = children if validate is validate_children else mentors
    df = make(2)
    df[column] = pd.Series([None if column not in ("lat", "lon") else 39.0, value], dtype=object)
    error = error_of(validate, df)
    assert [(p.column, p.message) for p in error.problems] == [(column, message)]
    assert_no_leak(error, "13912345678")


def test_several_unknown_needs_are_one_problem_without_the_values():
    error = error_of(validate_children, children(1, needs=[f"foo、生活关爱、{NAME}"]))
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [
        ("c0", "needs", f"2 unknown need categories {ACCEPTED}"),
    ]
    assert_no_leak(error, NAME, "foo")


def test_needs_mask_does_not_echo_an_unknown_code():
    with pytest.raises(InputError) as info:
        needs_mask(pd.Series([("life_care",), (NAME,)], dtype=object))
    assert "row 2" in str(info.value)
    assert NAME not in str(info.value)


SHIFTED_CSV = (
    "id,lat,lon,name,phone\n"
    f"C1,39.9,116.4,张三,{PHONE}\n"
    f"C2,39.9,116.4,李四,{PHONE}\n"
    f"C3,{NAME},{PHONE},116.4,x\n"
    f"C4,5550001234,116.4,赵六,{PHONE}\n"
)


def test_problems_read_from_a_csv_name_the_file_and_the_line(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text(SHIFTED_CSV, encoding="utf-8")
    error = error_of(read_children, path)
    assert [(p.row_id, p.column, p.message, p.line, p.row) for p in error.problems] == [
        ("line 4", "lat", "not a number (expected degrees, -90 to 90)", 4, 3),
        ("line 4", "lon", "out of range (accepted -180 to 180)", 4, 3),
        ("C4", "lat", "out of range (accepted -90 to 90)", 5, 4),
    ]
    assert error.source == str(path)
    text = str(error)
    assert text.splitlines()[0] == f"children roster is invalid: 3 problem(s) in file {str(path)!r}"
    assert "  - line 4: column 'lat': not a number (expected degrees, -90 to 90)" in text
    assert "  - line 5, id C4: column 'lat': out of range (accepted -90 to 90)" in text
    assert_no_leak(error, NAME, PHONE, "5550001234", "张三")


def test_csv_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_bytes(
        (
            "\ufeffid,lat,lon,street\r\n"
            'c1,39.9,116.4,"多行\r\n地址"\r\n'  # lines 2-3
            "\r\n"  # line 4: blank, skipped
            "c2,39.9,116.4,x\r\n"  # line 5
            'c3,95,116.4,"a,b"\r\n'  # line 6
            "c2,39.9,116.4,y\r\n"  # line 7
        ).encode("utf-8")
    )
    error = error_of(read_children, path)
    assert [(p.row_id, p.column, p.message, p.line) for p in error.problems] == [
        ("c2", "id", "duplicate id (lines 5, 7)", 5),
        ("c3", "lat", "out of range (accepted -90 to 90)", 6),
    ]
    # no quotes at all: the same lines
    path.write_text("id,lat,lon\n\nc1,1,2\n   \nc2,95,2\n", encoding="utf-8")
    assert [(p.row_id, p.line) for p in error_of(read_children, path).problems] == [("c2", 5)]


def test_problems_read_from_xlsx_name_the_sheet_row(tmp_path):
    path = tmp_path / "kids.xlsx"
    df = children(3, id=["c0", "c1", "c2"], lat=[39.9, NAME, 91.0])
    df.to_excel(path, index=False, engine="openpyxl")
    error = error_of(read_children, path)
    assert [(p.row_id, p.column, p.line) for p in error.problems] == [
        ("line 3", "lat", 3),
        ("c2", "lat", 4),
    ]
    assert str(path) in str(error)
    assert_no_leak(error, NAME)


def test_header_problems_and_problems_built_elsewhere_print_as_before():
    assert str(Problem("(header)", "lat", "missing required column")) == (
        "(header): column 'lat': missing required column"
    )
    assert str(Problem("M1", "street", "missing district")) == (
        "M1: column 'street': missing district"
    )
    assert str(Problem("line 3", "", "expected 5 fields (as in the header), found 6", line=3)) == (
        "line 3: expected 5 fields (as in the header), found 6"
    )


# ---------------------------------------------------------------------------------------------
# issue: values with no bound.  Every numeric column has a documented range; a value out of it
# is a roster error naming the record and the column.


@pytest.mark.parametrize(
    ("column", "ok", "bad", "message"),
    [
        ("priority", [0, 100, "100"], [101, -1, 5550001234, 2**53, 2**63 - 1], "0 to 100"),
        ("age", [0, 25.0], [25.5, -0.1, 1e300], "0 to 25"),
    ],
)
def test_children_numeric_ranges(column, ok, bad, message):
    out = validate_children(children(len(ok), **{column: ok}))
    assert out[column].tolist() == [float(v) if column == "age" else int(v) for v in ok]
    ids = [f"c{i}" for i in range(len(bad))]
    for cells in (bad, pd.Series(bad, dtype=object), [str(v) for v in bad]):
        error = error_of(validate_children, children(len(bad), **{column: cells}))
        assert [(p.row_id, p.column, p.message) for p in error.problems] == [
            (ident, column, f"out of range (accepted {message})") for ident in ids
        ]


@pytest.mark.parametrize(
    ("column", "ok", "bad", "message"),
    [
        ("capacity", [1, 100, "50"], [0, 101, 10**12, 2**53], "1 to 100"),
        ("max_distance_km", [0.001, 100, "100.0"], [0, -1, 100.5, 1e16], "more than 0 up to 100"),
    ],
)
def test_mentor_numeric_ranges(column, ok, bad, message):
    out = validate_mentors(mentors(len(ok), **{column: ok}))
    assert out[column].tolist() == [float(v) if column != "capacity" else int(v) for v in ok]
    ids = [f"m{i}" for i in range(len(bad))]
    for cells in (bad, [str(v) for v in bad]):
        error = error_of(validate_mentors, mentors(len(bad), **{column: cells}))
        assert [(p.row_id, p.column, p.message) for p in error.problems] == [
            (ident, column, f"out of range (accepted {message})") for ident in ids
        ]


def test_int64_priorities_out_of_range_are_roster_errors():
    # beyond 2**53 a float64 cannot tell the values apart: the check must not round them in
    df = children(3, priority=np.array([0, 2**62, -(2**62)], dtype=np.int64))
    error = error_of(validate_children, df)
    assert [(p.row_id, p.column) for p in error.problems] == [
        ("c1", "priority"),
        ("c2", "priority"),
    ]


def test_issue_priority_out_of_range_is_a_roster_error_in_match():
    from matching import match

    kids = children(3, id=["C1", "C2", "C3"], priority=[0, 1, 5550001234])
    helpers = mentors(1, capacity=[3])
    error = error_of(match, kids, helpers)
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [
        ("C3", "priority", "out of range (accepted 0 to 100)")
    ]
    kids["priority"] = [0, 1, 2**53]
    error = error_of(match, kids, helpers)
    assert [(p.row_id, p.column) for p in error.problems] == [("C3", "priority")]
    assert error.roster == "children"
    # the largest values accepted everywhere solve without overflow
    kids["priority"] = [100, 100, 100]
    helpers = mentors(1, capacity=[100], max_distance_km=[100])
    assert len(match(kids, helpers).pairs) == 3


def test_ranges_are_documented_in_the_column_table():
    docs = {c.name: c.doc for c in (*CHILD_COLUMNS, *MENTOR_COLUMNS)}
    assert "0 to 100" in docs["priority"]
    assert "1 to 100" in docs["capacity"]
    assert "0 to 25" in docs["age"]
    assert "up to 100" in docs["max_distance_km"]


# ---------------------------------------------------------------------------------------------
# issue: a CSV line with the wrong number of fields gave pandas' tokenizer message, with no file
# and no id.  Every such line is a problem naming the file, the line and the field counts.


def test_issue_extra_field_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text(
        "id,lat,lon,name,phone\n"
        f"C1,39.9,116.4,张三,{PHONE}\n"
        f"C2,39.9,116.4,{NAME},{PHONE},备注X9\n"
        f"C3,39.9,116.4,李四,{PHONE}\n",
        encoding="utf-8",
    )
    error = error_of(read_children, path)
    assert [(p.row_id, p.column, p.message, p.line) for p in error.problems] == [
        ("line 3", "", "expected 5 fields (as in the header), found 6", 3),
    ]
    text = str(error)
    assert str(path) in text
    assert "line 3: expected 5 fields (as in the header), found 6" in text
    assert "tokenizing" not in text
    assert_no_leak(error, NAME, PHONE, "备注X9")


def test_extra_field_on_the_first_data_line_is_not_taken_as_an_index(tmp_path):
    # pandas silently takes the first column as the index when the first data line has one
    # field more than the header, shifting every column
    path = tmp_path / "kids.csv"
    path.write_text(
        f"id,lat,lon,name\nC1,39.9,116.4,{NAME},{PHONE}\nC2,39.9,116.4,李四\n", encoding="utf-8"
    )
    error = error_of(read_children, path)
    assert [(p.row_id, p.message) for p in error.problems] == [
        ("line 2", "expected 4 fields (as in the header), found 5"),
    ]
    assert_no_leak(error, NAME, PHONE)


def test_short_lines_are_reported(tmp_path):
    path = tmp_path / "mentors.csv"
    path.write_text(
        "id,lat,lon,name,capacity\n"
        "M1,39.9,116.4,张三,2\n"
        f"M2,116.4,{NAME},1\n"  # a field left out: everything after it is shifted
        "M3,39.9,116.4,李四,\n"  # an empty last field is not a short line
        "M4\n",
        encoding="utf-8",
    )
    error = error_of(read_mentors, path)
    assert [(p.row_id, p.message) for p in error.problems] == [
        ("line 3", "expected 5 fields (as in the header), found 4"),
        ("line 5", "expected 5 fields (as in the header), found 1"),
    ]
    assert_no_leak(error, NAME)


def test_unterminated_quote(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text(
        f'id,lat,lon,name\nC1,39.9,116.4,李四\nC2,39.9,116.4,"{NAME}\nC3,39.9,116.4,{PHONE}\n',
        encoding="utf-8",
    )
    error = error_of(read_children, path)
    assert [(p.row_id, p.message, p.line) for p in error.problems] == [
        ("line 3", "unterminated quote: a quoted field starting on this line is never closed", 3),
    ]
    assert_no_leak(error, NAME, PHONE)


def test_semicolon_delimited_file(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text(f"id;lat;lon;name\nC1;39,9;116,4;{NAME}\nC2;39.9;116.4;李四\n", "utf-8")
    error = error_of(read_children, path)
    assert [(p.row_id, p.column, p.message) for p in error.problems] == [
        (
            "(header)",
            "",
            "the header is one column holding ';': the file looks ';'-delimited; "
            "save it as CSV with ',' delimiters",
        ),
    ]
    assert_no_leak(error, NAME)


def test_semicolon_rows_under_a_comma_header(tmp_path):
    path = tmp_path / "kids.csv"
    path.write_text(
        f"id,lat,lon,name,phone\nC1;39.9;116.4;{NAME};{PHONE}\nC2,39.9,116.4,李四,1\n", "utf-8"
    )
    error = error_of(read_children, path)
    assert [(p.row_id, p.message) for p in error.problems] == [
        ("line 2", "expected 5 fields (as in the header), found 1"),
    ]
    assert_no_leak(error, NAME, PHONE, "C1;")


def test_read_table_keeps_its_signature_for_other_modules(tmp_path):
    # the province and nightly modules read raw tables with read_table(source, None)
    path = tmp_path / "kids.csv"
    path.write_text("id,lat,lon\nc1,1,2,3\n", encoding="utf-8")
    error = error_of(rosters.read_table, path, None)
    assert [(p.row_id, p.message) for p in error.problems] == [
        ("line 2", "expected 3 fields (as in the header), found 4"),
    ]
    path.write_text("id,lat,lon\nc1,1,2\n", encoding="utf-8")
    assert rosters.read_table(path, None)["id"].tolist() == ["c1"]


# ---------------------------------------------------------------------------------------------
# issue: merged cells in an .xlsx roster silently became blanks (openpyxl reports the top-left
# cell of a merged range only).  Every cell of a merged range takes the merged value.


def _merged_workbook(path, ranges, rows, sheet_title=None):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    if sheet_title:
        book.create_sheet("first", 0)
        sheet.title = sheet_title
    for row in rows:
        sheet.append(row)
    for cells in ranges:
        sheet.merge_cells(cells)
    book.save(path)


def test_issue_merged_street_fills_every_row(tmp_path):
    path = tmp_path / "kids.xlsx"
    rows = [["id", "lat", "lon", "street", "community"]]
    rows += [[f"c{i}", 39.9, 116.4, "东城" if i == 0 else None, f"社区{i}"] for i in range(6)]
    _merged_workbook(path, ["D2:D6"], rows)
    out = read_children(path)
    assert out["street"].tolist() == ["东城"] * 5 + [""]
    assert out["community"].tolist() == [f"社区{i}" for i in range(6)]


def test_merged_cells_over_rows_and_columns(tmp_path):
    path = tmp_path / "mentors.xlsx"
    rows = [
        ["id", "lat", "lon", "street", "community", "capacity"],
        ["m1", 39.9, 116.4, "西城", None, 2],
        ["m2", 39.9, 116.4, None, None, None],
        ["m3", 39.9, 116.4, "朝阳", "某社区", 1],
    ]
    _merged_workbook(path, ["D2:E3", "F2:F3"], rows, sheet_title="mentors")
    out = read_mentors(path, sheet="mentors")
    assert out["street"].tolist() == ["西城", "西城", "朝阳"]
    assert out["community"].tolist() == ["西城", "西城", "某社区"]
    assert out["capacity"].tolist() == [2, 2, 1]


def test_merged_cells_keep_line_numbers(tmp_path):
    path = tmp_path / "kids.xlsx"
    rows = [["id", "lat", "lon", "street"], ["c1", 39.9, 116.4, "东城"], ["c2", 95, 116.4, None]]
    _merged_workbook(path, ["D2:D3"], rows)
    error = error_of(read_children, path)
    assert [(p.row_id, p.column, p.line) for p in error.problems] == [("c2", "lat", 3)]


@pytest.mark.parametrize("seed", range(5))
def test_csv_layout_in_bulk_agrees_with_the_csv_module_and_pandas(tmp_path, seed):
    import csv
    import io

    rng = np.random.default_rng(seed)
    pieces = ["a", "b,c", 'say "hi"', "two\nlines", "", " ", "x\r\ny", "，；", '""']
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n" if seed % 2 else "\n")
    writer.writerow(["id", "lat", "lon", "note"])
    for i in range(300):
        writer.writerow([f"c{i}", "1", "2", rng.choice(pieces)])
        if rng.random() < 0.1:
            buffer.write("\n")  # a blank line
    data = buffer.getvalue().encode("utf-8")
    bulk = files._csv_layout(data, parser_failed=False)
    reference = files._quoted_layout(data.decode("utf-8"), parser_failed=False)
    np.testing.assert_array_equal(bulk.fields, reference.fields)
    np.testing.assert_array_equal(bulk.lines, reference.lines)
    assert set(bulk.fields.tolist()) == {4}
    path = tmp_path / "notes.csv"
    path.write_bytes(data)
    assert len(rosters.read_table(path, None)) == len(bulk.lines) - 1
