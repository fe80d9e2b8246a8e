"""The nightly batch job: rosters and events in, a re-matching plan applied atomically.

Order of work, so that bad input never touches the store:

1. read and validate every input (rosters, events, configuration);
2. open the store (one writer at a time) and load the current state;
3. apply the roster updates (joins and changes; nobody is removed by absence),
   then the events (exit workflow, mentor pauses and departures, pins,
   forbidden pairs, ended pairs) -- an invalid event rejects the whole run;
4. re-match with minimal disruption (:func:`matching.rematch.rematch`);
5. write the plan report (one CSV per kind of change, and ``plan.json``);
6. unless ``dry_run``, commit the new state, the pair history, the events and
   the run record in one transaction.

Idempotent: an events file whose content was applied by an earlier run is
skipped (the run record keeps its SHA-256), rosters that did not change
change nothing, and re-matching a settled state makes no change, so running
the same night twice reports zero changes the second time.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import MatchConfig, validate_config
from .events import Event, apply_events, apply_rosters, read_events
from .rematch import RematchPlan, rematch
from .report import write_bytes_atomic, write_csv
from .schema import read_children, read_mentors
from .store import RunInfo, StateStore

__all__ = ["NightlyReport", "run_nightly"]

log = logging.getLogger("matching")


@dataclass(frozen=True)
class NightlyReport:
    """What a nightly run did (or, with ``dry_run``, would do)."""

    plan: RematchPlan
    counts: dict[str, int]
    files: dict[str, Path]
    run_id: int | None  # None for a dry run
    events_skipped: bool


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_nightly(
    db: str | Path,
    *,
    out_dir: str | Path,
    date: str,
    children: str | Path | None = None,
    mentors: str | Path | None = None,
    events: str | Path | None = None,
    config: MatchConfig | None = None,
    dry_run: bool = False,
    allow_moves: bool = False,
    switching_cost_km: float = 5.0,
    max_moves: int | None = None,
) -> NightlyReport:
    """Run one night against the state store at ``db``.

    Raises the library's input errors (:class:`~matching.errors.RosterError`,
    :class:`~matching.events.EventError`, ...) before the store is touched.
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    kids_raw = read_children(children) if children is not None else None
    mentors_raw = read_mentors(mentors) if mentors is not None else None
    event_list: list[Event] = read_events(events) if events is not None else []
    hashes: dict[str, str] = {}
    for name, path in (("children", children), ("mentors", mentors), ("events", events)):
        if path is not None:
            hashes[name] = _sha256(Path(path))
    out = Path(out_dir)
    with StateStore.open(db) as store:
        state = store.load()
        before_pairs = state.pairs
        applied = set()
        runs = store.runs()
        if len(runs) and "input_hashes" in runs.columns:
            for value in runs["input_hashes"]:
                if isinstance(value, dict) and value.get("events"):
                    applied.add(value["events"])
        skip_events = bool(event_list) and hashes.get("events") in applied
        state, roster_changes = apply_rosters(state, kids_raw, mentors_raw)
        ended: dict[tuple[str, str], tuple[str, str]] = {}
        started: dict[tuple[str, str], str] = {}
        log_rows: list[dict[str, object]] = []
        if event_list and not skip_events:
            outcome = apply_events(state, event_list, date=date)
            state, ended, started, log_rows = (
                outcome.state,
                dict(outcome.ended),
                dict(outcome.started),
                list(outcome.log),
            )
        plan = rematch(
            state,
            cfg,
            date=date,
            allow_moves=allow_moves,
            switching_cost_km=switching_cost_km,
            max_moves=max_moves,
        )
        for c, m, reason in plan.ended.itertuples(index=False):
            ended[(c, m)] = (reason, "")
        for c, m, _, _, reason in plan.new_pairs.itertuples(index=False):
            started[(c, m)] = reason
        # The store records what changed between the stored state and the new
        # one; a pair ended by an event and made again by re-matching the same
        # night is unchanged there (the event log keeps the event).
        before = set(zip(before_pairs["child_id"], before_pairs["mentor_id"], strict=True))
        after = set(zip(plan.state.pairs["child_id"], plan.state.pairs["mentor_id"], strict=True))
        started = {k: v for k, v in started.items() if k in after and k not in before}
        ended = {k: v for k, v in ended.items() if k in before and k not in after}
        counts = {
            "children_joined": len(roster_changes.get("children_joined", [])),
            "children_updated": len(roster_changes.get("children_updated", [])),
            "mentors_joined": len(roster_changes.get("mentors_joined", [])),
            "mentors_updated": len(roster_changes.get("mentors_updated", [])),
            "events_applied": len(log_rows),
            "pairs_started": len(started),
            "pairs_ended": len(ended),
            "pairs_moved": len(plan.moved),
            "children_waiting": len(plan.waiting),
        }
        counts["changes"] = sum(
            v for k, v in counts.items() if k not in ("children_waiting", "changes")
        )
        files = _write_plan(out, plan, ended, counts, hashes, date, dry_run, skip_events)
        log.info("nightly %s: %s", date, ", ".join(f"{k} {v}" for k, v in counts.items()))
        run_id = None
        if not dry_run:
            run_id = store.commit(
                plan.state,
                run=RunInfo(
                    run_date=date,
                    kind="nightly",
                    config=cfg.to_dict(),
                    input_hashes=hashes,
                    metrics=plan.metrics,
                    counts=counts,
                ),
                started=started,
                ended=ended,
                events=log_rows,
            )
    return NightlyReport(plan, counts, files, run_id, skip_events)


def _write_plan(
    out: Path,
    plan: RematchPlan,
    ended: dict[tuple[str, str], tuple[str, str]],
    counts: dict[str, int],
    hashes: dict[str, str],
    date: str,
    dry_run: bool,
    skip_events: bool,
) -> dict[str, Path]:
    import json

    from . import __version__

    out.mkdir(parents=True, exist_ok=True)
    ended_df = pd.DataFrame(
        [(c, m, r, a) for (c, m), (r, a) in sorted(ended.items())],
        columns=["child_id", "mentor_id", "reason", "approved_by"],
    )
    files = {
        "new_pairs": write_csv(plan.new_pairs, out / "plan_new_pairs.csv", decimals=4),
        "ended_pairs": write_csv(ended_df, out / "plan_ended_pairs.csv"),
        "moved_pairs": write_csv(plan.moved, out / "plan_moved_pairs.csv", decimals=4),
        "waiting": write_csv(plan.waiting, out / "plan_waiting.csv"),
    }
    summary = {
        "library_version": __version__,
        "date": date,
        "dry_run": dry_run,
        "events_skipped_already_applied": skip_events,
        "counts": counts,
        "metrics": plan.metrics,
        "input_hashes": hashes,
    }
    text = json.dumps(summary, sort_keys=True, ensure_ascii=False, indent=2, default=str) + "\n"
    files["summary"] = write_bytes_atomic(out / "plan.json", text.encode("utf-8"))
    return files
