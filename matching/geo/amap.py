"""A geopy geocoder for AMap (Gaode, 高德), whose coordinates are GCJ-02.

geopy has no AMap geocoder, and AMap is what many Chinese government offices
use.  :class:`AMap` follows geopy's ``Geocoder`` interface (as geopy's
``BaiduV3`` does): ``geocode(query, *, exactly_one=True, timeout=...)``
returns a geopy ``Location`` (or a list of them, or None) and service errors
raise geopy's exceptions, so it works with geopy's ``RateLimiter`` and with
:func:`matching.geo.geocode.geocode_roster`.

The service
-----------
``GET {scheme}://restapi.amap.com/v3/geocode/geo?address=...&key=...&output=JSON``
answers ``{"status": "1", "count": "1", "geocodes": [{"location": "lng,lat",
"formatted_address": ..., "level": ...}, ...]}``; ``status`` ``"0"`` is an
error described by ``info`` and ``infocode``, mapped to geopy's exceptions by
:data:`AMAP_ERRORS`.  Coordinates are GCJ-02 (returned as the service gives
them; :func:`matching.geo.geocode.provider_crs` reports ``"gcj02"`` for this
class, so :func:`~matching.geo.geocode.geocode_roster` converts them to
WGS-84).

The key is part of every request URL: the URL logged at DEBUG level here has
it replaced by ``<key>``.

Examples
--------
>>> geocoder = AMap("my-key", domain="127.0.0.1:8080", scheme="http")
>>> geocoder.api
'http://127.0.0.1:8080/v3/geocode/geo'
"""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any
from urllib.parse import urlencode

from geopy.exc import (
    ConfigurationError,
    GeocoderAuthenticationFailure,
    GeocoderInsufficientPrivileges,
    GeocoderParseError,
    GeocoderQueryError,
    GeocoderQuotaExceeded,
    GeocoderRateLimited,
    GeocoderServiceError,
    GeocoderUnavailable,
)
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location

__all__ = ["AMAP_ERRORS", "AMap"]

logger = logging.getLogger("geopy")

AMAP_ERRORS: dict[str, type[Exception]] = {
    # the key: wrong, expired, deleted, or bound to another IP, domain, signature or platform
    "10001": GeocoderAuthenticationFailure,  # INVALID_USER_KEY
    "10005": GeocoderAuthenticationFailure,  # INVALID_USER_IP
    "10006": GeocoderAuthenticationFailure,  # INVALID_USER_DOMAIN
    "10007": GeocoderAuthenticationFailure,  # INVALID_USER_SIGNATURE
    "10008": GeocoderAuthenticationFailure,  # INVALID_USER_SCODE
    "10009": GeocoderAuthenticationFailure,  # USERKEY_PLAT_NOMATCH
    "10013": GeocoderAuthenticationFailure,  # USER_KEY_RECYCLED
    # the key may not use this service
    "10002": GeocoderInsufficientPrivileges,  # SERVICE_NOT_AVAILABLE
    "10012": GeocoderInsufficientPrivileges,  # INSUFFICIENT_PRIVILEGES
    "10041": GeocoderInsufficientPrivileges,  # NO_EFFECTIVE_INTERFACE
    # daily quotas (restored at midnight)
    "10003": GeocoderQuotaExceeded,  # DAILY_QUERY_OVER_LIMIT
    "10010": GeocoderQuotaExceeded,  # IP_QUERY_OVER_LIMIT
    "10044": GeocoderQuotaExceeded,  # USER_DAILY_QUERY_OVER_LIMIT
    # requests per second or minute (a retry a little later may pass)
    "10004": GeocoderRateLimited,  # ACCESS_TOO_FREQUENT
    "10014": GeocoderRateLimited,  # QPS_HAS_EXCEEDED_THE_LIMIT
    "10019": GeocoderRateLimited,  # CQPS_HAS_EXCEEDED_THE_LIMIT
    "10020": GeocoderRateLimited,  # CKQPS_HAS_EXCEEDED_THE_LIMIT
    "10021": GeocoderRateLimited,  # CUQPS_HAS_EXCEEDED_THE_LIMIT
    # the service itself
    "10015": GeocoderUnavailable,  # GATEWAY_TIMEOUT
    "10016": GeocoderUnavailable,  # SERVER_IS_BUSY
    "10017": GeocoderUnavailable,  # RESOURCE_UNAVAILABLE
    # the request
    "20000": GeocoderQueryError,  # INVALID_PARAMS
    "20001": GeocoderQueryError,  # MISSING_REQUIRED_PARAMS
    "20002": GeocoderQueryError,  # ILLEGAL_REQUEST
}
"""AMap's ``infocode`` of an error answer -> the geopy exception raised
(any other code: ``GeocoderServiceError``)."""


