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
  ``service_error``) and the geopy exception class;
  :func:`describe_failures` puts the table in words for staff.
- A key the service rejects is not a row's failure but the configuration's:
  :func:`geocode_roster` raises :class:`~matching.errors.ConfigError` at
  once (answers received before it stay in the cache).
- Results are converted to WGS-84 from the system the provider answers in
  (Baidu: BD-09; AMap: GCJ-02; others: WGS-84; see :func:`provider_crs`).
- Privacy: addresses never appear in log records, messages or the failure
  table -- only record ids.  The rate limiter is called with the record id,
  not the address, so geopy's own retry warnings name the id only; while a
  request runs, a filter on the ``geopy`` and ``urllib3`` loggers replaces
  the address (plain or URL-encoded, e.g. inside a request URL or a
  traceback) with ``<address>``, and the geocoder's key (``api_key``) with
  ``<key>``.  The cache stores a SHA-256 digest of the
  normalised address, not the address.  (geopy logs each request URL at
  DEBUG level; that record is redacted too.)

The cache
---------
Keyed by provider and a digest of the normalised address (Unicode NFKC,
trimmed, runs of whitespace collapsed to one space); "not found" is cached,
transient errors are not.  See :mod:`matching.geo.lookup`.

Example
-------
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

from __future__ import annotations

import logging
import math
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matching.errors import ConfigError, InputError
from matching.geo.crs import normalize_crs
from matching.geo.lookup import FAILURE_TEXTS, AddressLookup, GeocodeCache
from matching.i18n import N_, use_language
from matching.i18n import gettext as _
from matching.rosters.columns import ADDRESS_HEADERS, CRS_HEADERS, find_column

