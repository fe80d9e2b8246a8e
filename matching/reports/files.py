"""Write a :class:`~matching.match.MatchResult` to disk: two CSV tables and a JSON summary.

:func:`write_result` writes three files into an output folder, together:

``pairs.csv``
    One row per pair, columns as :data:`matching.match.PAIR_COLUMNS`.
``unmatched.csv``
    One row per child left without a mentor, columns as
    :data:`matching.match.UNMATCHED_COLUMNS`.
``summary.json``
    ``{"library_version", "metrics", "config", ...extra}``.

File conventions
----------------
- CSV files are UTF-8 with a byte-order mark (so Excel shows Chinese text
  correctly), ``\\n`` line endings, a header row and a fixed column order.
- Tuples (need codes, interest tags) are joined with ``";"``; an empty tuple
  is an empty cell.  Missing numbers are empty cells.
- Floats of the result tables are written with exactly 4 decimals
  (``0.5189``); floats of rosters (:func:`write_csv` with ``decimals=None``)
  with the shortest text that reads back as the same number.
- Text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return are prefixed with a single quote ``'`` so a spreadsheet does not
  run them as formulas (CSV injection).  Numbers are never prefixed.
- The folder is written whole or not at all (:func:`staged_folder`): the
  files go into a staging folder beside it, are fsync'ed, and the staging
  folder then replaces the output folder in one step (``renameat2`` with
  ``RENAME_EXCHANGE`` on Linux, two renames elsewhere).  A failed or killed
  run leaves the previous folder as it was; the next run removes the
  leftovers.  A single file is written atomically by
  :func:`write_bytes_atomic` (temporary file, fsync, rename).
- The output holds no timestamps or timings: the same result always gives
  byte-identical files.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import logging
import math
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from matching._files import fsync_path
from matching.errors import InputError
from matching.match import PAIR_COLUMNS, UNMATCHED_COLUMNS, MatchResult

__all__ = [
    "FILES",
    "OUTPUT_FILES",
    "RESULT_DECIMALS",
    "STREET_COLUMNS",
    "StagedFolder",
    "neutralise",
    "staged_folder",
    "street_metrics",
    "summary_lines",
    "to_csv_bytes",
    "write_bytes_atomic",
    "write_csv",
    "write_result",
]

FILES: tuple[str, ...] = ("pairs.csv", "unmatched.csv", "summary.json")
"""The files written by :func:`write_result`, in writing order."""

RESULT_DECIMALS = 4
"""Decimals of every float column in ``pairs.csv`` and ``unmatched.csv``."""

log = logging.getLogger("matching")

_RESERVED_KEYS = frozenset({"library_version", "metrics", "config"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LIST_SEPARATOR = ";"
_NEEDS_QUOTES = frozenset(',"\r\n')


# ----------------------------------------------------------------------------------------------
# cells


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would read as a formula.

    Examples
    --------
    >>> neutralise('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("-2"), neutralise("C001")
    ("'-2", 'C001')
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _float_text(value: float, decimals: int | None) -> str:
    if math.isnan(value):
        return ""
    if decimals is None:
        return repr(value + 0.0)  # shortest round-trip text; -0.0 becomes 0.0
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and not text.strip("-0."):  # "-0.0000" -> "0.0000"
        text = text[1:]
    return text


def _cell(value: Any, decimals: int | None) -> str:
    """Text of one cell (see the module docstring for the conventions)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _float_text(float(value), decimals)
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, tuple | list | np.ndarray):
        return neutralise(_LIST_SEPARATOR.join(str(v) for v in value))
    if isinstance(value, set | frozenset):
        return neutralise(_LIST_SEPARATOR.join(sorted(str(v) for v in value)))
    return neutralise(str(value))


def _field(text: str) -> str:
    """One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF."""
    if any(ch in text for ch in _NEEDS_QUOTES):
        return '"' + text.replace('"', '""') + '"'
    return text


def _column_cells(series: pd.Series, decimals: int | None) -> list[str]:
    dtype = series.dtype
    kind = dtype.kind if isinstance(dtype, np.dtype) else "O"
    if kind == "b":
        return ["True" if v else "False" for v in series.to_numpy().tolist()]
    if kind == "f":
        return [_float_text(v, decimals) for v in series.to_numpy(dtype=np.float64).tolist()]
    if kind in "iu":
        return [str(v) for v in series.to_numpy().tolist()]
    return [_cell(v, decimals) for v in series.to_numpy(dtype=object)]


