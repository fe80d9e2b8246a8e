"""Tests for matching.geo.geocode against a local HTTP server that answers like Nominatim and Baidu.

No network: the server runs in the test process on 127.0.0.1 and records every request.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import numpy as np
import pandas as pd
import pytest
from geopy.geocoders import BaiduV3, Nominatim

from matching.errors import ConfigError, InputError
from matching.geo.crs import convert
from matching.geo.distance import haversine_km
from matching.geo.geocode import FAILURE_REASONS, geocode_roster, normalize_address, provider_crs
from matching.rosters import validate_children

FAST = {"min_delay_seconds": 0.001, "error_wait_seconds": 0.01}


# ---------------------------------------------------------------------------------------------
# the fake services


@dataclass
class Reply:
    """One scripted answer: HTTP status, JSON body, and a delay before answering."""

    body: Any
    status: int = 200
    delay: float = 0.0


@dataclass
class FakeService:
    """Answers by query text; records (path, query text) of every request."""

    query_param: str
    default: Reply
    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, params: dict[str, list[str]]) -> Reply:
        text = params.get(self.query_param, [""])[0]
        with self.lock:
            self.requests.append((path, text))
        return self.replies.get(text, self.default)

    def queries(self) -> list[str]:
        with self.lock:
            return [text for _, text in self.requests]


def _serve(service: FakeService) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            reply = service.answer(url.path, parse_qs(url.query))
            if reply.delay:
                time.sleep(reply.delay)
            data = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _nominatim_place(lat: float, lon: float, name: str) -> list[dict[str, Any]]:
    return [
        {
            "place_id": 1,
            "lat": f"{lat:.7f}",
            "lon": f"{lon:.7f}",
            "display_name": name,
            "type": "residential",
        }
    ]


def _baidu_place(lat: float, lon: float) -> dict[str, Any]:
    return {
        "status": 0,
        "result": {
            "location": {"lng": lon, "lat": lat},
            "precise": 1,
            "confidence": 80,
            "comprehension": 100,
            "level": "门址",
        },
    }


HONGMEI = "江苏省常州市天宁区红梅街道红梅新村5号"
LANLING = "江苏省常州市天宁区兰陵街道兰陵路88号"
NOWHERE = "江苏省常州市不存在路999号"
BUSY = "江苏省常州市钟楼区南大街1号"
SLOW = "江苏省常州市新北区太湖东路9号"
BROKEN = "江苏省常州市武进区湖塘镇1号"


@pytest.fixture
def nominatim_service() -> Iterator[tuple[FakeService, Nominatim]]:
    service = FakeService("q", Reply([]))  # unknown address: an empty list
    service.replies = {
        HONGMEI: Reply(_nominatim_place(31.7912, 119.9723, "红梅新村, 天宁区, 常州市")),
        LANLING: Reply(_nominatim_place(31.7710, 119.9981, "兰陵路, 天宁区, 常州市")),
        BUSY: Reply({"error": "Too many requests"}, status=429),
        SLOW: Reply(_nominatim_place(31.85, 119.95, "太湖东路"), delay=3.0),
        BROKEN: Reply({"error": "internal"}, status=500),
    }
    for base in _serve(service):
        host = base.removeprefix("http://")
        with Nominatim(user_agent="mentor-matching-tests", domain=host, scheme="http") as geo:
            geo.timeout = 0.3
            yield service, geo


class LocalBaiduV3(BaiduV3):
    """geopy's BaiduV3 pointed at the local server."""

    def __init__(self, base: str, **kwargs: Any) -> None:
        super().__init__("test-ak", scheme="http", **kwargs)
        self.api = f"{base}{self.api_path}"


@pytest.fixture
def baidu_service() -> Iterator[tuple[FakeService, LocalBaiduV3]]:
    # Baidu answers "no result" with status 1 (an internal-error code), which geopy raises
    # as GeocoderServiceError: a service_error, not cached.
    service = FakeService(
        "address", Reply({"status": 1, "msg": "Internal Service Error:无相关结果"})
    )
    service.replies = {
        HONGMEI: Reply(_baidu_place(31.79729, 119.98366)),
        LANLING: Reply(_baidu_place(31.77661, 120.00973)),
        BUSY: Reply({"status": 302, "message": "天配额超限，限制访问"}),
    }
    for base in _serve(service):
        with LocalBaiduV3(base, timeout=0.3) as geo:
            yield service, geo


