"""Tests of ``MatchConfig`` and ``load_config`` (TOML), from their documentation."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching import ConfigError, InputError, MatchConfig, RematchPolicy, load_config, match
from matching.config import load_rematch_policy

DEFAULTS = {
    "max_distance_km": 5.0,
    "uncovered_need_km": 2.0,
    "shared_interest_km": 0.5,
    "max_shared_interests": 2,
    "unmatched_km": 10.0,
    "priority_km": 10.0,
    "objective": "max_pairs",
    "same_street": False,
    "same_gender": False,
    "forbidden_pairs": (),
    "k_nearest": None,
    "resolution_km": 0.001,
}


def write(tmp_path: Path, text: str, name: str = "cfg.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def to_toml(d: dict) -> str:
    """A minimal TOML writer for a ``to_dict()`` result (None values are left out)."""
    lines = ["[matching]"]
    for key, value in d.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = json.dumps(value)
        elif isinstance(value, list):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = repr(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# MatchConfig


def test_defaults_are_the_documented_ones():
    cfg = MatchConfig()
    for name, value in DEFAULTS.items():
        assert getattr(cfg, name) == value, name
    assert {f.name for f in dataclasses.fields(MatchConfig)} == set(DEFAULTS)


def test_match_config_is_frozen():
    cfg = MatchConfig(max_distance_km=3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.max_distance_km = 4.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.forbidden_pairs = (("C1", "M1"),)  # type: ignore[misc]
    assert cfg.max_distance_km == 3.0
    # frozen and equal by value, hence usable as a key
    assert hash(cfg) == hash(MatchConfig(max_distance_km=3.0))
    assert cfg == MatchConfig(max_distance_km=3.0)
    assert cfg != MatchConfig(max_distance_km=3.5)


def test_match_config_is_keyword_only():
    with pytest.raises(TypeError):
        MatchConfig(3.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        MatchConfig(max_distance_km=3.0, colour="red")  # type: ignore[call-arg]


def test_to_dict_is_plain_data_and_round_trips():
    cfg = MatchConfig(
        max_distance_km=3.5,
        uncovered_need_km=1.25,
        shared_interest_km=0.0,
        max_shared_interests=4,
        unmatched_km=7.0,
        priority_km=2.5,
        objective="min_cost",
        same_street=True,
        same_gender=True,
        forbidden_pairs=(("C1", "M2"), ("007", "M3")),
        k_nearest=6,
        resolution_km=0.01,
    )
    d = cfg.to_dict()
    assert set(d) == set(DEFAULTS)
    assert d["forbidden_pairs"] == [["C1", "M2"], ["007", "M3"]]
    assert d["objective"] == "min_cost"
    assert json.loads(json.dumps(d)) == d  # plain data
    # back through the constructor
    again = MatchConfig(**{**d, "forbidden_pairs": tuple(map(tuple, d["forbidden_pairs"]))})
    assert again == cfg
    assert MatchConfig().to_dict()["forbidden_pairs"] == []


def test_to_dict_round_trips_through_toml(tmp_path):
    cfg = MatchConfig(
        max_distance_km=2.5,
        objective="min_cost",
        same_street=True,
        forbidden_pairs=(("C1", "M2"),),
        k_nearest=3,
        unmatched_km=4.0,
    )
    loaded = load_config(write(tmp_path, to_toml(cfg.to_dict())))
    assert loaded == cfg
    assert loaded.to_dict() == cfg.to_dict()
    default = load_config(write(tmp_path, to_toml(MatchConfig().to_dict()), "d.toml"))
    assert default == MatchConfig()


# ---------------------------------------------------------------------------
# load_config


def test_load_top_level_keys(tmp_path):
    p = write(
        tmp_path,
        'max_distance_km = 3.0\nobjective = "min_cost"\nsame_gender = true\nk_nearest = 4\n',
    )
    cfg = load_config(p)
    assert isinstance(cfg, MatchConfig)
    assert cfg.max_distance_km == 3.0
    assert cfg.objective == "min_cost"
    assert cfg.same_gender is True
    assert cfg.k_nearest == 4
    # everything else keeps its default
    assert cfg.unmatched_km == DEFAULTS["unmatched_km"]
    assert cfg.same_street is False
    # str path and the classmethod give the same
    assert load_config(str(p)) == cfg
    assert MatchConfig.from_toml(p) == cfg


def test_load_matching_table(tmp_path):
    p = write(
        tmp_path,
        "# comment\n[matching]\nmax_distance_km = 2\nuncovered_need_km = 0.5\n"
        "max_shared_interests = 3\nsame_street = true\n",
    )
    cfg = load_config(p)
    assert cfg.max_distance_km == 2
    assert cfg.uncovered_need_km == 0.5
    assert cfg.max_shared_interests == 3
    assert cfg.same_street is True
    assert cfg.priority_km == DEFAULTS["priority_km"]


def test_empty_file_gives_the_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == MatchConfig()
    assert load_config(write(tmp_path, "[matching]\n", "t.toml")) == MatchConfig()


def test_forbidden_pairs_from_toml(tmp_path):
    p = write(
        tmp_path,
        '[matching]\nforbidden_pairs = [["C1", "M2"], ["C3", "M4"], [7, "M9"]]\n',
    )
    cfg = load_config(p)
    assert cfg.forbidden_pairs == (("C1", "M2"), ("C3", "M4"), ("7", "M9"))
    assert all(isinstance(x, str) for pair in cfg.forbidden_pairs for x in pair)


@pytest.mark.parametrize(
    "text",
    [
        'forbidden_pairs = "C1"\n',
        'forbidden_pairs = [["C1"]]\n',
        'forbidden_pairs = [["C1", "M1", "M2"]]\n',
        'forbidden_pairs = ["C1M1"]\n',
    ],
)
def test_malformed_forbidden_pairs_in_toml(tmp_path, text):
    with pytest.raises(ConfigError, match="forbidden_pairs"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("max_distance = 3.0\n", ["max_distance"]),
        ("[matching]\nmax_distance_km = 3.0\nunmatchd_km = 1\nsamestreet = true\n", None),
    ],
)
def test_unknown_key_is_an_error_listing_it(tmp_path, text, unknown):
    unknown = unknown or ["samestreet", "unmatchd_km"]
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    for key in unknown:
        assert key in message
    assert "max_distance_km" in message  # the accepted keys are listed too


@pytest.mark.parametrize(
    "text",
    [
        "max_distance_km = \n",
        "max_distance_km = 3.0\nmax_distance_km = 4.0\n",
        "[matching\nmax_distance_km = 3.0\n",
        'objective = "min_cost\n',
    ],
)
def test_invalid_toml_is_a_config_error(tmp_path, text):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match="TOML"):
        load_config(p)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"objective = '\xff'\n")
    with pytest.raises(ConfigError):
        load_config(bad)
    assert issubclass(ConfigError, InputError)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("max_distance_km = -1.0\n", "max_distance_km"),
        ("max_distance_km = 0\n", "max_distance_km"),
        ('max_distance_km = "5"\n', "max_distance_km"),
        ("max_distance_km = nan\n", "max_distance_km"),
        ("unmatched_km = -0.5\n", "unmatched_km"),
        ("priority_km = inf\n", "priority_km"),
        ("resolution_km = 0.0\n", "resolution_km"),
        ("max_shared_interests = 1.5\n", "max_shared_interests"),
        ("k_nearest = 0\n", "k_nearest"),
        ('objective = "cheapest"\n', "objective"),
        ('same_street = "yes"\n', "same_street"),
        ("same_gender = 1\n", "same_gender"),
        ("[matching]\nuncovered_need_km = -2\n", "uncovered_need_km"),
    ],
)
def test_bad_value_in_toml_names_the_parameter(tmp_path, text, name):
    with pytest.raises(ConfigError, match=repr(name)):
        load_config(write(tmp_path, text))


# ---------------------------------------------------------------------------
# a loaded configuration drives match


def _roster():
    lat0, lon0 = 31.8, 119.97
    dlon = 1 / (111.195 * math.cos(math.radians(lat0)))
    kids = pd.DataFrame(
        {
            "id": [1, 2],
            "lat": [lat0, lat0],
            "lon": [lon0, lon0 + 4 * dlon],
            "street": ["east", "west"],
        }
    )
    mentors = pd.DataFrame(
        {
            "id": ["M1", "M2"],
            "lat": [lat0, lat0],
            "lon": [lon0 + 0.3 * dlon, lon0 + 3.6 * dlon],
            "street": ["west", "east"],
            "max_distance_km": [np.nan, np.nan],
        }
    )
    return kids, mentors


def test_loaded_config_is_applied_and_normalised_by_match(tmp_path):
    kids, mentors = _roster()
    free = match(kids, mentors)
    assert sorted(zip(free.pairs["child_id"], free.pairs["mentor_id"], strict=True)) == [
        ("1", "M1"),
        ("2", "M2"),
    ]
    cfg = load_config(write(tmp_path, "[matching]\nsame_street = true\n"))
    ruled = match(kids, mentors, cfg)
    # the only same-street pairs are 1-M2 (3.6 km) and 2-M1 (3.7 km)
    assert sorted(zip(ruled.pairs["child_id"], ruled.pairs["mentor_id"], strict=True)) == [
        ("1", "M2"),
        ("2", "M1"),
    ]
    # forbidden pairs given as integers are normalised to text in the result's config
    forb = match(kids, mentors, MatchConfig(forbidden_pairs=((1, "M1"),)))
    assert forb.config.forbidden_pairs == (("1", "M1"),)
    assert ("1", "M1") not in set(zip(forb.pairs["child_id"], forb.pairs["mentor_id"], strict=True))
    # a tighter limit from TOML leaves both out
    tight = match(kids, mentors, load_config(write(tmp_path, "max_distance_km = 0.1\n", "t.toml")))
    assert len(tight.pairs) == 0
    assert set(tight.unmatched["reason"]) == {"no_mentor_in_reach"}
    assert tight.config.max_distance_km == 0.1


def test_keys_outside_the_matching_table_are_rejected_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "mixed.toml"
    path.write_text("max_distance_km = 3.0\n[matching]\nunmatched_km = 5.0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_distance_km"):
        load_config(path)


# ---------------------------------------------------------------------------
# issue: values with no bound.  Every numeric setting has a documented range; the km weights
# are bounded so that the integer costs of a district always fit the solver's 64-bit arithmetic
# (see matching.solve.integer_costs and the guard in matching.match).


@pytest.mark.parametrize(
    ("name", "ok", "bad", "accepted"),
    [
        ("max_distance_km", [0.001, 100.0, 100], [1e16, 100.5, 0, -1.0], "> 0 and <= 100"),
        ("uncovered_need_km", [0.0, 1000.0], [1000.5, 1e300], ">= 0 and <= 1000"),
        ("shared_interest_km", [0, 1000], [1e300, -1], ">= 0 and <= 1000"),
        ("unmatched_km", [0.0, 1000], [1e16, 1e300], ">= 0 and <= 1000"),
        ("priority_km", [0.0, 1000.0], [1e16, 1e300], ">= 0 and <= 1000"),
        ("resolution_km", [1e-6, 0.001, 1.0], [1e-7, 2.0, 0.0], ">= 1e-06 and <= 1"),
    ],
)
def test_numeric_settings_have_a_range(name, ok, bad, accepted):
    for value in ok:
        assert getattr(load_config_value(name, value), name) == value
    for value in bad:
        with pytest.raises(ConfigError) as info:
            load_config_value(name, value)
        message = str(info.value)
        assert f"The {name!r} parameter of MatchConfig must be a finite number {accepted}" in (
            message
        )


def load_config_value(name: str, value: object) -> MatchConfig:
    from matching.config import validate_config

    return validate_config(MatchConfig(**{name: value}))


@pytest.mark.parametrize(
    ("name", "ok", "bad"),
    [("max_shared_interests", [0, 100], [101, 10**30]), ("k_nearest", [1, 10**6], [10**6 + 1])],
)
def test_integer_settings_have_a_range(name, ok, bad):
    for value in ok:
        assert getattr(load_config_value(name, value), name) == value
    for value in bad:
        with pytest.raises(ConfigError, match=repr(name)):
            load_config_value(name, value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("max_distance_km = 1e16\n", "max_distance_km"),
        ("uncovered_need_km = 1e300\n", "uncovered_need_km"),
        ("shared_interest_km = 1e300\n", "shared_interest_km"),
        ("[matching]\npriority_km = 1e300\n", "priority_km"),
        ("resolution_km = 1e-12\n", "resolution_km"),
    ],
)
def test_huge_values_in_toml_are_config_errors(tmp_path, text, name):
    with pytest.raises(ConfigError, match=repr(name)):
        load_config(write(tmp_path, text))


def test_issue_cli_max_distance_1e16_is_an_input_error(tmp_path, capsys):
    # the bug report: `max_distance_km = 1e16` gave "internal error: OverflowError" (exit 2)
    from matching.cli import main

    kids = write(tmp_path, "id,lat,lon\nC1,39.9,116.4\n", "children.csv")
    helpers = write(tmp_path, "id,lat,lon\nM1,39.9,116.4\n", "mentors.csv")
    cfg = write(tmp_path, "[matching]\nmax_distance_km = 1e16\n")
    argv = ["match", str(kids), str(helpers), "--out", str(tmp_path / "out"), "--config", str(cfg)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "'max_distance_km'" in err
    assert "internal error" not in err


def test_largest_accepted_settings_do_not_overflow():
    kids = pd.DataFrame(
        {
            "id": ["C1", "C2"],
            "lat": [39.9, 39.95],
            "lon": [116.4, 116.4],
            "needs": ["生活关爱", "家庭教育"],
            "interests": ["chess", "art"],
            "priority": [100, 0],
        }
    )
    mentors = pd.DataFrame(
        {"id": ["M1"], "lat": [39.9], "lon": [116.4], "interests": ["chess"], "capacity": [100]}
    )
    cfg = MatchConfig(
        max_distance_km=100,
        uncovered_need_km=1000,
        shared_interest_km=1000,
        max_shared_interests=100,
        unmatched_km=1000,
        priority_km=1000,
        resolution_km=1e-6,
    )
    # min_cost leaves C2 out: 1000 km-eq for its uncovered need is dearer than its price
    for objective, pairs in (("max_pairs", 2), ("min_cost", 1)):
        result = match(kids, mentors, dataclasses.replace(cfg, objective=objective))
        assert len(result.pairs) == pairs


# ----------------------------------------------------------------------------------------------
# the re-match policy


def test_rematch_policy_defaults_and_is_frozen_and_keyword_only() -> None:
    policy = RematchPolicy()
    assert (policy.allow_moves, policy.switching_cost_km) == (False, 5.0)
    assert (policy.max_moves, policy.price_of_stability) == (None, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_moves = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        RematchPolicy(True)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"switching_cost_km": -0.1}, "switching_cost_km"),
        ({"switching_cost_km": 1e16}, "switching_cost_km"),
        ({"switching_cost_km": math.nan}, "switching_cost_km"),
        ({"switching_cost_km": True}, "switching_cost_km"),
        ({"max_moves": -1}, "max_moves"),
        ({"max_moves": 2.0}, "max_moves"),
        ({"allow_moves": 1}, "allow_moves"),
        ({"price_of_stability": "no"}, "price_of_stability"),
    ],
)
def test_rematch_policy_is_checked_when_made(kwargs: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' parameter of RematchPolicy"):
        RematchPolicy(**kwargs)


def test_rematch_table_of_the_toml_file(tmp_path: Path) -> None:
    p = tmp_path / "cfg.toml"
    p.write_text(
        "[matching]\nmax_distance_km = 3.0\n"
        "[rematch]\nallow_moves = true\nswitching_cost_km = 2.5\nmax_moves = 4\n",
        encoding="utf-8",
    )
    assert load_rematch_policy(p) == RematchPolicy(
        allow_moves=True, switching_cost_km=2.5, max_moves=4
    )
    assert load_config(p).max_distance_km == 3.0  # the [rematch] table is not MatchConfig's
    assert load_rematch_policy(None) == RematchPolicy()
    p.write_text("[rematch]\nmax_move = 4\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_move"):
        load_rematch_policy(p)
    p.write_text("[rematch]\nmax_moves = -4\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[rematch\].*'max_moves'"):
        load_rematch_policy(p)
