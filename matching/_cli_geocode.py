"""The geocoding part of the ``matching`` command: ``matching geocode``, and the
``--geocode`` options of ``match`` and ``nightly`` (:mod:`matching.cli` runs them).

Terminal output carries counts only; keys are read from the environment and
never printed; failures are listed by id and reason, never by address.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matching.config import GeocodeConfig, load_geocode_config
from matching.errors import ConfigError, InputError, RosterError
from matching.i18n import gettext as _
from matching.reports import write_csv

if TYPE_CHECKING:
    from matching.geo import GeocodeResult
    from matching.rosters import Vocabulary

__all__ = [
    "GEOCODE_FAILURES",
    "cmd_geocode",
    "geocode_match_rosters",
    "nightly_geocoding",
    "write_match_geocode_failures",
]

log = logging.getLogger("matching")

GEOCODE_FAILURES = "geocode_failures.csv"

# geopy logs retries with tracebacks; without a handler of its own they would reach stderr
# through logging's last resort.  With -v, ``geocode`` and ``match --geocode`` show them
# (addresses and keys redacted by the lookup); the nightly job reports counts only.
logging.getLogger("geopy").addHandler(logging.NullHandler())


@contextlib.contextmanager
def _geopy_logging(args: argparse.Namespace) -> Iterator[None]:
    """Show geopy's warnings (retries) on stderr with -v, while geocoding."""
    if getattr(args, "verbose", 0) < 1 or not log.handlers:
        yield
        return
    geopy_log, handler = logging.getLogger("geopy"), log.handlers[-1]
    geopy_log.addHandler(handler)
    try:
        yield
    finally:
        geopy_log.removeHandler(handler)


def _geocode_settings(
    args: argparse.Namespace, provider: str | None, cache: str | None
) -> GeocodeConfig:
    """The ``[geocode]`` table of ``--config``, with the options given on the command line."""
    base = load_geocode_config(args.config)
    given = {"provider": provider, "key_env": args.key_env, "cache": cache}
    settings = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
    if settings.provider is None:
        raise ConfigError(
            _(
                "no geocoding provider: give --provider (amap, baidu or nominatim) "
                "or provider in the [geocode] table of --config"
            )
        )
    return settings


def _geocoder(settings: GeocodeConfig) -> Any:
    from matching.geo import make_geocoder

    assert settings.provider is not None  # _geocode_settings refuses a missing provider
    return make_geocoder(
        settings.provider,
        key_env=settings.key_env,
        user_agent=settings.user_agent,
        timeout=settings.timeout_seconds,
        domain=settings.domain,
        scheme=settings.scheme,
    )


def _geocode_options(settings: GeocodeConfig) -> dict[str, Any]:
    """Keywords of :func:`matching.geo.geocode_roster` from the settings (cache apart)."""
    from matching.geo import DEFAULT_MIN_DELAY_SECONDS

    delay = settings.min_delay_seconds
    if delay is None:
        assert settings.provider is not None  # _geocode_settings refuses a missing provider
        delay = DEFAULT_MIN_DELAY_SECONDS[settings.provider]
    return {
        "address_column": settings.address_column,
        "min_delay_seconds": delay,
        "max_retries": settings.max_retries,
        "error_wait_seconds": settings.error_wait_seconds,
    }


def _geocode_table(raw: Any, settings: GeocodeConfig, geocoder: Any) -> GeocodeResult:
    """:func:`matching.geo.geocode_roster` with the settings; the counts go to the log."""
    from matching.geo import geocode_roster

    result = geocode_roster(raw, geocoder, cache=settings.cache, **_geocode_options(settings))
    log.info(
        "geocoding: %d request(s), %d cache hit(s), %d failure(s)",
        result.n_requests,
        result.n_cache_hits,
        len(result.failures),
    )
    return result


def _geocode_counts(name: str, result: GeocodeResult) -> list[str]:
    """The lines printed for one geocoded roster: counts only."""
    status = result.frame["geocode_status"].value_counts()
    counts = [
        (_("rows"), len(result.frame)),
        (_("had coordinates"), int(status.get("present", 0))),
        (_("geocoded now"), int(status.get("geocoded", 0))),
        (_("from the cache"), int(status.get("cached", 0))),
        (_("not geocoded"), len(result.failures)),
        (_("requests sent"), result.n_requests),
    ]
    head = _("geocoding {file}:").format(file=name)
    return [head, *(f"  {label}: {value}" for label, value in counts)]


