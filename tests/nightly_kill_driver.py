"""Run ``matching.cli.main(argv)`` and SIGKILL this process at one point of a nightly run.

Used by tests/test_nightly_crash.py (not a test module itself)::

    python tests/nightly_kill_driver.py POINT -- nightly --db STATE --out DIR ...

POINT is a key of :data:`POINTS`: the process kills itself with SIGKILL (as a
power cut or ``kill -9`` would) just before or just after the Nth call of one
function of the library.  Whatever the point, the library is imported first
and ``ready`` is printed on stdout before the run starts; with POINT ``none``
nothing is patched, so that the parent can kill the run at a random time
after ``ready``.  A run that ends without reaching its point exits normally
(the parent checks that every chosen point was reached).
"""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

# point -> (module, attribute, "before" or "after", N)
POINTS: dict[str, tuple[str, str, str, int]] = {
    # validation done, the store not yet opened
    "open": ("matching.programme.store", "StateStore.open", "before", 1),
    # the state loaded, nothing applied
    "load": ("matching.programme.store", "StateStore.load", "after", 1),
    # inside rematch: the plan computed, rematch not yet returned
    "rematch": ("matching.programme.rematch", "_plan", "after", 1),
    # inside the commit's transaction: every row written, before the SQL COMMIT
    "write_files": ("matching.programme.store.commit", "_write_files", "after", 1),
    # committed, the plan folder not yet written
    "commit": ("matching.programme.store", "StateStore.commit", "after", 1),
    # the staging folder written, not yet fsync'ed nor swapped
    "staged": ("matching.reports.folders", "_fsync_tree", "before", 1),
    # just before the RENAME_EXCHANGE swap
    "exchange": ("matching.reports.folders", "_exchange", "before", 1),
    # just after it, the old folder (under the staging name) not yet removed
    "exchanged": ("matching.reports.folders", "_exchange", "after", 1),
    # the plan folder written, the run not yet finished
    "published": ("matching.programme.plan", "publish_plan", "after", 1),
    # no exchange (the two-rename fallback): the folder renamed away, the new one not yet in
    "fallback_renamed": ("matching.reports.folders", "os.rename", "before", 2),
    # nothing: the parent kills the run
    "none": ("", "", "", 0),
}
NO_EXCHANGE = frozenset({"fallback_renamed"})


class _Patched:
    """A module whose one attribute ``name`` is replaced; everything else is the module's."""

    def __init__(self, module: Any, name: str, function: Callable[..., Any]) -> None:
        self._module = module
        setattr(self, name, function)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module, attr)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _killer(original: Callable[..., Any], when: str, n: int) -> Callable[..., Any]:
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == n and when == "before":
            _die()
        result = original(*args, **kwargs)
        if calls[0] == n and when == "after":
            _die()
        return result

    return wrapper


def _patch(point: str) -> None:
    module_name, path, when, n = POINTS[point]
    if not module_name:
        return
    module = importlib.import_module(module_name)
    if point in NO_EXCHANGE:
        module._exchange = lambda parent, a, b: False  # type: ignore[attr-defined]
    *owners, name = path.split(".")
    if owners == ["os"]:  # only the module's own calls count
        module.os = _Patched(os, name, _killer(getattr(os, name), when, n))  # type: ignore[attr-defined]
        return
    owner: Any = module
    for part in owners:
        owner = getattr(owner, part)
    raw = inspect.getattr_static(owner, name)
    if isinstance(raw, classmethod):
        setattr(owner, name, classmethod(_killer(raw.__func__, when, n)))
    else:
        setattr(owner, name, _killer(raw, when, n))


def main(argv: list[str]) -> int:
    split = argv.index("--")
    (point,), cli_argv = argv[:split], argv[split + 1 :]
    if point not in POINTS:
        raise SystemExit(f"unknown point {point!r}")
    for name in (
        "matching.programme.nightly",
        "matching.programme.plan",
        "matching.programme.rematch",
        "matching.reports.folders",
        "matching.programme.store",
        "matching.programme.store.commit",
    ):
        importlib.import_module(name)  # imported before "ready": a random kill lands in the run
    from matching.cli import main as cli_main

    _patch(point)
    print("ready", flush=True)
    return cli_main(cli_argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
