"""Run ``matching.cli.main(argv)`` and SIGKILL this process at the Nth call of one step.

Used by tests/test_output_folder.py (not a test module itself)::

    python tests/kill_driver.py STEP N [--no-exchange] -- match CHILDREN MENTORS --out DIR

STEP is one of ``os.replace``, ``os.rename``, ``shutil.rmtree`` or
``exchange`` (the RENAME_EXCHANGE swap), as called by :mod:`matching.reports.folders`
(the file writes and the folder swap; other modules' calls are not counted).
The Nth call (counting from 1) kills the process *before* the call
runs, as a power cut or ``kill -9`` would.  N = 0 kills nothing and prints
``calls=K`` (how many calls a whole run makes) as the last line on stdout.
``--no-exchange`` makes the exchange unavailable, so the rename fallback runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable
from typing import Any

CALLS = [0]


def _killer(original: Callable[..., Any], n: int) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        CALLS[0] += 1
        if CALLS[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    return wrapper


class _Patched:
    """A module whose one attribute ``name`` is replaced; everything else is the module's."""

    def __init__(self, module: Any, name: str, function: Callable[..., Any]) -> None:
        self._module = module
        setattr(self, name, function)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module, attr)


def main(argv: list[str]) -> int:
    split = argv.index("--")
    options, cli_argv = argv[:split], argv[split + 1 :]
    step, n = options[0], int(options[1])
    import matching.reports.folders as report
    from matching.cli import main as cli_main

    if "--no-exchange" in options[2:]:
        report._exchange = lambda parent, a, b: False
    if step == "exchange":
        report._exchange = _killer(report._exchange, n)
    elif step == "shutil.rmtree":
        report.shutil = _Patched(shutil, "rmtree", _killer(shutil.rmtree, n))
    elif step in ("os.replace", "os.rename"):
        name = step.split(".", 1)[1]
        report.os = _Patched(os, name, _killer(getattr(os, name), n))
    else:
        raise SystemExit(f"unknown step {step!r}")
    code = cli_main(cli_argv)
    if n == 0:
        print(f"calls={CALLS[0]}", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
