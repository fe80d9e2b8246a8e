"""Fill missing coordinates of a roster from its address column with a geopy geocoder.

:func:`geocode_roster` sends each distinct address that has no coordinates to
any geopy geocoder object (``BaiduV3`` with the user's key, ``Nominatim``, or
any other), through geopy's ``RateLimiter`` with ``swallow_exceptions=False``
(its default swallows errors), and keeps every answer in an optional SQLite
cache, so a nightly run never geocodes the same address twice.

Rules
-----
- Rows that already have both coordinates are not geocoded.
- Nothing is guessed: an address that fails keeps its coordinates missing and
  is listed in :attr:`GeocodeResult.failures` with the reason in words
  (``no_address``, ``not_found``, ``quota_exceeded``, ``timeout``,
  ``service_error``) and the geopy exception class.
- Results are converted to WGS-84 from the system the provider answers in
  (Baidu: BD-09; others: WGS-84; see :func:`provider_crs`).
- Privacy: addresses never appear in log records, messages or the failure
  table -- only record ids.  The rate limiter is called with the record id,
  not the address, so geopy's own retry warnings name the id only; while a
  request runs, a filter on the ``geopy`` and ``urllib3`` loggers replaces
  the address (plain or URL-encoded, e.g. inside a request URL or a
  traceback) with ``<address>``.  The cache stores a SHA-256 digest of the
  normalised address, not the address.  (geopy logs each request URL at
  DEBUG level; that record is redacted too.)

The cache
---------
One table keyed by (provider, digest of the normalised address) holding the
provider's raw ``lat``, ``lon``, its coordinate system and a status
(``ok`` or ``not_found``).  Normalising: Unicode NFKC, trimmed, runs of
whitespace collapsed to one space.  "Not found" is cached (a nightly run
does not ask again); quota, timeout and other service errors are not (they
are transient).  Each answer is committed in its own transaction as soon as
it arrives, so an interrupted run keeps what it has paid for and never
leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import numpy as np
import pandas as pd

from matching.errors import ConfigError, InputError
from matching.geo.crs import convert, normalize_crs

__all__ = [
    "FAILURE_REASONS",
    "GeocodeResult",
    "geocode_roster",
    "normalize_address",
    "provider_crs",
]

logger = logging.getLogger(__name__)

FAILURE_REASONS: tuple[str, ...] = (
    "no_address",
    "not_found",
    "quota_exceeded",
    "timeout",
    "service_error",
)
"""The reasons a row may be listed in :attr:`GeocodeResult.failures`."""

_ID_HEADERS = ("id", "编号")
_LAT_HEADERS = ("lat", "纬度")
_LON_HEADERS = ("lon", "经度")
_CRS_HEADERS = ("crs", "坐标系")
_ADDRESS_ALIASES = ("address", "地址")
_FAILURE_COLUMNS = ["id", "reason", "detail"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS geocode_cache (
    provider TEXT NOT NULL,
    address_sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'not_found')),
    lat REAL,
    lon REAL,
    crs TEXT,
    created_utc TEXT NOT NULL,
    PRIMARY KEY (provider, address_sha256)
)
"""


@dataclass(frozen=True)
class GeocodeResult:
    """The outcome of :func:`geocode_roster`.

    Attributes
    ----------
    frame : pandas.DataFrame
        A copy of the roster (same rows, same order, same index) with the
        missing ``lat`` / ``lon`` filled in WGS-84 where geocoding succeeded,
        a ``crs`` column (``"wgs84"`` on filled rows, other cells unchanged or
        blank, so a roster default of :func:`matching.rosters.schema.validate_children`
        never applies to them) and a ``geocode_status`` column: ``"present"``
        (had coordinates), ``"geocoded"`` (answered now), ``"cached"``
        (answered from the cache) or one of :data:`FAILURE_REASONS`.
    failures : pandas.DataFrame
        One row per row of the roster left without coordinates, in roster
        order: ``id`` (the record id, or ``"row N"``), ``reason`` (one of
        :data:`FAILURE_REASONS`) and ``detail`` (the geopy exception class, or
        a fixed phrase).  Never the address.
    n_requests : int
        Calls made to the geocoder in this run, retries included.
    n_cache_hits : int
        Distinct addresses answered from the cache.
    """

    frame: pd.DataFrame
    failures: pd.DataFrame
    n_requests: int
    n_cache_hits: int


