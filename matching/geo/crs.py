"""China's map coordinate systems: WGS-84, GCJ-02 and BD-09, and conversions between them.

Coordinates from Chinese map services are not all in one system:

- ``"wgs84"``: GPS, OpenStreetMap / Nominatim -- the system every distance in
  this library is computed in;
- ``"gcj02"``: the national "mars" system (国测局坐标, 火星坐标) used by Gaode
  (AMap) and Tencent: WGS-84 plus a published, non-linear offset of a few
  hundred metres, applied on the Krasovsky ellipsoid;
- ``"bd09"``: Baidu's system (百度坐标): GCJ-02 plus a further offset and
  rotation, about 0.8-1.4 km from WGS-84 in total.

Mixing them shifts points by 300 m to 1.4 km, enough to break "nearest mentor
first", so rosters name their system and are converted to WGS-84 on entry.

The forward transforms (WGS-84 -> GCJ-02 and GCJ-02 -> BD-09) are the public
formulas.  Their inverses have no closed form; :func:`convert` inverts them
exactly by fixed-point iteration (the forward transform is re-applied until it
reproduces the input to better than 1e-9 degrees, about 0.1 mm), so a round
trip through any pair of systems returns the starting point to well under 1 m
(the tests check < 1 m over a grid of points across China).

The offsets apply in mainland China only (:func:`in_mainland_china`): points in
Hong Kong, Macau, Taiwan and abroad are returned unchanged by every
conversion.  The decision is made on the *input* point.  Mainland China is a
coarse outline (land borders accurate to tens of kilometres, which matters
only for border towns) with finer outlines of Hong Kong and Macau (a few
hundred metres), whose borders run through dense cities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from matching.errors import ConfigError

__all__ = ["CRS_NAMES", "convert", "in_mainland_china", "normalize_crs"]

CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")
"""The supported coordinate systems."""

_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "gps": "wgs84",
    "gcj02": "gcj02",
    "火星坐标": "gcj02",
    "国测局坐标": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "百度坐标": "bd09",
}
_STRIP = str.maketrans("", "", "-_ ")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 offset formula.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# Baidu's constant: pi * 3000 / 180.
_BD_FACTOR = np.pi * 3000.0 / 180.0

_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 60


def normalize_crs(value: Any, *, parameter: str = "crs") -> str:
    """The canonical name of a coordinate system.

    Names are matched case-insensitively, ignoring ``-``, ``_`` and spaces
    (``"WGS-84"``, ``"gcj_02"``, ``"BD09"``); ``"gps"``, ``"bd09ll"`` and the
    Chinese names 火星坐标 / 国测局坐标 (GCJ-02) and 百度坐标 (BD-09) are
    accepted too.

    Parameters
    ----------
    value : str
        The name to normalise.
    parameter : str, optional
        The parameter name used in the error message.

    Returns
    -------
    str
        One of :data:`CRS_NAMES`.

    Raises
    ------
    ConfigError
        If ``value`` is not a known coordinate system.

    Examples
    --------
    >>> normalize_crs("WGS-84")
    'wgs84'
    >>> normalize_crs("百度坐标")
    'bd09'
    """
    if isinstance(value, str):
        name = _ALIASES.get(value.strip().lower().translate(_STRIP))
        if name is not None:
            return name
    raise ConfigError(
        f"The {parameter!r} parameter must be one of {', '.join(CRS_NAMES)}; got {value!r} instead."
    )


# ----------------------------------------------------------------------------------------------
# mainland China


def _polygon(points: list[tuple[float, float]]) -> np.ndarray:
    """(lon, lat) vertices -> array of shape (n, 2)."""
    return np.asarray(points, dtype=np.float64)


# Coarse outline of mainland China, (lon, lat), clockwise from Mohe.  It takes in
# the Bohai Sea and the coastal waters, and leaves out Taiwan and Penghu.
_MAINLAND = _polygon(
    [
        (122.3, 53.6), (123.5, 53.6), (125.5, 53.1), (127.5, 50.0), (130.5, 48.9),
        (132.5, 47.8), (134.2, 48.5), (135.1, 48.45), (134.0, 47.3), (133.9, 46.2),
        (133.1, 45.1), (132.0, 45.2), (131.3, 44.9), (131.3, 43.4), (130.6, 42.4),
        (129.9, 42.9), (129.5, 42.4), (128.1, 42.0), (126.5, 41.4), (125.3, 40.6),
        (124.4, 40.0), (123.0, 39.5), (121.2, 38.6), (122.8, 37.4), (122.6, 36.9),
        (120.6, 35.9), (119.5, 34.8), (120.9, 32.9), (122.1, 31.8), (122.9, 30.8),
        (122.4, 29.5), (121.9, 28.4), (121.2, 27.6), (120.6, 26.8), (120.0, 26.0),
        (119.9, 25.4), (118.9, 24.7), (118.5, 24.3), (117.6, 23.5), (117.0, 23.1),
        (115.4, 22.5), (114.6, 22.1), (114.4, 21.8), (113.5, 21.8), (112.0, 21.3),
        (110.9, 20.9), (110.6, 20.1), (110.0, 20.1), (109.6, 21.2), (108.2, 21.3),
        (107.9, 21.45), (107.4, 21.6), (106.7, 21.9), (106.6, 22.4), (105.9, 22.9),
        (105.4, 23.3), (104.5, 22.8), (103.9, 22.5), (103.0, 22.6), (102.2, 22.4),
        (101.8, 21.2), (101.1, 21.1), (100.2, 21.4), (99.2, 22.1), (99.5, 22.9),
        (98.8, 23.2), (97.6, 23.9), (97.5, 24.7), (98.6, 25.8), (98.7, 27.5),
        (97.4, 28.3), (96.5, 29.0), (95.3, 29.1), (94.2, 29.2), (93.0, 28.2),
        (91.6, 27.9), (90.0, 28.3), (89.1, 27.4), (88.8, 27.3), (88.1, 27.9),
        (86.9, 27.95), (86.0, 27.95), (85.4, 28.25), (84.1, 28.6), (83.0, 29.3), (81.8, 30.1),
        (81.0, 30.3), (79.5, 31.0), (78.8, 31.9), (79.3, 32.5), (78.3, 33.5),
        (78.0, 35.4), (77.8, 35.5), (76.5, 35.8), (75.5, 36.8), (74.8, 37.2),
        (74.6, 37.4), (75.0, 38.4), (73.5, 39.4), (74.8, 40.5), (76.0, 40.4),
        (77.5, 41.0), (78.5, 41.5), (80.2, 42.1), (80.2, 43.0), (80.8, 43.2),
        (80.4, 44.1), (80.5, 45.0), (82.6, 45.3), (82.3, 46.2), (83.0, 47.2),
        (85.5, 47.0), (86.0, 48.5), (87.3, 49.1), (88.8, 48.1), (90.6, 47.0),
        (91.0, 46.0), (90.9, 45.3), (93.5, 45.0), (95.3, 44.2), (96.4, 42.7),
        (100.0, 42.6), (101.8, 42.5), (103.7, 41.9), (105.0, 41.6), (107.0, 42.4),
        (109.5, 42.5), (111.9, 43.7), (113.0, 44.8), (114.5, 45.4), (116.5, 46.4),
        (119.0, 46.6), (119.9, 46.9), (118.8, 47.8), (117.8, 47.9), (115.6, 47.9),
        (116.7, 49.8), (117.8, 49.6), (118.5, 50.4), (119.3, 50.3), (120.0, 51.8),
        (121.0, 52.6),
    ]
)  # fmt: skip
_HAINAN = _polygon(
    [(108.5, 19.0), (109.3, 18.0), (110.2, 18.0), (111.2, 19.5), (111.1, 20.3),
     (110.0, 20.3), (108.5, 19.5)]
)  # fmt: skip
# Regions inside the mainland outline that are not mainland China.
_HONG_KONG = _polygon(
    [(113.835, 22.14), (113.835, 22.36), (113.89, 22.43), (113.96, 22.465), (114.03, 22.505),
     (114.07, 22.514), (114.085, 22.518), (114.113, 22.528), (114.128, 22.538),
     (114.156, 22.552), (114.19, 22.56), (114.226, 22.543), (114.30, 22.57), (114.42, 22.57),
     (114.44, 22.53), (114.46, 22.44), (114.51, 22.40), (114.51, 22.14)]
)  # fmt: skip
_MACAU = _polygon(
    [(113.531, 22.213), (113.552, 22.218), (113.600, 22.200), (113.620, 22.100),
     (113.553, 22.100), (113.550, 22.140), (113.545, 22.165), (113.528, 22.190)]
)  # fmt: skip
_KINMEN = _polygon([(118.22, 24.38), (118.50, 24.38), (118.50, 24.52), (118.22, 24.52)])
_MATSU = _polygon([(119.90, 25.93), (120.55, 25.93), (120.55, 26.40), (119.90, 26.40)])

_INCLUDE = (_MAINLAND, _HAINAN)
_EXCLUDE = (_HONG_KONG, _MACAU, _KINMEN, _MATSU)


def _inside(lon: np.ndarray, lat: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over the points."""
    result = np.zeros(lon.shape, dtype=bool)
    box = (
        (lon >= polygon[:, 0].min())
        & (lon <= polygon[:, 0].max())
        & (lat >= polygon[:, 1].min())
        & (lat <= polygon[:, 1].max())
    )
    if not box.any():
        return result
    x = lon[box]
    y = lat[box]
    inside = np.zeros(x.shape, dtype=bool)
    x1, y1 = polygon[-1]
    for x2, y2 in polygon:
        crosses = (y1 > y) != (y2 > y)
        if crosses.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (x < x_cross)
        x1, y1 = x2, y2
    result[box] = inside
    return result


