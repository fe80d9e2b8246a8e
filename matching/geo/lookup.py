"""Address lookups for :mod:`matching.geo.geocode`: the cache, the provider, the logs.

:class:`AddressLookup` answers one normalised address at a time: from the
cache when it can, otherwise from the geocoder through geopy's
``RateLimiter`` (errors raised, not swallowed), while a filter on the
``geopy`` and ``urllib3`` loggers replaces the address (plain or URL-encoded)
with ``<address>``.  The limiter is called with the record id, not the
address, so geopy's own retry warnings name the id only.

The cache
---------
One table keyed by (provider, SHA-256 digest of the normalised address)
holding the provider's raw ``lat``, ``lon``, its coordinate system and a
status (``ok`` or ``not_found``); never the address.  "Not found" is cached
(a nightly run does not ask again); quota, timeout and other service errors
are not (they are transient).  Each answer is committed in its own
transaction as soon as it arrives, so an interrupted run keeps what it has
paid for and never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from matching.errors import ConfigError, InputError
from matching.geo.crs import convert
from matching.i18n import N_
from matching.i18n import gettext as _

__all__ = ["FAILURE_TEXTS", "AddressLookup", "Answer", "GeocodeCache"]

# Failures are logged under the public module's name, where users configure geocoding's logs.
logger = logging.getLogger("matching.geo.geocode")

FAILURE_TEXTS: dict[str, str] = {
    "no_address": N_("no coordinates and no address"),
    "not_found": N_("address not found"),
    "quota_exceeded": N_("the geocoding service's quota is used up"),
    "timeout": N_("the geocoding service did not answer in time"),
    "service_error": N_("the geocoding service answered with an error"),
}
"""Each failure reason in words for staff (translate with :func:`matching.i18n.gettext`)."""

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


class GeocodeCache:
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
    """Replace the address being geocoded (plain or URL-encoded) by ``<address>``, and the
    geocoder's keys by ``<key>``, in log records."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.secrets = sorted(
            {form for secret in secrets for form in _encodings(secret)}, key=len, reverse=True
        )

    def set_address(self, text: str | None) -> None:
        if text is None:
            self.texts = []
            return
        self.texts = sorted(_encodings(text), key=len, reverse=True)

    def _clean(self, message: str) -> str:
        for text in self.texts:
            message = message.replace(text, "<address>")
        for secret in self.secrets:
            message = message.replace(secret, "<key>")
        return message

    def filter(self, record: logging.LogRecord) -> bool:
        if not (self.texts or self.secrets):
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


def _encodings(text: str) -> set[str]:
    """``text`` as it may appear in a message: plain, or URL-encoded in a request URL."""
    return {quote(text), quote_plus(text), quote(text, safe=""), text}


# Attributes where geopy geocoders keep credentials (BaiduV3, AMap: api_key; Baidu's
# security_key; GoogleV3's secret): redacted from the logs like the addresses.
_SECRET_ATTRIBUTES = ("api_key", "security_key", "secret_key", "client_secret", "key")


def _secrets(geocoder: Any) -> list[str]:
    values = (getattr(geocoder, name, None) for name in _SECRET_ATTRIBUTES)
    return [v for v in values if isinstance(v, str) and len(v.strip()) >= 4]


class _KeyRejected(Exception):
    """The service rejected the key (args: the geopy exception's class name); not a
    geopy service error, so geopy's rate limiter does not retry it."""


Answer = tuple[str, str, float, float]
"""An address's outcome: (status, detail, lat, lon), the coordinates in WGS-84 (NaN if none)."""


