"""Geography: great-circle distances and radius search, China's coordinate systems, geocoding.

The AMap (Gaode) geocoder, :class:`matching.geo.amap.AMap`, is imported from
its module (it imports geopy, which the rest of the package imports only when
geocoding); :func:`make_geocoder` builds it by name.
"""

from matching.geo.crs import (
    CRS_NAMES,
    convert,
    in_mainland_china,
    normalize_crs,
)
from matching.geo.distance import (
    EARTH_RADIUS_KM,
    chord_to_km,
    great_circle_km,
    haversine_km,
    pairs_within,
    pairs_within_vectors,
    unit_vectors,
    vectors_km,
)
from matching.geo.geocode import (
    ADDRESS_ALIASES,
    FAILURE_REASONS,
    FAILURE_TEXTS,
    GeocodeResult,
    describe_failures,
    geocode_roster,
    normalize_address,
    provider_crs,
)
from matching.geo.providers import DEFAULT_MIN_DELAY_SECONDS, PROVIDERS, make_geocoder

__all__ = [
    "ADDRESS_ALIASES",
    "CRS_NAMES",
    "DEFAULT_MIN_DELAY_SECONDS",
    "EARTH_RADIUS_KM",
    "FAILURE_REASONS",
    "FAILURE_TEXTS",
    "PROVIDERS",
    "GeocodeResult",
    "chord_to_km",
    "convert",
    "describe_failures",
    "geocode_roster",
    "great_circle_km",
    "haversine_km",
    "in_mainland_china",
    "make_geocoder",
    "normalize_address",
    "normalize_crs",
    "pairs_within",
    "pairs_within_vectors",
    "provider_crs",
    "unit_vectors",
    "vectors_km",
]
