"""Match a synthetic district and save the three figures as PNG files.

Run: python examples/figures.py [OUT_DIR]   (default: a new temporary folder)
Needs: pip install "mentor-matching[plot]".  Labels are Chinese when a CJK
font is installed (e.g. Debian's fonts-noto-cjk), English otherwise.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from matching import match
from matching.datasets.synth import district
from matching.reports.plots import cjk_font, plot_distances, plot_pairs, plot_streets, save_png

FIGURES = {
    "pairs.png": ((8.0, 7.0), 100),
    "distances.png": ((7.0, 4.0), 100),
    "streets.png": ((8.0, 4.5), 100),
}
"""File name -> (figsize in inches, dpi): each PNG is figsize * dpi pixels."""


def main(out_dir: str | None = None) -> int:
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="matching-plots-"))
    out.mkdir(parents=True, exist_ok=True)
    children, mentors = district(400, 300, seed=3)
    result = match(children, mentors)
    print(result.summary())
    print(f"CJK font: {cjk_font() or 'none (English labels)'}")
    # The figures are built without pyplot (no display, no global state).
    size = {name: {"figsize": fs, "dpi": dpi} for name, (fs, dpi) in FIGURES.items()}
    figs = {
        "pairs.png": plot_pairs(result, children, mentors, **size["pairs.png"]),
        "distances.png": plot_distances(result, **size["distances.png"]),
        "streets.png": plot_streets(result, **size["streets.png"]),
    }
    for name, fig in figs.items():
        print(f"wrote {save_png(fig, out / name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
