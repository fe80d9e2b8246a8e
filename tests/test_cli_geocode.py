"""``matching geocode`` and the ``--geocode`` option of ``match`` and ``nightly``, in-process,
against fake AMap / Baidu / Nominatim services on a local HTTP server (tests/fake_geocoders.py):
nothing touches the network, and the key never reaches the terminal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_geocoders import KEY, geocode_config, serve

from matching import _cli_parser
from matching.cli import main
from matching.config import GeocodeConfig, load_geocode_config
from matching.datasets.synth import district
from matching.errors import ConfigError
from matching.geo import PROVIDERS, haversine_km
from matching.i18n import use_language

KEY_ENV = "TEST_GEOCODE_KEY"
PLACES = {
    "江苏省常州市钟楼区南大街街道延陵西路1号": (31.7801, 119.9502),
    "江苏省常州市钟楼区荷花池街道广化街20号": (31.7735, 119.9455),
    "江苏省常州市钟楼区西林街道星港路8号": (31.7602, 119.9288),
}
NOWHERE = "江苏省常州市钟楼区无此路999号"


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _raw_roster(path: Path) -> Path:
    """Six children: two with coordinates, three with only an address, one with an unknown
    address and one with neither."""
    addresses = [*PLACES, NOWHERE]
    frame = pd.DataFrame(
        {
            "编号": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
            "姓名": ["甲", "乙", "丙", "丁", "戊", "己", "庚"],
            "纬度": ["31.7801", "31.7702", "", "", "", "", ""],
            "经度": ["119.9502", "119.9401", "", "", "", "", ""],
            "地址": ["", "", *addresses, ""],
        }
    )
    frame.to_csv(path, index=False, encoding="utf-8")
    return path


@pytest.fixture
def fake():
    with serve(PLACES) as state:
        yield state


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def _geocode(tmp_path: Path, fake, *options: str) -> tuple[int, list[str]]:
    config = geocode_config(tmp_path / "geo.toml", fake)
    argv = [
        "geocode", str(_raw_roster(tmp_path / "children.csv")), "--provider", "amap",
        "--key-env", KEY_ENV, "--cache", str(tmp_path / "cache.db"), "--config", str(config),
        *options,
    ]  # fmt: skip
    return main(argv), argv


def _no_secrets(text: str) -> None:
    assert KEY not in text
    for address in (*PLACES, NOWHERE):
        assert address not in text
    for name in ("甲", "乙", "丙", "丁"):
        assert name not in text


# ---------------------------------------------------------------------------------------------
# matching geocode


def test_geocode_writes_the_whole_roster_and_the_failures(tmp_path, fake, key, capsys) -> None:
    out = tmp_path / "out" / "children_geo.csv"
    out.parent.mkdir()
    code, _ = _geocode(tmp_path, fake, "--out", str(out), "-v")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    _no_secrets(captured.out + captured.err)

    roster = _read(out)
    assert roster["编号"].tolist() == ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    assert roster["姓名"].tolist() == ["甲", "乙", "丙", "丁", "戊", "己", "庚"]  # the whole roster
    assert list(roster.columns) == ["编号", "姓名", "纬度", "经度", "地址", "crs"]
    assert roster.loc[:1, "纬度"].tolist() == ["31.7801", "31.7702"]  # untouched
    for row, (lat, lon) in zip(range(2, 5), PLACES.values(), strict=True):
        got = float(roster.loc[row, "纬度"]), float(roster.loc[row, "经度"])
        assert haversine_km(*got, lat, lon) < 0.001  # GCJ-02 converted back to WGS-84
        assert roster.loc[row, "crs"] == "wgs84"
    assert roster.loc[5:, "纬度"].tolist() == ["", ""]

    failures = _read(out.parent / "children_geo_geocode_failures.csv")
    neither = "no coordinates and no address"
    assert failures.to_dict("records") == [
        {"id": "C6", "reason": "address not found", "detail": "no result"},
        {"id": "C7", "reason": neither, "detail": neither},
    ]
    lines = captured.out.splitlines()
    assert lines[:7] == [
        "geocoding children.csv:",
        "  rows: 7",
        "  had coordinates: 2",
        "  geocoded now: 3",
        "  from the cache: 0",
        "  not geocoded: 2",
        "  requests sent: 4",
    ]
    assert fake.count("amap") == 4


def test_a_second_run_is_answered_by_the_cache(tmp_path, fake, key, capsys) -> None:
    out = tmp_path / "children_geo.csv"
    assert _geocode(tmp_path, fake, "--out", str(out))[0] == 0
    first = out.read_bytes()
    assert fake.count() == 4
    capsys.readouterr()
    assert _geocode(tmp_path, fake, "--out", str(out))[0] == 0
    assert fake.count() == 4  # nothing asked again
    printed = capsys.readouterr().out
    assert "  from the cache: 3" in printed and "  requests sent: 0" in printed
    assert "  not geocoded: 2" in printed  # "not found" is cached too
    second = _read(out)
    assert second["纬度"].tolist()[:5] == _read_bytes_frame(first)["纬度"].tolist()[:5]


def _read_bytes_frame(data: bytes) -> pd.DataFrame:
    import io

    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_geocode_writes_xlsx_and_chinese(tmp_path, fake, key, capsys) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "children_geo.xlsx"
    with use_language("zh"):
        code, _ = _geocode(tmp_path, fake, "--out", str(out))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "地理编码 children.csv：" in captured.out
    assert "  本次补全: 3" in captured.out
    sheet = openpyxl.load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("编号", "姓名", "纬度", "经度", "地址", "crs")
    assert len(rows) == 8
    assert isinstance(rows[3][2], float) and rows[3][5] == "wgs84"
    failures = _read(tmp_path / "children_geo_geocode_failures.csv")
    assert list(failures.columns) == ["编号", "原因", "说明"]
    assert failures["原因"].tolist() == ["未找到该地址", "既无坐标也无地址"]


@pytest.mark.parametrize("provider", ["baidu", "nominatim"])
def test_geocode_with_the_provider_from_the_config(tmp_path, fake, key, capsys, provider) -> None:
    config = geocode_config(tmp_path / "geo.toml", fake, provider=provider, key_env=KEY_ENV)
    roster = _raw_roster(tmp_path / "children.csv")
    out = tmp_path / "new folder" / "children_geo.csv"
    assert main(["geocode", str(roster), "--out", str(out), "--config", str(config)]) == 0
    captured = capsys.readouterr()
    _no_secrets(captured.out + captured.err)
    assert fake.count(provider) == 4 and fake.count() == 4
    roster_out = _read(out)
    for row, (lat, lon) in zip(range(2, 5), PLACES.values(), strict=True):
        got = float(roster_out.loc[row, "纬度"]), float(roster_out.loc[row, "经度"])
        assert haversine_km(*got, lat, lon) < 0.001  # BD-09 / WGS-84 answers, in WGS-84
    failures = _read(out.parent / "children_geo_geocode_failures.csv")
    assert failures["id"].tolist() == ["C6", "C7"]


def test_a_missing_key_variable_is_named_and_nothing_is_written(
    tmp_path, fake, monkeypatch, capsys
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    out = tmp_path / "children_geo.csv"
    code, _ = _geocode(tmp_path, fake, "--out", str(out))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: the environment variable {KEY_ENV} is not set or empty")
    assert not out.exists() and fake.count() == 0


def test_a_rejected_key_is_an_error_that_never_shows_the_key(
    tmp_path, fake, monkeypatch, capsys
) -> None:
    wrong = "wrong-key-5e2b"
    monkeypatch.setenv(KEY_ENV, wrong)
    out = tmp_path / "children_geo.csv"
    code, argv = _geocode(tmp_path, fake, "--out", str(out), "-vv")
    captured = capsys.readouterr()
    assert code == 1
    assert "rejected the key" in captured.err and "GeocoderAuthenticationFailure" in captured.err
    assert wrong not in captured.out + captured.err
    assert wrong not in " ".join(argv)  # the key is never on the command line
    assert not out.exists()
    assert fake.count() == 1  # stopped at the first answer


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--out", "x.txt"], "--out must end in .csv or .xlsx"),
        (["--out", "x.csv", "--provider", "nominatim", "--config", "none.toml"], "not found"),
    ],
)
def test_bad_options_exit_1(tmp_path, options, message, capsys) -> None:
    roster = _raw_roster(tmp_path / "children.csv")
    code = main(["geocode", str(roster), "--provider", "amap", *options])
    assert code == 1
    assert message in capsys.readouterr().err


def test_no_provider_is_an_error_and_a_bad_one_a_usage_error(tmp_path, capsys) -> None:
    roster = _raw_roster(tmp_path / "children.csv")
    assert main(["geocode", str(roster), "--out", str(tmp_path / "x.csv")]) == 1
    assert "no geocoding provider" in capsys.readouterr().err
    assert main(["geocode", str(roster), "--out", "x.csv", "--provider", "google"]) == 2


def test_the_parser_knows_every_provider() -> None:
    assert _cli_parser._PROVIDERS == PROVIDERS


# ---------------------------------------------------------------------------------------------
# [geocode] in the configuration


def test_the_geocode_table(tmp_path) -> None:
    toml = tmp_path / "sub" / "matching.toml"
    toml.parent.mkdir()
    toml.write_text(
        '[matching]\nmax_distance_km = 4.0\n[geocode]\nprovider = "Baidu"\nkey_env = "BAIDU_AK"\n'
        'cache = "geo.db"\nmin_delay_seconds = 0.5\nmax_retries = 1\n',
        encoding="utf-8",
    )
    config = load_geocode_config(toml)
    assert config == GeocodeConfig(
        provider="baidu",
        key_env="BAIDU_AK",
        cache=str(toml.parent / "geo.db"),
        min_delay_seconds=0.5,
        max_retries=1,
    )
    assert load_geocode_config(None) == GeocodeConfig()
    from matching.config import load_config

    assert load_config(toml).max_distance_km == 4.0  # the side table is not a [matching] key


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('provider = "google"', "provider must be one of amap, baidu, nominatim"),
        ("key = 'abc'", "unknown key(s) key in [geocode]"),
        ("min_delay_seconds = -1", "min_delay_seconds must be a number >= 0"),
        ("timeout_seconds = 0", "timeout_seconds must be a number > 0"),
        ("max_retries = 1.5", "max_retries must be a whole number >= 0"),
        ('scheme = "ftp"', "scheme must be 'https' or 'http'"),
        ('key_env = ""', "key_env must be a non-empty string"),
    ],
)
def test_bad_geocode_tables(tmp_path, table, message) -> None:
    toml = tmp_path / "matching.toml"
    toml.write_text(f"[geocode]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[geocode\]") as info:
        load_geocode_config(toml)
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------------
# matching match --geocode, matching nightly --geocode


def _district_with_addresses(tmp_path: Path) -> tuple[Path, Path, dict[str, tuple[float, float]]]:
    """A small district where 3 children and 2 mentors have only an address (their true
    points are the fake service's places) and child 4 has an address nobody knows."""
    children, mentors = district(60, 45, seed=11)
    places: dict[str, tuple[float, float]] = {}
    frames = []
    for frame, rows, tag in ((children, [0, 1, 2, 3], "儿童"), (mentors, [0, 1], "妈妈")):
        frame = frame.copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = [";".join(v) if isinstance(v, tuple) else v for v in frame[col]]
        frame["地址"] = ""
        for row in rows:
            address = f"江苏省常州市钟楼区{tag}{row}号"
            frame.loc[row, "地址"] = address
            if not (tag == "儿童" and row == 3):
                places[address] = (float(frame.loc[row, "lat"]), float(frame.loc[row, "lon"]))
            frame.loc[row, ["lat", "lon"]] = np.nan
        frames.append(frame)
    children_path, mentors_path = tmp_path / "children.csv", tmp_path / "mentors.csv"
    frames[0].to_csv(children_path, index=False, encoding="utf-8")
    frames[1].to_csv(mentors_path, index=False, encoding="utf-8")
    return children_path, mentors_path, places


def test_match_with_geocode_amap(tmp_path, key, capsys) -> None:
    children_path, mentors_path, places = _district_with_addresses(tmp_path)
    out = tmp_path / "out"
    with serve(places) as fake:
        config = geocode_config(tmp_path / "matching.toml", fake, key_env=KEY_ENV)
        argv = [
            "match", str(children_path), str(mentors_path), "--out", str(out),
            "--config", str(config), "--geocode", "amap",
            "--geocode-cache", str(tmp_path / "cache.db"),
        ]  # fmt: skip
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert fake.count("amap") == 6
        assert fake.keys_seen() == {KEY}
    _no_secrets(captured.out + captured.err)
    assert "geocoding children.csv:" in captured.out and "geocoding mentors.csv:" in captured.out
    assert "  not geocoded: 1" in captured.out

    pairs, unmatched = _read(out / "pairs.csv"), _read(out / "unmatched.csv")
    placed = set(pairs["child_id"]) | set(unmatched["child_id"])
    assert len(placed) == 59  # every child but the one nobody could place
    assert {"C000001", "C000002", "C000003"} <= placed and "C000004" not in placed
    failures = _read(out / "geocode_failures.csv")
    assert failures.to_dict("records") == [
        {"roster": "children.csv", "id": "C000004", "reason": "address not found",
         "detail": "no result"},
    ]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["pairs.csv", "unmatched.csv", "summary.json", "geocode_failures.csv"]
    )

    # the same pairs as the rosters with their true coordinates (the child left out removed)
    children, mentors = district(60, 45, seed=11)
    truth = tmp_path / "truth"
    truth.mkdir()
    kids = children.drop(index=3)
    for frame, name in ((kids, "children.csv"), (mentors, "mentors.csv")):
        frame = frame.copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = [";".join(v) if isinstance(v, tuple) else v for v in frame[col]]
        frame.to_csv(truth / name, index=False, encoding="utf-8")
    assert main(["match", str(truth / "children.csv"), str(truth / "mentors.csv"),
                 "--out", str(truth / "out")]) == 0  # fmt: skip
    expected = _read(truth / "out" / "pairs.csv")
    assert sorted(zip(pairs["child_id"], pairs["mentor_id"], strict=True)) == sorted(
        zip(expected["child_id"], expected["mentor_id"], strict=True)
    )


