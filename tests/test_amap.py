"""The AMap (Gaode) geocoder, the provider factory and the key's privacy, against a local
HTTP server (tests/fake_geocoders.py): nothing touches the network."""

from __future__ import annotations

import logging
import socket

import numpy as np
import pandas as pd
import pytest
from fake_geocoders import AMAP_PATH, KEY, serve
from geopy import exc as geopy_exc
from geopy.geocoders import BaiduV3, Nominatim

from matching.errors import ConfigError
from matching.geo import (
    DEFAULT_MIN_DELAY_SECONDS,
    FAILURE_REASONS,
    FAILURE_TEXTS,
    PROVIDERS,
    convert,
    describe_failures,
    geocode_roster,
    haversine_km,
    make_geocoder,
    provider_crs,
)
from matching.geo.amap import AMAP_ERRORS, AMap
from matching.i18n import use_language

FAST = {"min_delay_seconds": 0.0, "error_wait_seconds": 0.0, "max_retries": 0}

HONGMEI = "江苏省常州市天宁区红梅街道红梅新村5号"
LANLING = "江苏省常州市天宁区兰陵街道兰陵路88号"
NOWHERE = "江苏省常州市不存在路999号"
QUOTA = "江苏省常州市钟楼区南大街1号"
BUSY = "江苏省常州市新北区太湖东路9号"
ODD = "江苏省常州市武进区湖塘镇1号"
PLACES = {HONGMEI: (31.7912, 119.9723), LANLING: (31.7710, 119.9981)}
ERRORS = {
    QUOTA: ("10003", "DAILY_QUERY_OVER_LIMIT"),
    BUSY: ("10016", "SERVER_IS_BUSY"),
    ODD: ("20003", "UNKNOWN_ERROR"),
}


@pytest.fixture
def fake():
    with serve(PLACES, amap_errors=ERRORS) as state:
        yield state


def _amap(fake, key: str = KEY) -> AMap:
    return AMap(key, domain=fake.host, scheme="http", timeout=5)


def _roster(addresses: list[str]) -> pd.DataFrame:
    n = len(addresses)
    return pd.DataFrame(
        {
            "id": [f"C{i + 1:03d}" for i in range(n)],
            "lat": [None] * n,
            "lon": [None] * n,
            "address": addresses,
        }
    )


# ---------------------------------------------------------------------------------------------
# the geocoder


def test_amap_answers_a_location_in_gcj02(fake) -> None:
    geocoder = _amap(fake)
    location = geocoder.geocode(HONGMEI)
    gcj_lat, gcj_lon = convert(*PLACES[HONGMEI], "wgs84", "gcj02")
    assert location.latitude == pytest.approx(float(gcj_lat), abs=1e-6)
    assert location.longitude == pytest.approx(float(gcj_lon), abs=1e-6)
    assert location.address == "江苏省常州市"
    assert location.raw["level"] == "门址"
    # GCJ-02 is hundreds of metres off the WGS-84 point: the geocoder itself does not convert
    assert haversine_km(location.latitude, location.longitude, *PLACES[HONGMEI]) > 0.2
    many = geocoder.geocode(HONGMEI, exactly_one=False)
    assert isinstance(many, list) and len(many) == 1
    assert geocoder.geocode(NOWHERE) is None
    assert fake.count("amap") == 3
    assert fake.keys_seen() == {KEY}


def test_provider_crs_of_amap_is_gcj02() -> None:
    assert provider_crs(AMap("k")) == "gcj02"
    assert provider_crs(BaiduV3("k")) == "bd09"
    assert provider_crs(Nominatim(user_agent="tests")) == "wgs84"


def test_geocode_roster_converts_amap_answers_to_wgs84(fake) -> None:
    result = geocode_roster(_roster([HONGMEI, LANLING]), _amap(fake), **FAST)
    assert result.frame["geocode_status"].tolist() == ["geocoded", "geocoded"]
    assert result.frame["crs"].tolist() == ["wgs84", "wgs84"]
    for row, address in enumerate((HONGMEI, LANLING)):
        # what the service sent (GCJ-02, 6 decimals), converted back with matching.geo.crs
        gcj_lat, gcj_lon = (round(float(v), 6) for v in convert(*PLACES[address], "wgs84", "gcj02"))
        want_lat, want_lon = convert(gcj_lat, gcj_lon, "gcj02", "wgs84")
        got_lat, got_lon = result.frame.loc[row, ["lat", "lon"]]
        assert got_lat == pytest.approx(float(want_lat), abs=1e-9)
        assert got_lon == pytest.approx(float(want_lon), abs=1e-9)
        assert haversine_km(got_lat, got_lon, *PLACES[address]) < 0.001  # < 1 m from the truth


