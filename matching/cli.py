"""Command-line interface: ``matching match``, ``demo``, ``nightly``, ``plan``, ``ledger``,
``backup`` and ``province``.

Usage::

    matching match CHILDREN MENTORS --out DIR [--config FILE.toml] [--method sparse|dense]
                   [--xlsx [--language zh|en]] [--carry-columns HEADERS]
    matching demo [--out DIR] [--children N] [--mentors N] [--seed S] [--xlsx [--language zh|en]]
                  [--carry-columns HEADERS]
    matching nightly --db STATE --out DIR [--children FILE] [--mentors FILE] [--events FILE]
                     [--date YYYY-MM-DD] [--config FILE.toml] [--dry-run] [--xlsx]
                     [--carry-columns 姓名,联系电话] ...
    matching plan --db STATE --run N --out DIR [--xlsx]
                  [--carry-columns COLS --children FILE --mentors FILE]
    matching ledger --db STATE --out DIR [--child ID] [--xlsx]
    matching backup --db STATE --to FILE
    matching province --root DIR --children FILE --mentors FILE
                      [--threads N | --processes N | --workers N | --scheduler ADDR]
    matching geocode ROSTER --out FILE [--provider amap|baidu|nominatim] [--key-env VAR]
                     [--cache FILE] [--config FILE.toml]
    matching --version

``geocode`` fills the missing coordinates of a roster from its address
column and writes the roster whole to ``--out`` (``.csv`` or ``.xlsx``), with
the rows it could not place listed by id and reason in
``<out>_geocode_failures.csv`` beside it.  ``match`` and ``nightly`` do the
same first with ``--geocode PROVIDER`` (``[--key-env VAR]
[--geocode-cache FILE]``): rows that cannot be placed are left out and
listed in ``geocode_failures.csv`` (``match``) or the plan (``nightly``).  A
service key is read from the environment variable named by ``--key-env``,
never from the command line.  Settings not given come from the
``[geocode]`` table of ``--config``.

``match`` reads the two rosters (``.csv`` or ``.xlsx``), matches them and
writes ``pairs.csv``, ``unmatched.csv`` and ``summary.json`` into ``DIR``.
With ``--xlsx`` both also write the staff workbook ``report.xlsx``
(:func:`matching.reports.excel.write_workbook`; ``--language`` picks Chinese or
English headers).  ``--carry-columns 姓名,联系电话`` (or ``carry_columns`` in the
``[output]`` table of ``--config``) copies those roster columns beside each id into
``pairs.csv``, ``unmatched.csv`` and ``report.xlsx``, never into ``summary.json``,
the terminal or the log.  ``demo`` generates a synthetic district, writes its rosters as
``children.csv`` and ``mentors.csv`` and then does the same.

``nightly`` commits a night and writes its plan folder; ``plan`` writes a
committed night's plan again (:mod:`matching.programme.plan`).  The plan is
written in the language of ``[output] language`` (``--config``) or the
locale; ``--xlsx`` adds ``plan.xlsx`` (a summary in plain words, a sheet per
kind of change); ``--carry-columns`` (or ``[output] carry_columns``) puts
staff's own roster columns beside the ids in the plan's CSV files and
workbook, never into ``plan.json``, the store, the log or the terminal.

``ledger`` writes each child's ledger from the state store
(:func:`matching.programme.ledger`): ``ledger.csv``, ``ledger_children.csv``,
``ledger_mentors.csv`` and, with ``--xlsx``, ``ledger.xlsx``, in the run's
language; ``--child ID`` keeps one child's rows.  The terminal shows counts.

The help (``--help``, ``COMMAND --help``) is in the run's language too: ``--language``,
else the ``[output] language`` of ``--config``, else the locale.

Exit codes
----------
0
    Success (also ``--help`` and ``--version``).
1
    Input rejected: an invalid roster, configuration or parameter
    (:class:`~matching.errors.RosterError`, :class:`~matching.errors.ConfigError`,
    :class:`~matching.errors.InputError`, :class:`~matching.errors.InfeasibleError`),
    a file that is missing or cannot be read or written, or a state store that
    is locked by another run, empty, foreign or damaged
    (:class:`~matching.errors.StoreError`).  The first line
    on stderr is ``error: ...``; the details follow, one per line.
2
    Usage error (bad command line), or an unexpected internal error, reported
    as ``internal error: <ExceptionType>: ...``.  Set ``MATCHING_DEBUG=1`` to
    see the traceback.
130
    Interrupted (Ctrl-C).

Rosters hold personal data about children: terminal output, log messages
and error messages carry ids and counts only.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matching._cli_geocode import (
    GEOCODE_FAILURES,
    cmd_geocode,
    geocode_match_rosters,
    nightly_geocoding,
    write_match_geocode_failures,
)
from matching._cli_parser import build_parser
from matching.config import (
    MatchConfig,
    RematchPolicy,
    load_config,
    load_output_config,
    load_rematch_policy,
    load_vocabulary,
)
from matching.errors import InputError, MatchingError
from matching.i18n import N_, check_language, current_language, set_language, use_language
from matching.i18n import gettext as _
from matching.match import MatchResult, match
from matching.reports import OUTPUT_FILES, staged_folder, write_csv, write_result
from matching.rosters import load_rosters, validate_children, validate_mentors

__all__ = ["main"]

log = logging.getLogger("matching")

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 2
EXIT_INTERRUPTED = 130


def _write_xlsx(
    args: argparse.Namespace, result: MatchResult, out: Path, rosters: dict[str, Any]
) -> list[Path]:
    if not getattr(args, "xlsx", False):
        return []
    from matching.reports.excel import write_workbook

    return [write_workbook(result, out / "report.xlsx", language=args.language, **rosters)]


def _carry_columns(args: argparse.Namespace) -> tuple[str, ...]:
    """``--carry-columns`` (parsed: ASCII or Chinese commas), else the config's."""
    given = getattr(args, "carry_columns", None)
    if given is not None:
        return tuple(given)
    config = getattr(args, "config", None)
    return load_output_config(config).carry_columns if config is not None else ()