__all__ = [
    "ADDRESS_ALIASES",
    "FAILURE_REASONS",
    "FAILURE_TEXTS",
    "GeocodeResult",
    "describe_failures",
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

ADDRESS_ALIASES: tuple[str, ...] = ADDRESS_HEADERS
"""The headers of a roster's address column looked for by default (stripped, lower-cased):
address, 地址, 家庭住址, 住址, 居住地址, 现住址."""
_FAILURE_COLUMNS = ["id", "reason", "detail"]


@dataclass(frozen=True)
class GeocodeResult:
    """The outcome of :func:`geocode_roster`.

    Attributes
    ----------
    frame : pandas.DataFrame
        A copy of the roster (same rows, same order, same index) with the
        missing ``lat`` / ``lon`` filled in WGS-84 where geocoding succeeded,
        a ``crs`` column (``"wgs84"`` on filled rows, other cells unchanged or
        blank, so a roster default of :func:`matching.rosters.validate_children`
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
    sends no ``ret_coordtype``); :class:`matching.geo.amap.AMap` (Gaode) in
    GCJ-02; every other geopy geocoder (Nominatim, Google, ArcGIS, ...) in
    WGS-84.  For another GCJ-02 geocoder (e.g. Tencent) pass ``crs="gcj02"``
    to :func:`geocode_roster`.

    Examples
    --------
    >>> from geopy.geocoders import BaiduV3, Nominatim
    >>> from matching.geo.amap import AMap
    >>> provider_crs(BaiduV3("key")), provider_crs(AMap("key"))
    ('bd09', 'gcj02')
    >>> provider_crs(Nominatim(user_agent="docs"))
    'wgs84'
    """
    from geopy.geocoders import Baidu

    from matching.geo.amap import AMap

    if isinstance(geocoder, Baidu):
        return "bd09"
    return "gcj02" if isinstance(geocoder, AMap) else "wgs84"


# ----------------------------------------------------------------------------------------------
# the roster


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
        A raw roster (before :func:`matching.rosters.validate_children` /
        :func:`~matching.rosters.validate_mentors`) with an id column (``id``
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
    min_delay_seconds, max_retries, error_wait_seconds : optional
        Minimum delay between requests (Nominatim's usage policy: 1 s);
        retries of a failed request (geopy service errors) before the row is
        listed as failed, and the wait before each retry.
    stop_on_quota : bool, optional
        After a request fails for quota (after its retries), send no more
        requests in this run; the remaining addresses are listed as
        ``quota_exceeded`` with detail ``"not attempted: quota exceeded
        earlier in this run"``.  Cached answers are still used.

    Returns
    -------
    GeocodeResult
        The filled copy, the failures, and request / cache counts.  See the
        module docstring for an example.

    Raises
    ------
    InputError
        If ``df`` is not a DataFrame, has no id or address column, or the
        cache file is not usable.
    ConfigError
        If a parameter is not acceptable (the message names it), or the
        service rejects the geocoder's key or refuses it this service
        (geopy's ``GeocoderAuthenticationFailure`` or
        ``GeocoderInsufficientPrivileges``): no further request is sent.
    """
    source_crs, provider = _checked_options(
        df,
        geocoder,
        address_column,
        crs,
        provider,
        (min_delay_seconds, max_retries, error_wait_seconds),
    )
    frame, columns = _prepared(df, address_column)
    n = len(frame)
    ids = frame[columns.id].tolist()
    labels = [_label(ids[row], row) for row in range(n)]
    status, detail, wanted_rows = _rows_to_geocode(frame, columns)
    store = GeocodeCache(cache)
    session = AddressLookup(geocoder, store, provider, source_crs, stop_on_quota)
    try:
        limited = session.limiter(min_delay_seconds, max_retries, error_wait_seconds)
        filled = _geocode_rows(session, limited, wanted_rows, labels, status, detail)
    finally:
        session.close()
    _fill(frame, columns, *filled)
    frame["geocode_status"] = pd.Series(status, index=frame.index, dtype=object)
    failed = [row for row in range(n) if status[row] in FAILURE_REASONS]
    asked = sum(len(rows) for rows in wanted_rows.values())
    logger.info(
        "geocoded %d row(s): %d request(s), %d cache hit(s), %d failure(s)",
        *(asked, session.n_requests, session.n_cache_hits, len(failed)),
    )
    failures = _failure_table([labels[row] for row in failed], status, detail, failed)
    return GeocodeResult(frame, failures, session.n_requests, session.n_cache_hits)


_FAILURE_HEADERS = {
    "roster": N_("roster"),
    "id": N_("id"),
    "reason": N_("reason"),
    "detail": N_("detail"),
}


def describe_failures(failures: pd.DataFrame, *, language: str | None = None) -> pd.DataFrame:
    """The failure table of :func:`geocode_roster` in words, for the file staff open.

    Parameters
    ----------
    failures : pandas.DataFrame
        :attr:`GeocodeResult.failures` (columns ``id``, ``reason``, ``detail``;
        other columns, such as ``roster``, are kept).
    language : {"zh", "en"}, optional
        The language of the headers, reasons and details (the current
        language by default, :func:`matching.i18n.current_language`).

    Returns
    -------
    pandas.DataFrame
        The same rows and columns: the id, the reason in words
        (:data:`FAILURE_TEXTS`) and the detail (a fixed phrase in words, or
        the geopy exception class), under headers in ``language``.  Never an
        address.

    Examples
    --------
    >>> table = pd.DataFrame({"id": ["C3"], "reason": ["not_found"], "detail": ["no result"]})
    >>> describe_failures(table, language="en").to_dict("records")
    [{'id': 'C3', 'reason': 'address not found', 'detail': 'no result'}]
    >>> list(describe_failures(table, language="zh").columns)
    ['编号', '原因', '说明']
    """
    with use_language(language):
        out = failures.copy()
        out["reason"] = [_(FAILURE_TEXTS.get(r, r)) for r in out["reason"]]
        out["detail"] = [_(d) if d else d for d in out["detail"]]
        return out.rename(columns={k: _(v) for k, v in _FAILURE_HEADERS.items()})


def _failure_table(
    ids: list[str], status: list[str], detail: list[str], failed: list[int]
) -> pd.DataFrame:
    """The rows left without coordinates: id, reason and detail, never the address."""
    return pd.DataFrame(
        {
            "id": ids,
            "reason": [status[row] for row in failed],
            "detail": [detail[row] for row in failed],
        },
        columns=_FAILURE_COLUMNS,
        dtype=object,
    )


def _geocode_rows(
    session: AddressLookup,
    limited: Callable[[str], Any],
    wanted_rows: dict[str, list[int]],
    labels: list[str],
    status: list[str],
    detail: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Look up each wanted address once; set its rows' status and detail, and return
    the WGS-84 coordinates found for every row (NaN where none)."""
    filled_lat = np.full(len(labels), np.nan)
    filled_lon = np.full(len(labels), np.nan)
    for text, rows in wanted_rows.items():
        outcome, why, lat, lon = session.answer(text, labels[rows[0]], limited)
        if outcome in ("geocoded", "cached"):
            filled_lat[rows], filled_lon[rows] = lat, lon
        for row in rows:
            status[row], detail[row] = outcome, why
    return filled_lat, filled_lon


def _checked_options(
    df: Any,
    geocoder: Any,
    address_column: Any,
    crs: str | None,
    provider: Any,
    limits: tuple[float, int, float],
) -> tuple[str, str]:
    """Check :func:`geocode_roster`'s arguments; return the answers' system and the
    provider's cache key."""
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
    min_delay_seconds, max_retries, error_wait_seconds = limits
    _check_number("min_delay_seconds", min_delay_seconds)
    _check_number("max_retries", max_retries, integer=True)
    _check_number("error_wait_seconds", error_wait_seconds)
    return source_crs, provider


@dataclass(frozen=True)
class _Columns:
    """The labels of the roster columns geocoding reads and writes."""

    id: Any
    address: Any
    lat: Any
    lon: Any
    crs: Any


def _prepared(df: pd.DataFrame, address_column: str) -> tuple[pd.DataFrame, _Columns]:
    """A copy of the roster with ``lat``, ``lon`` and ``crs`` columns (added blank
    where absent), and the labels of its columns."""
    id_col = find_column(df, _ID_HEADERS)
    if id_col is None:
        raise InputError("roster has no 'id' column (also accepted: 编号)")
    wanted = address_column.strip().lower()
    addr_col = find_column(df, (wanted,))
    if addr_col is None and wanted == "address":
        addr_col = find_column(df, ADDRESS_ALIASES)
    if addr_col is None:
        raise InputError(f"roster has no {address_column!r} column")
    frame = df.copy()
    n = len(frame)
    lat_col = find_column(frame, _LAT_HEADERS)
    lon_col = find_column(frame, _LON_HEADERS)
    crs_col = find_column(frame, CRS_HEADERS)
    if lat_col is None:
        lat_col = "lat"
        frame[lat_col] = np.full(n, np.nan)
    if lon_col is None:
        lon_col = "lon"
        frame[lon_col] = np.full(n, np.nan)
    if crs_col is None:
        crs_col = "crs"
        frame[crs_col] = pd.Series([""] * n, index=frame.index, dtype=object)
    return frame, _Columns(id_col, addr_col, lat_col, lon_col, crs_col)


def _rows_to_geocode(
    frame: pd.DataFrame, columns: _Columns
) -> tuple[list[str], list[str], dict[str, list[int]]]:
    """Each row's first status and detail, and the rows to geocode by normalised
    address (in roster order): rows missing a coordinate that have an address."""
    lats = frame[columns.lat].tolist()
    lons = frame[columns.lon].tolist()
    addresses = frame[columns.address].tolist()
    n = len(frame)
    status = ["present"] * n
    detail = [""] * n
    wanted_rows: dict[str, list[int]] = {}
    for row in range(n):
        if not (_missing_number(lats[row]) or _missing_number(lons[row])):
            continue
        text = _address_text(addresses[row])
        if text is None:
            status[row], detail[row] = "no_address", N_("no coordinates and no address")
            continue
        wanted_rows.setdefault(text, []).append(row)
    return status, detail, wanted_rows


def _fill(
    frame: pd.DataFrame, columns: _Columns, filled_lat: np.ndarray, filled_lon: np.ndarray
) -> None:
    """Write the geocoded coordinates into ``frame`` (and ``"wgs84"`` into their
    ``crs`` cells), keeping the coordinate columns numeric where they were."""
    filled = np.flatnonzero(~np.isnan(filled_lat))
    if not len(filled):
        return
    for col, values in ((columns.lat, filled_lat), (columns.lon, filled_lon)):
        if not pd.api.types.is_float_dtype(frame[col].dtype):
            frame[col] = frame[col].astype(object)
        frame.iloc[filled, frame.columns.get_loc(col)] = values[filled]
        if frame[col].dtype == object and all(
            _missing_number(v) or (isinstance(v, float | int) and not isinstance(v, bool))
            for v in frame[col]
        ):  # numbers and blanks only (e.g. an all-blank column): make it float64
            frame[col] = pd.to_numeric(frame[col].where(frame[col].notna(), np.nan))
    if frame[columns.crs].dtype != object:
        frame[columns.crs] = frame[columns.crs].astype(object)
    frame.iloc[filled, frame.columns.get_loc(columns.crs)] = "wgs84"
