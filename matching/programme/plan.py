"""A night's plan folder: its files rendered to bytes, and the folder published whole.

The files are rendered once, stored with the run (so that ``matching plan``
can write any committed run's plan again) and published only after the
commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from matching.errors import InputError
from matching.programme.rematch import RematchPlan
from matching.reports import staged_folder, to_csv_bytes

__all__ = ["PLAN_FILES", "publish_plan"]

PLAN_FILES = (
    "plan.json",
    "plan_new_pairs.csv",
    "plan_ended_pairs.csv",
    "plan_moved_pairs.csv",
    "plan_waiting.csv",
    "plan_ignored_rows.csv",
    "plan_duplicate_events.csv",
    "geocode_failures.csv",
)
"""Every file a plan folder may hold (``geocode_failures.csv`` only with a geocoder)."""


def render_plan(
    plan: RematchPlan,
    *,
    ended: Mapping[tuple[str, str], tuple[str, str, str]],
    counts: Mapping[str, int],
    ignored: pd.DataFrame,
    duplicates: Sequence[Mapping[str, object]],
    geo_failures: Mapping[str, pd.DataFrame] | None,
    summary: Mapping[str, Any],
) -> dict[str, bytes]:
    """A night's plan folder, file name -> bytes (deterministic for the same run).

    ``ended`` is every pair that ends, with (reason, approved_by, ended_on);
    ``ignored`` the roster rows set aside and ``duplicates`` the events
    already applied; ``geo_failures`` the records that could not be
    geocoded (None without a geocoder: no such file); ``summary`` goes into
    ``plan.json`` with the counts, the plan's metrics and the version.
    """
    from matching._version import __version__

    ended_df = pd.DataFrame(
        [(c, m, r, a, on) for (c, m), (r, a, on) in sorted(ended.items())],
        columns=["child_id", "mentor_id", "reason", "approved_by", "ended_on"],
    )
    duplicate_df = pd.DataFrame(
        list(duplicates), columns=["number", "kind", "child_id", "mentor_id", "date"]
    )
    files = {
        "plan_new_pairs.csv": to_csv_bytes(plan.new_pairs, decimals=4),
        "plan_ended_pairs.csv": to_csv_bytes(ended_df),
        "plan_moved_pairs.csv": to_csv_bytes(plan.moved, decimals=4),
        "plan_waiting.csv": to_csv_bytes(plan.waiting),
        "plan_ignored_rows.csv": to_csv_bytes(ignored),
        "plan_duplicate_events.csv": to_csv_bytes(duplicate_df),
    }
    if geo_failures is not None:
        cols = ["roster", "id", "reason", "detail"]
        failed = geo_failures.values()
        table = pd.concat([pd.DataFrame(columns=cols), *failed], ignore_index=True)
        files["geocode_failures.csv"] = to_csv_bytes(table)
    document = {
        "library_version": __version__,
        **summary,
        "counts": counts,
        "metrics": plan.metrics,
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2, default=str) + "\n"
    files["plan.json"] = text.encode("utf-8")
    return files


def write_plan(
    out_dir: str | Path | None, contents: Mapping[str, bytes], step: Callable[[str], None]
) -> dict[str, Path]:
    """Publish the plan into ``out_dir`` (nothing without one), saying so to ``step``."""
    if out_dir is None:
        return {}
    step("writing the plan")
    return publish_plan(out_dir, contents)


def publish_plan(out_dir: str | Path, contents: Mapping[str, bytes]) -> dict[str, Path]:
    """Write a plan folder whole: it holds exactly ``contents`` (name -> bytes) afterwards.

    The folder is written beside ``out_dir`` and swapped in at once
    (:func:`matching.reports.staged_folder`): a failure or a kill leaves the
    previous plan as it was.  A folder holding files other than plan files
    (:data:`PLAN_FILES`) is refused, never replaced.  Returns the paths
    written, by file name.  Used after a commit, and by ``matching plan``
    with a run's stored files.
    """
    unknown = sorted(set(contents) - set(PLAN_FILES))
    if unknown:
        raise InputError(f"not plan files: {', '.join(unknown)}")
    folder = staged_folder(out_dir, owned=PLAN_FILES)
    with folder as stage:
        for name, data in sorted(contents.items()):
            (stage / name).write_bytes(data)
    return {name: folder.final(stage / name) for name in sorted(contents)}