def _staff_rosters(args: argparse.Namespace, children: Any, mentors: Any) -> dict[str, Any]:
    """The keyword arguments that put the rosters' carried columns into the staff files."""
    return {"children": children, "mentors": mentors, "carry_columns": _carry_columns(args)}


# ----------------------------------------------------------------------------------------------
# commands


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _log_rosters(children: Any, mentors: Any) -> None:
    n_active = int(mentors["active"].sum()) if len(mentors) else 0
    log.info("rosters: %d children, %d mentors (%d active)", len(children), len(mentors), n_active)


def _run_match(children: Any, mentors: Any, config: MatchConfig, method: str) -> MatchResult:
    log.info("matching (method=%s)", method)
    start = time.perf_counter()
    result = match(children, mentors, config, method=method)  # type: ignore[arg-type]
    m = result.metrics
    log.info(
        "matched in %.2f s: %d pairs, %d unmatched",
        time.perf_counter() - start,
        m["n_pairs"],
        m["n_unmatched"],
    )
    return result


def _report(result: MatchResult, paths: Sequence[Path], quiet: bool) -> None:
    for p in paths:
        log.info("wrote %s", p)
    if quiet:
        return
    print(result.summary())
    print(_("wrote:"))
    for p in paths:
        print(f"  {p}")


def _print_readings(args: argparse.Namespace, rosters: dict[str, Any]) -> None:
    """How each roster file was read (encoding, header line, notes, words and units), when
    there is something to say: counts and vocabulary words only, never a cell."""
    if args.quiet:
        return
    for name, roster in rosters.items():
        reading = getattr(roster, "reading", None)
        lines = reading.describe() if reading is not None else []
        if lines:
            print(_("read {file}:").format(file=name))
            for line in lines:
                print(f"  {line}")


