"""Fake AMap, Baidu and Nominatim services on a local HTTP server, for tests without network.

``serve(places)`` runs one server on 127.0.0.1 that answers the three APIs by
path, from a table of addresses and their true WGS-84 points:

- AMap ``/v3/geocode/geo`` answers GCJ-02 (``"lng,lat"`` text), an error
  (``status "0"``, ``info``, ``infocode``) for an address in ``amap_errors``
  or for a key other than ``key``;
- Baidu ``/geocoding/v3/`` answers BD-09, status 200 ("invalid AK") for a
  wrong key;
- Nominatim ``/search`` answers WGS-84.

Every request is counted by service and address (:meth:`FakeGeocoders.count`).
Test modules, the CLI tests and end-to-end tests import it by name
(``from fake_geocoders import serve``), as they import ``builders``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from matching.geo.crs import convert

KEY = "fake-key-7c1e9a"
"""The key the fake services accept."""

AMAP_PATH = "/v3/geocode/geo"
BAIDU_PATH = "/geocoding/v3/"
NOMINATIM_PATH = "/search"


@dataclass
class FakeGeocoders:
    """The server's state: its address, the places it knows and the requests it answered."""

    host: str
    places: dict[str, tuple[float, float]]
    key: str = KEY
    amap_errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # service, address, key
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, service: str | None = None, address: str | None = None) -> int:
        """Requests answered, for one service and/or one address."""
        with self.lock:
            return sum(
                1
                for s, a, _ in self.requests
                if (service is None or s == service) and (address is None or a == address)
            )

    def keys_seen(self) -> set[str]:
        with self.lock:
            return {k for _, _, k in self.requests}

    # -- answers --------------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, list[str]]) -> tuple[int, Any]:
        def one(name: str) -> str:
            return params.get(name, [""])[0]

        if path == AMAP_PATH:
            self._record("amap", one("address"), one("key"))
            return 200, self._amap(one("address"), one("key"))
        if path == BAIDU_PATH:
            self._record("baidu", one("address"), one("ak"))
            return 200, self._baidu(one("address"), one("ak"))
        if path == NOMINATIM_PATH:
            self._record("nominatim", one("q"), "")
            return 200, self._nominatim(one("q"))
        return 404, {"error": "no such path"}

    def _record(self, service: str, address: str, key: str) -> None:
        with self.lock:
            self.requests.append((service, address, key))

    def _amap(self, address: str, key: str) -> dict[str, Any]:
        if key != self.key:
            return {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
        if address in self.amap_errors:
            infocode, info = self.amap_errors[address]
            return {"status": "0", "info": info, "infocode": infocode}
        if address not in self.places:
            return {"status": "1", "info": "OK", "infocode": "10000", "count": "0", "geocodes": []}
        lat, lon = convert(*self.places[address], "wgs84", "gcj02")
        return {
            "status": "1",
            "info": "OK",
            "infocode": "10000",
            "count": "1",
            "geocodes": [
                {
                    "formatted_address": "江苏省常州市",
                    "country": "中国",
                    "province": "江苏省",
                    "city": "常州市",
                    "district": [],
                    "location": f"{float(lon):.6f},{float(lat):.6f}",
                    "level": "门址",
                }
            ],
        }

    def _baidu(self, address: str, key: str) -> dict[str, Any]:
        if key != self.key:
            return {"status": 200, "message": "APP不存在，AK有误请检查再重试"}
        if address not in self.places:
            return {"status": 1, "msg": "Internal Service Error:无相关结果", "results": []}
        lat, lon = convert(*self.places[address], "wgs84", "bd09")
        return {
            "status": 0,
            "result": {
                "location": {"lng": float(lon), "lat": float(lat)},
                "precise": 1,
                "confidence": 80,
                "comprehension": 100,
                "level": "门址",
            },
        }

    def _nominatim(self, address: str) -> list[dict[str, Any]]:
        if address not in self.places:
            return []
        lat, lon = self.places[address]
        return [{"place_id": 1, "lat": f"{lat:.7f}", "lon": f"{lon:.7f}", "display_name": "常州"}]


@contextmanager
def serve(
    places: dict[str, tuple[float, float]],
    *,
    key: str = KEY,
    amap_errors: dict[str, tuple[str, str]] | None = None,
) -> Iterator[FakeGeocoders]:
    """Run the fake services on 127.0.0.1 (a free port) for the ``with`` block."""
    state: FakeGeocoders | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert state is not None
            url = urlsplit(self.path)
            status, body = state.answer(url.path, parse_qs(url.query))
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host = f"127.0.0.1:{server.server_address[1]}"
    state = FakeGeocoders(host, dict(places), key=key, amap_errors=dict(amap_errors or {}))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def geocode_config(
    path: Path,
    fake: FakeGeocoders,
    *,
    provider: str | None = None,
    key_env: str | None = None,
    cache: str | None = None,
    extra: str = "",
) -> Path:
    """A TOML file whose ``[geocode]`` table points at the fake server, without delays."""
    lines = [
        "[geocode]",
        f'domain = "{fake.host}"',
        'scheme = "http"',
        "min_delay_seconds = 0",
        "error_wait_seconds = 0",
        "max_retries = 0",
        "timeout_seconds = 5",
    ]
    if provider is not None:
        lines.append(f'provider = "{provider}"')
    if key_env is not None:
        lines.append(f'key_env = "{key_env}"')
    if cache is not None:
        lines.append(f'cache = "{cache}"')
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path