def normalize_address(address: str) -> str:
    """The cache key form of an address: NFKC, trimmed, whitespace runs collapsed.

    Examples
    --------
    >>> normalize_address("  江苏省常州市\\u3000天宁区  红梅街道１号 ")
    '江苏省常州市 天宁区 红梅街道1号'
    """
    return " ".join(unicodedata.normalize("NFKC", address).split())


def provider_crs(geocoder: Any) -> str:
    """The coordinate system a geopy geocoder answers in.

    ``Baidu`` and ``BaiduV3`` (and their subclasses) answer in BD-09 (geopy
    sends no ``ret_coordtype``); every other geopy geocoder (Nominatim,
    Google, ArcGIS, ...) in WGS-84.  geopy has no Gaode or Tencent geocoder;
    for a custom GCJ-02 geocoder pass ``crs="gcj02"`` to
    :func:`geocode_roster`.

    Examples
    --------
    >>> from geopy.geocoders import BaiduV3, Nominatim
    >>> provider_crs(BaiduV3("key")), provider_crs(Nominatim(user_agent="docs"))
    ('bd09', 'wgs84')
    """
    from geopy.geocoders import Baidu

    return "bd09" if isinstance(geocoder, Baidu) else "wgs84"


# ----------------------------------------------------------------------------------------------
# the cache


class _Cache:
    """A SQLite cache file, or an in-memory dict when ``path`` is None."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        self.memory: dict[tuple[str, str], tuple[str, float, float, str]] = {}
        self.conn: sqlite3.Connection | None = None
        if self.path is None:
            return
        if self.path.is_dir():
            raise InputError(f"cannot use {str(self.path)!r} as the geocode cache: a directory")
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 30000")
            with self._transaction():
                self.conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InputError(
                f"cannot use {str(self.path)!r} as the geocode cache: {exc} "
                "(expected a SQLite file written by matching.geo.geocode)"
            ) from exc

    def _transaction(self) -> _Transaction:
        assert self.conn is not None
        return _Transaction(self.conn)

    def get(self, provider: str, digest: str) -> tuple[str, float, float, str] | None:
        if self.conn is None:
            return self.memory.get((provider, digest))
        row = self.conn.execute(
            "SELECT status, lat, lon, crs FROM geocode_cache "
            "WHERE provider = ? AND address_sha256 = ?",
            (provider, digest),
        ).fetchone()
        if row is None:
            return None
        status, lat, lon, crs = row
        return (
            str(status),
            math.nan if lat is None else float(lat),
            math.nan if lon is None else float(lon),
            str(crs or "wgs84"),
        )

    def put(
        self, provider: str, digest: str, status: str, lat: float, lon: float, crs: str
    ) -> None:
        self.memory[(provider, digest)] = (status, lat, lon, crs)
        if self.conn is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        values = (
            provider,
            digest,
            status,
            None if math.isnan(lat) else lat,
            None if math.isnan(lon) else lon,
            crs,
            stamp,
        )
        with self._transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO geocode_cache "
                "(provider, address_sha256, status, lat, lon, crs, created_utc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


# ----------------------------------------------------------------------------------------------
# the roster


def _find(df: pd.DataFrame, headers: tuple[str, ...]) -> Any:
    """The first column label of ``df`` matching one of ``headers`` (stripped, lower-cased)."""
    for label in df.columns:
        if str(label).strip().lower() in headers:
            return label
    return None


def _missing_number(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return False


def _label(value: Any, row: int) -> str:
    if _missing_number(value):
        return f"row {row + 1}"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _address_text(value: Any) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    text = normalize_address(str(value))
    return text or None


def _reason(exc: Exception) -> str:
    from geopy.exc import GeocoderQuotaExceeded, GeocoderTimedOut, GeocoderUnavailable

    if isinstance(exc, GeocoderQuotaExceeded):
        return "quota_exceeded"
    if isinstance(exc, GeocoderTimedOut):
        return "timeout"
    if isinstance(exc, GeocoderUnavailable) and "timed out" in str(exc).lower():
        # geopy's requests adapter retries read timeouts in urllib3 and then reports
        # GeocoderUnavailable ("Max retries exceeded ... Read timed out")
        return "timeout"
    return "service_error"


# Loggers that may print a request URL (and so the address): geopy's own (the rate
# limiter's retry warnings carry the traceback) and urllib3's retry warnings.
_REDACTED_LOGGERS = ("geopy", "urllib3.connectionpool", "urllib3.util.retry")


class _RedactAddresses(logging.Filter):
    """Replace the address being geocoded (plain or URL-encoded) by ``<address>`` in log records."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def set_address(self, text: str | None) -> None:
        if text is None:
            self.texts = []
            return
        encoded = {quote(text), quote_plus(text), quote(text, safe=""), text}
        self.texts = sorted(encoded, key=len, reverse=True)

    def _clean(self, message: str) -> str:
        for text in self.texts:
            message = message.replace(text, "<address>")
        return message

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.texts:
            return True
        message = record.getMessage()
        clean = self._clean(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


def _check_number(name: str, value: Any, *, integer: bool = False) -> None:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if not ok or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"The {name!r} parameter must be {kind} >= 0; got {value!r} instead.")