def _out_dir(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(
            _("cannot write to {path!r}: it exists and is not a directory").format(path=str(out))
        )
    return out


def _cmd_match(args: argparse.Namespace) -> int:
    out = _out_dir(args.out)
    # the output folder is replaced as a whole at the end; entering checks it first, so
    # a folder that cannot be replaced is refused before the rosters are read
    folder = staged_folder(out, owned=(*OUTPUT_FILES, GEOCODE_FAILURES))
    with folder as stage:
        children_path, mentors_path = Path(args.children), Path(args.mentors)
        if args.config is not None:
            log.info("reading config %s", args.config)
            config = load_config(args.config)
        else:
            config = MatchConfig()
        vocabulary = load_vocabulary(args.config)
        geocoded = geocode_match_rosters(args, children_path, mentors_path, vocabulary)
        if geocoded is None:
            log.info("reading the rosters %s and %s", children_path, mentors_path)
            # both validated, and every problem of both reported, before either is used
            kids, moms = load_rosters(children_path, mentors_path, vocabulary=vocabulary)
            _print_readings(args, {children_path.name: kids, mentors_path.name: moms})
            children, mentors = kids.frame, moms.frame
        else:
            children, mentors = geocoded.children, geocoded.mentors
        _log_rosters(children, mentors)
        result = _run_match(children, mentors, config, args.method)
        extra = {
            "command": "match",
            "inputs": {
                "children": {"file": children_path.name, "sha256": _sha256(children_path)},
                "mentors": {"file": mentors_path.name, "sha256": _sha256(mentors_path)},
                "config": None if args.config is None else Path(args.config).name,
            },
        }
        rosters = _staff_rosters(args, children, mentors)
        written = write_result(
            result, stage, extra=extra, replace_folder=False, language=args.language, **rosters
        )
        staged = [*written.values(), *_write_xlsx(args, result, stage, rosters)]
        staged += write_match_geocode_failures(geocoded, stage)
    _report(result, [folder.final(p) for p in staged], args.quiet)
    return EXIT_OK


_PHASES = (
    N_("validating input"),
    N_("loading the state store"),
    N_("applying rosters and events"),
    N_("re-matching"),
    N_("committing"),
    N_("writing the plan"),
    N_("done"),
)


def _progress(quiet: bool) -> Any:
    """A phase display on a terminal (one line, rewritten); plain log lines otherwise."""
    tty = sys.stderr.isatty() and not quiet

    def show(phase: str) -> None:
        if not tty:
            log.info(_("nightly: %s"), _(phase))
            return
        k = _PHASES.index(phase) + 1 if phase in _PHASES else 0
        bar = "#" * k + "." * (len(_PHASES) - k)
        end = "\n" if phase == "done" else ""
        print(f"\r[{bar}] {_(phase):<30}", end=end, file=sys.stderr, flush=True)

    return show


def _run_date(args: argparse.Namespace) -> str:
    """``--date``, or today in the programme's time zone (``[nightly] timezone``)."""
    from matching.config import load_nightly_config
    from matching.programme.nightly import today

    if args.date:
        return str(args.date)
    return today(load_nightly_config(args.config).timezone)


def _policy(args: argparse.Namespace) -> RematchPolicy:
    """The ``[rematch]`` table of ``--config``, with the options given on the command line."""
    given = {
        "allow_moves": getattr(args, "allow_moves", None),
        "switching_cost_km": getattr(args, "switching_cost_km", None),
        "max_moves": getattr(args, "max_moves", None),
        "price_of_stability": False if args.skip_price_of_stability else None,
    }
    base = load_rematch_policy(args.config)
    return dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})


def _plan_options(args: argparse.Namespace) -> tuple[str | None, tuple[str, ...]]:
    """The plan folder's language and staff's columns: the command line, then the
    ``[output]`` table of ``--config`` (``plan`` has none), then the locale."""
    from matching.config import load_output_config

    output = load_output_config(getattr(args, "config", None))
    language = getattr(args, "language", None) or output.language
    columns = args.carry_columns if args.carry_columns is not None else output.carry_columns
    return language, tuple(columns)