class AddressLookup:
    """One run's lookups: the cache first, then the geocoder through geopy's rate
    limiter, with addresses redacted from the geopy and urllib3 logs meanwhile."""

    def __init__(
        self,
        geocoder: Any,
        store: GeocodeCache,
        provider: str,
        source_crs: str,
        stop_on_quota: bool,
    ) -> None:
        self.geocoder = geocoder
        self.store = store
        self.provider = provider
        self.source_crs = source_crs
        self.stop_on_quota = stop_on_quota
        self.n_requests = 0
        self.n_cache_hits = 0
        self.quota_hit = False
        self.queries: dict[str, str] = {}  # record label -> address, so the limiter sees ids only
        self.redact = _RedactAddresses(_secrets(geocoder))
        for name in _REDACTED_LOGGERS:
            logging.getLogger(name).addFilter(self.redact)

    def close(self) -> None:
        for name in _REDACTED_LOGGERS:
            logging.getLogger(name).removeFilter(self.redact)
        self.store.close()

    def limiter(
        self, min_delay_seconds: float, max_retries: int, error_wait_seconds: float
    ) -> Callable[[str], Any]:
        """geopy's rate limiter around the geocoder, raising errors instead of swallowing them."""
        from geopy.exc import GeocoderAuthenticationFailure, GeocoderInsufficientPrivileges
        from geopy.extra.rate_limiter import RateLimiter

        def call(key: str) -> Any:
            self.n_requests += 1
            try:
                return self.geocoder.geocode(self.queries[key])
            except (GeocoderAuthenticationFailure, GeocoderInsufficientPrivileges) as exc:
                raise _KeyRejected(type(exc).__name__) from None  # not retried by the limiter

        limited: Callable[[str], Any] = RateLimiter(
            call,
            min_delay_seconds=min_delay_seconds,
            max_retries=max_retries,
            error_wait_seconds=error_wait_seconds,
            swallow_exceptions=False,
        )
        return limited

    def answer(self, text: str, key: str, limited: Callable[[str], Any]) -> Answer:
        """The outcome for one normalised address; ``key`` names its first record."""
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        hit = self.store.get(self.provider, digest)
        if hit is not None:
            self.n_cache_hits += 1
            outcome, lat, lon, answer_crs = hit
            if outcome != "ok":
                return outcome, N_("no result (cached)"), math.nan, math.nan
            return ("cached", "", *_wgs84(lat, lon, answer_crs))
        if self.quota_hit:
            why = N_("not attempted: quota exceeded earlier in this run")
            return "quota_exceeded", why, math.nan, math.nan
        return self._ask(text, key, digest, limited)

    def _ask(self, text: str, key: str, digest: str, limited: Callable[[str], Any]) -> Answer:
        """Send one address to the geocoder and cache a definite answer."""
        from geopy.exc import GeopyError

        self.queries[key] = text
        self.redact.set_address(text)
        try:
            location = limited(key)
        except _KeyRejected as exc:
            # every further request would fail the same way: the configuration is wrong
            raise ConfigError(
                _(
                    "the geocoding service rejected the key of {provider} ({error}); "
                    "check the key and the services it may use"
                ).format(provider=self.provider, error=exc.args[0])
            ) from None
        except GeopyError as exc:
            outcome, why = _reason(exc), type(exc).__name__
            self.quota_hit = self.stop_on_quota and outcome == "quota_exceeded"
            logger.warning(
                "%s",
                _("geocoding {id} failed: {reason} ({detail})").format(
                    id=key, reason=_(FAILURE_TEXTS[outcome]), detail=why
                ),
            )
            return outcome, why, math.nan, math.nan
        finally:
            del self.queries[key]
            self.redact.set_address(None)
        if isinstance(location, list):
            location = location[0] if location else None
        if location is None:
            self.store.put(self.provider, digest, "not_found", math.nan, math.nan, self.source_crs)
            return "not_found", N_("no result"), math.nan, math.nan
        lat, lon = _coordinates(location)
        if math.isnan(lat):
            why = N_("answer without valid coordinates")
            return "service_error", why, math.nan, math.nan
        self.store.put(self.provider, digest, "ok", lat, lon, self.source_crs)
        return ("geocoded", "", *_wgs84(lat, lon, self.source_crs))


def _wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    wgs_lat, wgs_lon = convert(lat, lon, crs, "wgs84")
    return float(wgs_lat), float(wgs_lon)


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