def to_csv_bytes(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    decimals: int | None = None,
) -> bytes:
    """Render ``frame`` as CSV bytes with the conventions of this module.

    Parameters
    ----------
    frame : DataFrame
        The table; its index is not written.
    columns : sequence of str, optional
        Columns to write first, in this order (each must exist); the frame's
        other columns follow in their own order.  By default the frame's order.
    decimals : int, optional
        Write every float with exactly this many decimals; by default the
        shortest text that reads back as the same float.
    """
    order = list(frame.columns)
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"columns not in the frame: {', '.join(map(str, missing))}")
        first = list(columns)
        order = first + [c for c in order if c not in set(first)]
    cells = [_column_cells(frame[c], decimals) for c in order]
    lines = [",".join(_field(neutralise(str(c))) for c in order)]
    lines.extend(",".join(map(_field, row)) for row in zip(*cells, strict=True))
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


# ----------------------------------------------------------------------------------------------
# files


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename).

    The temporary file sits next to ``path`` and is removed if anything fails,
    so ``path`` is either untouched or holds exactly ``data``.  The file gets
    the usual permissions of a new file (``0o666`` less the umask).
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_path(target.parent)
    return target


# ----------------------------------------------------------------------------------------------
# output folders, whole or not at all

OUTPUT_FILES: tuple[str, ...] = (*FILES, "report.xlsx")
"""The names ``matching match`` writes: a folder holding only these may be replaced."""

Owned = Callable[[str], bool] | Collection[str]
"""Which top-level names of an output folder the caller writes (a predicate or a collection)."""

_TOKEN = r"[0-9a-f]{16}"
_FILE_TMP = re.compile(rf"\.(?P<name>.+)\.{_TOKEN}\.tmp")  # write_bytes_atomic's temporary files
_RENAME_EXCHANGE = 2  # linux/fs.h
_EXCHANGE_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})


