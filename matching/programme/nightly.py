"""The nightly batch job: rosters and events in, a re-matching plan committed atomically.

Order of work, so that bad input never touches the store and no plan appears
for a night that did not happen:

1. read and validate every input (date, rosters, events, configuration);
2. open the store (one writer at a time, enforced by the store itself) and
   load the current state; a dry run opens it read-only and creates nothing;
3. if this night was already committed with the same inputs, change nothing:
   write that run's plan again from the store and say so;
4. apply the roster updates (joins and changes; a row naming someone who left
   is ignored and listed; nobody is removed by absence), then the events (exit
   workflow, rejoins, mentor pauses and departures, pins, forbidden pairs,
   ended pairs), each event once -- an invalid event rejects the whole run;
5. re-match with minimal disruption (:func:`matching.programme.rematch.rematch`);
6. unless ``dry_run``, commit the new state, the pair and enrolment
   histories, the events, the run record and the plan's files in one
   transaction;
7. only then write the plan folder, whole (a sibling folder swapped in).

Idempotent: re-running a committed night with the same inputs is a no-op
that says so; an event already recorded is not applied again (events are
identified by what they say, :func:`matching.programme.events.event_key`), rosters
that did not change change nothing, and re-matching a settled state makes no
change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from matching.config import MatchConfig, validate_config
from matching.errors import InputError
from matching.programme.events import (
    EVENT_FIELDS,
    Event,
    apply_events,
    apply_rosters,
    check_date,
    event_key,
    read_events,
)
from matching.programme.rematch import RematchPlan, check_options, rematch
from matching.programme.state import DEPARTED_STATUSES, State, empty_state
from matching.programme.store import RunInfo, StateStore
from matching.reports import staged_folder, to_csv_bytes
from matching.rosters import ValidRoster, load_children, load_mentors, valid_children, valid_mentors

__all__ = ["PLAN_FILES", "NightlyReport", "publish_plan", "run_nightly", "today"]

log = logging.getLogger("matching")

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

COUNT_KEYS = (
    "children_joined",
    "children_updated",
    "mentors_joined",
    "mentors_updated",
    "events_applied",
    "pairs_started",
    "pairs_ended",
    "pairs_moved",
    "children_waiting",
    "roster_rows_ignored",
    "events_duplicate",
)
# counted, but not changes to the programme
_NOT_CHANGES = frozenset({"children_waiting", "roster_rows_ignored", "events_duplicate"})
_IGNORED = ["roster", "id", "reason", "left_on"]


@dataclass(frozen=True)
class NightlyReport:
    """What a nightly run did (or, with ``dry_run``, would do).

    Attributes
    ----------
    plan : RematchPlan or None
        The re-matching plan; ``None`` when the night was already committed.
    counts : dict
        :data:`COUNT_KEYS`, ``changes`` (their sum, less waiting children,
        ignored rows and duplicate events) and, with a geocoder,
        ``*_geocode_failed``.  All zero when the night was already committed.
    files : dict
        The plan files written, by name (empty without ``out_dir``).
    run_id : int or None
        The committed run (the earlier one when already committed); ``None``
        for a dry run.
    already_committed : bool
        The night was committed before with the same inputs: nothing changed.
    ignored : DataFrame
        Roster rows that named someone who left the programme: ``roster``,
        ``id``, ``reason`` (``child_exited`` / ``mentor_left``), ``left_on``.
    """

    plan: RematchPlan | None
    counts: dict[str, int]
    files: dict[str, Path]
    run_id: int | None
    already_committed: bool = False
    ignored: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_IGNORED))


def today(timezone: str = "Asia/Shanghai") -> str:
    """Today's ISO date in the programme's time zone (a run at 03:27 in Beijing is that day)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"The 'timezone' setting must be an IANA time zone such as 'Asia/Shanghai', "
            f"got {timezone!r} instead."
        ) from None
    return dt.datetime.now(zone).date().isoformat()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Source: TypeAlias = str | Path | pd.DataFrame | None


