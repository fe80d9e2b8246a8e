"""Dump the library's results on fixed instances, to show a change leaves them identical.

Run: ``python benchmarks/dump_results.py OUT.json [--no-20k]``, once on each
commit, then compare the two files (``cmp`` or ``diff``).

For each instance the file holds the objective and the SHA-256 of the pairs
and unmatched tables (ids, costs, reasons and details, as CSV), never the rows
themselves. The instances are the 2,000- and 20,000-child benchmark districts,
a 10-district city (one ``match`` over the whole city and ``match_province``
district by district), five nightly jobs on the demo district (events, re-matches and the store:
each plan CSV's SHA-256), and
every example script (the SHA-256 of each CSV or JSON it writes, and of its
standard output; a JSON file's ``library_version`` is left out).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import runpy
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from matching import MatchConfig, match

try:  # the layout of 0.2.0
    from matching.datasets import city, district
except ImportError:  # earlier commits
    from matching.synth import city, district  # type: ignore[no-redef]

try:
    from matching import match_province
except ImportError:
    from matching.province import match_province  # type: ignore[no-redef]

from matching.demo import simulate_nights

ROOT = Path(__file__).resolve().parent.parent
PAIR_KEYS = ["child_id", "mentor_id", "distance_km", "cost_km", "needs_uncovered"]
UNMATCHED_KEYS = ["child_id", "reason", "detail"]


def _digest(frame: pd.DataFrame, columns: list[str]) -> str:
    data = frame[columns].sort_values(columns[0]).to_csv(index=False, float_format="%.9g")
    return hashlib.sha256(data.encode()).hexdigest()


def _result(result: Any) -> dict[str, Any]:
    return {
        "pairs": len(result.pairs),
        "unmatched": len(result.unmatched),
        "objective_units": int(result.metrics["objective_units"]),
        "pairs_sha256": _digest(result.pairs, PAIR_KEYS),
        "unmatched_sha256": _digest(result.unmatched, UNMATCHED_KEYS),
    }


def _districts(big: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    config = MatchConfig(max_distance_km=5.0)
    sizes = [(2000, 1600)] + ([(20_000, 16_000)] if big else [])
    for n_children, n_mentors in sizes:
        children, mentors = district(n_children, n_mentors, seed=1)
        out[f"district_{n_children}"] = _result(match(children, mentors, config))
        if n_children == 2000:
            out["district_2000_min_cost"] = _result(
                match(children, mentors, MatchConfig(max_distance_km=5.0, objective="min_cost"))
            )
    return out


def _file_digest(path: Path) -> str:
    """SHA-256 of a file; of a JSON file without its ``library_version`` (a version bump)."""
    data = path.read_bytes()
    if path.suffix == ".json":
        doc = json.loads(data)
        if isinstance(doc, dict):
            doc.pop("library_version", None)
        data = json.dumps(doc, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def _tree(folder: Path, suffixes: set[str]) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): _file_digest(p)
        for p in sorted(folder.rglob("*"))
        if p.suffix in suffixes
    }


def _nightly() -> dict[str, Any]:
    """Five demo nights (events, re-matches, the store): each plan file's SHA-256."""
    with tempfile.TemporaryDirectory() as tmp:
        simulate_nights(tmp, n_children=2000, n_mentors=1600, nights=5, seed=0)
        return {"demo_nights": _tree(Path(tmp), {".csv"})}


def _city() -> dict[str, Any]:
    children, mentors = city(10, 2000, 1600, seed=1)
    config = MatchConfig(max_distance_km=5.0)
    whole = _result(match(children, mentors, config))
    province = match_province(children, mentors, config)
    return {"city_10_match": whole, "city_10_match_province": _result(province)}


def _examples() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for script in sorted((ROOT / "examples").glob("*.py")):
        with tempfile.TemporaryDirectory() as tmp:
            stdout = io.StringIO()
            argv = sys.argv
            sys.argv = [str(script), tmp]
            try:
                with contextlib.redirect_stdout(stdout), contextlib.suppress(SystemExit):
                    runpy.run_path(str(script), run_name="__main__")
            finally:
                sys.argv = argv
            files = _tree(Path(tmp), {".csv", ".json"})
            text = stdout.getvalue().replace(tmp, "OUT")
            out[script.name] = {
                "stdout_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "files": files,
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--no-20k", action="store_true", help="leave out the 20k district")
    args = parser.parse_args(argv)
    dump = {**_districts(not args.no_20k), **_city(), **_nightly(), "examples": _examples()}
    args.out.write_text(json.dumps(dump, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(dump) - 2} instances, {len(dump['examples'])} examples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