class StagedFolder:
    """Context manager of :func:`staged_folder`; see there.

    Attributes
    ----------
    path : Path
        The output folder, spelled as the caller gave it.
    files : tuple of Path
        After a successful exit: the final path (under :attr:`path`) of every
        file written, sorted.  Empty before and after a failed run.
    """

    def __init__(self, out_dir: str | os.PathLike[str], *, owned: Owned = ()) -> None:
        if isinstance(owned, str):
            raise TypeError("owned must be a collection of names or a callable, not a str")
        self.path = Path(out_dir)
        self.files: tuple[Path, ...] = ()
        self._owned: Callable[[str], bool] = (
            owned if callable(owned) else frozenset(owned).__contains__
        )
        self._target: Path | None = None
        self._staging: Path | None = None
        self._lock: int | None = None

    # -- entry ----------------------------------------------------------------------------------

    def __enter__(self) -> Path:
        if self._staging is not None:
            raise RuntimeError("a staged folder cannot be entered twice")
        target = _target_folder(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        _recover(target, self.path)
        if target.is_dir():
            _remove_file_temporaries(target, self._owned)
            self._check_replaceable(target)
        token = secrets.token_hex(8)
        staging = target.with_name(f".{target.name}.staging-{token}")
        os.mkdir(staging)
        self._lock = _lock_folder(staging)
        self._target, self._staging = target, staging
        if target.is_dir():  # keep the folder's permissions (e.g. 0o700 for personal data)
            try:
                os.chmod(staging, stat.S_IMODE(os.stat(target).st_mode))
            except OSError:
                pass
        return staging

    def _check_replaceable(self, target: Path) -> None:
        if os.path.islink(target) or not target.is_dir():
            raise InputError(
                f"cannot write to {str(self.path)!r}: it exists and is not a directory"
            )
        foreign = sum(1 for name in os.listdir(target) if not _ours(name, self._owned))
        if foreign:
            raise InputError(
                f"cannot replace the folder {str(self.path)!r}: it holds {foreign} "
                f"{'entry' if foreign == 1 else 'entries'} that this command does not write; "
                "the folder is replaced as a whole, so move them away or choose a new or "
                "empty folder"
            )

    # -- exit -----------------------------------------------------------------------------------

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._staging is None:  # __enter__ failed; nothing to clean
            return
        try:
            if exc_type is None:
                self._publish()
        finally:
            self._unlock()
            if self._staging is not None and os.path.lexists(self._staging):
                _remove_tree(self._staging)  # a failure; after a swap this is the old folder

    def _publish(self) -> None:
        target, staging = self._target, self._staging
        assert target is not None and staging is not None
        files = sorted(
            p.relative_to(staging) for p in staging.rglob("*") if p.is_file() and not p.is_symlink()
        )
        _fsync_tree(staging)
        parent = target.parent
        fsync_path(parent)
        if not os.path.lexists(target):
            os.rename(staging, target)
            fsync_path(parent)
        else:
            self._check_replaceable(target)  # again: files may have appeared meanwhile
            if _exchange(parent, staging.name, target.name):
                self._unlock()  # the old folder now sits under the staging name
            else:
                old = target.with_name(staging.name.replace(".staging-", ".old-", 1))
                os.rename(target, old)
                try:
                    os.rename(staging, target)
                except BaseException:
                    os.rename(old, target)
                    raise
                self._unlock()
                fsync_path(parent)
                _remove_tree(old)
            fsync_path(parent)
        self.files = tuple(self.path / f for f in files)

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    # -- helpers for callers --------------------------------------------------------------------

    def final(self, path: str | os.PathLike[str]) -> Path:
        """The final path (under :attr:`path`) of ``path``, a path inside the staging folder."""
        if self._staging is None:
            raise RuntimeError("the staged folder has not been entered")
        return self.path / Path(path).relative_to(self._staging)


def staged_folder(out_dir: str | os.PathLike[str], *, owned: Owned = ()) -> StagedFolder:
    """Write a folder's files so that they appear whole or not at all.

    ``with staged_folder(out_dir, owned=NAMES) as stage:`` yields a new, empty
    staging folder beside ``out_dir`` (``.{name}.staging-{16 hex}``, same
    filesystem).  Write the folder's files into ``stage`` by any means.  On a
    normal exit every file is fsync'ed and ``stage`` replaces ``out_dir`` as a
    whole; on an exception (``KeyboardInterrupt`` too) ``stage`` is removed,
    ``out_dir`` is left untouched and the exception propagates.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The output folder.  Missing parents are created; a missing folder is
        created by the swap.  A symbolic link is followed: the folder it
        points to is replaced and the link kept.
    owned : collection of str, or callable str -> bool
        The top-level names the caller writes (e.g. :data:`OUTPUT_FILES`).  An
        existing ``out_dir`` is replaced only if every entry in it is owned
        (an owned folder counts with all it holds); an empty folder always is.
        Default: no name, so only a missing or empty folder is replaced.

    Returns
    -------
    StagedFolder
        The context manager (use it once); ``__enter__`` returns the staging
        folder (a :class:`~pathlib.Path`).  After a successful exit its
        ``files`` are the final paths of the files written (sorted), and
        ``final(p)`` maps a path inside the staging folder to its final path
        (also inside the ``with`` block).

    Raises
    ------
    InputError
        On entry (and again just before the swap): ``out_dir`` exists and is
        not a folder; it holds entries that are not owned (the message gives
        their number, never their names: a file name can be a child's name);
        it is the current folder, one that holds it, or a filesystem root
        (``--out .``: replacing it would pull the folder from under the
        process; write into a subfolder); or several interrupted copies
        (``.{name}.old-*``) are found beside a missing ``out_dir``.

    Notes
    -----
    *The swap.*  On Linux, ``renameat2(RENAME_EXCHANGE)`` swaps the two
    folders in one atomic step: a reader sees the old folder or the new one,
    never neither; the old folder, now under the staging name, is then
    removed.  Where the exchange is not available (other systems, filesystems
    that refuse it) the fallback is two renames: ``out_dir`` to
    ``.{name}.old-{hex}``, the staging folder to ``out_dir``, then the old
    folder is removed; for that instant ``out_dir`` is missing.  A missing
    ``out_dir`` with no folder there before is a single rename.  The parent
    folder is fsync'ed after the swap.  The new folder keeps the permission
    bits of the one it replaces.

    *Leftovers.*  A run killed at any point leaves ``out_dir`` whole (old or
    new), plus at most a staging or old folder beside it.  Every entry
    removes, for its folder: staging and old folders of earlier runs (those
    whose staging folder is not locked by a live process; the lock is an
    ``flock`` on the staging folder, so a run never deletes the staging
    folder of another run still writing), and the ``.{file}.{hex}.tmp`` files
    that :func:`write_bytes_atomic` left inside the folder for owned names.
    If ``out_dir`` is missing and the old folder of an interrupted fallback
    swap exists, that folder is first renamed back to ``out_dir``, so a
    killed run never loses the previous folder.

    Two runs writing the same folder at the same time are not serialised:
    the last swap wins, each swap is whole.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with staged_folder(f"{tmp}/plan", owned={"plan.json"}) as stage:
    ...         _ = (stage / "plan.json").write_text("{}")
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['plan']
    """
    return StagedFolder(out_dir, owned=owned)


def _target_folder(out_dir: Path) -> Path:
    """The real folder to replace; refuses what cannot be swapped."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"cannot write to {str(out_dir)!r}: it exists and is not a directory")
    target = Path(os.path.realpath(out_dir))
    cwd: Path | None
    try:
        cwd = Path(os.path.realpath(os.getcwd()))
    except OSError:  # the current folder was removed
        cwd = None
    if target.parent == target or (cwd is not None and (target == cwd or target in cwd.parents)):
        raise InputError(
            f"cannot replace the folder {str(out_dir)!r}: it is the current folder, holds it, "
            "or is a filesystem root; write into a subfolder instead (e.g. 'results')"
        )
    return target


def _reserved(target: Path) -> re.Pattern[str]:
    return re.compile(re.escape(f".{target.name}.") + rf"(?P<kind>staging|old)-(?P<token>{_TOKEN})")


def _recover(target: Path, shown: Path) -> None:
    """Restore an interrupted swap's old folder if needed; remove other runs' leftovers."""
    pattern = _reserved(target)
    found: list[tuple[str, str, Path]] = []
    with os.scandir(target.parent) as entries:
        for entry in entries:
            m = pattern.fullmatch(entry.name)
            if m:
                found.append((m["kind"], m["token"], Path(entry.path)))
    live = {tok for kind, tok, path in found if kind == "staging" and _is_locked(path)}
    dead = [(kind, path) for kind, tok, path in found if tok not in live]
    olds = [path for kind, path in dead if kind == "old" and path.is_dir()]
    if olds and not os.path.lexists(target):
        if len(olds) > 1:
            raise InputError(
                f"cannot write to {str(shown)!r}: it is missing and {len(olds)} interrupted "
                f"copies of it (.{target.name}.old-*) are beside it; rename the right one "
                f"to {target.name!r} and remove the others"
            )
        os.rename(olds[0], target)
        fsync_path(target.parent)
        dead = [(kind, path) for kind, path in dead if path != olds[0]]
    for _, path in dead:
        _remove_tree(path)


def _ours(name: str, owned: Callable[[str], bool]) -> bool:
    """An owned name, or a temporary file of one (left by a killed write_bytes_atomic)."""
    m = _FILE_TMP.fullmatch(name)
    return owned(name) or (m is not None and owned(m["name"]))


def _remove_file_temporaries(folder: Path, owned: Callable[[str], bool]) -> None:
    """Remove the temporary files of owned names that a killed write_bytes_atomic left."""
    for name in os.listdir(folder):
        m = _FILE_TMP.fullmatch(name)
        if m and owned(m["name"]) and not os.path.isdir(folder / name):
            try:
                os.unlink(folder / name)
            except FileNotFoundError:
                pass


def _remove_tree(path: Path) -> None:
    """Remove a file or folder tree; what cannot be removed stays for the next run."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass
    if os.path.lexists(path):
        log.warning("could not remove %s; the next run tries again", path)


def _fsync_tree(folder: Path) -> None:
    """fsync every regular file below ``folder``, then every folder, bottom-up."""
    for dirpath, _dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_path(Path(dirpath))


def _lock_folder(folder: Path) -> int | None:
    """Hold an exclusive ``flock`` on ``folder`` (released when the descriptor closes)."""
    if sys.platform == "win32":
        return None
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a filesystem without flock: no protection, but no failure
        os.close(fd)
        return None
    return fd


def _is_locked(folder: Path) -> bool:
    """Whether a live process holds the lock of a staging folder."""
    if sys.platform == "win32":
        return False
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


@functools.cache
def _renameat2() -> Any:
    """libc's ``renameat2`` (Linux, glibc >= 2.28), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    c_int, c_path = ctypes.c_int, ctypes.c_char_p
    function.argtypes = (c_int, c_path, c_int, c_path, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


def _exchange(parent: Path, a: str, b: str) -> bool:
    """Swap the entries ``a`` and ``b`` of ``parent`` atomically.

    Returns False, changing nothing, where the system or the filesystem
    cannot (the caller then falls back to two renames); raises OSError on
    other errors.
    """
    function = _renameat2()
    if function is None:
        return False
    dir_fd = os.open(parent, os.O_RDONLY)
    try:
        code = function(dir_fd, os.fsencode(a), dir_fd, os.fsencode(b), _RENAME_EXCHANGE)
    finally:
        os.close(dir_fd)
    if code == 0:
        return True
    err = ctypes.get_errno()
    if err in _EXCHANGE_UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(parent / b))


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    decimals: int | None = None,
) -> Path:
    """Write ``frame`` as CSV to ``path`` atomically (see :func:`to_csv_bytes`)."""
    return write_bytes_atomic(path, to_csv_bytes(frame, columns=columns, decimals=decimals))


def _jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars to Python, non-finite floats to null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [_jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"summary value of type {type(value).__name__} is not JSON-serialisable")


def _summary_bytes(result: MatchResult, extra: Mapping[str, Any] | None) -> bytes:
    from matching._version import __version__

    data: dict[str, Any] = {
        "library_version": __version__,
        "metrics": result.metrics,
        "config": result.config.to_dict(),
    }
    if extra:
        clash = sorted(_RESERVED_KEYS & set(extra))
        if clash:
            raise ValueError(f"extra must not set the reserved key(s) {', '.join(clash)}")
        data.update(extra)
    text = json.dumps(
        _jsonable(data), sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def write_result(
    result: MatchResult,
    out_dir: str | os.PathLike[str],
    *,
    extra: dict[str, Any] | None = None,
    replace_folder: bool = True,
) -> dict[str, Path]:
    """Write ``pairs.csv``, ``unmatched.csv`` and ``summary.json`` into ``out_dir``.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.
    out_dir : str or os.PathLike
        Output folder, created (with its parents) if needed.
    extra : dict, optional
        More top-level keys for ``summary.json`` (JSON-able; must not be
        ``library_version``, ``metrics`` or ``config``).
    replace_folder : bool, default True
        True: the three files appear together or not at all.  They are written
        into a staging folder that then replaces ``out_dir`` as a whole
        (:func:`staged_folder` with ``owned=OUTPUT_FILES``): an existing
        ``out_dir`` may hold only :data:`OUTPUT_FILES` (a ``report.xlsx`` of
        an earlier run is dropped with the rest), otherwise :class:`InputError`.
        False: each file is replaced atomically on its own inside ``out_dir``,
        whatever else the folder holds (for a folder shared with other files,
        such as the demo's or a staging folder); a failure between files can
        leave old and new files side by side.

    Returns
    -------
    dict
        ``{"pairs": Path, "unmatched": Path, "summary": Path}``, the final paths.

    Raises
    ------
    InputError
        With ``replace_folder=True``: ``out_dir`` holds other entries, is not
        a folder, or is the current folder (see :func:`staged_folder`).

    Notes
    -----
    All three files are rendered before anything is written, so a problem
    with the data leaves the folder untouched.  With ``replace_folder=True``
    a failed or killed run leaves the previous folder byte-identical, and the
    next run removes its leftovers.  See the module docstring for the formats.
    """
    if not isinstance(result, MatchResult):
        raise TypeError(f"result must be a MatchResult, got {type(result).__name__}")
    contents = {
        "pairs": to_csv_bytes(result.pairs, columns=PAIR_COLUMNS, decimals=RESULT_DECIMALS),
        "unmatched": to_csv_bytes(
            result.unmatched, columns=UNMATCHED_COLUMNS, decimals=RESULT_DECIMALS
        ),
        "summary": _summary_bytes(result, extra),
    }
    directory = Path(out_dir)
    if not replace_folder:
        directory.mkdir(parents=True, exist_ok=True)
        return {
            key: write_bytes_atomic(directory / name, data)
            for (key, data), name in zip(contents.items(), FILES, strict=True)
        }
    folder = staged_folder(directory, owned=OUTPUT_FILES)
    with folder as stage:
        paths = {
            key: folder.final(write_bytes_atomic(stage / name, data))
            for (key, data), name in zip(contents.items(), FILES, strict=True)
        }
    return paths


STREET_COLUMNS: list[str] = [
    "street",
    "children",
    "paired",
    "unmatched",
    "pairing_rate",
    "priority_children",
    "priority_paired",
    "needs",
    "needs_covered",
    "needs_covered_share",
    "distance_km_mean",
    "distance_km_median",
]
"""Columns of :func:`street_metrics`, in order."""


def street_metrics(result: MatchResult) -> pd.DataFrame:
    """Per-street metrics of a result: pairing rate, need coverage and distances.

    Parameters
    ----------
    result : MatchResult
        The result of :func:`matching.match`.

    Returns
    -------
    DataFrame
        One row per street of the children's roster (sorted by street; the
        empty street ``""`` is a street of its own), columns
        :data:`STREET_COLUMNS`: ``children``, ``paired``, ``unmatched``,
        ``pairing_rate`` (paired / children), ``priority_children`` and
        ``priority_paired``, ``needs`` (the need categories of the *paired*
        children), ``needs_covered`` (of those, how many the mentor's skills
        cover), ``needs_covered_share`` (covered / needs; 0 when there are no
        needs, the same definition as ``metrics["needs_covered_share"]``),
        and the mean and median pair distance in km (NaN for a street without
        pairs).  Streets are the *child's* street.

    Examples
    --------
    >>> from matching import match
    >>> from matching.datasets.synth import district
    >>> kids, moms = district(60, 40, seed=1)
    >>> table = street_metrics(match(kids, moms))
    >>> int(table["children"].sum()), bool((table["pairing_rate"] <= 1).all())
    (60, True)
    """
    pairs, unmatched = result.pairs, result.unmatched
    by_street = result.metrics["pairing_rate_by_street"]
    streets = sorted(by_street)
    pstreet = pairs["child_street"].astype(str).to_numpy(dtype=object)
    ustreet = unmatched["street"].astype(str).to_numpy(dtype=object)
    n_cov = np.fromiter((len(t) for t in pairs["needs_covered"]), np.int64, len(pairs))
    n_unc = np.fromiter((len(t) for t in pairs["needs_uncovered"]), np.int64, len(pairs))
    dist = pairs["distance_km"].to_numpy(dtype=np.float64)
    pprio = pairs["child_priority"].to_numpy(dtype=np.int64) > 0
    uprio = unmatched["priority"].to_numpy(dtype=np.int64) > 0
    rows = []
    for s in streets:
        sel = pstreet == s
        usel = ustreet == s
        needs = int(n_cov[sel].sum() + n_unc[sel].sum())
        covered = int(n_cov[sel].sum())
        d = dist[sel]
        rows.append(
            {
                "street": s,
                "children": int(by_street[s]["children"]),
                "paired": int(by_street[s]["paired"]),
                "unmatched": int(usel.sum()),
                "pairing_rate": float(by_street[s]["pairing_rate"]),
                "priority_children": int(pprio[sel].sum() + uprio[usel].sum()),
                "priority_paired": int(pprio[sel].sum()),
                "needs": needs,
                "needs_covered": covered,
                "needs_covered_share": covered / needs if needs else 0.0,
                "distance_km_mean": float(d.mean()) if d.size else math.nan,
                "distance_km_median": float(np.median(d)) if d.size else math.nan,
            }
        )
    frame = pd.DataFrame(rows, columns=STREET_COLUMNS)
    for col in ("children", "paired", "unmatched", "priority_children", "priority_paired"):
        frame[col] = frame[col].astype(np.int64)
    for col in ("needs", "needs_covered"):
        frame[col] = frame[col].astype(np.int64)
    return frame


def summary_lines(result: MatchResult) -> list[str]:
    """The lines of :meth:`MatchResult.summary` (counts, rates and distances; ids only)."""
    return result.summary().splitlines()
