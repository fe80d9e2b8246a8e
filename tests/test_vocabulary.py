"""The roster vocabulary: the words staff write in cells, read through one table that a
TOML ``[vocabulary]`` table extends, and the reading report that says how they were read."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import matching.rosters.vocabulary as vocabulary_module
from matching.config import load_config, load_vocabulary
from matching.errors import ConfigError, RosterError
from matching.i18n import use_language
from matching.rosters import (
    LIST_SEPARATORS,
    VOCABULARY,
    RosterReading,
    Vocabulary,
    valid_children,
    valid_mentors,
    validate_children,
    validate_mentors,
    validate_roster,
)

PRIORITY_NOT_A_NUMBER = (
    "not a number or a known word (expected an integer, 0 to 100, or a word: "
    "紧急, 高, 中, 普通, 低)"
)


def kids(n: int = 1, **columns: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        "编号": [f"C{i}" for i in range(n)],
        "纬度": [31.8 + i / 100 for i in range(n)],
        "经度": [119.9] * n,
    }
    data.update(columns)
    return pd.DataFrame(data)


def mentors(n: int = 1, **columns: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        "编号": [f"M{i}" for i in range(n)],
        "纬度": [31.8 + i / 100 for i in range(n)],
        "经度": [119.9] * n,
    }
    data.update(columns)
    return pd.DataFrame(data)


def problems(validate, df) -> list[tuple[str, str, str]]:
    with pytest.raises(RosterError) as info:
        validate(df)
    return [(p.row_id, p.column, p.message) for p in info.value.problems]


# ---------------------------------------------------------------------------------------------
# priority words


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("紧急", 3),
        ("urgent", 3),
        ("高", 2),
        (" High ", 2),
        ("中", 1),
        ("medium", 1),
        ("普通", 0),
        ("一般", 0),
        ("normal", 0),
        ("低", 0),
        ("LOW", 0),
        ("緊急", 3),  # traditional
        ("", 0),  # blank: the default
    ],
)
def test_priority_words(word, level):
    assert validate_children(kids(1, 优先级=[word]))["priority"].tolist() == [level]


def test_priority_words_and_numbers_mix_and_many_rows_read_each_word_once():
    words = ["高", "普通", "2", "", "紧急"] * 400  # 2,000 rows: the few-distinct path
    out = validate_children(kids(2000, 优先级=words))
    assert out["priority"].tolist() == [2, 0, 2, 0, 3] * 400
    assert out["priority"].dtype == np.int64


def test_an_unknown_priority_word_is_not_a_number_and_never_quoted():
    found = problems(validate_children, kids(2, 优先级=["很高", "高"]))
    assert found == [
        (
            "C0",
            "优先级",
            PRIORITY_NOT_A_NUMBER,
        )
    ]


def test_priority_words_are_documented_in_the_module_table():
    doc = vocabulary_module.__doc__ or ""
    for word in VOCABULARY.words("priority"):
        assert word in doc, word


# ---------------------------------------------------------------------------------------------
# need categories


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("生活关爱服务", ("life_care",)),
        ("精神素养提升", ("spiritual_growth",)),
        ("社会融入促进", ("social_integration",)),
        ("家庭教育指导", ("family_education",)),
        ("生活關愛", ("life_care",)),
        ("精神素養", ("spiritual_growth",)),
        ("社會融入", ("social_integration",)),
        ("家庭教育", ("family_education",)),
        ("生活關愛服務", ("life_care",)),
        ("社會融入促進", ("social_integration",)),
        ("家庭教育指導", ("family_education",)),
        ("生活关爱服务、家庭教育指导", ("life_care", "family_education")),
        ("生活关爱 家庭教育", ("life_care", "family_education")),
        ("life care family education", ("life_care", "family_education")),
        ("Life Care", ("life_care",)),
        ("family-education", ("family_education",)),
    ],
)
def test_need_names(text, codes):
    assert validate_children(kids(1, 需求=[text]))["needs"].iloc[0] == codes


@pytest.mark.parametrize("separator", [*LIST_SEPARATORS, " ", "\n", "  "])
def test_every_list_separator(separator):
    text = separator.join(["生活关爱", "精神素养提升", "family_education"])
    out = validate_mentors(mentors(1, 技能=[text]))
    assert out["skills"].iloc[0] == ("life_care", "spiritual_growth", "family_education")


def test_an_unknown_word_among_known_ones_is_one_problem():
    found = problems(validate_children, kids(1, 需求=["生活关爱 心理辅导"]))
    assert len(found) == 1
    assert found[0][:2] == ("C0", "需求")
    assert found[0][2].startswith("unknown need category")
    assert "心理辅导" not in found[0][2]


def test_interest_tags_split_at_whitespace_next_to_chinese_only():
    out = validate_children(kids(3, 兴趣=["绘画 书法", "table tennis", "象棋/围棋｜跳绳"]))
    assert out["interests"].tolist() == [
        ("书法", "绘画"),
        ("table tennis",),
        ("围棋｜跳绳", "象棋"),
    ]


# ---------------------------------------------------------------------------------------------
# active, gender


@pytest.mark.parametrize(
    ("word", "active"),
    [
        ("在岗", True),
        ("是", True),
        ("yes", True),
        ("Y", True),
        ("离岗", False),
        ("暂停", False),
        ("暫停", False),
        ("退出", False),
        ("否", False),
        ("n", False),
        ("", True),
    ],
)
def test_active_words(word, active):
    out = validate_mentors(mentors(1, 状态=[word]).rename(columns={"状态": "在岗"}))
    assert out["active"].tolist() == [active]


@pytest.mark.parametrize(
    ("word", "gender"),
    [("女性", "female"), ("男性", "male"), ("女", "female"), ("M", "male"), ("", "")],
)
def test_gender_words(word, gender):
    assert validate_children(kids(1, 性别=[word]))["gender"].tolist() == [gender]


# ---------------------------------------------------------------------------------------------
# numbers with units


@pytest.mark.parametrize(
    ("column", "text", "value"),
    [
        ("最大距离", "3公里", 3.0),
        ("最大距离", "3千米", 3.0),
        ("最大距离", "3 km", 3.0),
        ("最大距离", "3km", 3.0),
        ("最大距离", "2.5 KM", 2.5),
        ("最大距离", "500米", 0.5),
        ("容量", "2人", 2),
        ("容量", "3 名", 3),
    ],
)
def test_mentor_units(column, text, value):
    out = validate_mentors(mentors(1, **{column: [text]}))
    name = "max_distance_km" if column == "最大距离" else "capacity"
    assert out[name].tolist() == [value]


@pytest.mark.parametrize(("text", "age"), [("10岁", 10.0), ("10周岁", 10.0), ("9 years", 9.0)])
def test_age_units(text, age):
    assert validate_children(kids(1, 年龄=[text]))["age"].tolist() == [age]


def test_a_unit_of_another_column_is_a_problem_naming_the_units_accepted():
    found = problems(validate_children, kids(2, 年龄=["3公里", "10岁"]))
    assert found == [("C0", "年龄", "a unit this column does not take (accepted: 岁, 周岁, years)")]
    found = problems(validate_children, kids(1, 优先级=["2人"]))
    assert found == [("C0", "优先级", "a number with a unit: this column takes a number alone")]


def test_a_value_with_a_unit_is_still_checked_against_the_range():
    found = problems(validate_mentors, mentors(1, 最大距离=["300公里"]))
    assert found == [("M0", "最大距离", "out of range (accepted more than 0 up to 100)")]
    found = problems(validate_children, kids(1, 年龄=["30岁"]))
    assert found == [("C0", "年龄", "out of range (accepted 0 to 25)")]


def test_units_in_a_workbook_column_of_mixed_types():
    # a workbook gives numbers as numbers and the rest as text: the mixed path
    df = mentors(3, 容量=pd.Series([2, "3人", None], dtype=object))
    assert validate_mentors(df)["capacity"].tolist() == [2, 3, 1]


# ---------------------------------------------------------------------------------------------
# the reading report


def test_reading_counts_cells_read_through_the_vocabulary():
    df = kids(
        5,
        优先级=["高", "高", "普通", "2", ""],
        需求=["生活关爱服务/家庭教育", "life_care", "生活關愛", "", "家庭教育"],
        年龄=["10岁", "9", "8周岁", "", "7岁"],
    )
    reading = validate_roster(df, "children").reading
    by_column = {c.column: c for c in reading.columns}
    assert set(by_column) == {"priority", "needs", "age"}
    assert (by_column["priority"].header, by_column["priority"].words) == ("优先级", 3)
    assert dict(by_column["priority"].terms) == {"高": 2, "普通": 1}
    assert by_column["needs"].words == 3  # every cell holding a word other than a code
    assert dict(by_column["needs"].terms) == {"生活关爱服务": 1, "家庭教育": 2, "生活关爱": 1}
    assert (by_column["age"].units, dict(by_column["age"].terms)) == (3, {"岁": 2, "周岁": 1})
    assert ("priority", "优先级") in reading.headers


def test_reading_of_a_canonical_english_roster_is_empty_of_words():
    df = pd.DataFrame(
        {"id": ["a"], "lat": [31.8], "lon": [119.9], "priority": ["1"], "needs": ["life_care"]}
    )
    reading = validate_roster(df, "children").reading
    assert reading.columns == ()
    assert reading.describe(language="en") == []


def test_reading_counts_many_rows_by_weight():
    words = ["高", "普通"] * 1500
    reading = validate_roster(kids(3000, 优先级=words), "children").reading
    (priority,) = reading.columns
    assert priority.words == 3000
    assert dict(priority.terms) == {"高": 1500, "普通": 1500}


def test_reading_described_in_chinese():
    reading = RosterReading(encoding="gb18030", header_line=2, note_lines=(33, 34))
    lines = reading.describe(language="zh")
    assert lines == [
        "文本编码：GB18030 (GBK)",
        "表头在第 2 行（上方各行已跳过）",
        "表格下方有 2 行按备注处理，不作为记录：第 33, 34 行",
    ]


# ---------------------------------------------------------------------------------------------
# extending the vocabulary


def test_extended_vocabulary_reads_new_words_and_keeps_the_old():
    words = VOCABULARY.extended(
        priority={"特急": 3},
        needs={"心理辅导": "spiritual_growth", "親子陪讀": "家庭教育"},
        active={"休假": False},
        gender={"女士": "female"},
    )
    df = kids(
        2, 优先级=["特急", "高"], 需求=["心理辅导、亲子陪读", "生活关爱"], 性别=["女士", "男"]
    )
    out = validate_children(df, vocabulary=words)
    assert out["priority"].tolist() == [3, 2]
    assert out["needs"].tolist() == [("spiritual_growth", "family_education"), ("life_care",)]
    assert out["gender"].tolist() == ["female", "male"]
    assert validate_mentors(mentors(1, 在岗=["休假"]), vocabulary=words)["active"].tolist() == [
        False
    ]
    with pytest.raises(RosterError):  # the built-in table is unchanged
        validate_children(kids(1, 优先级=["特急"]))


def test_vocabulary_is_threaded_through_valid_children_and_valid_mentors():
    words = VOCABULARY.extended(priority={"特急": 3}, active={"休假": False})
    assert valid_children(kids(1, 优先级=["特急"]), vocabulary=words).frame["priority"][0] == 3
    assert not valid_mentors(mentors(1, 在岗=["休假"]), vocabulary=words).frame["active"][0]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"priority": {"特急": 101}}, "特急"),
        ({"priority": {"特急": "3"}}, "特急"),
        ({"priority": {"特急": True}}, "特急"),
        ({"needs": {"心理辅导": "psychology"}}, "心理辅导"),
        ({"active": {"休假": "no"}}, "休假"),
        ({"gender": {"女士": "woman"}}, "女士"),
    ],
)
def test_bad_meanings_are_config_errors_naming_the_word(given, words):
    with pytest.raises(ConfigError, match=words):
        VOCABULARY.extended(**given)


def test_load_vocabulary_from_toml(tmp_path):
    path = tmp_path / "matching.toml"
    path.write_text(
        "[matching]\nmax_distance_km = 4.0\n\n"
        "[vocabulary]\n"
        'priority = { "特急" = 3 }\n'
        'needs = { "心理辅导" = "spiritual_growth" }\n'
        'active = { "休假" = false }\n'
        'gender = { "女士" = "female" }\n',
        encoding="utf-8",
    )
    words = load_vocabulary(path)
    assert isinstance(words, Vocabulary)
    assert (words.priority["特急"], words.needs["心理辅导"]) == (3, "spiritual_growth")
    assert (words.active["休假"], words.gender["女士"]) == (False, "female")
    assert load_config(path).max_distance_km == 4.0  # the [matching] table still loads
    assert load_vocabulary(None) is VOCABULARY
    empty = tmp_path / "empty.toml"
    empty.write_text("[matching]\n", encoding="utf-8")
    assert load_vocabulary(empty).priority == VOCABULARY.priority


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('units = { "斤" = 1 }', "units"),
        ('priority = { "特急" = 500 }', "特急"),
        ('needs = { "心理辅导" = "psych" }', "心理辅导"),
        ('gender = "female"', "gender"),
    ],
)
def test_load_vocabulary_errors_name_the_key(tmp_path, table, named):
    path = tmp_path / "matching.toml"
    path.write_text(f"[vocabulary]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=named) as info:
        load_vocabulary(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# errors in the staff's language


def test_problem_in_chinese_names_the_original_header_the_line_and_the_id_never_the_cell():
    df = kids(3, 优先级=["高", "很高很高", "普通"], 年龄=["10岁", "3公里", ""])
    with use_language("zh"), pytest.raises(RosterError) as info:
        validate_children(df)
    text = str(info.value)
    assert text.splitlines()[0] == "儿童名单有误：共 2 处问题"
    assert (
        "  - 数据第 2 行，编号 C1：列“优先级”：不是数字或可识别的词（应为 0 到 100 的整数，"
        "或填写：紧急、高、中、普通、低）" in text
    )
    assert (
        "  - 数据第 2 行，编号 C1：列“年龄”：这一列不用这个单位（可用单位：岁, 周岁, years）"
        in text
    )
    assert "很高很高" not in text
    assert "3公里" not in text
    assert [p.column for p in info.value.problems] == ["优先级", "年龄"]


def test_a_missing_column_is_named_by_its_chinese_header_in_chinese():
    df = pd.DataFrame({"编号": ["C1"], "纬度": [31.8]})
    with use_language("zh"), pytest.raises(RosterError) as info:
        validate_children(df)
    assert [(p.row_id, p.column) for p in info.value.problems] == [("(header)", "经度")]
    assert "表头：列“经度”：缺少必需的列" in str(info.value)
    with pytest.raises(RosterError) as info:
        validate_children(df)
    assert [(p.row_id, p.column) for p in info.value.problems] == [("(header)", "lon")]


def test_english_messages_keep_their_text_under_chinese_headers():
    found = problems(validate_children, kids(1, 优先级=["x"]))
    assert found == [
        (
            "C0",
            "优先级",
            PRIORITY_NOT_A_NUMBER,
        )
    ]


def test_combined_errors_of_both_rosters():
    try:
        validate_children(kids(1, 优先级=["x"]))
    except RosterError as exc:
        first = exc
    try:
        validate_mentors(mentors(2, 容量=["0", "2人"]))
    except RosterError as exc:
        second = exc
    both = RosterError.combine([first, second])
    assert isinstance(both, RosterError)
    assert [len(e.problems) for e in both.errors] == [1, 1]  # type: ignore[attr-defined]
    assert len(both.problems) == 2
    lines = str(both).splitlines()
    assert lines[0] == "children roster is invalid: 1 problem(s)"
    assert lines[2] == "mentors roster is invalid: 1 problem(s)"
    assert RosterError.combine([first]) is first


def test_missing_values_still_reported_with_vocabulary_columns():
    df = kids(2, 优先级=["高", "低"])
    df.loc[1, "纬度"] = np.nan
    found = problems(validate_children, df)
    assert found == [("C1", "纬度", "missing value")]
    assert math.isnan(df.loc[1, "纬度"])
