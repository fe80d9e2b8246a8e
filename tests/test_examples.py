"""The examples run as users run them, so they never rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _env() -> dict[str, str]:
    """The environment of a user running the examples from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    # -W error: a warning (e.g. matplotlib's "Glyph ... missing") fails the example
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _check_png(path: Path, size: tuple[int, int]) -> None:
    assert path.stat().st_size > 1000, path
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == size, (path.name, img.size)
        extrema = img.convert("L").getextrema()
    assert extrema[0] < extrema[1]  # not a blank canvas


def test_quickstart_example_runs_and_writes_files(tmp_path: Path) -> None:
    proc = _run("quickstart.py", str(tmp_path))
    assert "paired:" in proc.stdout
    for name in ("pairs.csv", "unmatched.csv", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_excel_report_example_writes_both_workbooks_into_a_temporary_folder() -> None:
    proc = _run("excel_report.py")  # no OUT_DIR: a new temporary folder
    assert "paired:" in proc.stdout
    written = [
        Path(line.split("wrote ", 1)[1]) for line in proc.stdout.splitlines() if "wrote " in line
    ]
    assert [p.name for p in written] == ["report_zh.xlsx", "report_en.xlsx"]
    folder = written[0].parent
    assert not folder.is_relative_to(ROOT)
    try:
        zh = openpyxl.load_workbook(written[0])
        en = openpyxl.load_workbook(written[1])
        assert zh.sheetnames == ["配对名单", "未匹配儿童", "街道统计", "运行摘要"]
        assert en.sheetnames == ["pairs", "unmatched", "streets", "summary"]
        assert zh["配对名单"].max_row == en["pairs"].max_row > 100
    finally:
        for path in written:
            path.unlink()
        folder.rmdir()


def test_figures_example_writes_pngs_of_the_expected_size(tmp_path: Path) -> None:
    _run("figures.py", str(tmp_path))
    sizes = {"pairs.png": (800, 700), "distances.png": (700, 400), "streets.png": (800, 450)}
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(sizes)
    for name, size in sizes.items():
        _check_png(tmp_path / name, size)


def test_web_map_example_writes_both_maps(tmp_path: Path) -> None:
    proc = _run("web_map.py", str(tmp_path))
    assert "internet" in proc.stdout
    for tiles in ("osm", "gaode"):
        page = (tmp_path / f"map_{tiles}.html").read_text(encoding="utf-8")
        assert page.count("L.polyline(") > 50
        assert "查看本地图需要联网" in page


def test_walkthrough_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    for key, value in _env().items():
        monkeypatch.setenv(key, value)  # the kernel imports this checkout's code
    nb = nbformat.read(EXAMPLES / "walkthrough.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored clean
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []
    stderr = "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("name") == "stderr"
    )
    assert "Glyph" not in stderr and "Warning" not in stderr, stderr
    out = tmp_path / "walkthrough-out"
    assert (out / "children.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    sizes = {"pairs.png": (640, 560), "distances.png": (560, 320), "streets.png": (640, 360)}
    for name, size in sizes.items():
        _check_png(out / name, size)
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) == 3  # the figures are shown in the notebook too
    assert openpyxl.load_workbook(out / "report.xlsx").sheetnames[0] == "配对名单"
    (match_cell,) = [c for c in nb.cells if "result.summary()" in c.source]
    summary = "".join(o.get("text", "") for o in match_cell.outputs if o.output_type == "stream")
    assert "paired:" in summary
