"""Where the compiled kernels are cached: a folder per user, never the package.

numba's ``cache=True`` writes a kernel's index (``.nbi``) and object code
(``.nbc``) to ``__pycache__`` beside its module whenever that folder is
writable, i.e. inside site-packages for an ordinary install.  pip does not
know those files, so uninstalling or reinstalling leaves
``site-packages/matching/__pycache__`` behind, an empty namespace package that
shadows a later editable install; and a read-only install run by a user
without a writable home fails to import (numba finds nowhere to cache).

This package's kernels are cached in :func:`cache_dir`:

- ``$MATCHING_CACHE_DIR/<tag>`` when that variable is set (and not empty);
- else ``$NUMBA_CACHE_DIR/mentor-matching/<tag>`` when numba's is set;
- else ``<user cache folder>/<tag>``, platformdirs' cache folder for
  "mentor-matching" (Linux: ``$XDG_CACHE_HOME/mentor-matching``, by default
  ``~/.cache/mentor-matching``);

with ``<tag> = kernels-<library version>-numba-<numba version>``, so an upgrade
never meets another version's kernels, and below it one folder per package
location (named as numba names them), so a venv's copy and a checkout do not
overwrite each other's index.  Deleting the folder clears the cache.

How.  For each function compiled with ``cache=True`` numba asks the classes in
``numba.core.caching.CacheImpl._locator_classes`` in turn; the first whose
``from_function`` returns a locator chooses the folder.
:class:`_PackageLocator` is put first and answers only for functions defined
in this package's folder, so other libraries' kernels stay where numba puts
them.  Setting ``NUMBA_CACHE_DIR`` (or ``numba.config.CACHE_DIR``) instead
would move every library's cache in the process.  ``NUMBA_CACHE_LOCATOR_CLASSES``,
if a user sets it, replaces numba's list and this locator with it.

An unusable folder.  A locator cannot make saving optional: numba raises when
it cannot write a kernel it has just compiled.  So the folder is checked once,
when this module is imported (created, and a temporary file written in it, as
numba's own locators check); if that fails, :data:`CACHE` is False, the
kernels (whose decorators say ``cache=CACHE``) compile in every process
without a cache, and one debug line is logged (no warning: a read-only
deployment is legitimate).  A folder that becomes unwritable while a process
runs is not handled: numba raises then, as for any library.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numba
import platformdirs
from numba.core import caching

from matching._version import __version__

__all__ = ["CACHE", "cache_dir"]

_log = logging.getLogger(__name__)

_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))


def cache_dir() -> Path:
    """The folder for this package's kernels, as the environment gives it
    now (see the module docstring); not created here."""
    root = os.environ.get("MATCHING_CACHE_DIR")
    if root:
        base = Path(root).expanduser()
    elif numba_dir := getattr(numba.config, "CACHE_DIR", ""):
        base = Path(numba_dir).expanduser() / "mentor-matching"
    else:
        base = platformdirs.user_cache_path("mentor-matching", appauthor=False)
    return base.absolute() / f"kernels-{__version__}-numba-{numba.__version__}"


class _PackageLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba's cache locator for the functions of this package's modules."""

    _folder = ""  # set by _install: cache_dir() / the package's subfolder

    def __init__(self, py_func: Any, py_file: str) -> None:
        # the attributes numba's source-file mixin reads
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno

    def get_cache_path(self) -> str:
        return self._folder

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> _PackageLocator | None:
        if os.path.normcase(os.path.dirname(os.path.abspath(py_file))) != _PACKAGE_DIR:
            return None
        # never None for our own functions: numba's next locator would be
        # the package's __pycache__
        return cls(py_func, py_file)


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        _log.debug("kernel cache %s not writable (%s): compiling without a cache", folder, exc)
        return False
    return True


def _install() -> bool:
    """Put the locator first for this package's functions; whether its
    folder can be written."""
    subfolder: str = _PackageLocator.get_suitable_cache_subpath(__file__)  # type: ignore[no-untyped-call]
    folder = cache_dir() / subfolder
    _PackageLocator._folder = str(folder)
    locators = caching.CacheImpl._locator_classes
    if _PackageLocator not in locators:
        locators.insert(0, _PackageLocator)
    return _writable(folder)


#: Whether the kernels are cached (their decorators' ``cache=`` argument).
CACHE: bool = _install()
