"""Figures of a :class:`~matching.match.MatchResult` for notebooks and reports.

Each function returns a :class:`matplotlib.figure.Figure` built without
pyplot (no global state, no GUI; it renders with the Agg backend wherever it
runs), so it can be shown in a notebook, saved with :func:`save_png` or
composed further:

:func:`plot_pairs`
    Children and mentors on the district (longitude/latitude, equal scale),
    each pair as a line, coloured by the child's street; unmatched children
    as crosses.
:func:`plot_distances`
    Histogram of pair distances with the mean, median, 90th percentile and
    the distance limit.
:func:`plot_streets`
    Pairing rate and need coverage by street (grouped bars).

Chinese labels
--------------
Labels come from the one catalogue (:mod:`matching.i18n`), in ``language``
(None, the default: the current language; ``"auto"``: Chinese whenever a
Chinese font is found).  Chinese labels need a font that draws Chinese, which
:func:`cjk_font` finds on its own: the file named by the ``MATCHING_CJK_FONT``
environment variable, then matplotlib's font list (:data:`CJK_FONTS`: Noto
Sans/Serif CJK, Source Han, WenQuanYi, SimHei, Microsoft YaHei, PingFang,
...), then the usual font files of Debian/Ubuntu, Fedora, Windows and macOS
(:data:`CJK_FONT_FILES`); a file found on disk is registered with matplotlib
(``font_manager.fontManager.addfont``).  When none exists the labels are
English, once per process a warning says so, and text the default font
cannot draw - such as Chinese street names - is replaced by ``S1``, ``S2``,
... (the streets in sorted order; :func:`street_codes` gives the key), so
matplotlib never warns about missing glyphs.  Street names are drawn by name
whenever the font can draw them.  On Debian/Ubuntu, ``apt install
fonts-noto-cjk`` gives Chinese labels.

Requires matplotlib: ``pip install "mentor-matching[plot]"``.
"""

from __future__ import annotations

import functools
import glob
import io
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matching.errors import ConfigError
from matching.i18n import N_, check_language, current_language
from matching.i18n import gettext as _
from matching.match import MatchResult
from matching.reports.files import street_metrics
from matching.reports.folders import write_bytes_atomic
from matching.rosters import validate_children, validate_mentors

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

__all__ = [
    "CJK_FONTS",
    "CJK_FONT_FILES",
    "FONT_ENVIRONMENT_VARIABLE",
    "cjk_font",
    "plot_distances",
    "plot_pairs",
    "plot_streets",
    "save_png",
    "street_codes",
]

CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "STHeiti",
    "Hiragino Sans GB",
    "Arial Unicode MS",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
)
"""Font families searched for Chinese labels, in order of preference."""

CJK_FONT_FILES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-*.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-*.ttc",  # Debian/Ubuntu fonts-wqy-*
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-*.ttc",  # Fedora
    "/usr/share/fonts/noto-cjk/NotoSansCJK-*.ttc",  # Arch
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "C:/Windows/Fonts/msyh.ttc",  # Microsoft YaHei
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/simsun.ttc",
    "/System/Library/Fonts/PingFang.ttc",  # macOS
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
)
"""Font files (glob patterns) searched for Chinese labels when matplotlib knows no CJK font."""

FONT_ENVIRONMENT_VARIABLE = "MATCHING_CJK_FONT"
"""An environment variable naming a font file (.ttf, .otf, .ttc) to draw Chinese with."""

_LABELS: dict[str, str] = {
    "pairs_title": N_("Pairs by the child's street"),
    "lon": N_("Longitude"),
    "lat": N_("Latitude"),
    "mentor": N_("Mentor"),
    "unmatched": N_("Unmatched child"),
    "dist_title": N_("Distance of the pairs"),
    "dist_x": N_("Distance (km)"),
    "dist_y": N_("Number of pairs"),
    "mean": N_("mean"),
    "median": N_("median"),
    "p90": N_("90th percentile"),
    "limit": N_("distance limit"),
    "streets_title": N_("Pairing rate and need coverage by street"),
    "rate": N_("Pairing rate"),
    "coverage": N_("Need coverage"),
    "share": N_("Share"),
    "street": N_("Street"),
}
_PROBE = "中文街道社区爱心妈妈"  # characters a font must draw to count as a Chinese font
_REGISTERED: dict[str, str | None] = {}  # font file -> its family (None: unusable)
_warned = False  # the English fallback is announced once per process


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'mentor-matching[plot]'") from None