@pytest.mark.parametrize(
    ("address", "reason", "detail"),
    [
        (NOWHERE, "not_found", "no result"),
        (QUOTA, "quota_exceeded", "GeocoderQuotaExceeded"),
        (BUSY, "service_error", "GeocoderUnavailable"),
        (ODD, "service_error", "GeocoderServiceError"),
    ],
)
def test_amap_error_status_becomes_a_failure_reason(fake, address, reason, detail) -> None:
    result = geocode_roster(_roster([HONGMEI, address]), _amap(fake), **FAST)
    assert result.frame["geocode_status"].tolist() == ["geocoded", reason]
    expected = [{"id": "C002", "reason": reason, "detail": detail}]
    assert result.failures.to_dict("records") == expected
    assert address not in result.failures.to_csv()


@pytest.mark.parametrize(("infocode", "expected"), sorted(AMAP_ERRORS.items()))
def test_every_amap_error_code_raises_its_geopy_exception(infocode, expected) -> None:
    with serve({}, amap_errors={HONGMEI: (infocode, "SOME_INFO")}) as fake:
        with pytest.raises(expected, match=f"AMap error {infocode}: SOME_INFO"):
            _amap(fake).geocode(HONGMEI)


def test_an_unknown_error_code_is_a_service_error(fake) -> None:
    with pytest.raises(geopy_exc.GeocoderServiceError) as info:
        _amap(fake).geocode(ODD)
    assert type(info.value) is geopy_exc.GeocoderServiceError


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"status": "1", "geocodes": {"location": "1,2"}},
        {"status": "1", "geocodes": [{"location": "119.9"}]},
        {"status": "1", "geocodes": [{"location": "abc,def"}]},
        {"status": "1", "geocodes": [{"location": "119.9,95.0"}]},
    ],
)
def test_a_malformed_answer_is_a_parse_error(body) -> None:
    with pytest.raises(geopy_exc.GeocoderParseError):
        AMap("k")._parse_json(body)


def test_a_rejected_key_stops_the_run_with_a_config_error(fake, caplog) -> None:
    wrong = "wrong-key-3f9d"
    roster = _roster([HONGMEI, LANLING, HONGMEI])
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ConfigError, match="rejected the key") as info:
            geocode_roster(roster, _amap(fake, wrong), **{**FAST, "max_retries": 2})
    assert fake.count() == 1  # not retried, and no further address asked
    assert "GeocoderAuthenticationFailure" in str(info.value)
    assert wrong not in str(info.value) and wrong not in caplog.text


def test_the_cache_answers_a_second_run(fake, tmp_path) -> None:
    cache = tmp_path / "geocode.db"
    roster = _roster([HONGMEI, LANLING, NOWHERE])
    first = geocode_roster(roster, _amap(fake), cache=cache, **FAST)
    assert fake.count() == 3
    second = geocode_roster(roster, _amap(fake), cache=cache, **FAST)
    assert fake.count() == 3  # nothing asked again, "not found" included
    assert second.n_requests == 0 and second.n_cache_hits == 3
    assert second.frame["geocode_status"].tolist() == ["cached", "cached", "not_found"]
    pd.testing.assert_frame_equal(
        first.frame[["lat", "lon"]], second.frame[["lat", "lon"]], check_exact=False, rtol=0
    )


def test_the_key_and_address_never_reach_the_logs(caplog) -> None:
    # a closed port: urllib3 and geopy put the request URL, key and address included, in
    # the exception they raise, and geopy's rate limiter logs its traceback on each retry
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    geocoder = AMap(KEY, domain=f"127.0.0.1:{port}", scheme="http", timeout=1)
    with caplog.at_level(logging.DEBUG):
        result = geocode_roster(
            _roster([HONGMEI]), geocoder, min_delay_seconds=0, max_retries=1, error_wait_seconds=0
        )
    assert result.failures["reason"].tolist() == ["service_error"]
    assert any(record.name == "geopy" for record in caplog.records)  # the retry warning
    text = caplog.text + "".join(str(r.exc_text or "") for r in caplog.records)
    assert "<key>" in text and AMAP_PATH in text
    assert KEY not in text
    assert HONGMEI not in text