def geocode_roster(
    df: pd.DataFrame,
    geocoder: Any,
    *,
    address_column: str = "address",
    cache: str | os.PathLike[str] | None = None,
    crs: str | None = None,
    provider: str | None = None,
    min_delay_seconds: float = 1.0,
    max_retries: int = 2,
    error_wait_seconds: float = 5.0,
    stop_on_quota: bool = True,
) -> GeocodeResult:
    """Fill a roster's missing coordinates from its addresses with a geopy geocoder.

    Parameters
    ----------
    df : pandas.DataFrame
        A raw roster (before :func:`matching.rosters.schema.validate_children` /
        :func:`~matching.rosters.schema.validate_mentors`) with an id column (``id``
        or 编号), an address column and, optionally, ``lat`` / ``lon`` (纬度 /
        经度) columns; rows where either coordinate is blank are geocoded.
        The frame is not modified.
    geocoder : geopy geocoder
        Any object with geopy's ``geocode(query)`` method, e.g.
        ``geopy.geocoders.BaiduV3(api_key)`` or
        ``geopy.geocoders.Nominatim(user_agent=...)``.  Its ``timeout``
        setting decides when a request counts as timed out.
    address_column : str, optional
        Header of the address column (matched after stripping and
        lower-casing; 地址 is accepted when the default is not present).
    cache : str or os.PathLike, optional
        Path of a SQLite cache file (created if absent).  ``None`` caches in
        memory for this call only.
    crs : str, optional
        Coordinate system of the geocoder's answers; by default
        :func:`provider_crs` (BD-09 for Baidu, WGS-84 otherwise).
    provider : str, optional
        Cache key of the provider; the geocoder's class name by default.
        Use different names for geocoders that may answer differently
        (e.g. two Nominatim servers).
    min_delay_seconds : float, optional
        Minimum delay between requests (Nominatim's usage policy: 1 s).
    max_retries : int, optional
        Retries of a failed request (geopy service errors) before the row is
        listed as failed.
    error_wait_seconds : float, optional
        Wait before a retry.
    stop_on_quota : bool, optional
        After a request fails for quota (after its retries), send no more
        requests in this run; the remaining addresses are listed as
        ``quota_exceeded`` with detail ``"not attempted: quota exceeded
        earlier in this run"``.  Cached answers are still used.

    Returns
    -------
    GeocodeResult
        The filled copy, the failures, and request / cache counts.

    Raises
    ------
    InputError
        If ``df`` is not a DataFrame, has no id or address column, or the
        cache file is not usable.
    ConfigError
        If a parameter is not acceptable (the message names it).

    Examples
    --------
    A stand-in geocoder (any object with ``geocode``) shows the flow; use a
    geopy geocoder in practice:

    >>> import pandas as pd
    >>> from geopy.location import Location
    >>> class Book:
    ...     def geocode(self, query):
    ...         if query == "常州市天宁区红梅街道":
    ...             return Location(query, (31.79, 119.97), {})
    ...         return None
    >>> roster = pd.DataFrame(
    ...     {
    ...         "id": ["C1", "C2", "C3"],
    ...         "lat": [31.8, None, None],
    ...         "lon": [119.9, None, None],
    ...         "address": ["", " 常州市天宁区红梅街道 ", "无此地址"],
    ...     }
    ... )
    >>> result = geocode_roster(roster, Book(), min_delay_seconds=0)
    >>> result.frame["geocode_status"].tolist()
    ['present', 'geocoded', 'not_found']
    >>> result.frame.loc[1, ["lat", "lon"]].tolist()
    [31.79, 119.97]
    >>> result.failures.to_dict("records")
    [{'id': 'C3', 'reason': 'not_found', 'detail': 'no result'}]
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"roster must be a pandas DataFrame, got {type(df).__name__}")
    if not callable(getattr(geocoder, "geocode", None)):
        raise ConfigError(
            "The 'geocoder' parameter must be a geopy geocoder (an object with a geocode "
            f"method); got {type(geocoder).__name__} instead."
        )
    if not isinstance(address_column, str) or not address_column.strip():
        raise ConfigError(
            f"The 'address_column' parameter must be a column name; got {address_column!r} instead."
        )
    source_crs = provider_crs(geocoder) if crs is None else normalize_crs(crs, parameter="crs")
    if provider is None:
        provider = type(geocoder).__name__
    elif not isinstance(provider, str) or not provider.strip():
        raise ConfigError(f"The 'provider' parameter must be a name; got {provider!r} instead.")
    _check_number("min_delay_seconds", min_delay_seconds)
    _check_number("max_retries", max_retries, integer=True)
    _check_number("error_wait_seconds", error_wait_seconds)

    id_col = _find(df, _ID_HEADERS)
    if id_col is None:
        raise InputError("roster has no 'id' column (also accepted: 编号)")
    wanted = address_column.strip().lower()
    addr_col = _find(df, (wanted,))
    if addr_col is None and wanted == "address":
        addr_col = _find(df, _ADDRESS_ALIASES)
    if addr_col is None:
        raise InputError(f"roster has no {address_column!r} column")

    frame = df.copy()
    lat_col = _find(frame, _LAT_HEADERS)
    lon_col = _find(frame, _LON_HEADERS)
    crs_col = _find(frame, _CRS_HEADERS)
    n = len(frame)
    if lat_col is None:
        lat_col = "lat"
        frame[lat_col] = np.full(n, np.nan)
    if lon_col is None:
        lon_col = "lon"
        frame[lon_col] = np.full(n, np.nan)
    if crs_col is None:
        crs_col = "crs"
        frame[crs_col] = pd.Series([""] * n, index=frame.index, dtype=object)

    ids = frame[id_col].tolist()
    lats = frame[lat_col].tolist()
    lons = frame[lon_col].tolist()
    addresses = frame[addr_col].tolist()
    labels = [_label(ids[row], row) for row in range(n)]

    status = ["present"] * n
    detail = [""] * n
    wanted_rows: dict[str, list[int]] = {}  # normalised address -> rows, in roster order
    for row in range(n):
        if not (_missing_number(lats[row]) or _missing_number(lons[row])):
            continue
        text = _address_text(addresses[row])
        if text is None:
            status[row], detail[row] = "no_address", "no coordinates and no address"
            continue
        wanted_rows.setdefault(text, []).append(row)

    filled_lat = np.full(n, np.nan)
    filled_lon = np.full(n, np.nan)
    n_requests = 0
    n_cache_hits = 0
    store = _Cache(cache)
    redact = _RedactAddresses()
    for name in _REDACTED_LOGGERS:
        logging.getLogger(name).addFilter(redact)
    try:
        from geopy.exc import GeopyError
        from geopy.extra.rate_limiter import RateLimiter

        queries: dict[str, str] = {}  # record label -> address, so the limiter sees ids only

        def call(key: str) -> Any:
            nonlocal n_requests
            n_requests += 1
            return geocoder.geocode(queries[key])

        limited: Callable[[str], Any] = RateLimiter(
            call,
            min_delay_seconds=min_delay_seconds,
            max_retries=max_retries,
            error_wait_seconds=error_wait_seconds,
            swallow_exceptions=False,
        )
        quota_hit = False
        for text, rows in wanted_rows.items():
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            hit = store.get(provider, digest)
            outcome: str
            why = ""
            if hit is not None:
                n_cache_hits += 1
                outcome, lat, lon, answer_crs = hit
                if outcome == "ok":
                    outcome = "cached"
                else:
                    why = "no result (cached)"
            elif quota_hit:
                outcome, why = "quota_exceeded", "not attempted: quota exceeded earlier in this run"
                lat = lon = math.nan
                answer_crs = source_crs
            else:
                key = labels[rows[0]]
                queries[key] = text
                redact.set_address(text)
                answer_crs = source_crs
                lat = lon = math.nan
                try:
                    location = limited(key)
                except GeopyError as exc:
                    outcome, why = _reason(exc), type(exc).__name__
                    quota_hit = stop_on_quota and outcome == "quota_exceeded"
                    logger.warning("geocoding %s failed: %s (%s)", key, outcome, why)
                else:
                    if isinstance(location, list):
                        location = location[0] if location else None
                    if location is None:
                        outcome, why = "not_found", "no result"
                        store.put(provider, digest, "not_found", math.nan, math.nan, answer_crs)
                    else:
                        lat, lon = _coordinates(location)
                        if math.isnan(lat):
                            outcome, why = "service_error", "answer without valid coordinates"
                        else:
                            outcome = "geocoded"
                            store.put(provider, digest, "ok", lat, lon, answer_crs)
                finally:
                    del queries[key]
                    redact.set_address(None)
            if outcome in ("geocoded", "cached"):
                wgs_lat, wgs_lon = convert(lat, lon, answer_crs, "wgs84")
                for row in rows:
                    filled_lat[row] = float(wgs_lat)
                    filled_lon[row] = float(wgs_lon)
            for row in rows:
                status[row], detail[row] = outcome, why
    finally:
        for name in _REDACTED_LOGGERS:
            logging.getLogger(name).removeFilter(redact)
        store.close()

    filled = np.flatnonzero(~np.isnan(filled_lat))
    if len(filled):
        for col, values in ((lat_col, filled_lat), (lon_col, filled_lon)):
            if not pd.api.types.is_float_dtype(frame[col].dtype):
                frame[col] = frame[col].astype(object)
            frame.iloc[filled, frame.columns.get_loc(col)] = values[filled]
            if frame[col].dtype == object and all(
                _missing_number(v) or (isinstance(v, float | int) and not isinstance(v, bool))
                for v in frame[col]
            ):  # numbers and blanks only (e.g. an all-blank column): make it float64
                frame[col] = pd.to_numeric(frame[col].where(frame[col].notna(), np.nan))
        if frame[crs_col].dtype != object:
            frame[crs_col] = frame[crs_col].astype(object)
        frame.iloc[filled, frame.columns.get_loc(crs_col)] = "wgs84"
    frame["geocode_status"] = pd.Series(status, index=frame.index, dtype=object)

    failed = [row for row in range(n) if status[row] in FAILURE_REASONS]
    failures = pd.DataFrame(
        {
            "id": [labels[row] for row in failed],
            "reason": [status[row] for row in failed],
            "detail": [detail[row] for row in failed],
        },
        columns=_FAILURE_COLUMNS,
        dtype=object,
    )
    logger.info(
        "geocoded %d row(s): %d request(s), %d cache hit(s), %d failure(s)",
        sum(len(rows) for rows in wanted_rows.values()),
        n_requests,
        n_cache_hits,
        len(failed),
    )
    return GeocodeResult(
        frame=frame, failures=failures, n_requests=n_requests, n_cache_hits=n_cache_hits
    )


def _coordinates(location: Any) -> tuple[float, float]:
    """(lat, lon) of a geopy Location, or NaNs when they are not valid numbers."""
    try:
        lat = float(location.latitude)
        lon = float(location.longitude)
    except (AttributeError, TypeError, ValueError):
        return math.nan, math.nan
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return math.nan, math.nan
    return lat, lon
