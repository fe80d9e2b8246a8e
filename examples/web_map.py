"""Match a synthetic district and write interactive HTML maps (OpenStreetMap and Gaode tiles).

Run: python examples/web_map.py [OUT_DIR]   (default: a new temporary folder)
Needs: pip install "mentor-matching[map]".  Writing needs no network; *viewing*
the maps needs internet access (Leaflet from CDNs, tiles from the provider).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from matching import match
from matching.datasets.synth import district
from matching.reports.webmap import pairs_map, save


def main(out_dir: str | None = None) -> int:
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="matching-map-"))
    out.mkdir(parents=True, exist_ok=True)
    children, mentors = district(200, 150, seed=3)
    result = match(children, mentors)
    print(result.summary())
    # OSM tiles are WGS-84 (the library's system); Gaode tiles are GCJ-02, so the
    # points are converted before drawing.
    for tiles in ("osm", "gaode"):
        fmap = pairs_map(result, children, mentors, tiles=tiles, language="zh")
        print(f"wrote {save(fmap, out / f'map_{tiles}.html')}")
    print("open the .html files in a browser with internet access")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
