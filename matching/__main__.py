"""``python -m matching``: the ``matching`` command (see :mod:`matching.cli`)."""

from matching.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