def cjk_font() -> str | None:
    """The family name of a font that draws Chinese, or ``None``.

    Looks, in order, at the font file named by ``MATCHING_CJK_FONT``, at
    matplotlib's font list for the families of :data:`CJK_FONTS` (in that
    order) or any family whose name contains ``CJK``, and at the font files
    of :data:`CJK_FONT_FILES`.  A file is used only if it draws Chinese; it is
    registered with matplotlib (``font_manager.fontManager.addfont``), once.

    Examples
    --------
    >>> name = cjk_font()
    >>> name is None or isinstance(name, str)
    True
    """
    _require_matplotlib()
    from matplotlib import font_manager

    named = os.environ.get(FONT_ENVIRONMENT_VARIABLE, "").strip()
    if named:
        family = _register(named)
        if family is not None:
            return family
    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in names:
            return family
    extra = sorted(n for n in names if "CJK" in n)
    if extra:
        return extra[0]
    for pattern in CJK_FONT_FILES:
        for path in sorted(glob.glob(pattern)):
            family = _register(path)
            if family is not None:
                return family
    return None


def _register(path: str) -> str | None:
    """The family of the font file ``path`` after registering it with matplotlib, or
    None when it is missing, unreadable or draws no Chinese."""
    if path in _REGISTERED:
        return _REGISTERED[path]
    from matplotlib import font_manager

    family: str | None = None
    if os.path.isfile(path):
        try:
            font = font_manager.get_font(path)
            if all(ord(ch) in font.get_charmap() for ch in _PROBE):
                manager = font_manager.fontManager
                if not any(entry.fname == path for entry in manager.ttflist):
                    manager.addfont(path)
                family = str(font.family_name)
        except (OSError, RuntimeError, ValueError):  # not a font FreeType can read
            family = None
    _REGISTERED[path] = family
    return family


def _warn_no_font() -> None:
    """Say once per process that charts fall back to English for want of a Chinese font."""
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(
        _(
            "no font that draws Chinese was found, so charts are in English and streets are "
            "numbered S1, S2, ...; install one (Debian/Ubuntu: apt install fonts-noto-cjk) or "
            "set {variable} to a font file"
        ).format(variable=FONT_ENVIRONMENT_VARIABLE),
        UserWarning,
        stacklevel=4,
    )


def _default_family() -> str:
    """The installed family matplotlib uses for sans-serif text (DejaVu Sans, usually)."""
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    return str(font_manager.get_font(path).family_name)


@functools.lru_cache(maxsize=8)
def _charmap(family: str) -> frozenset[int]:
    from matplotlib import font_manager

    # a list, so a family name with a hyphen is not read as a fontconfig pattern
    path = font_manager.findfont(font_manager.FontProperties(family=[family]))
    return frozenset(font_manager.get_font(path).get_charmap())


class _Text:
    """Labels, font and text sanitising of one figure."""

    def __init__(self, language: str | None) -> None:
        wanted: str = (
            current_language()
            if language is None
            else "auto"
            if language == "auto"
            else check_language(language)
        )
        _require_matplotlib()
        from matplotlib.font_manager import FontProperties

        font = cjk_font() if wanted in ("auto", "zh") else None
        if wanted == "zh" and font is None:
            _warn_no_font()
        self.zh = font is not None
        self.language = "zh" if self.zh else "en"
        default = _default_family()
        self.family = [font, default] if font else [default]
        self.prop: FontProperties = FontProperties(family=self.family)
        # characters some family of the list can draw (matplotlib falls back per glyph)
        self._chars: frozenset[int] = frozenset().union(*(_charmap(f) for f in self.family))

    def __call__(self, key: str) -> str:
        return _(_LABELS[key], self.language)

    def drawable(self, text: str) -> bool:
        return all(ord(ch) in self._chars or ch.isspace() for ch in text)

    def streets(self, names: Sequence[str]) -> dict[str, str]:
        """Display label of each street: its name, or ``S<i>`` if the font cannot draw it."""
        codes = street_codes(names)
        return {s: (s if s and self.drawable(s) else codes[s]) for s in names}


def street_codes(streets: Iterable[Any]) -> dict[str, str]:
    """``S1``, ``S2``, ... for the distinct streets in sorted order (used without a CJK font).

    Examples
    --------
    >>> street_codes(["东街道", "西街道", "东街道"])
    {'东街道': 'S1', '西街道': 'S2'}
    """
    names = sorted({str(s) for s in streets})
    return {s: f"S{i}" for i, s in enumerate(names, start=1)}


