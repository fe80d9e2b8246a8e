"""Figures: content, PNG size, Chinese labels with a CJK font and a clean English fallback."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from PIL import Image

import matching.reports.plots as plots
from matching import ConfigError, match
from matching.datasets.synth import district
from matching.reports.plots import plot_distances, plot_pairs, plot_streets, save_png, street_codes

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    kids, moms = district(400, 250, seed=11)
    return kids, moms, match(kids, moms)


def _figures(case, language: str = "auto"):  # type: ignore[no-untyped-def]
    kids, moms, result = case
    return {
        "pairs": plot_pairs(result, kids, moms, language=language, figsize=(6, 5), dpi=80),
        "distances": plot_distances(result, language=language, figsize=(5, 3), dpi=90),
        "streets": plot_streets(result, language=language, figsize=(6, 3.5), dpi=70),
    }


def _save_all(figs, tmp_path: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    return {name: save_png(fig, tmp_path / f"{name}.png") for name, fig in figs.items()}


def _check_png(path: Path, figsize: tuple[float, float], dpi: float) -> None:
    assert path.stat().st_size > 1000
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == (round(figsize[0] * dpi), round(figsize[1] * dpi))
        pixels = np.asarray(img.convert("L"))
    assert pixels.std() > 5  # not a blank canvas


SIZES = {"pairs": ((6, 5), 80), "distances": ((5, 3), 90), "streets": ((6, 3.5), 70)}


def test_english_fallback_without_cjk_font_renders_cleanly(
    case,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    caplog.set_level(logging.WARNING, logger="matplotlib")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        figs = _figures(case, "auto")
        paths = _save_all(figs, tmp_path)
    assert [str(w.message) for w in seen] == []  # no "Glyph ... missing"
    assert caplog.records == []  # no "findfont: Font family ... not found"
    for name, path in paths.items():
        _check_png(path, *SIZES[name])
    ax = figs["streets"].axes[0]
    assert ax.get_title() == "Pairing rate and need coverage by street"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    streets = sorted(set(case[0]["street"]))
    assert (
        ticks
        == [street_codes(streets)[s] for s in streets]
        == [f"S{i}" for i in range(1, len(streets) + 1)]
    )
    legend = [t.get_text() for t in figs["pairs"].axes[0].get_legend().get_texts()]
    assert legend[0] == "Mentor" and "S1" in legend and legend[-1] == "Unmatched child"
    for fig in figs.values():
        for text in fig.findobj(matplotlib.text.Text):
            assert all(ord(ch) < 0x2E80 for ch in text.get_text()), text.get_text()  # no CJK


def test_chinese_labels_when_a_cjk_font_is_found(
    case,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    real_charmap = plots._charmap
    cjk = frozenset(range(0x20, 0x7F)) | frozenset(range(0x3000, 0xA000))
    monkeypatch.setattr(plots, "cjk_font", lambda: "Fake CJK Sans")
    monkeypatch.setattr(
        plots, "_charmap", lambda f: cjk if f == "Fake CJK Sans" else real_charmap(f)
    )
    figs = _figures(case, "auto")  # built, not drawn: the fake font has no file
    ax = figs["streets"].axes[0]
    assert ax.get_title() == "各街道配对率与需求覆盖率"
    assert ax.title.get_fontfamily()[0] == "Fake CJK Sans"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == sorted(set(case[0]["street"]))  # the real street names
    assert all(t.get_fontfamily()[0] == "Fake CJK Sans" for t in ax.get_xticklabels())
    legend = figs["pairs"].axes[0].get_legend()
    assert legend.get_texts()[0].get_text() == "爱心妈妈"
    assert legend.get_texts()[0].get_fontfamily()[0] == "Fake CJK Sans"
    assert figs["distances"].axes[0].get_xlabel() == "距离(公里)"
    # language="en" ignores the font
    en = plot_distances(case[2], language="en")
    assert en.axes[0].get_xlabel() == "Distance (km)"


def test_with_the_fonts_of_this_machine_no_warning_and_right_size(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Whatever is installed (a CJK font or none), rendering must not warn (warnings are errors).
    figs = _figures(case, "auto")
    for name, path in _save_all(figs, tmp_path).items():
        _check_png(path, *SIZES[name])
    zh = plots.cjk_font() is not None
    title = figs["distances"].axes[0].get_title()
    assert title == ("结对距离分布" if zh else "Distance of the pairs")


def test_cjk_font_lookup_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib import font_manager

    monkeypatch.setattr(plots, "CJK_FONT_FILES", ())
    monkeypatch.delenv(plots.FONT_ENVIRONMENT_VARIABLE, raising=False)

    def entries(*names: str) -> list[font_manager.FontEntry]:
        return [font_manager.FontEntry(fname=f"/x/{n}.ttf", name=n) for n in names]

    fm = font_manager.fontManager
    monkeypatch.setattr(fm, "ttflist", entries("DejaVu Sans", "SimHei", "WenQuanYi Zen Hei"))
    assert plots.cjk_font() == "WenQuanYi Zen Hei"  # earlier in CJK_FONTS than SimHei
    monkeypatch.setattr(fm, "ttflist", entries("DejaVu Sans", "Foo CJK KR"))
    assert plots.cjk_font() == "Foo CJK KR"
    monkeypatch.setattr(fm, "ttflist", entries("DejaVu Sans"))
    assert plots.cjk_font() is None


def test_pairs_figure_draws_one_line_per_pair_and_marks_unmatched(case) -> None:  # type: ignore[no-untyped-def]
    kids, moms, result = case
    fig = plot_pairs(result, kids, moms, language="en")
    ax = fig.axes[0]
    lines = sum(len(c.get_segments()) for c in ax.collections if isinstance(c, LineCollection))
    assert lines == len(result.pairs) > 0
    crosses = [c for c in ax.collections if c.get_label() == "Unmatched child"]
    assert len(crosses) == 1 and len(crosses[0].get_offsets()) == len(result.unmatched)
    # a line starts at the child and ends at the mentor
    seg = next(c for c in ax.collections if isinstance(c, LineCollection)).get_segments()[0]
    kid = kids.set_index("id").loc[result.pairs.child_id]
    assert any(np.allclose(seg[0], (lo, la)) for lo, la in zip(kid.lon, kid.lat, strict=True))


def test_distance_histogram_counts_every_pair(case) -> None:  # type: ignore[no-untyped-def]
    fig = plot_distances(case[2], language="en", bins=12)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert len(heights) == 12 and sum(heights) == len(case[2].pairs)


def test_street_bars_match_street_metrics(case) -> None:  # type: ignore[no-untyped-def]
    from matching.reports.files import street_metrics

    table = street_metrics(case[2])
    fig = plot_streets(case[2], language="en")
    heights = [p.get_height() for p in fig.axes[0].patches]
    n = len(table)
    assert heights[:n] == pytest.approx(table["pairing_rate"].tolist())
    assert heights[n:] == pytest.approx(table["needs_covered_share"].tolist())


def test_bad_parameters(case) -> None:  # type: ignore[no-untyped-def]
    kids, moms, result = case
    with pytest.raises(ConfigError, match="'language'"):
        plot_streets(result, language="fr")
    with pytest.raises(ConfigError, match="'bins'"):
        plot_distances(result, bins=0)
    with pytest.raises(ConfigError, match="'figsize'"):
        plot_distances(result, figsize=(0, 3))
    with pytest.raises(ConfigError, match="rosters do not hold"):
        plot_pairs(result, kids.iloc[:10], moms)


def test_empty_result_plots(tmp_path: Path) -> None:
    kids, moms = district(20, 0, seed=1)
    result = match(kids, moms)
    assert len(result.pairs) == 0
    for fig in (
        plot_pairs(result, kids, moms, language="en"),
        plot_distances(result, language="en"),
        plot_streets(result, language="en"),
    ):
        assert save_png(fig, tmp_path / "e.png").stat().st_size > 0


# ----------------------------------------------------------------------------------------------
# finding a Chinese font on disk.  This machine has no CJK font; matplotlib ships
# "Last Resort High-Efficiency", whose character map covers CJK (it draws a placeholder
# for each block), so a copy of it under a CJK font's file name stands in for one.
# A copy of DejaVu Sans under the same name stands in for a file that draws no Chinese.

MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@pytest.fixture
def fonts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """matplotlib's font list and the font search, restored after the test."""
    from matplotlib import font_manager

    fm = font_manager.fontManager
    monkeypatch.setattr(fm, "ttflist", [f for f in fm.ttflist if "CJK" not in f.name])
    monkeypatch.setattr(plots, "_REGISTERED", {})
    monkeypatch.setattr(plots, "_warned", False)
    monkeypatch.setattr(plots, "CJK_FONT_FILES", (str(tmp_path / "noto" / "NotoSansCJK-*.ttc"),))
    monkeypatch.delenv(plots.FONT_ENVIRONMENT_VARIABLE, raising=False)
    (tmp_path / "noto").mkdir()
    return tmp_path / "noto"