def in_mainland_china(lat: Any, lon: Any) -> np.ndarray:
    """Whether each point lies in mainland China, where the GCJ-02 and BD-09 offsets apply.

    Hong Kong, Macau, Taiwan (with Penghu, Kinmen and Matsu) and every other
    country are outside.  The mainland outline is coarse (tens of kilometres
    at land borders); Hong Kong's and Macau's borders are drawn to a few
    hundred metres.  NaN coordinates are outside.

    Parameters
    ----------
    lat, lon : array_like
        Latitudes and longitudes in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray
        Boolean array of the broadcast shape.

    Examples
    --------
    >>> in_mainland_china([22.55, 22.3, 25.03], [114.06, 114.17, 121.56]).tolist()
    [True, False, False]
    """
    lat_a, lon_a = np.broadcast_arrays(
        np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    )
    flat_lat = lat_a.ravel()
    flat_lon = lon_a.ravel()
    inside = np.zeros(flat_lat.shape, dtype=bool)
    for polygon in _INCLUDE:
        inside |= _inside(flat_lon, flat_lat, polygon)
    for polygon in _EXCLUDE:
        inside &= ~_inside(flat_lon, flat_lat, polygon)
    return inside.reshape(lat_a.shape)


# ----------------------------------------------------------------------------------------------
# forward transforms (applied without regard to region; the caller masks)


