"""Geocoders by name: Baidu, AMap (Gaode) and Nominatim, with the key read from the environment.

:func:`make_geocoder` builds the geopy geocoder of a provider named on the
command line or in the ``[geocode]`` table of the configuration.  A key is
never given on the command line (it would show in the process list and the
shell's history): it is read from the environment variable the caller names,
and no message ever holds it.

========== ========================================= ====================
provider   geocoder                                  coordinates
========== ========================================= ====================
baidu      ``geopy.geocoders.BaiduV3`` (key: AK)     BD-09
amap       :class:`matching.geo.amap.AMap` (key)     GCJ-02
nominatim  ``geopy.geocoders.Nominatim`` (no key)    WGS-84
========== ========================================= ====================

:func:`matching.geo.geocode.geocode_roster` converts every answer to WGS-84.
"""

from __future__ import annotations

import os
from typing import Any

from matching._version import __version__
from matching.errors import ConfigError
from matching.i18n import gettext as _

__all__ = ["DEFAULT_MIN_DELAY_SECONDS", "PROVIDERS", "make_geocoder"]

PROVIDERS: tuple[str, ...] = ("amap", "baidu", "nominatim")
"""The providers :func:`make_geocoder` knows."""

DEFAULT_MIN_DELAY_SECONDS: dict[str, float] = {"amap": 0.34, "baidu": 0.34, "nominatim": 1.0}
"""Each provider's default delay between requests: Nominatim's usage policy
allows one request a second; AMap's and Baidu's free keys about three."""

_NEEDS_KEY = frozenset({"amap", "baidu"})


def _key(provider: str, key: str | None, key_env: str | None) -> str | None:
    """The provider's key: ``key`` itself, or the value of the variable ``key_env``."""
    if provider not in _NEEDS_KEY:
        return None
    if key is not None:
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(_("The 'key' parameter must be a non-empty string."))
        return key.strip()
    if key_env is not None:
        if not isinstance(key_env, str) or not key_env.strip():
            raise ConfigError(_("The 'key_env' parameter must name an environment variable."))
        value = os.environ.get(key_env.strip(), "").strip()
        if not value:
            raise ConfigError(
                _(
                    "the environment variable {name} is not set or empty: it must hold "
                    "the {provider} key"
                ).format(name=key_env.strip(), provider=provider)
            )
        return value
    raise ConfigError(
        _(
            "{provider} needs a key: put it in an environment variable and name the "
            "variable with --key-env (or key_env in the [geocode] table)"
        ).format(provider=provider)
    )


def make_geocoder(
    provider: str,
    *,
    key: str | None = None,
    key_env: str | None = None,
    user_agent: str | None = None,
    timeout: float = 10.0,
    domain: str | None = None,
    scheme: str | None = None,
) -> Any:
    """The geopy geocoder of a provider.

    Parameters
    ----------
    provider : {"amap", "baidu", "nominatim"}
        The service (case-insensitive); see the module docstring.
    key : str, optional
        The API key, for programs that hold it already.  Prefer ``key_env``.
    key_env : str, optional
        The environment variable that holds the key (amap and baidu need
        one; nominatim takes none and ignores it).
    user_agent : str, optional
        The HTTP User-Agent; ``mentor-matching/<version>`` by default
        (Nominatim's usage policy asks for one naming the application).
    timeout : float, optional
        Seconds to wait for an answer (default 10).
    domain, scheme : str, optional
        Host (and port) and ``"http"``/``"https"`` of the service, for a
        self-hosted Nominatim or a local test server; the provider's own by
        default.

    Returns
    -------
    geopy geocoder
        ``BaiduV3``, :class:`matching.geo.amap.AMap` or ``Nominatim``.

    Raises
    ------
    ConfigError
        If the provider is unknown, its key is missing (the message names
        the variable, never a value), or a parameter is not acceptable.

    Examples
    --------
    >>> import os
    >>> os.environ["DOCS_AMAP_KEY"] = "not-a-real-key"
    >>> type(make_geocoder("amap", key_env="DOCS_AMAP_KEY")).__name__
    'AMap'
    >>> del os.environ["DOCS_AMAP_KEY"]
    >>> make_geocoder("amap", key_env="DOCS_AMAP_KEY")
    Traceback (most recent call last):
    ...
    matching.errors.ConfigError: the environment variable DOCS_AMAP_KEY is not set or empty: \
it must hold the amap key
    """
    name = provider.strip().lower() if isinstance(provider, str) else provider
    if name not in PROVIDERS:
        raise ConfigError(
            _("unknown geocoding provider {provider!r}; expected one of: {choices}").format(
                provider=provider, choices=", ".join(PROVIDERS)
            )
        )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigError(_("The 'timeout' parameter must be a number > 0."))
    api_key = _key(name, key, key_env)
    agent = user_agent or f"mentor-matching/{__version__}"
    common: dict[str, Any] = {"timeout": float(timeout), "user_agent": agent, "scheme": scheme}
    if name == "amap":
        from matching.geo.amap import AMap

        assert api_key is not None  # _key raises for a provider that needs one
        return AMap(api_key, **common, **({} if domain is None else {"domain": domain}))
    if name == "baidu":
        from geopy.geocoders import BaiduV3

        geocoder = BaiduV3(api_key, **common)
        if domain is not None:  # geopy's BaiduV3 has no domain parameter
            host = domain.strip("/")
            geocoder.api = f"{geocoder.scheme}://{host}{geocoder.api_path}"
            geocoder.reverse_api = f"{geocoder.scheme}://{host}{geocoder.reverse_path}"
        return geocoder
    from geopy.geocoders import Nominatim

    return Nominatim(**common, **({} if domain is None else {"domain": domain}))