def _cmd_nightly(args: argparse.Namespace) -> int:
    from matching.programme.nightly import already_committed_line, run_nightly

    policy = _policy(args)
    out = _out_dir(args.out)
    config = load_config(args.config) if args.config is not None else MatchConfig()
    language, carry = _plan_options(args)
    date = _run_date(args)
    with use_language(language):
        report = run_nightly(
            args.db, out_dir=out, date=date, children=args.children, mentors=args.mentors,
            events=args.events, config=config, dry_run=args.dry_run, policy=policy,
            progress=_progress(args.quiet), xlsx=args.xlsx, carry_columns=carry,
            vocabulary=load_vocabulary(args.config), **nightly_geocoding(args),
        )  # fmt: skip
        if args.quiet:
            return EXIT_OK
        if report.already_committed:
            print(already_committed_line(date, report.run_id or 0))
            if report.files:
                print(_("wrote the plan of run {run} again:").format(run=report.run_id))
        else:
            if args.dry_run:
                print(_("nightly {date}: dry run (nothing committed)").format(date=date))
            else:
                print(_("nightly {date}: run {run}").format(date=date, run=report.run_id))
            for line in report.summary[1:]:  # the first line is the head printed above
                print(f"  {line}")
            if report.files:
                print(_("the plan's files:"))
        for path in report.files.values():
            print(f"  {path}")
    return EXIT_OK


def _cmd_plan(args: argparse.Namespace) -> int:
    from matching.programme.nightly import PLAN_FILES, publish_plan
    from matching.programme.plan_text import carry_from_rosters
    from matching.programme.store import StateStore
    from matching.rosters import load_children, load_mentors

    out = _out_dir(args.out)
    language, carry = _plan_options(args)
    with use_language(language):
        carried = None
        if carry:
            if args.children is None and args.mentors is None:
                raise InputError(
                    _("--carry-columns needs the rosters to take them from: --children, --mentors")
                )
            carried = carry_from_rosters(
                carry,
                children=load_children(args.children).frame if args.children else None,
                mentors=load_mentors(args.mentors).frame if args.mentors else None,
            )
        with StateStore.open(args.db, readonly=True) as store:
            files = store.run_files(args.run)
        if not files:
            raise InputError(
                _(
                    "run {run} stored no plan (runs committed before schema 2, or not by the "
                    "nightly job, have none)"
                ).format(run=args.run)
            )
        written = publish_plan(out, files, language=language, carried=carried, xlsx=args.xlsx)
        assert set(written) <= set(PLAN_FILES)
        if not args.quiet:
            print(_("plan of run {run}:").format(run=args.run))
            for path in written.values():
                print(f"  {path}")
    return EXIT_OK


def _cmd_ledger(args: argparse.Namespace) -> int:
    from matching.programme.ledger import ledger, ledger_summary_lines, write_ledger

    out = _out_dir(args.out)
    book = ledger(args.db, child=args.child)
    written = write_ledger(out, book, language=args.language, xlsx=args.xlsx)
    if not args.quiet:
        for line in ledger_summary_lines(book, language=args.language):
            print(line)
        for path in written.values():
            print(f"  {path}")
    return EXIT_OK


def _cmd_backup(args: argparse.Namespace) -> int:
    from matching.programme.store import backup

    target = backup(args.db, args.to)
    if not args.quiet:
        print(_("backed up {db} to {target}").format(db=args.db, target=target))
    return EXIT_OK


def _province_events(folder: str | None) -> dict[str, Path]:
    from matching.programme.events import EVENT_FILE_SUFFIXES

    if folder is None:
        return {}
    root = Path(folder)
    if not root.is_dir():
        raise InputError(
            _("events folder {path!r} does not exist or is not a folder").format(path=str(root))
        )
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.suffix.lower() in EVENT_FILE_SUFFIXES and path.is_file():
            if path.stem in found:
                raise InputError(
                    _("two events files for district {district!r}").format(district=path.stem)
                )
            found[path.stem] = path
    return found


