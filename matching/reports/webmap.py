"""An interactive HTML map of the pairs (folium / Leaflet).

:func:`pairs_map` draws every pair as a line from the child to the mentor,
coloured by the child's street, every child and mentor as a circle (tooltips
carry ids, streets, distance and the unmatched reason code only), on a base
map of OpenStreetMap (``tiles="osm"``), Gaode/AMap (``tiles="gaode"``) or
none (``tiles=None``).  :func:`save` writes the HTML file atomically.

Coordinate systems
------------------
The library works in WGS-84.  Tiles are drawn in their provider's system:
OpenStreetMap tiles are WGS-84, Gaode tiles GCJ-02, so for ``tiles="gaode"``
every point is converted with :func:`matching.geo.crs.convert` (a shift of a few
hundred metres in mainland China) and sits on the right street of the tiles.
Without tiles the points stay WGS-84.

Internet access
---------------
**Viewing the map needs internet access.**  folium's HTML loads Leaflet and
its plugins (JavaScript and CSS) from public CDNs, and the base-map tiles
from the tile provider; both may be slow or blocked in some networks
(OpenStreetMap tiles and some CDNs in mainland China, for instance).  With
``tiles=None`` no tiles are fetched, but the page still needs the CDN for
Leaflet itself.  Writing the file needs no network.  The page says so in a
note box, and in an HTML comment at the top.  For an offline picture use
:func:`matching.reports.plots.plot_pairs`.

Requires folium: ``pip install "mentor-matching[map]"``.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matching.errors import ConfigError
from matching.geo.crs import convert
from matching.i18n import LANGUAGES, N_, check_language, use_language
from matching.i18n import gettext as _
from matching.match import MatchResult
from matching.reports.folders import write_bytes_atomic
from matching.rosters import validate_children, validate_mentors

if TYPE_CHECKING:  # pragma: no cover
    import folium

__all__ = ["OFFLINE_NOTE", "TILES", "pairs_map", "save"]

TILES: dict[str, dict[str, str]] = {
    "osm": {
        "crs": "wgs84",
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
        " contributors",
        "subdomains": "abc",
        "name": "OpenStreetMap",
    },
    "gaode": {
        "crs": "gcj02",
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
        "&style=8&x={x}&y={y}&z={z}",
        "attr": "&copy; 高德地图 AutoNavi",
        "subdomains": "1234",
        "name": "高德地图 Gaode",
    },
}
"""Tile providers: URL template, attribution and the coordinate system of the tiles."""

_OFFLINE_NOTE = N_(
    "Viewing this map needs internet access: Leaflet is loaded from public CDNs "
    "and the base-map tiles from {provider}."
)

OFFLINE_NOTE: dict[str, str] = {lang: _(_OFFLINE_NOTE, lang) for lang in LANGUAGES}
"""The note shown on (and written into) every map page, in each language (from the
catalogue)."""

_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_TEXT = {
    "pairs": N_("pair lines"),
    "mentors": N_("mentors' homes"),
    "unmatched": N_("unmatched children"),
    "none": N_("no base map"),
    "children": N_("paired children"),
    "street": N_("street"),
    "km": N_("km"),
}


def _require_folium() -> Any:
    try:
        import folium
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "interactive maps need folium: pip install 'mentor-matching[map]'"
        ) from None
    return folium


def pairs_map(
    result: MatchResult,
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    *,
    tiles: str | None = "osm",
    language: str | None = None,
    show_mentors: bool = True,
    zoom_start: int = 12,
) -> folium.Map:
    """An interactive map of the pairs (a :class:`folium.Map`).

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match` on these rosters.
    children, mentors : DataFrame
        The rosters (WGS-84 coordinates; validated here).
    tiles : {"osm", "gaode", None}, default "osm"
        Base map: OpenStreetMap (WGS-84), Gaode/AMap (GCJ-02; points are
        converted to GCJ-02) or no base layer (points in WGS-84).
    language : {"zh", "en"}, optional
        Language of the layer names, tooltips' words and the note (None: the
        current language, see :mod:`matching.i18n`).
    show_mentors : bool, default True
        Draw the active mentors without a child too (mentors with a child are
        always drawn).
    zoom_start : int, default 12
        Initial zoom level.

    Returns
    -------
    folium.Map
        Layers: the pairs (one line each, child to mentor, coloured by the
        child's street), the paired children, the unmatched children (red),
        the mentors (grey); a layer control; a note that viewing needs
        internet access (see the module docstring).

    Raises
    ------
    ConfigError
        Unknown ``tiles`` or ``language``, or rosters that do not hold the
        ids of the result.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> kids, moms = district(30, 20, seed=1)
    >>> m = pairs_map(match(kids, moms), kids, moms, tiles=None, language="en")
    >>> type(m).__name__
    'Map'
    """
    folium = _require_folium()
    _check_options(tiles, language)
    with use_language(language):
        text = {key: _(message) for key, message in _TEXT.items()}
        note = _(_OFFLINE_NOTE)
    kids = validate_children(children).set_index("id")
    moms = validate_mentors(mentors)
    moms = moms[moms["active"].to_numpy(dtype=bool)].set_index("id")
    pairs, unmatched = result.pairs, result.unmatched
    _check_ids(pairs, unmatched, kids, moms)
    target = TILES[tiles]["crs"] if tiles is not None else "wgs84"
    pts = _Points.of(kids, moms, target)
    center = [float(np.mean(pts.clat)), float(np.mean(pts.clon))] if len(kids) else [0.0, 0.0]
    fmap, provider = _base_map(folium, center, zoom_start, tiles, text["none"])
    streets = sorted({str(s) for s in kids["street"]})
    colour = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(streets)}
    groups = [
        folium.FeatureGroup(name=text[key]).add_to(fmap)
        for key in ("pairs", "children", "unmatched", "mentors")
    ]
    _add_points(folium, groups, pts, pairs, unmatched, colour, text, show_mentors)
    folium.LayerControl(collapsed=False).add_to(fmap)
    _add_note(folium, fmap, note.format(provider=provider), colour, target)
    root: Any = fmap.get_root()
    root.header.add_child(
        folium.Element(f"<!-- {html.escape(_OFFLINE_NOTE.format(provider=provider))} -->")
    )
    return fmap


def _check_options(tiles: str | None, language: str | None) -> None:
    if tiles is not None and tiles not in TILES:
        raise ConfigError(
            f"The 'tiles' parameter must be 'osm', 'gaode' or None, got {tiles!r} instead."
        )
    if language is not None:
        check_language(language)


def _check_ids(
    pairs: pd.DataFrame, unmatched: pd.DataFrame, kids: pd.DataFrame, moms: pd.DataFrame
) -> None:
    """Raise unless the rosters (indexed by id) hold every child and mentor of the result."""
    missing = (set(pairs["child_id"]) | set(unmatched["child_id"])) - set(kids.index)
    missing |= set(pairs["mentor_id"]) - set(moms.index)
    if missing:
        raise ConfigError(
            "pairs_map: the rosters do not hold every id of the result "
            f"(e.g. {sorted(missing)[0]!r}); pass the rosters the result was matched from"
        )


def _base_map(
    folium: Any, center: list[float], zoom_start: int, tiles: str | None, no_tiles: str
) -> tuple[folium.Map, str]:
    """The map with its tile layer (if any), and the tile provider's name for the note."""
    fmap: folium.Map = folium.Map(
        location=center, zoom_start=zoom_start, tiles=None, control_scale=True
    )
    if tiles is None:
        return fmap, no_tiles
    spec = TILES[tiles]
    folium.TileLayer(
        tiles=spec["url"], attr=spec["attr"], name=spec["name"],
        subdomains=spec["subdomains"], max_zoom=18,
    ).add_to(fmap)  # fmt: skip
    return fmap, spec["name"]


@dataclass(frozen=True)
class _Points:
    """Children's and active mentors' coordinates in the map's system, and each id's row."""

    clat: np.ndarray
    clon: np.ndarray
    mlat: np.ndarray
    mlon: np.ndarray
    cpos: dict[Any, int]
    mpos: dict[Any, int]

    @classmethod
    def of(cls, kids: pd.DataFrame, moms: pd.DataFrame, target: str) -> _Points:
        clat, clon = convert(kids["lat"].to_numpy(), kids["lon"].to_numpy(), "wgs84", target)
        mlat, mlon = convert(moms["lat"].to_numpy(), moms["lon"].to_numpy(), "wgs84", target)
        cpos = {cid: i for i, cid in enumerate(kids.index)}
        mpos = {mid: i for i, mid in enumerate(moms.index)}
        return cls(clat, clon, mlat, mlon, cpos, mpos)

    def child(self, cid: Any) -> list[float]:
        i = self.cpos[cid]
        return [float(self.clat[i]), float(self.clon[i])]

    def mentor(self, mid: Any) -> list[float]:
        j = self.mpos[mid]
        return [float(self.mlat[j]), float(self.mlon[j])]


def _add_points(
    folium: Any,
    groups: list[Any],
    pts: _Points,
    pairs: pd.DataFrame,
    unmatched: pd.DataFrame,
    colour: dict[str, str],
    text: dict[str, str],
    show_mentors: bool,
) -> None:
    """Pairs (lines), paired and unmatched children, and mentors, into their layers."""
    g_pairs, g_kids, g_un, g_moms = groups
    used: set[str] = set()
    for cid, mid, km, street in zip(
        pairs["child_id"], pairs["mentor_id"], pairs["distance_km"], pairs["child_street"],
        strict=True,
    ):  # fmt: skip
        col = colour.get(str(street), "#333333")
        tip = html.escape(f"{cid} → {mid}  {km:.2f} {text['km']}  ({text['street']}: {street})")
        folium.PolyLine(
            [pts.child(cid), pts.mentor(mid)], color=col, weight=2, opacity=0.8, tooltip=tip,
        ).add_to(g_pairs)  # fmt: skip
        folium.CircleMarker(
            pts.child(cid), radius=4, color=col, fill=True, fill_opacity=0.9,
            weight=1, tooltip=html.escape(f"{cid} ({street})"),
        ).add_to(g_kids)  # fmt: skip
        used.add(mid)
    for cid, reason in zip(unmatched["child_id"], unmatched["reason"], strict=True):
        folium.CircleMarker(
            pts.child(cid), radius=4, color="#d62728", fill=True,
            fill_color="#ffffff", fill_opacity=1.0, weight=2,
            tooltip=html.escape(f"{cid}: {reason}"),
        ).add_to(g_un)  # fmt: skip
    for mid in pts.mpos:
        if show_mentors or mid in used:
            folium.CircleMarker(
                pts.mentor(mid), radius=3, color="#555555", fill=True,
                fill_opacity=0.7, weight=1, tooltip=html.escape(str(mid)),
            ).add_to(g_moms)  # fmt: skip


def _add_note(folium: Any, fmap: Any, note: str, colour: dict[str, str], target: str) -> None:
    """A fixed box with the internet-access note, the street colours and the coordinate system."""
    legend = "".join(
        f'<span style="color:{c}">&#9679;</span>&nbsp;{html.escape(s)}&nbsp; '
        for s, c in colour.items()
    )
    box = (
        '<div style="position:fixed;bottom:12px;left:12px;z-index:9999;max-width:420px;'
        "background:rgba(255,255,255,0.9);padding:6px 8px;font:12px sans-serif;"
        f'border:1px solid #999" class="matching-note">{html.escape(note)}'
        f"<br>{legend}<br>{target.upper()}</div>"
    )
    fmap.get_root().html.add_child(folium.Element(box))


def save(fmap: folium.Map, path: str | os.PathLike[str]) -> Path:
    """Write the map as one HTML file, atomically (see the module docstring on internet access).

    Examples
    --------
    >>> import tempfile
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> kids, moms = district(30, 20, seed=1)
    >>> m = pairs_map(match(kids, moms), kids, moms, tiles="gaode", language="zh")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     "联网" in save(m, f"{tmp}/map.html").read_text(encoding="utf-8")
    True
    """
    page = fmap.get_root().render()
    return write_bytes_atomic(path, page.encode("utf-8"))