def _gcj_offset(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 point."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    root = np.sqrt(np.abs(x))
    wave = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    north = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root + wave
    north += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    north += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    east = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root + wave
    east += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    east += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    # metres -> degrees on the Krasovsky ellipsoid
    phi = np.radians(lat)
    w2 = 1.0 - _KRASOVSKY_EE * np.sin(phi) ** 2
    w = np.sqrt(w2)
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (w2 * w)
    parallel_radius = _KRASOVSKY_A / w * np.cos(phi)
    return np.degrees(north / meridian_radius), np.degrees(east / parallel_radius)


def _wgs_to_gcj(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlat, dlon = _gcj_offset(lat, lon)
    return lat + dlat, lon + dlon


def _gcj_to_bd(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    radius = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_FACTOR)
    angle = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_FACTOR)
    return radius * np.sin(angle) + 0.006, radius * np.cos(angle) + 0.0065


_Transform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _invert(forward: _Transform, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x) == (lat, lon)`` by fixed-point iteration (to 1e-9 degrees)."""
    x_lat = lat.copy()
    x_lon = lon.copy()
    active = np.ones(lat.shape, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lon = forward(x_lat[active], x_lon[active])
        err_lat = f_lat - lat[active]
        err_lon = f_lon - lon[active]
        x_lat[active] -= err_lat
        x_lon[active] -= err_lon
        done = (np.abs(err_lat) < _TOLERANCE_DEG) & (np.abs(err_lon) < _TOLERANCE_DEG)
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    return x_lat, x_lon


def _gcj_to_wgs(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _invert(_wgs_to_gcj, lat, lon)


def _bd_to_gcj(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _invert(_gcj_to_bd, lat, lon)


def _wgs_to_bd(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _gcj_to_bd(*_wgs_to_gcj(lat, lon))


def _bd_to_wgs(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _gcj_to_wgs(*_bd_to_gcj(lat, lon))


_STEPS: dict[tuple[str, str], _Transform] = {
    ("wgs84", "gcj02"): _wgs_to_gcj,
    ("gcj02", "wgs84"): _gcj_to_wgs,
    ("gcj02", "bd09"): _gcj_to_bd,
    ("bd09", "gcj02"): _bd_to_gcj,
    ("wgs84", "bd09"): _wgs_to_bd,
    ("bd09", "wgs84"): _bd_to_wgs,
}


def convert(lat: Any, lon: Any, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates between WGS-84, GCJ-02 and BD-09.

    WGS-84 -> GCJ-02 and GCJ-02 -> BD-09 use the public formulas; the reverse
    directions invert them by iteration until the forward transform
    reproduces the input to within 1e-9 degrees, so any round trip returns
    the starting point to well under 1 m (tested over a grid across China).
    Points outside mainland China (:func:`in_mainland_china`, decided on the
    input point) are returned unchanged, as are NaNs.

    Parameters
    ----------
    lat, lon : array_like
        Latitudes and longitudes in degrees in the ``src`` system; scalars or
        arrays that broadcast together.
    src, dst : str
        Source and target systems: ``"wgs84"``, ``"gcj02"`` or ``"bd09"``
        (case-insensitive; see :func:`normalize_crs` for other spellings).

    Returns
    -------
    tuple of numpy.ndarray
        ``(lat, lon)`` in ``dst``, float64 arrays of the broadcast shape
        (0-d for scalar input).  The inputs are not modified.

    Raises
    ------
    ConfigError
        If ``src`` or ``dst`` is not a known system (the message names the
        parameter).

    Examples
    --------
    >>> lat, lon = convert(31.81, 119.97, "wgs84", "gcj02")
    >>> round(float(lat), 5), round(float(lon), 5)
    (31.80795, 119.97474)
    >>> back = convert(lat, lon, "gcj02", "wgs84")
    >>> round(float(back[0]), 9), round(float(back[1]), 9)
    (31.81, 119.97)
    >>> convert(22.3, 114.17, "wgs84", "bd09")  # Hong Kong: unchanged
    (array(22.3), array(114.17))
    """
    source = normalize_crs(src, parameter="src")
    target = normalize_crs(dst, parameter="dst")
    lat_a, lon_a = np.broadcast_arrays(
        np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    )
    out_lat = np.array(lat_a, dtype=np.float64, copy=True)
    out_lon = np.array(lon_a, dtype=np.float64, copy=True)
    if source == target:
        return out_lat, out_lon
    mask = in_mainland_china(lat_a, lon_a)
    if mask.any():
        new_lat, new_lon = _STEPS[(source, target)](lat_a[mask], lon_a[mask])
        out_lat[mask] = new_lat
        out_lon[mask] = new_lon
    return out_lat, out_lon