# ---------------------------------------------------------------------------------------------
# the provider factory


def test_make_geocoder_reads_the_key_from_the_environment(fake, monkeypatch) -> None:
    monkeypatch.setenv("TEST_AMAP_KEY", KEY)
    amap = make_geocoder("AMap", key_env="TEST_AMAP_KEY", domain=fake.host, scheme="http")
    assert isinstance(amap, AMap) and amap.api_key == KEY
    assert amap.geocode(HONGMEI) is not None
    baidu = make_geocoder("baidu", key_env="TEST_AMAP_KEY", domain=fake.host, scheme="http")
    assert isinstance(baidu, BaiduV3)
    nominatim = make_geocoder("nominatim", domain=fake.host, scheme="http")
    assert isinstance(nominatim, Nominatim)
    assert nominatim.headers["User-Agent"].startswith("mentor-matching/")
    assert set(PROVIDERS) == set(DEFAULT_MIN_DELAY_SECONDS)


@pytest.mark.parametrize("provider", ["baidu", "nominatim"])
def test_baidu_and_nominatim_from_the_factory_answer_in_wgs84(fake, monkeypatch, provider) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    geocoder = make_geocoder(provider, key_env="TEST_KEY", domain=fake.host, scheme="http")
    result = geocode_roster(_roster([HONGMEI, NOWHERE]), geocoder, **FAST)
    lat, lon = result.frame.loc[0, ["lat", "lon"]]
    assert haversine_km(lat, lon, *PLACES[HONGMEI]) < 0.001
    assert fake.count(provider) == 2
    # Baidu answers "no result" with an error status (geopy: a service error)
    want = "service_error" if provider == "baidu" else "not_found"
    assert result.failures["reason"].tolist() == [want]


def test_a_missing_key_names_the_variable_and_never_a_value(monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_KEY_VAR"):
        make_geocoder("amap", key_env="NO_SUCH_KEY_VAR")
    monkeypatch.setenv("NO_SUCH_KEY_VAR", "   ")
    with pytest.raises(ConfigError, match="NO_SUCH_KEY_VAR is not set or empty"):
        make_geocoder("baidu", key_env="NO_SUCH_KEY_VAR")
    with pytest.raises(ConfigError, match="amap needs a key"):
        make_geocoder("amap")
    with pytest.raises(ConfigError, match="unknown geocoding provider 'google'"):
        make_geocoder("google")
    with pytest.raises(ConfigError, match="timeout"):
        make_geocoder("nominatim", timeout=0)
    # nominatim takes no key: a variable named for another provider is not needed
    assert isinstance(make_geocoder("nominatim", key_env="NO_SUCH_KEY_VAR"), Nominatim)


def test_a_wrong_baidu_key_is_a_config_error(fake) -> None:
    geocoder = make_geocoder("baidu", key="wrong-9d8c", domain=fake.host, scheme="http")
    with pytest.raises(ConfigError, match="rejected the key"):
        geocode_roster(_roster([HONGMEI]), geocoder, **FAST)


# ---------------------------------------------------------------------------------------------
# failures in words


def test_describe_failures_in_chinese_and_english() -> None:
    failures = pd.DataFrame(
        {
            "id": ["C1", "C2", "C3"],
            "reason": ["no_address", "not_found", "timeout"],
            "detail": ["no coordinates and no address", "no result", "GeocoderTimedOut"],
        }
    )
    english = describe_failures(failures, language="en")
    assert english["reason"].tolist() == [
        "no coordinates and no address",
        "address not found",
        "the geocoding service did not answer in time",
    ]
    with use_language("zh"):
        chinese = describe_failures(failures)
    assert list(chinese.columns) == ["编号", "原因", "说明"]
    assert chinese["编号"].tolist() == ["C1", "C2", "C3"]
    assert chinese.loc[1, "原因"] == "未找到该地址"
    assert chinese.loc[2, "说明"] == "GeocoderTimedOut"  # a class name stays as it is
    assert failures["reason"].tolist() == ["no_address", "not_found", "timeout"]  # unchanged
    assert set(FAILURE_TEXTS) == set(FAILURE_REASONS)
    assert np.all([not any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in english["reason"]])