def _cmd_province(args: argparse.Namespace) -> int:
    from matching.programme import run_province_nightly
    from matching.scale.executors import (
        DaskExecutor,
        Executor,
        ProcessExecutor,
        SerialExecutor,
        ThreadExecutor,
    )

    config = load_config(args.config) if args.config is not None else MatchConfig()
    date = _run_date(args)
    events = _province_events(args.events_dir)
    executor: Executor = SerialExecutor()
    if args.scheduler:
        executor = DaskExecutor(scheduler_address=args.scheduler)
    elif args.workers:
        executor = DaskExecutor(n_workers=args.workers)
    elif args.processes:
        executor = ProcessExecutor(n_workers=args.processes)
    elif args.threads:
        executor = ThreadExecutor(n_workers=args.threads)
    try:
        report = run_province_nightly(
            args.root, args.children, args.mentors, events, date=date, executor=executor,
            by=args.by, config=config, dry_run=args.dry_run,
            policy=_policy(args),
        )  # fmt: skip
    finally:
        if isinstance(executor, DaskExecutor):
            executor.close()
    table = report.districts
    if not args.quiet:
        print(
            _("province nightly {date}: {districts} district(s), {failed} failed").format(
                date=date, districts=len(table), failed=len(report.failed)
            )
        )
        for row in table.itertuples(index=False):
            if row.status == "ok":
                print(
                    "  "
                    + _(
                        "{district}: ok (run {run}) +{started} pairs, -{ended} ended, "
                        "{waiting} waiting"
                    ).format(
                        district=row.district,
                        run=row.run_id,
                        started=row.pairs_started,
                        ended=row.pairs_ended,
                        waiting=row.children_waiting,
                    )
                )
    if report.failed:
        _print_error(
            _("error: {failed} district(s) failed: {districts}").format(
                failed=len(report.failed), districts=", ".join(report.failed)
            ),
            [
                f"  {d}: {line}" if i == 0 else f"    {line}"
                for d in report.failed
                for i, line in enumerate(
                    str(table.loc[table["district"] == d, "error"].iloc[0]).splitlines()
                )
            ],
        )
        return EXIT_INPUT
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from matching.datasets.synth import district

    log.info(
        "generating a synthetic district: %d children, %d mentors, seed %d",
        args.children,
        args.mentors,
        args.seed,
    )
    children, mentors = district(args.children, args.mentors, seed=args.seed)
    out = _out_dir(args.out)
    out.mkdir(parents=True, exist_ok=True)
    roster_paths = [
        write_csv(children, out / "children.csv"),
        write_csv(mentors, out / "mentors.csv"),
    ]
    children_v, mentors_v = validate_children(children), validate_mentors(mentors)
    _log_rosters(children_v, mentors_v)
    result = _run_match(children_v, mentors_v, MatchConfig(), "sparse")
    extra = {
        "command": "demo",
        "demo": {"children": args.children, "mentors": args.mentors, "seed": args.seed},
    }
    rosters = _staff_rosters(args, children_v, mentors_v)
    # a shared folder (the rosters are in it too): each file replaced on its own
    written = write_result(result, out, extra=extra, replace_folder=False, **rosters)
    xlsx = _write_xlsx(args, result, out, rosters)
    _report(result, [*roster_paths, *written.values(), *xlsx], args.quiet)
    if args.nights:
        from matching.demo import simulate_nights

        nights = simulate_nights(
            out, n_children=args.children, n_mentors=args.mentors, nights=args.nights,
            seed=args.seed,
        )  # fmt: skip
        if not args.quiet:
            print("\n" + _("nightly runs on the state store {db}:").format(db=out / "state.db"))
            for night in nights:
                c = night.report.counts
                line = _(
                    "{date}: +{started} pairs, -{ended} ended, {moved} moved, {waiting} waiting, "
                    "{events} events, {children} children and {mentors} mentors joined"
                ).format(
                    date=night.date,
                    started=c["pairs_started"],
                    ended=c["pairs_ended"],
                    moved=c["pairs_moved"],
                    waiting=c["children_waiting"],
                    events=c["events_applied"],
                    children=c["children_joined"],
                    mentors=c["mentors_joined"],
                )
                print(f"  {line}  ({night.folder.name}/plan/plan.json)")
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# entry point


def _setup_logging(verbosity: int) -> tuple[logging.Handler, int]:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    previous = log.level
    log.addHandler(handler)
    log.setLevel(level)
    return handler, previous


def _debug() -> bool:
    return os.environ.get("MATCHING_DEBUG", "").strip() not in ("", "0")


def _print_error(first: str, details: Sequence[str] = ()) -> None:
    print(first, file=sys.stderr)
    for line in details:
        print(line, file=sys.stderr)


