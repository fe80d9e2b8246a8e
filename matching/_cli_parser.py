"""The argument parser of the ``matching`` command: one function per subcommand.

The parser only reads the command line; :mod:`matching.cli` runs the subcommand named in
``args.command``.  Exit codes and usage are described in :mod:`matching.cli`.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from matching._version import __version__
from matching.i18n import N_
from matching.i18n import gettext as _

__all__ = ["EPILOG", "build_parser", "count"]

EPILOG = N_(
    """\
exit codes:
  0    success
  1    input rejected: invalid roster, configuration or parameter, or a file
       that is missing or cannot be read or written ("error: ..." on stderr)
  2    usage error, or an unexpected internal error ("internal error: ...";
       set MATCHING_DEBUG=1 for the traceback)
  130  interrupted

Output and messages carry ids and counts only, never names or addresses.
"""
)

_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "match": (
        N_("match two rosters and write the results"),
        N_(
            "Match a children roster with a mentor roster (.csv or .xlsx) and write\n"
            "pairs.csv, unmatched.csv and summary.json into the output directory."
        ),
    ),
    "demo": (
        N_("generate a synthetic district, match it, then run a month of nightly jobs"),
        N_(
            "Generate a synthetic district (no real data), write its rosters as\n"
            "children.csv and mentors.csv, match them with the default configuration and\n"
            "write pairs.csv, unmatched.csv and summary.json; then run --nights weekly\n"
            "nightly jobs with synthetic churn against state.db in the same folder."
        ),
    ),
    "nightly": (
        N_("apply a night's rosters and events to the state store and re-match"),
        N_(
            "Validate the rosters and events, apply them to the state store, re-match\n"
            "with minimal disruption, commit it in one transaction (unless --dry-run) and\n"
            "write the plan (plan_*.csv, plan.json, with --xlsx plan.xlsx) in the language of\n"
            "[output] language or the locale.  Running the same night twice changes nothing\n"
            "the second time."
        ),
    ),
    "plan": (
        N_("write the plan of a committed nightly run again, from the state store"),
        N_(
            "Write the plan folder of committed run N again from the state store, which\n"
            "keeps it in one canonical form: in the current language (a night committed in\n"
            "Chinese can be written in English), with --xlsx and --carry-columns as asked.\n"
            "The same language and options give the night's files byte for byte."
        ),
    ),
    "ledger": (
        N_("write each child's ledger (pairs, enrolment, waiting) from the state store"),
        N_(
            "Write the ledgers of the state store into DIR: ledger.csv (one row per pair\n"
            "episode: who, when, why it ended, who approved), ledger_children.csv (each\n"
            "child's enrolment, days waiting, referral source and status) and\n"
            "ledger_mentors.csv (each mentor's children), with --xlsx ledger.xlsx, in the\n"
            "run's language.  The terminal shows counts only."
        ),
    ),
    "backup": (
        N_("copy the state store consistently, even while a run is writing"),
        N_(
            "Copy the state store to a new file with SQLite's online backup: a\n"
            "consistent copy even while another run uses the store.  FILE must not exist."
        ),
    ),
    "province": (
        N_("run the nightly job of every district of a province (in parallel)"),
        N_(
            "Split province rosters by district and run the nightly job of each district\n"
            "against ROOT/<district>/state.db (plan in ROOT/<district>/plan/), serially, on local\n"
            "worker processes or on Dask.  A district whose input is broken fails alone; the\n"
            "others are committed.\n"
            "Exit code 1 names the failed district(s)."
        ),
    ),
}
"""Each subcommand's one-line summary and description, in the order of ``--help``."""

_STATE_HELP = N_("state store (SQLite file)")
_DATE_HELP = N_("programme date (default: today in the [nightly] timezone, Asia/Shanghai)")


_COUNT_ERROR = N_("expected a whole number >= 0, got {value!r}")