def _roster(addresses: list[Any], coords: list[tuple[Any, Any]] | None = None) -> pd.DataFrame:
    n = len(addresses)
    coords = coords or [(None, None)] * n
    return pd.DataFrame(
        {
            "id": [f"C{i + 1:03d}" for i in range(n)],
            "name": [f"儿童{i + 1}" for i in range(n)],
            "lat": [c[0] for c in coords],
            "lon": [c[1] for c in coords],
            "address": addresses,
        }
    )


# ---------------------------------------------------------------------------------------------
# success


def test_nominatim_success_with_chinese_addresses(nominatim_service):
    service, geo = nominatim_service
    roster = _roster([HONGMEI, f"  {LANLING}\u3000", HONGMEI])
    result = geocode_roster(roster, geo, **FAST)

    assert result.frame["geocode_status"].tolist() == ["geocoded"] * 3
    assert result.failures.empty
    assert list(result.failures.columns) == ["id", "reason", "detail"]
    # Nominatim answers in WGS-84: taken as they are
    assert result.frame["lat"].tolist() == [31.7912, 31.771, 31.7912]
    assert result.frame["lon"].tolist() == [119.9723, 119.9981, 119.9723]
    assert result.frame["crs"].tolist() == ["wgs84"] * 3
    # the Chinese text reached the server intact (normalised), each distinct address once
    assert service.queries() == [HONGMEI, LANLING]
    assert {path for path, _ in service.requests} == {"/search"}
    assert result.n_requests == 2 and result.n_cache_hits == 0
    # the input is not modified; other columns and the index are kept
    assert roster["lat"].isna().all()
    assert result.frame["name"].tolist() == roster["name"].tolist()
    pd.testing.assert_index_equal(result.frame.index, roster.index)


def test_baidu_success_is_converted_from_bd09(baidu_service):
    service, geo = baidu_service
    assert provider_crs(geo) == "bd09"
    result = geocode_roster(_roster([HONGMEI, LANLING]), geo, **FAST)
    assert result.frame["geocode_status"].tolist() == ["geocoded", "geocoded"]
    raw_lat = np.array([31.79729, 31.77661])
    raw_lon = np.array([119.98366, 120.00973])
    want_lat, want_lon = convert(raw_lat, raw_lon, "bd09", "wgs84")
    np.testing.assert_allclose(result.frame["lat"], want_lat, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.frame["lon"], want_lon, rtol=0, atol=1e-12)
    moved = haversine_km(raw_lat, raw_lon, result.frame["lat"], result.frame["lon"]) * 1000
    assert moved.min() > 800.0  # BD-09 is ~1 km off WGS-84 here
    assert service.queries() == [HONGMEI, LANLING]
    assert {path for path, _ in service.requests} == {"/geocoding/v3/"}

    # crs can be overridden (e.g. a service configured to answer in WGS-84)
    again = geocode_roster(_roster([HONGMEI]), geo, crs="wgs84", **FAST)
    assert again.frame["lat"].tolist() == [31.79729]


# ---------------------------------------------------------------------------------------------
# failures


def test_not_found_is_listed_and_cached(nominatim_service, tmp_path):
    service, geo = nominatim_service
    cache = tmp_path / "geocode.sqlite"
    result = geocode_roster(_roster([NOWHERE, HONGMEI]), geo, cache=cache, **FAST)
    assert result.frame["geocode_status"].tolist() == ["not_found", "geocoded"]
    assert np.isnan(result.frame.loc[0, "lat"]) and np.isnan(result.frame.loc[0, "lon"])
    assert result.failures.to_dict("records") == [
        {"id": "C001", "reason": "not_found", "detail": "no result"}
    ]
    assert len(service.requests) == 2

    second = geocode_roster(_roster([NOWHERE, HONGMEI]), geo, cache=cache, **FAST)
    assert len(service.requests) == 2  # nothing new reached the server
    assert second.n_requests == 0 and second.n_cache_hits == 2
    assert second.frame["geocode_status"].tolist() == ["not_found", "cached"]
    assert second.failures.to_dict("records") == [
        {"id": "C001", "reason": "not_found", "detail": "no result (cached)"}
    ]