def _figure(figsize: tuple[float, float], dpi: float) -> Figure:
    from matplotlib.figure import Figure

    if len(figsize) != 2 or not all(math.isfinite(v) and v > 0 for v in figsize):
        raise ConfigError(
            f"The 'figsize' parameter must be two sizes > 0, got {figsize!r} instead."
        )
    if not (math.isfinite(dpi) and dpi > 0):
        raise ConfigError(f"The 'dpi' parameter must be > 0, got {dpi!r} instead.")
    return Figure(figsize=figsize, dpi=dpi, layout="constrained")


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_pairs(
    result: MatchResult,
    children: pd.DataFrame,
    mentors: pd.DataFrame,
    *,
    language: str | None = None,
    figsize: tuple[float, float] = (8.0, 7.0),
    dpi: float = 100.0,
    show_mentors: bool = True,
) -> Figure:
    """The district with every pair as a line, coloured by the child's street.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match` on these rosters.
    children, mentors : DataFrame
        The rosters (for the coordinates; validated here).
    language : {"zh", "en", "auto"}, optional
        Language of the labels (None: the current language; ``"auto"``:
        Chinese whenever a Chinese font is found).  Chinese needs a font that
        draws it, else the labels are English (see the module docstring).
    figsize : (float, float), default (8, 7)
        Figure size in inches.
    dpi : float, default 100
        Resolution; a PNG saved by :func:`save_png` is ``figsize * dpi`` pixels.
    show_mentors : bool, default True
        Draw every active mentor as a small grey triangle.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: the map, with a legend of the streets.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> kids, moms = district(80, 60, seed=1)
    >>> fig = plot_pairs(match(kids, moms), kids, moms, language="en")
    >>> [round(v) for v in fig.get_size_inches() * fig.dpi]
    [800, 700]
    """
    text = _Text(language)
    kids = validate_children(children).set_index("id")
    moms = validate_mentors(mentors)
    moms = moms[moms["active"].to_numpy(dtype=bool)].set_index("id")
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot()
    streets = sorted({str(s) for s in kids["street"]})
    _check_ids(result.pairs, kids, moms)
    if show_mentors and len(moms):
        ax.scatter(
            moms["lon"], moms["lat"], s=8, marker="^", c="0.55", linewidths=0,
            label=text("mentor"), zorder=1,
        )  # fmt: skip
    _draw_pairs(ax, result.pairs, kids, moms, streets, text)
    un = result.unmatched["child_id"]
    if len(un):
        ax.scatter(
            kids.loc[un, "lon"], kids.loc[un, "lat"], s=18, marker="x", c="crimson",
            linewidths=0.9, label=text("unmatched"), zorder=4,
        )  # fmt: skip
    lat0 = float(kids["lat"].mean()) if len(kids) else 0.0
    ax.set_aspect(1.0 / max(math.cos(math.radians(lat0)), 0.01))
    ax.autoscale_view()
    _label_axes(ax, text, "pairs_title", "lon", "lat")
    ax.ticklabel_format(useOffset=False)
    if streets or len(moms):
        ax.legend(prop=text.prop, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _check_ids(pairs: pd.DataFrame, kids: pd.DataFrame, moms: pd.DataFrame) -> None:
    """Raise unless the rosters (indexed by id) hold every child and mentor of the pairs."""
    missing = set(pairs["child_id"]) - set(kids.index) | set(pairs["mentor_id"]) - set(moms.index)
    if missing:
        raise ConfigError(
            "plot_pairs: the rosters do not hold every id of the result "
            f"(e.g. {sorted(missing)[0]!r}); pass the rosters the result was matched from"
        )


def _draw_pairs(
    ax: Any,
    pairs: pd.DataFrame,
    kids: pd.DataFrame,
    moms: pd.DataFrame,
    streets: list[str],
    text: _Text,
) -> None:
    """Each pair as a line from child to mentor and each paired child as a dot, by street."""
    from matplotlib.collections import LineCollection

    label = text.streets(streets)
    colour = dict(zip(streets, _colours(len(streets)), strict=True))
    c_lon = kids.loc[pairs["child_id"], "lon"].to_numpy(np.float64)
    c_lat = kids.loc[pairs["child_id"], "lat"].to_numpy(np.float64)
    m_lon = moms.loc[pairs["mentor_id"], "lon"].to_numpy(np.float64)
    m_lat = moms.loc[pairs["mentor_id"], "lat"].to_numpy(np.float64)
    pstreet = pairs["child_street"].astype(str).to_numpy()
    for s in streets:
        sel = pstreet == s
        if not sel.any():
            continue
        segs = np.stack(
            [np.column_stack([c_lon[sel], c_lat[sel]]), np.column_stack([m_lon[sel], m_lat[sel]])],
            axis=1,
        )
        ax.add_collection(LineCollection(list(segs), colors=[colour[s]], linewidths=0.9, zorder=2))
        ax.scatter(c_lon[sel], c_lat[sel], s=10, color=colour[s], label=label[s], zorder=3)


def _label_axes(ax: Any, text: _Text, title: str, x: str, y: str) -> None:
    """Title and axis labels of ``ax`` from the label keys, in the figure's font."""
    ax.set_title(text(title), fontproperties=text.prop)
    ax.set_xlabel(text(x), fontproperties=text.prop)
    ax.set_ylabel(text(y), fontproperties=text.prop)


def plot_distances(
    result: MatchResult,
    *,
    language: str | None = None,
    bins: int = 30,
    figsize: tuple[float, float] = (7.0, 4.0),
    dpi: float = 100.0,
) -> Figure:
    """Histogram of the pair distances with mean, median, 90th percentile and limit.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.
    bins : int, default 30
        Number of histogram bins (>= 1).
    language, figsize, dpi
        Labels, size in inches and resolution, as for :func:`plot_pairs`.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: the histogram and its marks.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> fig = plot_distances(match(*district(80, 60, seed=1)), language="en")
    >>> fig.axes[0].get_xlabel()
    'Distance (km)'
    """
    if not (isinstance(bins, int | np.integer) and bins >= 1):
        raise ConfigError(f"The 'bins' parameter must be an integer >= 1, got {bins!r} instead.")
    text = _Text(language)
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot()
    d = result.pairs["distance_km"].to_numpy(np.float64)
    limit = float(result.config.max_distance_km)
    ax.hist(d, bins=int(bins), range=(0.0, max(limit, float(d.max()) if d.size else 0.0)),
            color="#4C72B0", edgecolor="white")  # fmt: skip
    if d.size:
        marks = [
            ("mean", float(d.mean()), "#DD8452", "-"),
            ("median", float(np.median(d)), "#55A868", "--"),
            ("p90", float(np.quantile(d, 0.9)), "#8172B3", ":"),
        ]
        for key, value, col, style in marks:
            ax.axvline(value, color=col, linestyle=style, label=f"{text(key)} {value:.2f}")
    ax.axvline(limit, color="crimson", linewidth=1.5, label=f"{text('limit')} {limit:g}")
    _label_axes(ax, text, "dist_title", "dist_x", "dist_y")
    ax.legend(prop=text.prop, fontsize="small")
    return fig


def plot_streets(
    result: MatchResult,
    *,
    language: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.5),
    dpi: float = 100.0,
) -> Figure:
    """Pairing rate and need coverage by street, as grouped bars.

    Need coverage is the share of the paired children's needs that the
    mentor's skills cover (:func:`matching.reports.files.street_metrics`).

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`; the bars come from its street metrics.
    language, figsize, dpi
        As for :func:`plot_pairs`.

    Returns
    -------
    matplotlib.figure.Figure
        Two bars per street.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> fig = plot_streets(match(*district(80, 60, seed=1)), language="en")
    >>> len(fig.axes[0].patches) == 2 * len(set(district(80, 60, seed=1)[0]["street"]))
    True
    """
    text = _Text(language)
    table = street_metrics(result)
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot()
    x = np.arange(len(table))
    w = 0.4
    ax.bar(x - w / 2, table["pairing_rate"], width=w, color="#4C72B0", label=text("rate"))
    ax.bar(x + w / 2, table["needs_covered_share"], width=w, color="#55A868",
           label=text("coverage"))  # fmt: skip
    names = [str(s) for s in table["street"]]
    label = text.streets(names)
    ax.set_xticks(x, [label[s] for s in names], fontproperties=text.prop, rotation=30,
                  ha="right")  # fmt: skip
    ax.set_ylim(0.0, 1.15)
    ax.yaxis.set_major_formatter(_percent())
    _label_axes(ax, text, "streets_title", "street", "share")
    ax.legend(prop=text.prop, fontsize="small", loc="upper center", ncols=2)
    return fig


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def save_png(fig: Figure, path: str | os.PathLike[str], *, dpi: float | None = None) -> Path:
    """Save ``fig`` as a PNG file, atomically (rendered in memory, then renamed).

    The image is ``fig.get_size_inches() * dpi`` pixels (``dpi`` defaults to
    the figure's own).

    Examples
    --------
    >>> import tempfile
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> fig = plot_distances(match(*district(50, 40, seed=1)), language="en", dpi=50)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_png(fig, f"{tmp}/d.png").stat().st_size > 0
    True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi if dpi is None else dpi)
    return write_bytes_atomic(path, buffer.getvalue())