class AMap(Geocoder):  # type: ignore[misc]  # geopy is untyped
    """Geocoder using the AMap (Gaode, 高德) web service API v3.

    Parameters
    ----------
    api_key : str
        The web service key (Web服务 key) from the AMap console.
    domain : str, optional
        Host (and port) of the service, ``"restapi.amap.com"`` by default;
        tests point it at a local server.
    scheme, timeout, proxies, user_agent, ssl_context, adapter_factory
        As for every geopy geocoder (``geopy.geocoders.options``).

    Examples
    --------
    >>> AMap("my-key").api
    'https://restapi.amap.com/v3/geocode/geo'
    """

    api_path = "/v3/geocode/geo"

    def __init__(
        self,
        api_key: str,
        *,
        domain: str = "restapi.amap.com",
        scheme: str | None = None,
        timeout: Any = DEFAULT_SENTINEL,
        proxies: Any = DEFAULT_SENTINEL,
        user_agent: str | None = None,
        ssl_context: Any = DEFAULT_SENTINEL,
        adapter_factory: Any = None,
    ) -> None:
        super().__init__(
            scheme=scheme,
            timeout=timeout,
            proxies=proxies,
            user_agent=user_agent,
            ssl_context=ssl_context,
            adapter_factory=adapter_factory,
        )
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError("AMap needs an API key")
        self.api_key = api_key
        self.domain = domain.strip("/")
        self.api = f"{self.scheme}://{self.domain}{self.api_path}"

    def geocode(
        self,
        query: str,
        *,
        exactly_one: bool = True,
        timeout: Any = DEFAULT_SENTINEL,
        city: str | None = None,
    ) -> Any:
        """Return a location point by address.

        Parameters
        ----------
        query : str
            The address, the more complete the better (province, city,
            district, street, number).
        exactly_one : bool
            Return one result, or a list of every result.
        timeout : float, optional
            Seconds to wait for the service, for this call only (the
            geocoder's ``timeout`` by default); a slower answer raises
            ``geopy.exc.GeocoderTimedOut``.
        city : str, optional
            Search within this city (a name, pinyin, citycode or adcode).

        Returns
        -------
        None, geopy.location.Location or list of them
            The address AMap formatted, ``(lat, lon)`` in GCJ-02 and the raw
            answer of each result; None when nothing was found.
        """
        params = {"address": query, "key": self.api_key, "output": "JSON"}
        if city:
            params["city"] = city
        url = f"{self.api}?{urlencode(params)}"
        redacted = f"{self.api}?{urlencode({**params, 'key': '<key>'})}"
        logger.debug("%s.geocode: %s", type(self).__name__, redacted)
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout)

    def _parse_json(self, page: Any, exactly_one: bool = True) -> Any:
        """The locations of an answer, or None; an error answer raises."""
        if not isinstance(page, dict):
            raise GeocoderParseError("AMap answered something other than a JSON object")
        if str(page.get("status")) != "1":
            _raise_error(page)
        places = page.get("geocodes") or []
        if not isinstance(places, list):
            raise GeocoderParseError("AMap answered 'geocodes' that is not a list")
        locations = [_location(place) for place in places]
        if not locations:
            return None
        return locations[0] if exactly_one else locations


def _raise_error(page: dict[str, Any]) -> None:
    """Raise the geopy exception of an error answer (``status`` not ``"1"``)."""
    code = str(page.get("infocode", ""))
    info = str(page.get("info", ""))
    message = f"AMap error {code or '?'}: {info or 'no description'}"
    exc_class = AMAP_ERRORS.get(code, GeocoderServiceError)
    raise exc_class(message)


def _location(place: Any) -> Location:
    """A geopy Location of one element of ``geocodes`` (``"lng,lat"``, GCJ-02)."""
    text = place.get("location") if isinstance(place, dict) else None
    address = place.get("formatted_address") if isinstance(place, dict) else None
    # AMap writes an empty field as [] rather than ""
    address = address if isinstance(address, str) else ""
    try:
        lon_text, lat_text = str(text).split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        lat = lon = math.nan
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # NaN fails too
        raise GeocoderParseError("AMap answered a location that is not 'lng,lat'")
    return Location(address, (lat, lon), place)
