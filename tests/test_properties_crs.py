"""Round trips of :func:`matching.geo.crs.convert` (Hypothesis).

As documented there: inside mainland China a round trip through any pair of
systems returns the starting point to well under 1 m (the inverse iterates to
1e-9 degrees, about 0.1 mm); outside it (Hong Kong, Macau, Taiwan, abroad)
every conversion returns the point unchanged.  The decision is made on the
input point, so a round trip is checked where the converted point lies in the
mainland too (a few hundred metres from a border it may not).
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from matching.geo.crs import CRS_NAMES, convert, in_mainland_china

PAIRS = list(itertools.permutations(CRS_NAMES, 2))
TOLERANCE_M = 0.01  # far below the documented "well under 1 m"; the iteration gives ~0.1 mm
M_PER_DEG = 111_195.0

# mainland China lies within this box (with much that is not mainland)
CHINA_LAT = st.floats(18.0, 53.5)
CHINA_LON = st.floats(73.5, 135.0)


def _metres(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> float:
    """An upper bound on the distance in metres (equirectangular, fine at these scales)."""
    dy = (float(lat2) - lat1) * M_PER_DEG
    dx = (float(lon2) - lon1) * M_PER_DEG * np.cos(np.radians(lat1))
    return float(np.hypot(dx, dy))


@settings(max_examples=200)
@given(
    lat=st.floats(23.5, 40.0) | CHINA_LAT,  # the first box is nearly all mainland
    lon=st.floats(103.0, 119.5) | CHINA_LON,
    pair=st.sampled_from(PAIRS),
)
def test_round_trip_inside_mainland_china(lat: float, lon: float, pair: tuple[str, str]) -> None:
    src, dst = pair
    assume(bool(in_mainland_china(lat, lon)))
    there = convert(lat, lon, src, dst)
    assume(bool(in_mainland_china(*there)))
    back = convert(*there, dst, src)
    assert _metres(lat, lon, *back) < TOLERANCE_M
    # and the conversion moved the point: by 100 m to 2 km, as the offsets do
    assert 100.0 < _metres(lat, lon, *there) < 2_000.0


@settings(max_examples=200)
@given(
    lat=st.floats(-90.0, 90.0) | CHINA_LAT | st.floats(21.9, 25.5),
    lon=st.floats(-180.0, 180.0) | CHINA_LON | st.floats(113.5, 122.5),
    pair=st.sampled_from(PAIRS),
)
def test_identity_outside_mainland_china(lat: float, lon: float, pair: tuple[str, str]) -> None:
    # the third ranges hold Hong Kong, Macau and Taiwan, and the mainland coast facing them
    assume(not bool(in_mainland_china(lat, lon)))
    got = convert(lat, lon, *pair)
    assert (float(got[0]), float(got[1])) == (lat, lon)