def test_quota_exceeded_nominatim_is_not_cached(nominatim_service, tmp_path):
    service, geo = nominatim_service
    cache = tmp_path / "geocode.sqlite"
    roster = _roster([BUSY, HONGMEI])
    result = geocode_roster(roster, geo, cache=cache, max_retries=1, stop_on_quota=False, **FAST)
    assert result.failures.to_dict("records") == [
        {"id": "C001", "reason": "quota_exceeded", "detail": "GeocoderRateLimited"}
    ]
    assert result.frame["geocode_status"].tolist() == ["quota_exceeded", "geocoded"]
    assert service.queries() == [BUSY, BUSY, HONGMEI]  # one retry, then carried on
    assert result.n_requests == 3

    second = geocode_roster(roster, geo, cache=cache, max_retries=0, **FAST)
    assert service.queries()[3:] == [BUSY]  # asked again (transient), HONGMEI from the cache
    assert second.frame["geocode_status"].tolist() == ["quota_exceeded", "cached"]


def test_quota_exceeded_baidu_stops_further_requests(baidu_service):
    service, geo = baidu_service
    roster = _roster([HONGMEI, BUSY, LANLING, NOWHERE])
    result = geocode_roster(roster, geo, max_retries=0, **FAST)
    assert result.frame["geocode_status"].tolist() == [
        "geocoded",
        "quota_exceeded",
        "quota_exceeded",
        "quota_exceeded",
    ]
    assert result.failures.to_dict("records") == [
        {"id": "C002", "reason": "quota_exceeded", "detail": "GeocoderQuotaExceeded"},
        {
            "id": "C003",
            "reason": "quota_exceeded",
            "detail": "not attempted: quota exceeded earlier in this run",
        },
        {
            "id": "C004",
            "reason": "quota_exceeded",
            "detail": "not attempted: quota exceeded earlier in this run",
        },
    ]
    assert service.queries() == [HONGMEI, BUSY]

    # with stop_on_quota=False the run asks for the rest
    carry_on = geocode_roster(roster, geo, max_retries=0, stop_on_quota=False, **FAST)
    assert carry_on.frame["geocode_status"].tolist() == [
        "geocoded",
        "quota_exceeded",
        "geocoded",
        "service_error",  # Baidu's "no result" comes as status 1 (see the fixture)
    ]
    assert carry_on.failures["detail"].tolist() == ["GeocoderQuotaExceeded", "GeocoderServiceError"]


def test_timeout_is_listed_and_not_cached(nominatim_service, tmp_path, caplog):
    _, geo = nominatim_service
    cache = tmp_path / "geocode.sqlite"
    roster = _roster([SLOW, HONGMEI])
    started = time.perf_counter()
    with caplog.at_level(logging.DEBUG):
        result = geocode_roster(roster, geo, cache=cache, max_retries=0, **FAST)
    # the server answers after 3 s; the client gave up after its 0.3 s timeout (geopy's
    # requests adapter retries a read timeout twice in urllib3: 3 x 0.3 s)
    assert time.perf_counter() - started < 2.5
    [failure] = result.failures.to_dict("records")
    assert failure["id"] == "C001" and failure["reason"] == "timeout"
    # GeocoderTimedOut, or GeocoderUnavailable after urllib3's own retries of a read timeout
    assert failure["detail"] in ("GeocoderTimedOut", "GeocoderUnavailable")
    # geopy logged the request URL (and, with requests installed, urllib3 its retries):
    # the address is redacted in every form
    assert "<address>" in caplog.text
    for text in (SLOW, quote(SLOW), quote_plus(SLOW)):
        assert text not in caplog.text
    assert result.frame["geocode_status"].tolist() == ["timeout", "geocoded"]
    with sqlite3.connect(cache) as conn:
        rows = conn.execute("SELECT status FROM geocode_cache").fetchall()
    assert rows == [("ok",)]  # only the success was cached