def _copy(source: str, target: Path) -> Path:
    target.write_bytes((MPL_FONTS / source).read_bytes())
    return target


def test_a_font_file_on_disk_is_registered_and_draws_the_labels(
    case, fonts, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from matplotlib import font_manager

    path = _copy("LastResortHE-Regular.ttf", fonts / "NotoSansCJK-Regular.ttc")
    assert plots.cjk_font() == "Last Resort High-Efficiency"
    assert [f.fname for f in font_manager.fontManager.ttflist].count(str(path)) == 1
    assert plots.cjk_font() == "Last Resort High-Efficiency"  # registered once
    assert [f.fname for f in font_manager.fontManager.ttflist].count(str(path)) == 1
    figs = _figures(case, "zh")  # rendered with warnings as errors: no missing glyph
    for name, png in _save_all(figs, tmp_path).items():
        _check_png(png, *SIZES[name])
    ax = figs["streets"].axes[0]
    assert ax.get_title() == "各街道配对率与需求覆盖率"
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(set(case[0]["street"]))


def test_a_file_that_draws_no_chinese_is_not_taken(fonts) -> None:  # type: ignore[no-untyped-def]
    _copy("DejaVuSans.ttf", fonts / "NotoSansCJK-Regular.ttc")
    (fonts / "NotoSansCJK-Bold.ttc").write_bytes(b"not a font")
    assert plots.cjk_font() is None


def test_the_environment_variable_names_a_font_file(fonts, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(plots, "CJK_FONT_FILES", ())
    path = _copy("LastResortHE-Regular.ttf", fonts / "my-font.ttf")
    assert plots.cjk_font() is None
    monkeypatch.setenv(plots.FONT_ENVIRONMENT_VARIABLE, str(path))
    assert plots.cjk_font() == "Last Resort High-Efficiency"


def test_no_chinese_font_falls_back_to_english_and_says_so_once(case, fonts) -> None:  # type: ignore[no-untyped-def]
    with pytest.warns(UserWarning, match="fonts-noto-cjk") as first:
        fig = plot_streets(case[2], language="zh")
    assert len(first) == 1
    assert fig.axes[0].get_title() == "Pairing rate and need coverage by street"
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == [f"S{i}" for i in range(1, len(ticks) + 1)]
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        _figures(case, "zh")
        plot_distances(case[2], language="zh")
    assert [str(w.message) for w in later] == []  # once per process, not per figure


def test_the_default_language_is_the_current_one(case, fonts) -> None:  # type: ignore[no-untyped-def]
    from matching.i18n import use_language

    assert plot_distances(case[2]).axes[0].get_xlabel() == "Distance (km)"  # tests run in en
    _copy("LastResortHE-Regular.ttf", fonts / "NotoSansCJK-Regular.ttc")
    with use_language("zh"):
        assert plot_distances(case[2]).axes[0].get_xlabel() == "距离(公里)"
