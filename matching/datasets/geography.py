"""The made-up footprint of a synthetic district: streets, communities, where people live.

The model is documented in :mod:`matching.datasets.synth` (section *Geography*): an
elliptical footprint, street centroids on a sunflower spiral, communities around them,
and people scattered around their community, all inside the ellipse.  Street and
community names are combinations of fixed syllables, never real places.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from matching.errors import InputError

__all__ = [
    "KM_PER_DEG",
    "Geography",
    "build_geography",
    "check_extent",
    "name_stems",
    "offset_degrees",
    "semi_major_km",
    "unique_names",
]

KM_PER_DEG = 111.2
"""Kilometres per degree of latitude (and of longitude at the equator)."""

_ASPECT = 1.3
_STREET_MAX_RADIUS = 0.8
_CORE_RADIUS = 0.5
_CORE_COMMUNITY_WEIGHT = 2.0
_MENTOR_CORE_BOOST = 1.5
_COMMUNITY_SPREAD = 0.3  # community sd as a fraction of the street radius
_COMMUNITY_LIMIT = 0.9
_COMMUNITY_LOG_SD = 0.35
_PERSON_SD_KM = (0.3, 0.6)
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
_MAX_ABS_LAT = 85.0

# Syllables for names (fixed lists; names are combinations, never real records).
_SYL_A = tuple("湖青红茶丽兰雕潞南北东西新金龙凤桂柳梅松竹荷春永安和平嘉泰康宁华清明德顺长天云月")
_SYL_B = tuple("塘龙梅山华陵庄城桥湾港河湖溪林园坊泽亭岗田墅阳门洲浦口头堰渡")
_COMMUNITY_SUFFIX = ("", "苑", "园", "里", "新村", "花园")


def semi_major_km(area_km2: float) -> float:
    """The semi-major axis (km) of the footprint ellipse of ``area_km2``."""
    return math.sqrt(_ASPECT * area_km2 / math.pi)


def check_extent(lat: float, half_extent_km: float, value: object, what: str = "area_km2") -> None:
    """Raise unless ``half_extent_km`` around latitude ``lat`` stays within the latitude bound."""
    if abs(lat) + half_extent_km / KM_PER_DEG > _MAX_ABS_LAT:
        raise InputError(
            f"{what} must keep the footprint within ±{_MAX_ABS_LAT:g}° latitude "
            f"around center latitude {lat:g}, got {value!r}"
        )


def unique_names(
    rng: np.random.Generator, count: int, stems: Sequence[str], suffix: str, used: set[str]
) -> list[str]:
    """``count`` names ``stem + suffix`` in random order, avoiding and updating ``used``.

    Once every stem is taken, further rounds number the stems ("湖塘2街道").
    """
    order = rng.permutation(len(stems))
    names: list[str] = []
    round_ = 0
    while len(names) < count:
        for j in order:
            stem = stems[j]
            name = f"{stem}{suffix}" if round_ == 0 else f"{stem}{round_ + 1}{suffix}"
            if name not in used:
                used.add(name)
                names.append(name)
                if len(names) == count:
                    break
        round_ += 1
    return names


@cache
def name_stems() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Two-syllable place stems, and community stems with an optional estate suffix."""
    places = tuple(a + b for a in _SYL_A for b in _SYL_B if a != b)
    communities = tuple(s + suf for suf in _COMMUNITY_SUFFIX for s in places)
    return places, communities


def offset_degrees(lat0: float, lon0: float, dx_km: float, dy_km: float) -> tuple[float, float]:
    """The point ``dx_km`` east and ``dy_km`` north of ``(lat0, lon0)``, lon in [-180, 180)."""
    lat = lat0 + dy_km / KM_PER_DEG
    lon = lon0 + dx_km / (KM_PER_DEG * math.cos(math.radians(lat)))
    return lat, (lon + 180.0) % 360.0 - 180.0


def _fold_inside(
    x: np.ndarray, y: np.ndarray, a: float, b: float, theta: float, limit: float
) -> None:
    """Pull points beyond normalised radius ``limit`` back inside, in place.

    A point at normalised radius ``r > limit`` moves along its ray to
    ``limit**2 / r`` (radial inversion), which is strictly inside.
    """
    c, s = math.cos(theta), math.sin(theta)
    u = (x * c + y * s) / a
    v = (-x * s + y * c) / b
    rho = np.sqrt(u * u + v * v)
    out = rho > limit
    if out.any():
        scale = (limit / rho[out]) ** 2
        x[out] *= scale
        y[out] *= scale