def test_service_error_after_retries(nominatim_service, caplog):
    service, geo = nominatim_service
    with caplog.at_level(logging.DEBUG):
        result = geocode_roster(_roster([BROKEN]), geo, max_retries=2, **FAST)
    assert result.failures.to_dict("records") == [
        {"id": "C001", "reason": "service_error", "detail": "GeocoderServiceError"}
    ]
    assert service.queries() == [BROKEN] * 3
    # geopy's RateLimiter logged its retries, naming the record id, never the address
    retries = [r for r in caplog.records if r.name.startswith("geopy") and "retrying" in r.message]
    assert len(retries) == 2
    assert "C001" in retries[0].getMessage()
    for text in (BROKEN, quote(BROKEN), quote_plus(BROKEN)):
        assert text not in caplog.text
    assert "<address>" in caplog.text  # geopy's DEBUG record of the request URL, redacted
    # the filters are removed after the run
    assert all(not logging.getLogger(name).filters for name in ("geopy", "urllib3.connectionpool"))


# ---------------------------------------------------------------------------------------------
# a mixed roster, then a second run from the cache


def test_mixed_roster_then_second_run_hits_only_the_cache(nominatim_service, tmp_path, caplog):
    service, geo = nominatim_service
    cache = tmp_path / "nightly" / "geocode.sqlite"
    cache.parent.mkdir()
    roster = _roster(
        [HONGMEI, "", NOWHERE, "ignored: has coordinates", LANLING, None, f"{HONGMEI} "],
        coords=[
            (None, None),
            (None, None),
            ("", ""),
            ("31.80", "119.90"),
            (np.nan, 119.9),  # one coordinate missing: geocoded
            (None, None),
            (None, None),
        ],
    )
    roster.index = pd.Index([10, 11, 12, 13, 14, 15, 16])
    with caplog.at_level(logging.DEBUG):
        first = geocode_roster(roster, geo, cache=cache, **FAST)
    assert first.frame["geocode_status"].tolist() == [
        "geocoded",
        "no_address",
        "not_found",
        "present",
        "geocoded",
        "no_address",
        "geocoded",
    ]
    assert first.failures.to_dict("records") == [
        {"id": "C002", "reason": "no_address", "detail": "no coordinates and no address"},
        {"id": "C003", "reason": "not_found", "detail": "no result"},
        {"id": "C006", "reason": "no_address", "detail": "no coordinates and no address"},
    ]
    assert set(first.failures["reason"]) <= set(FAILURE_REASONS)
    frame = first.frame
    assert frame.loc[13, "lat"] == "31.80" and frame.loc[13, "lon"] == "119.90"  # untouched
    assert frame.loc[14, "lat"] == 31.771 and frame.loc[14, "lon"] == 119.9981
    assert frame.loc[10, "lat"] == frame.loc[16, "lat"] == 31.7912
    assert frame["crs"].tolist() == ["wgs84", "", "", "", "wgs84", "", "wgs84"]
    requests_after_first = len(service.requests)
    assert requests_after_first == 3  # HONGMEI once, NOWHERE, LANLING

    # privacy: no address text in the failures or in any log record
    for text in (HONGMEI, LANLING, NOWHERE):
        assert text not in caplog.text
        assert text not in first.failures.to_string()

    # the second nightly run: same roster, same cache -> ZERO requests at the server
    second = geocode_roster(roster, geo, cache=cache, **FAST)
    assert len(service.requests) == requests_after_first
    assert second.n_requests == 0
    assert second.n_cache_hits == 3
    assert second.frame["geocode_status"].tolist() == [
        "cached",
        "no_address",
        "not_found",
        "present",
        "cached",
        "no_address",
        "cached",
    ]
    for col in ("lat", "lon"):
        assert second.frame[col].tolist()[3:5] == first.frame[col].tolist()[3:5]
        np.testing.assert_array_equal(
            second.frame[col].iloc[[0, 4, 6]].astype(float),
            first.frame[col].iloc[[0, 4, 6]].astype(float),
        )
    assert second.failures["id"].tolist() == ["C002", "C003", "C006"]

    # the filled roster validates; the filled rows are WGS-84 whatever the roster default
    kids = validate_children(second.frame.iloc[[0, 3, 4, 6]], crs="gcj02")
    assert kids["lat"].iloc[0] == 31.7912  # geocoded: not shifted
    assert abs(kids["lat"].iloc[1] - 31.80) > 1e-4  # given coordinates: read as GCJ-02

    # the cache file holds no address text
    data = cache.read_bytes()
    for text in (HONGMEI, LANLING, NOWHERE):
        assert text.encode("utf-8") not in data


