"""What a commit records about its run, and the checks of a commit's arguments.

Internal to :mod:`matching.programme.store` (which exports :class:`RunInfo`).
Every check collects or raises problems that name ids, keys and columns,
never other personal data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from matching.errors import StoreError
from matching.programme.store.codec import Encoded, Pair, dumps, is_iso

__all__ = ["RunInfo"]

Start = tuple[str, str, str, str]
"""A pair that starts: (child, mentor, reason, started_on)."""
End = tuple[str, str, str, str, str]
"""A pair that ends: (child, mentor, reason, approved_by, ended_on)."""

Reasons = Mapping[Any, Any]
"""``started`` or ``ended`` of :meth:`StateStore.commit`: pair -> its reason."""

# keys of an event mapping that are columns of ``events``; any other goes into the payload
_EVENT_KEYS = frozenset(
    {"kind", "child_id", "mentor_id", "actor", "note", "payload", "date", "key"}
)
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _library_version() -> str:
    from matching._version import __version__

    return str(__version__)


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """What a commit records about the run that made it.

    Attributes
    ----------
    run_date : str
        ISO date (``"2026-11-24"``) the run stands for: pairs that start or
        end in this commit start or end on this date.
    kind : str
        Free text: ``"nightly"``, ``"api"``, ``"import"``, ...
    library_version : str
        Version of mentor-matching that made the run (this one by default).
    config, input_hashes, metrics, counts : Mapping
        JSON-able mappings (numpy scalars, tuples and dataclasses are
        converted; NaN and infinities become ``null``).  The store adds its
        own counts of what changed (see :meth:`StateStore.commit`) to
        ``counts``.
    inputs_digest : str or None
        A digest of everything that decides the run's outcome (the nightly
        job hashes its rosters, events, date, configuration and options):
        :meth:`StateStore.find_run` finds a run already committed with the
        same digest, so that the night is not applied twice.
    """

    run_date: str
    kind: str = "nightly"
    library_version: str = field(default_factory=_library_version)
    config: Mapping[str, Any] = field(default_factory=dict)
    input_hashes: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, Any] = field(default_factory=dict)
    inputs_digest: str | None = None


# ----------------------------------------------------------------------------------------------
# the run, its events and its files


def check_run(run: Any) -> dict[str, Any]:
    """The ``runs`` row of ``run`` (JSON texts; counts are added later)."""
    if not isinstance(run, RunInfo):
        raise StoreError(f"run must be a RunInfo, not {type(run).__name__}")
    date = run.run_date
    if not (isinstance(date, str) and is_iso(date)):
        raise StoreError("run.run_date must be an ISO date such as '2026-11-24'")
    digest = run.inputs_digest
    if digest is not None and not (isinstance(digest, str) and digest):
        raise StoreError("run.inputs_digest must be None or non-empty text")
    if not isinstance(run.kind, str) or not run.kind:
        raise StoreError("run.kind must be non-empty text")
    if not isinstance(run.library_version, str):
        raise StoreError("run.library_version must be text")
    row: dict[str, Any] = {
        "run_date": date,
        "kind": run.kind,
        "library_version": run.library_version,
        "inputs_digest": digest,
    }
    for name in ("config", "input_hashes", "metrics", "counts"):
        value = getattr(run, name)
        if not isinstance(value, Mapping) and not (
            dataclasses.is_dataclass(value) and not isinstance(value, type)
        ):
            raise StoreError(f"run.{name} must be a mapping")
        row[name] = dumps(value, f"run.{name}")
    return row


def check_events(events: Sequence[Mapping[str, object]], run_date: str) -> list[dict[str, Any]]:
    """The ``events`` rows of a commit's events (without ``run_id`` and ``seq``)."""
    if isinstance(events, Mapping | str):
        raise StoreError("events must be a sequence of mappings")
    out = []
    for number, event in enumerate(events):
        where = f"events[{number}]"
        if not isinstance(event, Mapping):
            raise StoreError(f"{where} is not a mapping")
        kind = event.get("kind")
        if not isinstance(kind, str) or not kind:
            raise StoreError(f"{where}: 'kind' must be non-empty text")
        row: dict[str, Any] = {"kind": kind, **_event_texts(event, where)}
        day = event.get("date") or run_date
        if not (isinstance(day, str) and is_iso(day)) or day > run_date:
            raise StoreError(f"{where}: 'date' must be an ISO date no later than the run's date")
        row["date"] = day
        key_value = event.get("key")
        if key_value is not None and not (isinstance(key_value, str) and key_value):
            raise StoreError(f"{where}: 'key' must be None or non-empty text")
        row["key"] = key_value
        row["payload"] = _event_payload(event, where)
        out.append(row)
    return out


