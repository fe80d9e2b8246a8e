"""Tests for matching.geo.crs: WGS-84 / GCJ-02 / BD-09 conversions and the mainland-China test."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from matching.datasets.synth import district
from matching.errors import ConfigError, RosterError
from matching.geo.crs import CRS_NAMES, convert, in_mainland_china, normalize_crs
from matching.geo.distance import haversine_km
from matching.match import match
from matching.reports.files import write_csv
from matching.rosters import read_children, read_mentors, validate_children, validate_mentors


def _metres(lat1, lon1, lat2, lon2) -> np.ndarray:
    return haversine_km(lat1, lon1, lat2, lon2) * 1000.0


@pytest.fixture(scope="module")
def china_grid() -> tuple[np.ndarray, np.ndarray]:
    """A 0.37-degree grid over China, keeping points at least ~10 km inside the outline."""
    lat, lon = np.meshgrid(np.arange(18.3, 53.6, 0.37), np.arange(73.6, 135.1, 0.37))
    lat = lat.ravel()
    lon = lon.ravel()
    keep = in_mainland_china(lat, lon)
    for dlat, dlon in itertools.product((-0.1, 0.1), (-0.1, 0.1)):
        keep &= in_mainland_china(lat + dlat, lon + dlon)
    return lat[keep], lon[keep]


def test_grid_covers_china(china_grid):
    lat, lon = china_grid
    assert len(lat) > 5000
    assert lat.min() < 19.0 and lat.max() > 52.0
    assert lon.min() < 76.0 and lon.max() > 133.0


# Reference values from an independent implementation (prcoords 1.0, the public formulas).
KNOWN = [
    # (lat, lon) -> WGS-84 -> GCJ-02, and the same input read as GCJ-02 -> BD-09
    ((31.81, 119.97), (31.807948308333, 119.974740854022), None),
    ((39.9, 116.4), (39.901403529849, 116.406242784911), (39.906349199820, 116.406380299476)),
    ((43.8, 87.6), (43.801212030292, 87.602838972272), (43.806262799803, 87.606368599606)),
    ((45.75, 126.6), (45.751913682164, 126.605910241031), (45.756386597121, 126.606381558905)),
    ((20.04, 110.32), (20.037924994633, 110.324346439504), (20.045834519977, 110.326530059876)),
]


@pytest.mark.parametrize(("point", "gcj", "bd"), KNOWN)
def test_forward_formulas_match_reference(point, gcj, bd):
    lat, lon = convert(point[0], point[1], "wgs84", "gcj02")
    assert float(lat) == pytest.approx(gcj[0], abs=1e-10)
    assert float(lon) == pytest.approx(gcj[1], abs=1e-10)
    if bd is not None:
        lat, lon = convert(point[0], point[1], "gcj02", "bd09")
        assert float(lat) == pytest.approx(bd[0], abs=1e-10)
        assert float(lon) == pytest.approx(bd[1], abs=1e-10)


def test_wgs_to_bd_is_gcj_then_bd():
    lat, lon = np.array([31.81, 39.9, 23.13]), np.array([119.97, 116.4, 113.26])
    direct = convert(lat, lon, "wgs84", "bd09")
    via = convert(*convert(lat, lon, "wgs84", "gcj02"), "gcj02", "bd09")
    np.testing.assert_allclose(direct, via, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("src", "dst"), list(itertools.permutations(CRS_NAMES, 2)))
def test_round_trip_under_one_metre_across_china(china_grid, src, dst):
    lat, lon = china_grid
    there = convert(lat, lon, src, dst)
    back_lat, back_lon = convert(*there, dst, src)
    error = _metres(lat, lon, back_lat, back_lon)
    assert error.max() < 1.0
    # the iteration stops at 1e-9 degrees, so the error is in fact sub-millimetre
    assert error.max() < 1e-3
    # and the conversion did move the points (otherwise the round trip proves nothing)
    assert np.median(_metres(lat, lon, *there)) > 300.0


def test_inverse_reproduces_forward(china_grid):
    lat, lon = china_grid
    wgs = convert(lat, lon, "gcj02", "wgs84")
    again = convert(*wgs, "wgs84", "gcj02")
    assert np.abs(again[0] - lat).max() < 1e-8
    assert np.abs(again[1] - lon).max() < 1e-8


def test_shift_magnitudes_changzhou():
    lat, lon = 31.81, 119.97
    gcj = convert(lat, lon, "wgs84", "gcj02")
    bd = convert(lat, lon, "wgs84", "bd09")
    assert 250.0 < float(_metres(lat, lon, *gcj)) < 700.0
    assert 800.0 < float(_metres(lat, lon, *bd)) < 1400.0
    # inverse directions shift by about the same amount
    wgs_from_gcj = convert(lat, lon, "gcj02", "wgs84")
    wgs_from_bd = convert(lat, lon, "bd09", "wgs84")
    assert 250.0 < float(_metres(lat, lon, *wgs_from_gcj)) < 700.0
    assert 800.0 < float(_metres(lat, lon, *wgs_from_bd)) < 1400.0


def test_shift_magnitudes_across_china(china_grid):
    lat, lon = china_grid
    gcj = _metres(lat, lon, *convert(lat, lon, "wgs84", "gcj02"))
    bd = _metres(lat, lon, *convert(lat, lon, "wgs84", "bd09"))
    # the GCJ-02 offset nearly vanishes around 97 E (about 20 m), elsewhere it is hundreds of m
    assert gcj.max() < 1000.0
    assert 300.0 < np.median(gcj) < 600.0
    assert np.mean(gcj > 100.0) > 0.95
    assert 500.0 < bd.min() and bd.max() < 2000.0


MAINLAND = {
    "Shenzhen Futian": (22.55, 114.06),
    "Shenzhen Shekou": (22.48, 113.92),
    "Shenzhen Huanggang": (22.525, 114.087),
    "Shenzhen Liantang": (22.565, 114.16),
    "Zhuhai": (22.27, 113.55),
    "Beijing": (39.9, 116.4),
    "Shanghai": (31.23, 121.47),
    "Changzhou": (31.81, 119.97),
    "Xiamen": (24.48, 118.09),
    "Fuzhou": (26.07, 119.3),
    "Haikou": (20.04, 110.32),
    "Sanya": (18.25, 109.5),
    "Urumqi": (43.8, 87.6),
    "Kashgar": (39.47, 75.99),
    "Lhasa": (29.65, 91.1),
    "Kunming": (25.04, 102.7),
    "Harbin": (45.75, 126.6),
    "Mohe": (52.97, 122.54),
    "Manzhouli": (49.6, 117.43),
    "Erenhot": (43.65, 111.98),
    "Suifenhe": (44.4, 131.15),
    "Dongxing": (21.55, 107.97),
}
OUTSIDE = {
    "Hong Kong Central": (22.28, 114.16),
    "Hong Kong Kowloon": (22.3, 114.17),
    "Hong Kong airport": (22.31, 113.92),
    "Sheung Shui": (22.5, 114.13),
    "Tin Shui Wai": (22.46, 114.0),
    "Sha Tau Kok (HK)": (22.535, 114.22),
    "Macau": (22.19, 113.54),
    "Taipa": (22.155, 113.56),
    "Taipei": (25.03, 121.56),
    "Kaohsiung": (22.63, 120.3),
    "Penghu": (23.57, 119.58),
    "Kinmen": (24.43, 118.32),
    "Matsu": (26.16, 119.95),
    "Seoul": (37.57, 126.98),
    "Pyongyang": (39.03, 125.75),
    "Vladivostok": (43.12, 131.9),
    "Khabarovsk": (48.48, 135.07),
    "Ulaanbaatar": (47.9, 106.9),
    "Almaty": (43.24, 76.9),
    "Kathmandu": (27.7, 85.3),
    "Thimphu": (27.47, 89.64),
    "Hanoi": (21.03, 105.85),
    "Mandalay": (21.97, 96.08),
    "Tokyo": (35.68, 139.7),
    "New York": (40.71, -74.0),
}


def test_in_mainland_china_known_places():
    names = list(MAINLAND) + list(OUTSIDE)
    points = np.array([*MAINLAND.values(), *OUTSIDE.values()])
    inside = in_mainland_china(points[:, 0], points[:, 1])
    expected = [True] * len(MAINLAND) + [False] * len(OUTSIDE)
    wrong = [name for name, got, want in zip(names, inside, expected, strict=True) if got != want]
    assert wrong == []


@pytest.mark.parametrize(("src", "dst"), list(itertools.permutations(CRS_NAMES, 2)))
def test_hong_kong_and_abroad_unshifted(src, dst):
    points = np.array([OUTSIDE["Hong Kong Kowloon"], OUTSIDE["Macau"], OUTSIDE["Taipei"]])
    lat, lon = convert(points[:, 0], points[:, 1], src, dst)
    np.testing.assert_array_equal(lat, points[:, 0])
    np.testing.assert_array_equal(lon, points[:, 1])
    # while Shenzhen, just across the border, is shifted
    sz_lat, sz_lon = convert(22.55, 114.06, src, dst)
    assert float(_metres(22.55, 114.06, sz_lat, sz_lon)) > 200.0


def test_shapes_scalars_and_nan():
    lat, lon = convert(31.81, 119.97, "wgs84", "bd09")
    assert lat.shape == () and lon.shape == ()
    assert lat.dtype == np.float64
    grid_lat = np.array([[31.81, np.nan], [22.3, 39.9]])
    grid_lon = np.array([[119.97, 116.4], [114.17, np.nan]])
    for src, dst in itertools.permutations(CRS_NAMES, 2):
        out_lat, out_lon = convert(grid_lat, grid_lon, src, dst)
        assert out_lat.shape == (2, 2) and out_lon.shape == (2, 2)
        # a point with a NaN coordinate is left as it is
        assert np.isnan(out_lat[0, 1]) and out_lon[0, 1] == 116.4
        assert np.isnan(out_lon[1, 1]) and out_lat[1, 1] == 39.9
        assert out_lat[1, 0] == 22.3 and out_lon[1, 0] == 114.17
        assert out_lat[0, 0] != 31.81
    # broadcasting: one latitude against several longitudes
    lat_b, lon_b = convert(31.81, [119.9, 120.0, 120.1], "wgs84", "gcj02")
    assert lat_b.shape == (3,) and lon_b.shape == (3,)
    # inputs are not modified, lists are accepted
    src_lat = [31.81, 39.9]
    src_arr = np.array(src_lat)
    convert(src_arr, [119.97, 116.4], "gcj02", "wgs84")
    np.testing.assert_array_equal(src_arr, src_lat)
    # empty input
    empty = convert(np.array([]), np.array([]), "bd09", "wgs84")
    assert empty[0].shape == (0,) and empty[1].shape == (0,)


def test_same_system_is_identity_copy():
    lat = np.array([31.81])
    out_lat, _ = convert(lat, np.array([119.97]), "gcj02", "GCJ-02")
    np.testing.assert_array_equal(out_lat, lat)
    out_lat[0] = 0.0
    assert lat[0] == 31.81


def test_names_and_aliases():
    assert normalize_crs("WGS84") == "wgs84"
    assert normalize_crs(" wgs-84 ") == "wgs84"
    assert normalize_crs("GCJ_02") == "gcj02"
    assert normalize_crs("BD-09") == "bd09"
    assert normalize_crs("火星坐标") == "gcj02"
    assert normalize_crs("百度坐标") == "bd09"
    upper = convert(31.81, 119.97, "WGS84", "BD09")
    lower = convert(31.81, 119.97, "wgs84", "bd09")
    assert float(upper[0]) == float(lower[0]) and float(upper[1]) == float(lower[1])


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [({"src": "mercator", "dst": "wgs84"}, "src"), ({"src": "wgs84", "dst": "bd-11"}, "dst")],
)
def test_bad_crs_name(kwargs, parameter):
    with pytest.raises(ConfigError, match=rf"The '{parameter}' parameter must be one of"):
        convert(31.81, 119.97, **kwargs)


def test_bad_crs_type():
    with pytest.raises(ConfigError, match="'crs' parameter"):
        normalize_crs(None)
    with pytest.raises(ConfigError, match="got 84"):
        convert(31.81, 119.97, 84, "wgs84")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# rosters: the crs column and keyword of matching.rosters


def _roster(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_roster_crs_column_converts_to_wgs84():
    wgs_lat = np.array([31.81, 31.82, 31.83, 22.3])
    wgs_lon = np.array([119.97, 119.98, 119.99, 114.17])
    gcj = convert(wgs_lat, wgs_lon, "wgs84", "gcj02")
    bd = convert(wgs_lat, wgs_lon, "wgs84", "bd09")
    raw = _roster(
        id=["a", "b", "c", "hk"],
        lat=[wgs_lat[0], gcj[0][1], bd[0][2], bd[0][3]],
        lon=[wgs_lon[0], gcj[1][1], bd[1][2], bd[1][3]],
        crs=["wgs84", "GCJ02", "BD09", "bd09"],
        name=["x", "y", "z", "w"],
    )
    for validate in (validate_children, validate_mentors):
        out = validate(raw)
        np.testing.assert_allclose(out["lat"], wgs_lat, rtol=0, atol=1e-8)
        np.testing.assert_allclose(out["lon"], wgs_lon, rtol=0, atol=1e-8)
        assert "crs" not in out.columns
        assert out["name"].tolist() == ["x", "y", "z", "w"]  # other extras still carried
        assert out.loc[3, "lat"] == 22.3  # Hong Kong: no shift in any system
        # validating the output again changes nothing (it holds WGS-84, no crs column)
        again = validate(out)
        np.testing.assert_array_equal(again["lat"], out["lat"])
        np.testing.assert_array_equal(again["lon"], out["lon"])
    # the input frame is not modified
    assert raw.loc[2, "lat"] == bd[0][2]


def test_roster_crs_keyword_is_default_for_blank_cells():
    lat, lon = np.array([31.81, 31.82, 31.83]), np.array([119.97, 119.98, 119.99])
    gcj = convert(lat, lon, "wgs84", "gcj02")
    raw = _roster(
        id=["a", "b", "c"],
        lat=[gcj[0][0], gcj[0][1], lat[2]],
        lon=[gcj[1][0], gcj[1][1], lon[2]],
        坐标系=[None, "  ", "WGS-84"],
    )
    out = validate_children(raw, crs="GCJ02")
    np.testing.assert_allclose(out["lat"], lat, rtol=0, atol=1e-8)
    np.testing.assert_allclose(out["lon"], lon, rtol=0, atol=1e-8)
    # no crs column: the keyword applies to every row
    whole = validate_mentors(raw.drop(columns="坐标系").iloc[:2], crs="gcj02")
    np.testing.assert_allclose(whole["lat"], lat[:2], rtol=0, atol=1e-8)
    # and the default is WGS-84
    plain = validate_mentors(raw.drop(columns="坐标系"))
    np.testing.assert_array_equal(plain["lat"], raw["lat"])


def test_roster_crs_problems_are_listed_with_id_and_column():
    raw = _roster(
        id=["a", "b", "c", None],
        lat=[31.81, 31.82, 95.0, 31.84],
        lon=[119.97, 119.98, 119.99, 120.0],
        crs=["wgs84", "mercator", "gcj02", "utm"],
    )
    with pytest.raises(RosterError) as info:
        validate_children(raw)
    problems = {(p.row_id, p.column): p.message for p in info.value.problems}
    assert problems[("b", "crs")] == "unknown coordinate system (accepted: wgs84, gcj02, bd09)"
    assert problems[("row 4", "crs")].startswith("unknown coordinate system")
    assert "mercator" not in str(info.value)  # the cell is never quoted
    assert ("c", "lat") in problems  # other problems are reported in the same pass
    assert len(info.value.problems) == 4  # 'a' and the valid crs of 'c' raise nothing
    assert "b: column 'crs': unknown coordinate system" in str(info.value)


def test_roster_crs_duplicate_headers():
    raw = pd.DataFrame([["a", 31.8, 119.9, "wgs84", "bd09"]])
    raw.columns = ["id", "lat", "lon", "CRS", "坐标系"]
    with pytest.raises(RosterError) as info:
        validate_mentors(raw)
    [problem] = info.value.problems
    assert (problem.row_id, problem.column) == ("(header)", "crs")
    assert problem.message.startswith("2 columns map to 'crs'")


def test_roster_bad_crs_keyword():
    raw = _roster(id=["a"], lat=[31.8], lon=[119.9])
    with pytest.raises(ConfigError, match="The 'crs' parameter must be one of"):
        validate_children(raw, crs="baidu-mercator")
    with pytest.raises(ConfigError, match="'crs' parameter"):
        validate_mentors(raw.iloc[:0], crs="nope")  # checked even for an empty roster


def test_read_roster_with_crs(tmp_path):
    lat, lon = np.array([31.81, 31.85]), np.array([119.97, 119.9])
    bd = convert(lat, lon, "wgs84", "bd09")
    path = write_csv(
        pd.DataFrame({"编号": ["007", "008"], "纬度": bd[0], "经度": bd[1]}), tmp_path / "m.csv"
    )
    out = read_mentors(path, crs="bd09")
    assert out["id"].tolist() == ["007", "008"]
    np.testing.assert_allclose(out["lat"], lat, rtol=0, atol=1e-7)  # CSV keeps ~15 digits
    np.testing.assert_allclose(out["lon"], lon, rtol=0, atol=1e-7)
    kids = read_children(path)  # default WGS-84: taken as they are, ~1.15 km off
    assert float(_metres(kids["lat"], kids["lon"], lat, lon).min()) > 800.0


def test_mixed_crs_district_gives_the_same_pairs():
    children, mentors = district(300, 250, seed=3)
    base = match(children, mentors)

    # mentors read off Baidu (BD-09), every other child off Gaode (GCJ-02)
    m_bd = mentors.copy()
    m_bd["lat"], m_bd["lon"] = convert(mentors["lat"], mentors["lon"], "wgs84", "bd09")
    c_mixed = children.copy()
    half = np.arange(len(children)) % 2 == 1
    gcj = convert(children["lat"], children["lon"], "wgs84", "gcj02")
    c_mixed.loc[half, "lat"] = gcj[0][half]
    c_mixed.loc[half, "lon"] = gcj[1][half]
    c_mixed["crs"] = np.where(half, "GCJ02", "")  # blank: the roster default (WGS-84)

    # the inputs really differ by hundreds of metres before validation
    shift = _metres(children["lat"], children["lon"], c_mixed["lat"], c_mixed["lon"])
    assert shift[half].min() > 200.0 and shift[~half].max() == 0.0

    mixed = match(validate_children(c_mixed), validate_mentors(m_bd, crs="bd09"))
    # match() validates raw rosters itself, so the crs column also works there
    mixed_raw = match(c_mixed, m_bd.assign(crs="bd09"))

    assert base.metrics["n_pairs"] > 200
    for result in (mixed, mixed_raw):
        pd.testing.assert_frame_equal(
            result.pairs[["child_id", "mentor_id"]], base.pairs[["child_id", "mentor_id"]]
        )
        assert result.unmatched["child_id"].tolist() == base.unmatched["child_id"].tolist()
        np.testing.assert_allclose(
            result.pairs["distance_km"], base.pairs["distance_km"], rtol=0, atol=1e-5
        )
        # each pair's cost is rounded to resolution_km (1 m); the sub-millimetre conversion
        # error can move a pair's rounded cost by at most one unit
        tolerance = base.metrics["n_pairs"] * base.config.resolution_km
        assert abs(result.metrics["objective_km"] - base.metrics["objective_km"]) <= tolerance

    # mixing systems without telling the library would change the answer
    wrong = match(c_mixed.drop(columns="crs"), m_bd)
    assert not wrong.pairs[["child_id", "mentor_id"]].equals(base.pairs[["child_id", "mentor_id"]])