def test_cache_key_is_normalised_and_per_provider(nominatim_service, tmp_path):
    service, geo = nominatim_service
    cache = tmp_path / "geocode.sqlite"
    geocode_roster(_roster([HONGMEI]), geo, cache=cache, **FAST)
    assert len(service.requests) == 1
    variant = HONGMEI.replace("天宁区", " 天宁区 ")  # extra spaces collapse...
    assert normalize_address(variant) != HONGMEI  # ...to one space, so this is another key
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in HONGMEI)
    assert normalize_address(full_width) == HONGMEI  # full-width digits fold under NFKC
    same = geocode_roster(_roster([full_width, f"\t{HONGMEI}  "]), geo, cache=cache, **FAST)
    assert same.frame["geocode_status"].tolist() == ["cached", "cached"]
    assert len(service.requests) == 1
    other = geocode_roster(_roster([HONGMEI]), geo, cache=cache, provider="osm-mirror", **FAST)
    assert other.frame["geocode_status"].tolist() == ["geocoded"]
    assert len(service.requests) == 2


def test_rate_limiter_spaces_requests(nominatim_service):
    service, geo = nominatim_service
    started = time.perf_counter()
    geocode_roster(_roster([HONGMEI, LANLING, NOWHERE]), geo, min_delay_seconds=0.15)
    assert time.perf_counter() - started >= 0.3  # three requests, two gaps of 0.15 s
    assert len(service.requests) == 3


def test_chinese_headers_and_no_coordinate_columns(nominatim_service):
    _, geo = nominatim_service
    roster = pd.DataFrame({"编号": [7, 8], "地址": [HONGMEI, NOWHERE], "坐标系": ["bd09", "bd09"]})
    result = geocode_roster(roster, geo, **FAST)
    assert result.frame["lat"].tolist()[0] == 31.7912
    assert np.isnan(result.frame["lat"].tolist()[1])
    assert result.frame["坐标系"].tolist() == ["wgs84", "bd09"]  # filled rows marked WGS-84
    assert "crs" not in result.frame.columns
    assert result.failures["id"].tolist() == ["8"]


# ---------------------------------------------------------------------------------------------
# parameters


def test_bad_parameters(tmp_path):
    roster = _roster([HONGMEI])
    geo = Nominatim(user_agent="mentor-matching-tests", domain="127.0.0.1:9", scheme="http")
    with pytest.raises(ConfigError, match="'geocoder' parameter"):
        geocode_roster(roster, "Nominatim")
    with pytest.raises(ConfigError, match="'min_delay_seconds' parameter"):
        geocode_roster(roster, geo, min_delay_seconds=-1)
    with pytest.raises(ConfigError, match="'max_retries' parameter"):
        geocode_roster(roster, geo, max_retries=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'crs' parameter"):
        geocode_roster(roster, geo, crs="mercator")
    with pytest.raises(InputError, match="no 'address' column"):
        geocode_roster(roster.drop(columns="address"), geo)
    with pytest.raises(InputError, match="no 'id' column"):
        geocode_roster(roster.drop(columns="id"), geo)
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        geocode_roster(roster.to_dict(), geo)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="geocode cache"):
        geocode_roster(roster, geo, cache=tmp_path)
    not_sqlite = tmp_path / "cache.sqlite"
    not_sqlite.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(InputError, match="geocode cache"):
        geocode_roster(roster, geo, cache=not_sqlite)