@dataclass(frozen=True)
class Geography:
    """One district's footprint, streets and communities (see :func:`build_geography`)."""

    lat0: float
    lon0: float
    a: float  # semi-major, km
    b: float  # semi-minor, km
    theta: float  # rotation of the major axis from east, radians
    street_names: np.ndarray  # object, per street
    community_names: np.ndarray  # object, per community
    community_street: np.ndarray  # int, per community
    community_x: np.ndarray  # km east of the centre
    community_y: np.ndarray  # km north of the centre
    community_sd: np.ndarray  # km, person scatter
    child_p: np.ndarray  # probability of a child living in each community
    mentor_p: np.ndarray

    def to_degrees(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latitudes and longitudes of points ``x`` km east and ``y`` km north of the centre."""
        lat = self.lat0 + y / KM_PER_DEG
        lon = self.lon0 + x / (KM_PER_DEG * np.cos(np.radians(lat)))
        lon = np.round((lon + 180.0) % 360.0 - 180.0, 6)
        lon[lon >= 180.0] -= 360.0  # rounding may land exactly on +180
        return np.round(lat, 6), lon

    def place(
        self, rng: np.random.Generator, n: int, p: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Communities and coordinates of ``n`` people (community ``i`` with chance ``p[i]``)."""
        comm = rng.choice(p.shape[0], size=n, p=p)
        sd = self.community_sd[comm]
        x = self.community_x[comm] + sd * rng.standard_normal(n)
        y = self.community_y[comm] + sd * rng.standard_normal(n)
        _fold_inside(x, y, self.a, self.b, self.theta, 1.0)
        lat, lon = self.to_degrees(x, y)
        return comm, lat, lon


def _share_out(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` with at least one per slot."""
    quota = total * weights / weights.sum()
    counts: np.ndarray = np.floor(quota).astype(np.int64)
    rest = total - int(counts.sum())
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[:rest]] += 1
    for i in np.flatnonzero(counts == 0):
        counts[int(np.argmax(counts))] -= 1
        counts[i] = 1
    return counts


def build_geography(
    rng: np.random.Generator,
    center: tuple[float, float],
    area_km2: float,
    n_streets: int,
    communities_per_street: int,
    used_streets: set[str],
    used_communities: set[str],
) -> Geography:
    """A district's geography; new street and community names are added to the ``used`` sets."""
    a = semi_major_km(area_km2)
    b = a / _ASPECT
    theta = float(rng.uniform(0.0, math.pi))
    cos_t, sin_t = math.cos(theta), math.sin(theta)

    # Street centroids on a sunflower spiral in normalised ellipse coordinates.
    i = np.arange(n_streets)
    rho = _STREET_MAX_RADIUS * np.sqrt(i / n_streets)
    phi = rng.uniform(0.0, 2 * math.pi) + i * _GOLDEN_ANGLE
    phi = phi + rng.uniform(-0.25, 0.25, size=n_streets)
    u, v = a * rho * np.cos(phi), b * rho * np.sin(phi)
    sx, sy = u * cos_t - v * sin_t, u * sin_t + v * cos_t
    core = rho < _CORE_RADIUS

    n_comm = n_streets * communities_per_street
    per_street = _share_out(n_comm, np.where(core, _CORE_COMMUNITY_WEIGHT, 1.0))
    street_of = np.repeat(i, per_street)
    street_radius = math.sqrt(area_km2 / (math.pi * n_streets))
    spread = _COMMUNITY_SPREAD * street_radius
    cx = sx[street_of] + spread * rng.standard_normal(n_comm)
    cy = sy[street_of] + spread * rng.standard_normal(n_comm)
    _fold_inside(cx, cy, a, b, theta, _COMMUNITY_LIMIT)
    person_sd = np.minimum(rng.uniform(*_PERSON_SD_KM, size=n_comm), street_radius / 4)
    size = rng.lognormal(0.0, _COMMUNITY_LOG_SD, size=n_comm)
    mentor_size = size * np.where(core[street_of], _MENTOR_CORE_BOOST, 1.0)

    places, community_stems = name_stems()
    street_names = unique_names(rng, n_streets, places, "街道", used_streets)
    community_names = unique_names(rng, n_comm, community_stems, "社区", used_communities)

    geo = Geography(
        lat0=center[0],
        lon0=center[1],
        a=a,
        b=b,
        theta=theta,
        street_names=np.array(street_names, dtype=object),
        community_names=np.array(community_names, dtype=object),
        community_street=street_of,
        community_x=cx,
        community_y=cy,
        community_sd=person_sd,
        child_p=size / size.sum(),
        mentor_p=mentor_size / mentor_size.sum(),
    )
    return geo