def count(text: str) -> int:
    """A whole number >= 0 from the command line (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_(_COUNT_ERROR).format(value=text)) from None
    if value < 0:
        raise argparse.ArgumentTypeError(_(_COUNT_ERROR).format(value=text))
    return value


_HEADINGS = {"options": N_("options"), "positional arguments": N_("positional arguments")}
"""argparse's section titles, put into the catalogue by :class:`_HelpFormatter`."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's layout with its own words ("usage:", the section titles) from the
    catalogue, so that a help page is in one language; argparse's gettext is left alone."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[Any],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        super().start_section(_(_HEADINGS[heading]) if heading in _HEADINGS else heading)

    def _split_lines(self, text: str, width: int) -> list[str]:
        """Lines of at most ``width`` columns, a Chinese character taking two (argparse
        counts characters); a line never starts with a closing punctuation mark."""
        if text.isascii():
            return super()._split_lines(text, width)
        lines: list[str] = []
        line, used = "", 0
        # ASCII words, lists of headers (姓名,联系电话), runs of spaces, other characters alone
        for token in _TOKEN.findall(" ".join(text.split())):
            size = _columns(token)
            if used + size > width and line and not token.isspace() and token not in _CLOSING:
                lines.append(line.rstrip())
                line, used = "", 0
            if line or not token.isspace():
                line, used = line + token, used + size
        return [*lines, line.rstrip()] if line else lines


_TOKEN = re.compile(r"[!-~]+|[^\x00-\x7f（），。、；：]+(?:,[^\x00-\x7f（），。、；：]+)+|\s+|.")
_CLOSING = frozenset("，。、；：！？）》”’")


def _columns(text: str) -> int:
    """The width of ``text`` on a terminal: two columns for a wide (Chinese) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``matching`` command (``args.command`` names the subcommand).

    Its texts are in the current language (:func:`matching.i18n.current_language`), read
    when it is built; its error messages (from :mod:`argparse`) stay English.
    """
    common = argparse.ArgumentParser(add_help=False)
    # every parser's own -h (add_help=False below), so that its text is in the catalogue
    common.add_argument("-h", "--help", action="help", help=_("show this help message and exit"))
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help=_("log progress to stderr (-v: info, -vv: debug)"),
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help=_("print nothing on success (errors still go to stderr)"),
    )
    common.add_argument(
        "--language",
        choices=("zh", "en"),
        default=argparse.SUPPRESS,
        help=_(
            "language of messages, headers, workbooks and charts (default: the config's "
            "[output] language, else the locale: zh for a Chinese locale, else en)"
        ),
    )
    parser = argparse.ArgumentParser(
        prog="matching",
        description=_("Optimal, explainable pairing of children with volunteer mentors."),
        epilog=_(EPILOG),
        formatter_class=_HelpFormatter,
        parents=[common],
        add_help=False,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help=_("show program's version number and exit"),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_match, _add_demo, _add_nightly, _add_plan, _add_ledger, _add_backup,
                _add_province):  # fmt: skip
        add(sub, common)
    _add_geocode(sub, common)
    return parser


def _subparser(sub: Any, common: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """A subcommand's parser with the common options and the exit codes as epilog."""
    summary, description = _SUBCOMMANDS[name]
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=[common],
        help=_(summary),
        description=_(description),
        epilog=_(EPILOG),
        formatter_class=_HelpFormatter,
        add_help=False,
    )
    return parser


def _add_xlsx_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xlsx",
        action="store_true",
        help=_("also write the staff workbook report.xlsx (needs mentor-matching[excel])"),
    )


def _add_carry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--carry-columns",
        metavar="COLS",
        type=_carry_list,
        default=None,
        help=_(
            "roster columns (such as 姓名,联系电话) to copy beside each id into the CSV files "
            "and the workbook staff open; never into summary.json or the terminal (default: the "
            "[output] carry_columns of --config, else none)"
        ),
    )


def _add_night_options(parser: argparse.ArgumentParser) -> None:
    """Options the nightly job and the province job share."""
    parser.add_argument("--date", metavar="YYYY-MM-DD", help=_(_DATE_HELP))
    parser.add_argument("--config", metavar="FILE.toml", help=_("matching configuration"))
    parser.add_argument("--dry-run", action="store_true", help=_("plan only; change nothing"))