def _input_error(exc: BaseException) -> int:
    lines = str(exc).splitlines() or [type(exc).__name__]
    _print_error(_("error: {message}").format(message=lines[0]), lines[1:])
    if _debug():
        traceback.print_exc(file=sys.stderr)
    return EXIT_INPUT


def _os_error(exc: OSError) -> int:
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f" {str(exc.filename)!r}" if exc.filename is not None else ""
    _print_error(_("error: cannot read or write{where}: {what}").format(where=where, what=what))
    if _debug():
        traceback.print_exc(file=sys.stderr)
    return EXIT_INPUT


def _internal_error(exc: BaseException) -> int:
    message = str(exc).splitlines()[0] if str(exc) else ""
    if len(message) > 300:
        message = message[:299] + "…"
    _print_error(
        _("internal error: {kind}: {message}")
        .format(kind=type(exc).__name__, message=message)
        .rstrip(),
        [
            _(
                "This is a bug in mentor-matching; please report it with the command you ran "
                "(not the rosters)."
            ),
            _("Set MATCHING_DEBUG=1 to print the traceback."),
        ]
        if not _debug()
        else [],
    )
    if _debug():
        traceback.print_exc(file=sys.stderr)
    return EXIT_INTERNAL


_COMMANDS = {
    "geocode": cmd_geocode,
    "match": _cmd_match,
    "demo": _cmd_demo,
    "nightly": _cmd_nightly,
    "plan": _cmd_plan,
    "ledger": _cmd_ledger,
    "backup": _cmd_backup,
    "province": _cmd_province,
}


def main(argv: list[str] | None = None) -> int:
    """Run the ``matching`` command with ``argv`` (``sys.argv[1:]`` by default).

    Returns the exit code (see the module docstring) instead of exiting, so
    the function can be called in-process.
    """
    # the parser's texts (help, usage) are in the run's language, so it is chosen first
    with use_language(_command_line_language(argv)):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version, or a usage error (already printed)
            code = exc.code
            return EXIT_OK if code in (0, None) else EXIT_USAGE
    args.verbose = getattr(args, "verbose", 0)
    args.quiet = getattr(args, "quiet", False)
    handler, previous_level = _setup_logging(args.verbose)
    try:
        language = _language(args)
    except MatchingError as exc:  # the config's [output] language is wrong
        log.removeHandler(handler)
        log.setLevel(previous_level)
        handler.close()
        return _input_error(exc)
    # the process-wide setting reaches worker threads and forked processes
    previous_language = set_language(language)
    try:
        with use_language(language):
            return _run(args)
    finally:
        set_language(previous_language)
        log.removeHandler(handler)
        log.setLevel(previous_level)
        handler.close()


def _language(args: argparse.Namespace) -> str:
    """The run's language, from the parsed command line (see :func:`_language_of`)."""
    args.language = _language_of(getattr(args, "language", None), getattr(args, "config", None))
    return str(args.language)


def _language_of(given: str | None, config: str | None) -> str:
    """``--language``, else the config's ``[output] language``, else the language already
    chosen (by an in-process caller's :func:`~matching.i18n.use_language`, or the locale)."""
    if given is None and config is not None:
        given = load_output_config(config).language
    return given or current_language()


def _command_line_language(argv: Sequence[str] | None) -> str:
    """The run's language as :func:`_language` will find it, read from ``argv`` before it
    is parsed, for the parser's own texts.  A wrong ``--language`` or ``--config`` counts as
    not given here: the parse and :func:`_language` report it."""
    scan = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    scan.add_argument("--language")
    scan.add_argument("--config")
    try:
        known, _rest = scan.parse_known_args(argv)
        given = None if known.language is None else check_language(known.language)
        return _language_of(given, known.config)
    except (argparse.ArgumentError, MatchingError, OSError, ValueError):
        return current_language()


def _run(args: argparse.Namespace) -> int:
    """Run the subcommand, turning errors into exit codes and messages."""
    try:
        return int(_COMMANDS[args.command](args))
    except MatchingError as exc:
        return _input_error(exc)
    except OSError as exc:
        return _os_error(exc)
    except KeyboardInterrupt:
        print(_("interrupted"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _internal_error(exc)