def _roster(
    source: Source,
    reader: Callable[[Path | str], ValidRoster],
    validate: Callable[[pd.DataFrame], ValidRoster],
    name: str,
    hashes: dict[str, str],
) -> ValidRoster | None:
    """The roster, validated once here, before the store is touched."""
    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
        hashes.setdefault(name, _sha256(source.to_csv(index=False).encode("utf-8")))
        return validate(source)
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
    from matching.geo.geocode import ADDRESS_ALIASES, FAILURE_REASONS, geocode_roster
    from matching.rosters import find_column, read_table

    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
        raw = source
        hashes[name] = _sha256(source.to_csv(index=False).encode("utf-8"))
    else:
        hashes[name] = _sha256(Path(source).read_bytes())
        raw = read_table(source, None)
    wanted = str(options.get("address_column", "address")).strip().lower()
    if find_column(raw, (wanted, *ADDRESS_ALIASES)) is None:
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
    rows = [[e.kind, e.child_id, e.mentor_id, e.actor, e.note, e.date] for e in events]
    if events:
        hashes["events"] = _sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8"))
    return events


def _digest(parts: Mapping[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return _sha256(text.encode("utf-8"))


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
        The SQLite state store (created on the first night if no file is
        there; an empty or foreign file is refused).
    date : str
        ISO date the run stands for (see :func:`today`).
    out_dir : path, optional
        The plan folder, written whole after the commit (a sibling folder
        swapped in: see :func:`matching.reports.files.publish_folder`); ``None``
        writes no files (library use).  The plan of any committed run can be
        written again with ``matching plan``.
    children, mentors : path or DataFrame, optional
        Roster files (``.csv``/``.xlsx``) or raw frames: joins and updates.
    events : path or sequence of Event, optional
        The day's events (``.csv``/``.json`` file, or :class:`Event` objects).
    config : MatchConfig, optional
    dry_run : bool
        Plan and report, commit nothing; the store is opened read-only (and
        not created).
    allow_moves, switching_cost_km, max_moves, price_of_stability
        As in :func:`matching.programme.rematch.rematch` (the price of stability costs a
        from-scratch solve).
    progress : callable, optional
        Called with a short phase name as the run advances (for a progress
        display); never with personal data.
    geocoder : geopy geocoder, optional
        Fill the rosters' missing coordinates from their ``address`` column
        first (:func:`matching.geo.geocode.geocode_roster`).  Records that cannot
        be placed are not guessed: they are left out of tonight's roster,
        counted (``*_geocode_failed``) and listed by id and reason in
        ``geocode_failures.csv``; the run carries on with the rest.
    geocode_cache : path, optional
        The geocoding cache (SQLite), so that no address is asked twice.
    geocode_options : dict, optional
        Further keywords of :func:`~matching.geo.geocode.geocode_roster`
        (``address_column``, ``crs``, ``provider``, ``min_delay_seconds``, ...).

    Returns
    -------
    NightlyReport

    Raises
    ------
    RosterError, EventError, ConfigError, InputError
        Bad input, before the store is touched.
    StoreLockedError
        Another run holds the store (nothing is changed, no plan written).
    StoreError
        The store file is empty, foreign or damaged.
    """
    step = progress or (lambda _phase: None)
    step("validating input")
    day = check_date(date)
    cfg = validate_config(MatchConfig() if config is None else config)
    check_options(switching_cost_km=switching_cost_km, max_moves=max_moves)
    hashes: dict[str, str] = {}
    geo_failures: dict[str, pd.DataFrame] = {}
    if geocoder is not None:
        step("geocoding addresses")
        opts = dict(geocode_options or {})
        for name in ("children", "mentors"):
            src = children if name == "children" else mentors
            src = _geocoded(src, name, hashes, geocoder, geocode_cache, geo_failures, opts)
            children, mentors = (src, mentors) if name == "children" else (children, src)
    kids_roster = _roster(children, load_children, valid_children, "children", hashes)
    mentors_roster = _roster(mentors, load_mentors, valid_mentors, "mentors", hashes)
    event_list = _events(events, hashes)
    options = {
        "allow_moves": allow_moves,
        "switching_cost_km": switching_cost_km,
        "max_moves": max_moves,
        "price_of_stability": price_of_stability,
        "geocoding": geocoder is not None,
    }
    digest = _digest({"date": day, "inputs": hashes, "config": cfg.to_dict(), **options})
    step("loading the state store")
    with contextlib.ExitStack() as stack:
        store: StateStore | None = None
        if not dry_run:
            store = stack.enter_context(StateStore.open(db))
        elif Path(db).exists() or Path(db).is_symlink():
            store = stack.enter_context(StateStore.open(db, readonly=True))
        state = store.load() if store is not None else empty_state()
        if store is not None and not dry_run:
            done = store.find_run(run_date=day, inputs_digest=digest)
            if done is not None:
                log.info("nightly %s: already committed as run %d; nothing changed", day, done)
                files = _publish(out_dir, store.run_files(done), step)
                step("done")
                zeros = dict.fromkeys((*COUNT_KEYS, "changes"), 0)
                return NightlyReport(None, zeros, files, done, already_committed=True)
        batch = {
            event_key(e, day)
            for e in event_list
            if all(isinstance(getattr(e, f), str) for f in EVENT_FIELDS)
        }
        seen = store.event_keys(among=batch) if store is not None else set()
        step("applying rosters and events")
        night = _apply(state, kids_roster, mentors_roster, event_list, day, seen)
        step("re-matching")
        plan = rematch(
            night.state,
            cfg,
            date=day,
            allow_moves=allow_moves,
            switching_cost_km=switching_cost_km,
            max_moves=max_moves,
            price_of_stability=price_of_stability,
        )
        started, ended = _pair_changes(state, plan, night)
        counts = _counts(night, plan, started, ended, geo_failures)
        if len(night.ignored):
            log.warning(
                "nightly %s: %d roster row(s) name people who left the programme and were "
                "ignored (plan_ignored_rows.csv); a child_rejoin or mentor_rejoin event "
                "brings someone back",
                day,
                len(night.ignored),
            )
        log.info("nightly %s: %s", day, ", ".join(f"{k} {v}" for k, v in counts.items()))

        def render(run_id: int | None) -> dict[str, bytes]:
            return _plan_files(
                plan, ended, counts, hashes, day, dry_run, run_id, night, geo_failures
                if geocoder is not None else None,
            )  # fmt: skip

        run_id = None
        if dry_run or store is None:
            contents = render(None)
        else:
            step("committing")
            rendered: dict[str, bytes] = {}

            def stored(new_id: int) -> dict[str, bytes]:
                rendered.update(render(new_id))
                return rendered

            run_id = store.commit(
                plan.state,
                run=RunInfo(
                    run_date=day,
                    kind="nightly",
                    config=cfg.to_dict(),
                    input_hashes=hashes,
                    metrics=plan.metrics,
                    counts=counts,
                    inputs_digest=digest,
                ),
                started=started,
                ended=ended,
                events=night.log,
                files=stored,
            )
            contents = rendered
        files = _publish(out_dir, contents, step)
    step("done")
    return NightlyReport(plan, counts, files, run_id, ignored=night.ignored)


@dataclass(frozen=True)
class _Night:
    """The state after tonight's rosters and events, and what they did."""

    state: State
    roster_changes: dict[str, list[str]]
    ignored: pd.DataFrame
    ended: dict[tuple[str, str], tuple[str, str, str]]
    started: dict[tuple[str, str], tuple[str, str]]
    log: list[dict[str, object]]
    duplicates: list[dict[str, object]]


def _apply(
    state: State,
    kids_roster: ValidRoster | None,
    mentors_roster: ValidRoster | None,
    event_list: list[Event],
    day: str,
    seen: set[str],
) -> _Night:
    after, changes = apply_rosters(state, kids_roster, mentors_roster, date=day)
    ignored = _ignored_table(state, changes)
    if not event_list:
        return _Night(after, changes, ignored, {}, {}, [], [])
    outcome = apply_events(after, event_list, date=day, seen=seen)
    state_now, changes, ignored = _rejoined_rows(
        outcome.state, kids_roster, mentors_roster, day, changes
    )
    return _Night(
        state_now,
        changes,
        ignored,
        dict(outcome.ended),
        dict(outcome.started),
        list(outcome.log),
        list(outcome.duplicates),
    )


def _rejoined_rows(
    state: State,
    kids_roster: ValidRoster | None,
    mentors_roster: ValidRoster | None,
    day: str,
    changes: dict[str, list[str]],
) -> tuple[State, dict[str, list[str]], pd.DataFrame]:
    """Tonight's roster rows of people a rejoin event brought back tonight, applied now.

    Rosters are applied before events (so that events may name new
    referrals), so such a row was set aside as naming someone who had left;
    it is applied once they are back, and no longer listed as ignored.
    """
    rows: dict[str, ValidRoster | None] = {}
    back: dict[str, set[str]] = {}
    for roster, table, frame in (
        ("children", kids_roster, state.children),
        ("mentors", mentors_roster, state.mentors),
    ):
        status = dict(zip(frame["id"], frame["status"], strict=True))
        back[roster] = {
            i for i in changes[f"{roster}_ignored"] if status[i] not in DEPARTED_STATUSES
        }
        # ignored ids came from this roster, so it is there whenever back[roster] is not empty
        if back[roster] and table is not None:
            rows[roster] = table.select(table.frame["id"].isin(back[roster]))
        else:
            rows[roster] = None
    if not (back["children"] or back["mentors"]):
        ignored = _ignored_table(state, changes)
        return state, changes, ignored
    state, again = apply_rosters(state, rows["children"], rows["mentors"], date=day)
    merged = dict(changes)
    for roster in ("children", "mentors"):
        merged[f"{roster}_ignored"] = sorted(set(changes[f"{roster}_ignored"]) - back[roster])
        updated = set(changes[f"{roster}_updated"]) | set(again[f"{roster}_updated"])
        merged[f"{roster}_updated"] = sorted(updated)
    return state, merged, _ignored_table(state, merged)


def _ignored_table(state: State, changes: Mapping[str, list[str]]) -> pd.DataFrame:
    rows = []
    for roster, frame, reason in (
        ("children", state.children, "child_exited"),
        ("mentors", state.mentors, "mentor_left"),
    ):
        left_on = dict(zip(frame["id"], frame["left_on"], strict=True))
        rows += [(roster, i, reason, left_on[i]) for i in changes[f"{roster}_ignored"]]
    return pd.DataFrame(rows, columns=_IGNORED)


def _pair_changes(
    before: State, plan: RematchPlan, night: _Night
) -> tuple[dict[tuple[str, str], tuple[str, str]], dict[tuple[str, str], tuple[str, str, str]]]:
    """(started, ended) between the stored state and the plan's, with reasons and dates.

    A pair ended by an event and made again the same night (by re-matching or
    a staff override) is in both: its history row ends and a new one starts.
    """
    day = str(plan.metrics["date"])
    ended = dict(night.ended)
    started = dict(night.started)
    for c, m, reason in plan.ended.itertuples(index=False):
        ended[(c, m)] = (reason, "", day)
    for c, m, _, _, reason in plan.new_pairs.itertuples(index=False):
        started[(c, m)] = (reason, day)
    old = set(zip(before.pairs["child_id"], before.pairs["mentor_id"], strict=True))
    new = set(zip(plan.state.pairs["child_id"], plan.state.pairs["mentor_id"], strict=True))
    # ended by an event and made again tonight: the history records both
    restarted = {k for k in (old & new) if k in ended and k in started}
    started = {k: v for k, v in started.items() if (k in new and k not in old) or k in restarted}
    ended = {k: v for k, v in ended.items() if (k in old and k not in new) or k in restarted}
    return started, ended


def _counts(
    night: _Night,
    plan: RematchPlan,
    started: Mapping[Any, Any],
    ended: Mapping[Any, Any],
    geo_failures: Mapping[str, pd.DataFrame],
) -> dict[str, int]:
    changes = night.roster_changes
    counts = {
        "children_joined": len(changes["children_joined"]),
        "children_updated": len(changes["children_updated"]),
        "mentors_joined": len(changes["mentors_joined"]),
        "mentors_updated": len(changes["mentors_updated"]),
        "events_applied": len(night.log),
        "pairs_started": len(started),
        "pairs_ended": len(ended),
        "pairs_moved": len(plan.moved),
        "children_waiting": len(plan.waiting),
        "roster_rows_ignored": len(night.ignored),
        "events_duplicate": len(night.duplicates),
    }
    for roster, f in geo_failures.items():
        counts[f"{roster}_geocode_failed"] = len(f)
    counts["changes"] = sum(
        v for k, v in counts.items() if k not in _NOT_CHANGES and not k.endswith("_geocode_failed")
    )
    return counts


def _plan_files(
    plan: RematchPlan,
    ended: dict[tuple[str, str], tuple[str, str, str]],
    counts: dict[str, int],
    hashes: dict[str, str],
    date: str,
    dry_run: bool,
    run_id: int | None,
    night: _Night,
    geo_failures: Mapping[str, pd.DataFrame] | None,
) -> dict[str, bytes]:
    """The plan folder's files, rendered to bytes (deterministic for the same run)."""
    from matching._version import __version__

    ended_df = pd.DataFrame(
        [(c, m, r, a, on) for (c, m), (r, a, on) in sorted(ended.items())],
        columns=["child_id", "mentor_id", "reason", "approved_by", "ended_on"],
    )
    duplicates = pd.DataFrame(
        night.duplicates, columns=["number", "kind", "child_id", "mentor_id", "date"]
    )
    files = {
        "plan_new_pairs.csv": to_csv_bytes(plan.new_pairs, decimals=4),
        "plan_ended_pairs.csv": to_csv_bytes(ended_df),
        "plan_moved_pairs.csv": to_csv_bytes(plan.moved, decimals=4),
        "plan_waiting.csv": to_csv_bytes(plan.waiting),
        "plan_ignored_rows.csv": to_csv_bytes(night.ignored),
        "plan_duplicate_events.csv": to_csv_bytes(duplicates),
    }
    if geo_failures is not None:
        cols = ["roster", "id", "reason", "detail"]
        table = pd.concat([pd.DataFrame(columns=cols), *geo_failures.values()], ignore_index=True)
        files["geocode_failures.csv"] = to_csv_bytes(table)
    summary = {
        "library_version": __version__,
        "date": date,
        "run_id": run_id,
        "dry_run": dry_run,
        "counts": counts,
        "metrics": plan.metrics,
        "input_hashes": hashes,
    }
    text = json.dumps(summary, sort_keys=True, ensure_ascii=False, indent=2, default=str) + "\n"
    files["plan.json"] = text.encode("utf-8")
    return files


def _publish(
    out_dir: str | Path | None, contents: Mapping[str, bytes], step: Callable[[str], None]
) -> dict[str, Path]:
    if out_dir is None:
        return {}
    step("writing the plan")
    return publish_plan(out_dir, contents)


def publish_plan(out_dir: str | Path, contents: Mapping[str, bytes]) -> dict[str, Path]:
    """Write a plan folder whole: it holds exactly ``contents`` (name -> bytes) afterwards.

    The folder is written beside ``out_dir`` and swapped in at once
    (:func:`matching.reports.files.staged_folder`): a failure or a kill leaves the
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