def _add_match(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _subparser(sub, common, "match")
    p.add_argument("children", metavar="CHILDREN", help=_("children roster (.csv or .xlsx)"))
    p.add_argument("mentors", metavar="MENTORS", help=_("mentor roster (.csv or .xlsx)"))
    p.add_argument(
        "--config", metavar="FILE.toml", help=_("matching configuration (default: built-in)")
    )
    p.add_argument("--out", metavar="DIR", required=True, help=_("output directory"))
    p.add_argument(
        "--method",
        choices=("sparse", "dense"),
        default="sparse",
        help=_("solver model (default: sparse)"),
    )
    _add_xlsx_options(p)
    _add_geocode_options(p)
    _add_carry_option(p)


def _add_demo(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _subparser(sub, common, "demo")
    p.add_argument(
        "--out", metavar="DIR", default="demo-out", help=_("output directory (default: ./demo-out)")
    )
    p.add_argument(
        "--children", metavar="N", type=count, default=2000, help=_("children (default: 2000)")
    )
    p.add_argument(
        "--mentors", metavar="N", type=count, default=1600, help=_("mentors (default: 1600)")
    )
    p.add_argument("--seed", metavar="S", type=count, default=0, help=_("seed (default: 0)"))
    p.add_argument(
        "--nights",
        metavar="N",
        type=count,
        default=5,
        help=_(
            "simulated weekly nightly runs on a state store in the output folder (default: 5;"
            " 0 = match only)"
        ),
    )
    _add_xlsx_options(p)
    _add_carry_option(p)


def _add_nightly(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _subparser(sub, common, "nightly")
    p.add_argument("--db", metavar="STATE", required=True, help=_(_STATE_HELP))
    p.add_argument("--children", metavar="FILE", help=_("children roster (joins and updates)"))
    p.add_argument("--mentors", metavar="FILE", help=_("mentor roster (joins and updates)"))
    p.add_argument("--events", metavar="FILE", help=_("events (.csv, .xlsx or .json)"))
    p.add_argument("--out", metavar="DIR", required=True, help=_("plan output directory"))
    _add_night_options(p)
    p.add_argument(
        "--allow-moves", action="store_true", default=None, help=_("let unpinned pairs move")
    )
    p.add_argument(
        "--switching-cost-km", type=float, default=None, help=_("bonus for keeping a pair (5.0)")
    )
    p.add_argument("--max-moves", type=count, default=None, help=_("cap on moves per run"))
    p.add_argument(
        "--skip-price-of-stability",
        action="store_true",
        help=_("do not solve from scratch to report the price of stability (faster)"),
    )
    _add_geocode_options(p)
    _add_plan_output_options(p)


def _add_plan(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _subparser(sub, common, "plan")
    p.add_argument("--db", metavar="STATE", required=True, help=_(_STATE_HELP))
    p.add_argument("--run", metavar="N", type=count, required=True, help=_("run id"))
    p.add_argument("--out", metavar="DIR", required=True, help=_("plan output directory"))
    _add_plan_output_options(p)
    p.add_argument(
        "--children", metavar="FILE", help=_("children roster to take --carry-columns from")
    )
    p.add_argument(
        "--mentors", metavar="FILE", help=_("mentor roster to take --carry-columns from")
    )


def _carry_list(text: str) -> tuple[str, ...]:
    """``--carry-columns``: headers separated by commas (``,`` or ``，``)."""
    columns = tuple(c.strip() for c in text.replace("，", ",").split(","))
    if not all(columns):
        raise argparse.ArgumentTypeError(
            _("expected column headers separated by commas: {value!r}").format(value=text)
        )
    return columns


def _add_plan_output_options(parser: argparse.ArgumentParser) -> None:
    """The plan folder's options of ``nightly`` and ``plan``: the workbook and staff's columns."""
    parser.add_argument(
        "--xlsx",
        action="store_true",
        help=_(
            "also write plan.xlsx: a summary in plain words and a sheet per kind of change "
            "(needs mentor-matching[excel])"
        ),
    )
    parser.add_argument(
        "--carry-columns",
        metavar="COLS",
        type=_carry_list,
        default=None,
        help=_(
            "roster columns to put beside the ids in the plan's CSV files and workbook, "
            "e.g. 姓名,联系电话 (default: [output] carry_columns of --config; never logged, "
            "printed or stored)"
        ),
    )


def _add_ledger(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _subparser(sub, common, "ledger")
    p.add_argument("--db", metavar="STATE", required=True, help=_(_STATE_HELP))
    p.add_argument("--child", metavar="ID", help=_("only this child's ledger"))
    p.add_argument("--out", metavar="DIR", required=True, help=_("ledger output directory"))
    p.add_argument(
        "--xlsx",
        action="store_true",
        help=_(
            "also write ledger.xlsx: a summary and the three tables (needs mentor-matching[excel])"
        ),
    )


def _add_backup(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _subparser(sub, common, "backup")
    p.add_argument("--db", metavar="STATE", required=True, help=_(_STATE_HELP))
    p.add_argument("--to", metavar="FILE", required=True, help=_("the new backup file"))


def _add_province(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _subparser(sub, common, "province")
    p.add_argument("--root", metavar="DIR", required=True, help=_("folder of district stores"))
    p.add_argument("--children", metavar="FILE", required=True, help=_("province children roster"))
    p.add_argument("--mentors", metavar="FILE", required=True, help=_("province mentor roster"))
    p.add_argument(
        "--events-dir",
        metavar="DIR",
        help=_("events per district: DIR/<district>.csv, .xlsx or .json"),
    )
    p.add_argument("--by", default="district", help=_("district column (default: district)"))
    _add_night_options(p)
    p.add_argument(
        "--skip-price-of-stability", action="store_true", help=_("skip the from-scratch solve")
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--threads", metavar="N", type=count, default=0,
        help=_("run on N threads of this process (default: 0 = serial)"),
    )  # fmt: skip
    where.add_argument(
        "--processes", metavar="N", type=count, default=0,
        help=_("run on N worker processes of this machine, no Dask needed (default: 0 = serial)"),
    )  # fmt: skip
    where.add_argument(
        "--workers", metavar="N", type=count, default=0,
        help=_("run on a local Dask cluster of N worker processes (default: 0 = serial)"),
    )  # fmt: skip
    where.add_argument("--scheduler", metavar="ADDRESS", help=_("run on this Dask scheduler"))


# The providers of matching.geo.make_geocoder (matching.geo.PROVIDERS), spelled out here so
# that building the parser imports no geocoding code.
_PROVIDERS = ("amap", "baidu", "nominatim")


def _add_geocode(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "geocode",
        parents=[common],
        help=_("fill a roster's missing coordinates from its addresses"),
        description=_(
            "Fill the missing coordinates of a roster (.csv or .xlsx) from its address\n"
            "column with a geocoding service, and write the roster whole to --out (.csv or\n"
            ".xlsx).  Rows that could not be placed are listed by id and reason in\n"
            "<out>_geocode_failures.csv beside it.  The service's key is read from the\n"
            "environment variable named by --key-env, never from the command line.\n"
            "Options not given come from the [geocode] table of --config."
        ),
        epilog=_(EPILOG),
        formatter_class=_HelpFormatter,
        add_help=False,
    )
    p.add_argument("roster", metavar="ROSTER", help=_("roster file (.csv or .xlsx)"))
    p.add_argument(
        "--provider", choices=_PROVIDERS, help=_("geocoding service (or provider in [geocode])")
    )
    p.add_argument("--key-env", metavar="VAR", help=_(_KEY_ENV_HELP))
    p.add_argument("--cache", metavar="FILE", help=_(_CACHE_HELP))
    p.add_argument(
        "--out", metavar="FILE", required=True, help=_("the geocoded roster (.csv or .xlsx)")
    )
    p.add_argument("--config", metavar="FILE.toml", help=_("configuration ([geocode] table)"))


_KEY_ENV_HELP = N_("environment variable holding the service's key (amap, baidu)")
_CACHE_HELP = N_("geocoding cache (SQLite file), so that no address is asked twice")


def _add_geocode_options(parser: argparse.ArgumentParser) -> None:
    """``--geocode`` and its options (``match`` and ``nightly``)."""
    group = parser.add_argument_group(_("geocoding"))
    group.add_argument(
        "--geocode",
        metavar="PROVIDER",
        choices=_PROVIDERS,
        help=_(
            "first fill missing coordinates from addresses with this service "
            "(amap, baidu or nominatim); rows that cannot be placed are left out and listed"
        ),
    )
    group.add_argument("--key-env", metavar="VAR", help=_(_KEY_ENV_HELP))
    group.add_argument("--geocode-cache", metavar="FILE", help=_(_CACHE_HELP))