def _write_roster_file(frame: Any, path: Path) -> Path:
    """The roster, whole, as CSV or (for ``.xlsx``) an Excel workbook, written atomically."""
    from matching.reports import neutralise, write_bytes_atomic

    if path.suffix.lower() == ".csv":
        return write_csv(frame, path)
    try:
        import openpyxl  # noqa: F401  (pandas writes .xlsx with it)
    except ImportError:
        raise InputError(
            _("writing .xlsx needs openpyxl: pip install 'mentor-matching[excel]'")
        ) from None
    safe = frame.copy()
    for column in safe.columns:  # text a spreadsheet would run as a formula
        if safe[column].dtype == object:
            safe[column] = [neutralise(v) if isinstance(v, str) else v for v in safe[column]]
    buffer = io.BytesIO()
    safe.to_excel(buffer, index=False, engine="openpyxl")
    return write_bytes_atomic(path, buffer.getvalue())


def cmd_geocode(args: argparse.Namespace) -> int:
    from matching.geo import describe_failures
    from matching.rosters import read_table

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise InputError(
            _("cannot write {path!r}: --out must end in .csv or .xlsx").format(path=str(out))
        )
    failures_path = out.with_name(f"{out.stem}_{GEOCODE_FAILURES}")
    settings = _geocode_settings(args, args.provider, args.cache)
    geocoder = _geocoder(settings)
    log.info("reading roster %s", args.roster)
    raw = read_table(args.roster)
    with _geopy_logging(args):
        result = _geocode_table(raw, settings, geocoder)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [
        _write_roster_file(result.frame.drop(columns=["geocode_status"]), out),
        write_csv(describe_failures(result.failures), failures_path),
    ]
    if not args.quiet:
        for line in _geocode_counts(Path(args.roster).name, result):
            print(line)
        print(_("wrote:"))
        for path in written:
            print(f"  {path}")
    return 0  # success (matching.cli's exit codes)


@dataclasses.dataclass(frozen=True)
class _GeocodedRosters:
    """The two rosters of ``matching match --geocode``, geocoded and validated, and the
    rows left out (by roster file, id and reason)."""

    children: Any
    mentors: Any
    failures: Any


def geocode_match_rosters(
    args: argparse.Namespace, children_path: Path, mentors_path: Path, vocabulary: Vocabulary
) -> _GeocodedRosters | None:
    """With ``--geocode``: each roster read raw, its missing coordinates filled from its
    addresses, the rows that could not be placed left out, then validated.  None without."""
    if getattr(args, "geocode", None) is None:
        return None
    import pandas as pd

    from matching.geo import ADDRESS_ALIASES, FAILURE_REASONS
    from matching.rosters import (
        RosterKind,
        RosterSource,
        find_column,
        read_table,
        validate_roster,
    )

    settings = _geocode_settings(args, args.geocode, args.geocode_cache)
    geocoder = _geocoder(settings)
    frames, failures, errors = [], [], []
    kinds: tuple[tuple[Path, RosterKind], ...] = (
        (children_path, "children"),
        (mentors_path, "mentors"),
    )
    for path, kind in kinds:
        raw = read_table(path, roster=kind)
        wanted = settings.address_column.strip().lower()
        if find_column(raw, (wanted, *ADDRESS_ALIASES)) is not None:
            with _geopy_logging(args):
                result = _geocode_table(raw, settings, geocoder)
            if not args.quiet:
                print("\n".join(_geocode_counts(path.name, result)))
            failed = result.frame["geocode_status"].isin(FAILURE_REASONS)
            raw = result.frame.loc[~failed].drop(columns=["geocode_status"])
            failures.append(result.failures.assign(roster=path.name))
        # rows left out shift the data rows, so problems name ids rather than lines
        source = RosterSource(str(path), lambda n: None)
        try:  # both rosters validated, so every problem of both comes out at once
            valid = validate_roster(
                raw.reset_index(drop=True), kind, source=source, vocabulary=vocabulary
            )
            frames.append(valid.frame)
        except RosterError as exc:
            errors.append(exc)
    if errors:
        raise RosterError.combine(errors)
    columns = ["roster", "id", "reason", "detail"]
    table = pd.concat(failures, ignore_index=True) if failures else pd.DataFrame()
    table = table.reindex(columns=columns)
    return _GeocodedRosters(frames[0], frames[1], table)


def write_match_geocode_failures(geocoded: _GeocodedRosters | None, stage: Path) -> list[Path]:
    """``geocode_failures.csv`` of ``matching match --geocode`` (ids and reasons only)."""
    from matching.geo import describe_failures

    if geocoded is None:
        return []
    return [write_csv(describe_failures(geocoded.failures), stage / GEOCODE_FAILURES)]


def nightly_geocoding(args: argparse.Namespace) -> dict[str, Any]:
    """The geocoding keywords of :func:`matching.programme.nightly.run_nightly` for
    ``--geocode`` (none without it)."""
    if getattr(args, "geocode", None) is None:
        return {}
    settings = _geocode_settings(args, args.geocode, args.geocode_cache)
    return {
        "geocoder": _geocoder(settings),
        "geocode_cache": settings.cache,
        "geocode_options": _geocode_options(settings),
    }
