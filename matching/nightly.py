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
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from .config import MatchConfig, validate_config
from .errors import InputError
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Source: TypeAlias = str | Path | pd.DataFrame | None


def _roster(source: Source, reader: Any, name: str, hashes: dict[str, str]) -> Any:
    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
        hashes.setdefault(name, _sha256(source.to_csv(index=False).encode("utf-8")))
        return source
    hashes[name] = _sha256(Path(source).read_bytes())
    return reader(source)


def _geocoded(
    source: Source,
    name: str,
    hashes: dict[str, str],
    geocoder: Any,
    cache: str | Path | None,
    failures: dict[str, pd.DataFrame],
    options: dict[str, Any],
) -> Source:
    """The roster with missing coordinates filled from its addresses; the
    records that could not be placed are left out of tonight's roster and
    listed in ``failures`` (by id, with the reason).  A roster without an
    address column is returned as it is."""
    from .geocode import _ADDRESS_ALIASES, FAILURE_REASONS, _find, geocode_roster
    from .schema import _read_table

    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
        raw = source
        hashes[name] = _sha256(source.to_csv(index=False).encode("utf-8"))
    else:
        hashes[name] = _sha256(Path(source).read_bytes())
        raw = _read_table(source, None)
    wanted = str(options.get("address_column", "address")).strip().lower()
    if _find(raw, (wanted, *_ADDRESS_ALIASES)) is None:
        # no addresses to go by: validation names any missing coordinates
        failures[name] = pd.DataFrame(columns=["roster", "id", "reason", "detail"])
        return raw
    result = geocode_roster(raw, geocoder, cache=cache, **options)
    failed = result.frame["geocode_status"].isin(FAILURE_REASONS).to_numpy()
    failures[name] = result.failures.assign(roster=name)[["roster", "id", "reason", "detail"]]
    if failed.any():
        log.warning("%s: %d record(s) could not be geocoded", name, int(failed.sum()))
    return result.frame.loc[~failed].drop(columns=["geocode_status"]).reset_index(drop=True)


def _events(source: str | Path | Sequence[Event] | None, hashes: dict[str, str]) -> list[Event]:
    if source is None:
        return []
    if isinstance(source, (str, Path)):
        hashes["events"] = _sha256(Path(source).read_bytes())
        return read_events(source)
    events = list(source)
    for e in events:
        if not isinstance(e, Event):
            raise InputError(f"events: expected Event objects, got {type(e).__name__}")
    rows = [[e.kind, e.child_id, e.mentor_id, e.actor, e.note] for e in events]
    if events:
        hashes["events"] = _sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8"))
    return events


def run_nightly(
    db: str | Path,
    *,
    date: str,
    out_dir: str | Path | None = None,
    children: Source = None,
    mentors: Source = None,
    events: str | Path | Sequence[Event] | None = None,
    config: MatchConfig | None = None,
    dry_run: bool = False,
    allow_moves: bool = False,
    switching_cost_km: float = 5.0,
    max_moves: int | None = None,
    price_of_stability: bool = True,
    progress: Callable[[str], None] | None = None,
    geocoder: Any | None = None,
    geocode_cache: str | Path | None = None,
    geocode_options: dict[str, Any] | None = None,
) -> NightlyReport:
    """Run one night against the state store at ``db``.

    Parameters
    ----------
    db : path
        The SQLite state store (created if missing).
    date : str
        ISO date the run stands for.
    out_dir : path, optional
        Where the plan report goes; ``None`` writes no files (library use).
    children, mentors : path or DataFrame, optional
        Roster files (``.csv``/``.xlsx``) or raw frames: joins and updates.
    events : path or sequence of Event, optional
        The day's events (``.csv``/``.json`` file, or :class:`Event` objects).
    config : MatchConfig, optional
    dry_run : bool
        Plan and report, commit nothing.
    allow_moves, switching_cost_km, max_moves, price_of_stability
        As in :func:`matching.rematch.rematch` (the price of stability costs a
        from-scratch solve).
    progress : callable, optional
        Called with a short phase name as the run advances (for a progress
        display); never with personal data.
    geocoder : geopy geocoder, optional
        Fill the rosters' missing coordinates from their ``address`` column
        first (:func:`matching.geocode.geocode_roster`).  Records that cannot
        be placed are not guessed: they are left out of tonight's roster,
        counted (``*_geocode_failed``) and listed by id and reason in
        ``geocode_failures.csv``; the run carries on with the rest.
    geocode_cache : path, optional
        The geocoding cache (SQLite), so that no address is asked twice.
    geocode_options : dict, optional
        Further keywords of :func:`~matching.geocode.geocode_roster`
        (``address_column``, ``crs``, ``provider``, ``min_delay_seconds``, ...).

    Returns
    -------
    NightlyReport

    Raises
    ------
    RosterError, EventError, ConfigError, InputError
        Bad input, before the store is touched.
    StoreLockedError
        Another run holds the store.
    """
    step = progress or (lambda _phase: None)
    step("validating input")
    cfg = validate_config(MatchConfig() if config is None else config)
    hashes: dict[str, str] = {}
    geo_failures: dict[str, pd.DataFrame] = {}
    if geocoder is not None:
        step("geocoding addresses")
        opts = dict(geocode_options or {})
        for name in ("children", "mentors"):
            src = children if name == "children" else mentors
            src = _geocoded(src, name, hashes, geocoder, geocode_cache, geo_failures, opts)
            children, mentors = (src, mentors) if name == "children" else (children, src)
    kids_raw = _roster(children, read_children, "children", hashes)
    mentors_raw = _roster(mentors, read_mentors, "mentors", hashes)
    event_list = _events(events, hashes)
    step("loading the state store")
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
        step("applying rosters and events")
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
        step("re-matching")
        plan = rematch(
            state,
            cfg,
            date=date,
            allow_moves=allow_moves,
            switching_cost_km=switching_cost_km,
            max_moves=max_moves,
            price_of_stability=price_of_stability,
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
        for roster, f in geo_failures.items():
            counts[f"{roster}_geocode_failed"] = len(f)
        counts["changes"] = sum(
            v
            for k, v in counts.items()
            if k not in ("children_waiting", "changes") and not k.endswith("_geocode_failed")
        )
        files: dict[str, Path] = {}
        if out_dir is not None:
            step("writing the plan")
            files = _write_plan(
                Path(out_dir), plan, ended, counts, hashes, date, dry_run, skip_events
            )
            if geocoder is not None:
                cols = ["roster", "id", "reason", "detail"]
                table = pd.concat(
                    [pd.DataFrame(columns=cols), *geo_failures.values()], ignore_index=True
                )
                files["geocode_failures"] = write_csv(table, Path(out_dir) / "geocode_failures.csv")
        log.info("nightly %s: %s", date, ", ".join(f"{k} {v}" for k, v in counts.items()))
        run_id = None
        if not dry_run:
            step("committing")
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
    step("done")
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
