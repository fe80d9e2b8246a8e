"""The interactive map: markers and lines, tiles in their own coordinate system, the note."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import numpy as np
import pytest

import matching.reports.webmap as webmap
from matching import ConfigError, match
from matching.datasets.synth import district
from matching.geo.crs import convert
from matching.geo.distance import great_circle_km
from matching.reports.webmap import pairs_map, save

MARKER = re.compile(r"L\.circleMarker\(\s*\[([-\d.e]+),\s*([-\d.e]+)\]")
LINE = re.compile(
    r"L\.polyline\(\s*\[\[([-\d.e]+),\s*([-\d.e]+)\],\s*\[([-\d.e]+),\s*([-\d.e]+)\]\]"
)


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    kids, moms = district(120, 80, seed=21)
    return kids, moms, match(kids, moms)


_PAGES: dict[str, str] = {}


def _page(case, tmp_path: Path, **kw):  # type: ignore[no-untyped-def]
    """The saved page of one map (each setting rendered once per test session)."""
    key = repr(sorted(kw.items()))
    if key not in _PAGES:
        kids, moms, result = case
        path = save(pairs_map(result, kids, moms, **kw), tmp_path / "map.html")
        _PAGES[key] = path.read_text(encoding="utf-8")
    return _PAGES[key]


def _markers(page: str) -> np.ndarray:
    return np.array([[float(a), float(b)] for a, b in MARKER.findall(page)])


def test_one_marker_per_person_and_one_line_per_pair(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kids, moms, result = case
    page = _page(case, tmp_path, tiles="osm")
    n_active = int(moms["active"].astype(bool).sum()) if "active" in moms else len(moms)
    assert len(result.pairs) > 0 and len(result.unmatched) > 0
    assert page.count("L.circleMarker(") == len(kids) + n_active
    assert page.count("L.polyline(") == len(result.pairs) == len(LINE.findall(page))
    assert page.count("L.tileLayer(") == 1 and "tile.openstreetmap.org" in page
    # osm: the children's markers are the roster's WGS-84 coordinates
    pts = _markers(page)
    roster = kids.set_index("id")
    first = roster.loc[result.pairs["child_id"].iloc[0]]
    assert np.isclose(pts[:, 0], first["lat"]).any() and np.isclose(pts[:, 1], first["lon"]).any()
    only_paired = _page(case, tmp_path, tiles="osm", show_mentors=False)
    used = result.pairs["mentor_id"].nunique()
    assert only_paired.count("L.circleMarker(") == len(kids) + used


def test_gaode_tiles_get_gcj02_points_shifted_by_hundreds_of_metres(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    osm = _markers(_page(case, tmp_path, tiles="osm"))
    gaode_page = _page(case, tmp_path, tiles="gaode")
    gaode = _markers(gaode_page)
    assert "autonavi.com" in gaode_page
    assert osm.shape == gaode.shape
    shift_km = great_circle_km(osm[:, 0], osm[:, 1], gaode[:, 0], gaode[:, 1])
    assert shift_km.min() > 0.2 and shift_km.max() < 0.8  # the GCJ-02 offset near Changzhou
    glat, glon = convert(osm[:, 0], osm[:, 1], "wgs84", "gcj02")
    assert np.allclose(gaode[:, 0], glat, atol=1e-9) and np.allclose(gaode[:, 1], glon, atol=1e-9)
    # the lines move with the points
    a = np.array(LINE.findall(_page(case, tmp_path, tiles="osm")), dtype=float)
    b = np.array(LINE.findall(gaode_page), dtype=float)
    assert np.allclose(b[:, 0], convert(a[:, 0], a[:, 1], "wgs84", "gcj02")[0], atol=1e-9)


def test_no_tiles_keeps_wgs84_and_loads_no_tiles(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = _page(case, tmp_path, tiles=None)
    assert "L.tileLayer(" not in page
    assert np.array_equal(_markers(page), _markers(_page(case, tmp_path, tiles="osm")))


def test_page_says_it_needs_internet(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zh = _page(case, tmp_path, tiles="gaode", language="zh")
    assert "查看本地图需要联网" in zh and "高德地图" in zh
    assert "<!-- Viewing this map needs internet access" in zh
    en = _page(case, tmp_path, tiles="osm", language="en")
    assert "Viewing this map needs internet access" in en
    assert 'class="matching-note"' in en


def test_tooltips_carry_ids_not_personal_data(tmp_path: Path) -> None:
    kids, moms = district(40, 30, seed=2)
    kids = kids.assign(name=[f"Secret Name {i}" for i in range(len(kids))])
    result = match(kids, moms)
    page = save(pairs_map(result, kids, moms, tiles=None), tmp_path / "m.html").read_text("utf-8")
    assert "Secret Name" not in page
    assert result.pairs["child_id"].iloc[0] in page


def test_bad_parameters(case) -> None:  # type: ignore[no-untyped-def]
    kids, moms, result = case
    with pytest.raises(ConfigError, match="'tiles'"):
        pairs_map(result, kids, moms, tiles="baidu")
    with pytest.raises(ConfigError, match="'language'"):
        pairs_map(result, kids, moms, language="fr")
    with pytest.raises(ConfigError, match="rosters do not hold"):
        pairs_map(result, kids.iloc[:5], moms)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(webmap, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