def _event_texts(event: Mapping[str, object], where: str) -> dict[str, Any]:
    """The ids (text or None) and the ``actor`` and ``note`` (text, blank if absent)."""
    row: dict[str, Any] = {}
    for key in ("child_id", "mentor_id"):
        value = event.get(key)
        if value is not None and not isinstance(value, str):
            raise StoreError(f"{where}: {key!r} must be text or None")
        row[key] = value
    for key in ("actor", "note"):
        value = event.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise StoreError(f"{where}: {key!r} must be text")
        row[key] = value
    return row


def _event_payload(event: Mapping[str, object], where: str) -> str:
    """The event's payload with its other keys merged in, as JSON text."""
    payload = event.get("payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise StoreError(f"{where}: 'payload' must be a mapping")
    merged = dict(payload)
    for key, value in event.items():
        if key in _EVENT_KEYS:
            continue
        if key in merged:
            raise StoreError(f"{where}: {key!r} is both a key of the event and of its payload")
        merged[key] = value
    return dumps(merged, f"{where} payload")


def check_files(files: Any) -> dict[str, bytes]:
    """A run's files, name -> bytes; names are plain file names."""
    if not isinstance(files, Mapping):
        raise StoreError("files must be a mapping of name to bytes")
    out: dict[str, bytes] = {}
    for name, data in files.items():
        if not isinstance(name, str) or _FILE_NAME.fullmatch(name) is None:
            raise StoreError("files: a name is not a plain file name")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StoreError(f"files[{name!r}] is not bytes")
        out[name] = bytes(data)
    return out


# ----------------------------------------------------------------------------------------------
# the new state against the stored one


def check_pairs(
    new: Encoded,
    old: Encoded,
    started: Reasons,
    ended: Reasons,
    run_date: str,
) -> tuple[list[str], list[Start], list[End]]:
    """Problems of the new state against the stored one; the pairs that start and end."""
    problems = _people_problems(new, old) + _pair_problems(new, run_date)
    # a pair that ends and starts again in this commit (ended by an event, made again by
    # the re-match or a staff override) is named in both ``started`` and ``ended``
    restarted = {
        key
        for key in started.keys() & ended.keys()
        if isinstance(key, tuple) and key in old.pairs and key in new.pairs
    }
    problems += _reason_problems(new, old, (started, ended), restarted)
    starts: list[Start] = []
    for key in sorted((new.pairs.keys() - old.pairs.keys()) | restarted):
        value = started.get(key)
        reason = value if isinstance(value, str) else value[0] if value else ""
        starts.append((key[0], key[1], reason or new.pairs[key][1] or "matched", new.pairs[key][0]))
    if problems:
        return problems, starts, []
    ends = _ends(new, old, ended, restarted, run_date, problems)
    return problems, starts, ends


def _people_problems(new: Encoded, old: Encoded) -> list[str]:
    """Everyone stored must still be in the new state: people are never removed."""
    problems = []
    for name, new_rows, old_rows in (
        ("children", new.children, old.children),
        ("mentors", new.mentors, old.mentors),
    ):
        for ident in sorted(old_rows.keys() - new_rows.keys()):
            problems.append(
                f"new_state.{name}: {ident} is missing; people are never removed "
                "(their status records that they left)"
            )
    return problems


def _pair_problems(new: Encoded, run_date: str) -> list[str]:
    """Each pair's people are enrolled, the pair is allowed and started, capacity is kept."""
    problems = []
    load: dict[str, int] = {}
    for child, mentor in new.pairs:
        label = f"pair ({child}, {mentor})"
        if child not in new.children:
            problems.append(f"{label}: child {child} is not in new_state.children")
        elif new.children[child][1] == "exited":
            problems.append(f"{label}: child {child} has exited")
        if mentor not in new.mentors:
            problems.append(f"{label}: mentor {mentor} is not in new_state.mentors")
        elif new.mentors[mentor][1] == "left":
            problems.append(f"{label}: mentor {mentor} has left")
        if (child, mentor) in new.forbidden:
            problems.append(f"{label} is forbidden")
        if new.pairs[(child, mentor)][0] > run_date:
            problems.append(f"{label} starts after the run's date")
        load[mentor] = load.get(mentor, 0) + 1
    for mentor, count in sorted(load.items()):
        cap = new.capacity.get(mentor)
        if cap is not None and count > cap:
            problems.append(f"mentor {mentor} has {count} pairs but capacity {cap}")
    return problems


def _reason_problems(
    new: Encoded, old: Encoded, reasons: tuple[Reasons, Reasons], restarted: set[Pair]
) -> list[str]:
    """``started`` and ``ended`` name only pairs that start / end now, each with a reason:
    ``reason`` or ``(reason, started_on)``; ``(reason, approved_by[, ended_on])``."""
    problems = []
    for word, named, now in (
        ("started", reasons[0], new.pairs.keys() - old.pairs.keys()),
        ("ended", reasons[1], old.pairs.keys() - new.pairs.keys()),
    ):
        for key, value in named.items():
            if not (key in now or key in restarted):
                problems.append(f"{word} names {_key_label(key)}, which is not a pair {word} now")
            elif word == "started" and not _start_reason_ok(value, new.pairs[key][0]):
                problems.append(
                    f"started[{_key_label(key)}] is not a reason, or "
                    "(reason, the pair's started_on)"
                )
            elif word == "ended" and not _end_reason_ok(value):
                problems.append(
                    f"ended[{_key_label(key)}] is not (reason, approved_by) or "
                    "(reason, approved_by, ended_on)"
                )
    return problems


def _start_reason_ok(value: Any, started_on: str) -> bool:
    reason, on = (value, None) if isinstance(value, str) else (None, None)
    if isinstance(value, tuple | list) and len(value) == 2:
        reason, on = value
    return isinstance(reason, str) and (on is None or on == started_on)


def _end_reason_ok(value: Any) -> bool:
    return (
        isinstance(value, tuple | list)
        and len(value) in (2, 3)
        and all(isinstance(v, str) for v in value)
        and (len(value) == 2 or is_iso(value[2]))
    )


def _ends(
    new: Encoded,
    old: Encoded,
    ended: Mapping[Any, Any],
    restarted: set[Pair],
    run_date: str,
    problems: list[str],
) -> list[End]:
    """The pairs that end, dated within their start and the run; appends the dates' problems."""
    ends: list[End] = []
    for key in sorted((old.pairs.keys() - new.pairs.keys()) | restarted):
        why: tuple[str, ...] = tuple(ended.get(key, ("re-matched", "")))
        ended_on = why[2] if len(why) == 3 else run_date
        if ended_on < old.pairs[key][0] or ended_on > run_date:
            problems.append(
                f"pair ({key[0]}, {key[1]}) would end on {ended_on}, outside its start "
                f"({old.pairs[key][0]}) and the run's date ({run_date})"
            )
        if key in restarted and new.pairs[key][0] < ended_on:
            problems.append(
                f"pair ({key[0]}, {key[1]}) would start again on {new.pairs[key][0]}, "
                f"before it ended ({ended_on})"
            )
        ends.append((key[0], key[1], why[0], why[1], ended_on))
    return ends


def _key_label(key: Any) -> str:
    if isinstance(key, tuple) and all(isinstance(v, str) for v in key):
        return f"({', '.join(key)})"
    return f"a key of type {type(key).__name__}"
