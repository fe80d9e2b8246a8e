"""Geography: great-circle distances and radius search, China's coordinate systems, geocoding."""

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
    GeocodeResult,
    geocode_roster,
    normalize_address,
    provider_crs,
)

__all__ = [
    "ADDRESS_ALIASES",
    "CRS_NAMES",
    "EARTH_RADIUS_KM",
    "FAILURE_REASONS",
    "GeocodeResult",
    "chord_to_km",
    "convert",
    "geocode_roster",
    "great_circle_km",
    "haversine_km",
    "in_mainland_china",
    "normalize_address",
    "normalize_crs",
    "pairs_within",
    "pairs_within_vectors",
    "provider_crs",
    "unit_vectors",
    "vectors_km",
]
