"""A night's inputs: the rosters (geocoded first, if asked) and events read and
validated, and everything that decides the night hashed, before the store is touched.

Every problem of the two rosters and the events comes out in one error
(:func:`matching.errors.combine_errors`), so staff fix all three in one round.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import pandas as pd

from matching.config import MatchConfig, RematchPolicy, validate_config, validate_policy
from matching.errors import EventError, InputError, RosterError, combine_errors
from matching.i18n import gettext as _
from matching.programme.events import Event, check_date, read_events
from matching.rosters import (
    RosterKind,
    ValidRoster,
    Vocabulary,
    load_children,
    load_mentors,
    valid_children,
    valid_mentors,
)

__all__ = ["NightInputs", "Source"]

_T = TypeVar("_T")

log = logging.getLogger("matching")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Source: TypeAlias = str | Path | pd.DataFrame | None


def _roster(
    source: Source, kind: RosterKind, hashes: dict[str, str], vocabulary: Vocabulary
) -> ValidRoster | None:
    """The roster, validated once here, before the store is touched."""
    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
        hashes.setdefault(kind, _sha256(source.to_csv(index=False).encode("utf-8")))
        valid = valid_children if kind == "children" else valid_mentors
        return valid(source, vocabulary=vocabulary)
    hashes[kind] = _sha256(Path(source).read_bytes())
    load = load_children if kind == "children" else load_mentors
    return load(source, vocabulary=vocabulary)


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
        log.warning(_("%s: %d record(s) could not be geocoded"), _(name), int(failed.sum()))
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


@dataclass(frozen=True)
class NightInputs:
    """Tonight's inputs, read and validated before the store is touched."""

    day: str
    config: MatchConfig
    policy: RematchPolicy
    kids: ValidRoster | None
    mentors: ValidRoster | None
    events: list[Event]
    hashes: dict[str, str]
    geo_failures: dict[str, pd.DataFrame] | None  # None without a geocoder
    digest: str

    @classmethod
    def read(
        cls,
        date: str,
        config: MatchConfig | None,
        policy: RematchPolicy | None,
        step: Callable[[str], None],
        *,
        children: Source,
        mentors: Source,
        events: str | Path | Sequence[Event] | None,
        geocoding: tuple[Any | None, str | Path | None, dict[str, Any] | None],
        vocabulary: Vocabulary,
    ) -> NightInputs:
        """Check the date, configuration and policy; geocode, read and validate the rosters;
        read the events; hash everything that decides the night (:attr:`digest`)."""
        day = check_date(date)
        cfg = validate_config(MatchConfig() if config is None else config)
        rules = validate_policy(policy)
        hashes: dict[str, str] = {}
        geocoder, geocode_cache, geocode_options = geocoding
        geo_failures: dict[str, pd.DataFrame] = {}
        if geocoder is not None:
            step("geocoding addresses")
            opts = dict(geocode_options or {})
            for name in ("children", "mentors"):
                src = children if name == "children" else mentors
                src = _geocoded(src, name, hashes, geocoder, geocode_cache, geo_failures, opts)
                children, mentors = (src, mentors) if name == "children" else (children, src)
        # every problem of the three inputs in one error, so staff fix them in one round
        errors: list[InputError] = []

        def checked(read: Callable[[], _T]) -> _T | None:
            try:
                return read()
            except (RosterError, EventError) as exc:
                errors.append(exc)
                return None

        kids_roster = checked(lambda: _roster(children, "children", hashes, vocabulary))
        mentors_roster = checked(lambda: _roster(mentors, "mentors", hashes, vocabulary))
        event_list = checked(lambda: _events(events, hashes)) or []
        if errors:
            raise combine_errors(errors)
        options = {**rules.to_dict(), "geocoding": geocoder is not None}
        digest = _digest({"date": day, "inputs": hashes, "config": cfg.to_dict(), **options})
        failures = geo_failures if geocoder is not None else None
        return cls(day, cfg, rules, kids_roster, mentors_roster, event_list, hashes, failures,
                   digest)  # fmt: skip