def test_match_without_geocode_still_refuses_rows_without_coordinates(tmp_path, capsys) -> None:
    children_path, mentors_path, _ = _district_with_addresses(tmp_path)
    code = main(["match", str(children_path), str(mentors_path), "--out", str(tmp_path / "o")])
    assert code == 1
    assert "lat" in capsys.readouterr().err


def test_nightly_with_geocode_amap(tmp_path, key, capsys) -> None:
    children_path, mentors_path, places = _district_with_addresses(tmp_path)
    with serve(places) as fake:
        config = geocode_config(tmp_path / "matching.toml", fake, key_env=KEY_ENV, cache="cache.db")
        argv = [
            "nightly", "--db", str(tmp_path / "state.db"), "--out", str(tmp_path / "plan"),
            "--children", str(children_path), "--mentors", str(mentors_path),
            "--date", "2026-03-02", "--config", str(config), "--geocode", "amap",
        ]  # fmt: skip
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert fake.count("amap") == 6
        assert (tmp_path / "cache.db").is_file()  # [geocode] cache, beside the config
        # the same night again: every address comes from the cache
        assert main(argv) == 0
        assert fake.count("amap") == 6
    _no_secrets(captured.out + captured.err)
    assert "  1 record could not be placed from its address" in captured.out
    assert "mentors_geocode_failed" not in captured.out  # counts are sentences now
    failures = _read(tmp_path / "plan" / "geocode_failures.csv")
    assert failures["id"].tolist() == ["C000004"]
