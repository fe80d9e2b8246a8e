"""The package version, read by ``pyproject.toml`` too (its one source)."""

__version__ = "0.2.0"
