"""Plot time against roster size from saved benchmark runs: ``results/scaling.png``.

Usage::

    python benchmarks/plot_scaling.py     # results/quick.json, tier20k.json, tier200k.json
    python benchmarks/plot_scaling.py a.json b.json -o benchmarks/results/scaling.png

Reads pytest-benchmark JSON files (``--benchmark-json``) and draws, on log-log
axes, the median end-to-end time of each method against the number of
children: one line per method, from the scaling tiers of
``test_bench_tiers.py`` (``extra_info`` keys ``scale_tier`` / ``method``) and
the district benchmarks of ``test_bench_match.py`` (``tier`` / ``kind``).  The
speed targets (0.5 s at 2k, 5 s at 20k, 60 s at 200k, 10 min at 1M children)
are drawn as marked points.  When several files measure the same method at
the same size, the most recent file wins (by ``datetime``); files from
different machines or commits should not be mixed in one plot.

Needs matplotlib: ``pip install 'mentor-matching[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "scaling.png"
#: The saved runs read when no file is given: the latest run of each scaling tier.
DEFAULT_RUNS = ("quick.json", "tier20k.json", "tier200k.json")

#: (children, seconds) targets of the issue, by tier.
TARGETS: dict[str, tuple[int, float]] = {
    "district 2k: 0.5 s": (2_000, 0.5),
    "large district 20k: 5 s": (20_000, 5.0),
    "city 200k: 60 s": (200_000, 60.0),
    "province 1M: 10 min": (1_000_000, 600.0),
}

# test_bench_match.py kinds -> method labels of the plot
_KIND_LABEL = {
    "sparse": "library",
    "dense_scipy": "dense_scipy",
    "dense_ortools": "library method='dense' (OR-Tools flow)",
}
_METHOD_STYLE = {
    "library": ("C0", "o"),
    "greedy": ("C2", "s"),
    "dense_scipy": ("C3", "^"),
    "dense_ortools_lsa": ("C1", "v"),
    "library method='dense' (OR-Tools flow)": ("C4", "D"),
    "library_processes": ("C9", "P"),
    "library_threads": ("C8", "*"),
    "library_rules": ("C6", "x"),
}


def collect(paths: list[Path]) -> dict[str, dict[int, float]]:
    """Median seconds by method and number of children, from the given JSON files."""
    runs = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        runs.append((str(data.get("datetime", "")), data.get("benchmarks", [])))
    runs.sort(key=lambda r: r[0])  # later runs overwrite earlier ones
    series: dict[str, dict[int, float]] = {}
    for _, benchmarks in runs:
        for b in benchmarks:
            info: dict[str, Any] = b.get("extra_info") or {}
            if "scale_tier" in info and "method" in info:
                label = str(info["method"])
                if label == "candidate_graph":
                    label = "library: candidate graph only"
            elif "tier" in info and info.get("kind") in _KIND_LABEL:
                label = _KIND_LABEL[info["kind"]]
            else:
                continue
            if "n_children" not in info:
                continue
            series.setdefault(label, {})[int(info["n_children"])] = float(b["stats"]["median"])
    return series


def plot(series: dict[str, dict[int, float]], out: Path) -> Path:
    """Write the log-log plot to ``out`` (atomically) and return the path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "plot_scaling needs matplotlib: pip install 'mentor-matching[bench]'"
        ) from exc

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    for label in sorted(series, key=lambda k: (k != "library", k)):
        points = sorted(series[label].items())
        xs = [n for n, _ in points]
        ys = [t for _, t in points]
        color, marker = _METHOD_STYLE.get(label, ("C7", "."))
        ax.plot(xs, ys, marker=marker, color=color, label=label, linewidth=1.5, zorder=6)
    for i, (name, (n, t)) in enumerate(TARGETS.items()):
        ax.scatter(
            [n],
            [t],
            marker="*",
            s=160,
            color="black",
            alpha=0.6,
            zorder=5,
            label="target" if i == 0 else None,
        )
        ax.annotate(name, (n, t), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("children (mentors = 0.8 x children)")
    ax.set_ylabel("median time, end to end (s)")
    ax.set_title("mentor-matching: time against roster size")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="*", type=Path, help="pytest-benchmark JSON files")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help="PNG to write")
    args = parser.parse_args(argv)
    default = [HERE / "results" / name for name in DEFAULT_RUNS]
    paths = args.json or [p for p in default if p.exists()]
    if not paths:
        print(
            "no benchmark JSON given and none of benchmarks/results/" + ", ".join(DEFAULT_RUNS),
            file=sys.stderr,
        )
        return 2
    series = collect(paths)
    if not series:
        print("no end-to-end benchmark with a size in the given files", file=sys.stderr)
        return 2
    out = plot(series, args.output)
    print(f"wrote {out} ({', '.join(f'{k}: {len(v)} sizes' for k, v in series.items())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
