"""Output folders written whole or not at all, and single files written atomically.

- :func:`write_bytes_atomic` writes one file: a temporary file beside it, fsync, rename.
  The target is either untouched or holds exactly the new bytes.
- :func:`staged_folder` writes a folder: the files go into a staging folder beside it, are
  fsync'ed, and the staging folder then replaces the output folder in one step
  (``renameat2`` with ``RENAME_EXCHANGE`` on Linux, two renames elsewhere).  A failed or
  killed run leaves the previous folder as it was; the next run removes the leftovers.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import logging
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from matching._files import fsync_path
from matching.errors import InputError

__all__ = ["Owned", "StagedFolder", "staged_folder", "write_bytes_atomic"]

log = logging.getLogger("matching")


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

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
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
        The top-level names the caller writes (e.g.
        :data:`matching.reports.files.OUTPUT_FILES`).  An existing ``out_dir``
        is replaced only if every entry in it is owned (an owned folder counts
        with all it holds); an empty folder always is.
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
