"""Shared test set-up: the Hypothesis profiles and the roster fixtures.

The roster builders themselves are plain functions in ``tests/builders.py``
(test modules and the subprocess drivers import them by name); the fixtures
below hand them to tests that take them as arguments.

Hypothesis profiles (choose one with ``HYPOTHESIS_PROFILE=name``):

- ``ci`` (the default): derandomized, no example database, no deadline, so
  every run tries the same examples and a failure reproduces as it is;
- ``dev``: random examples, five times as many, saved in the database, to
  search further before a release.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import builders
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from matching.i18n import current_language

# When a Hypothesis test fails, its pytest plugin imports ``hypothesis.extra._patching``
# (libcst), which emits a DeprecationWarning; with ``filterwarnings = error`` that becomes an
# INTERNALERROR that hides the real failure.  Import it once here, quietly.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

# tests/data holds fixtures, and scripts that made them with old code (not importable now):
# never collected, not even for --doctest-modules
collect_ignore = ["data"]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _language_left_as_found() -> Iterator[None]:
    """Every test starts and ends in English (the pinned locale): a test that sets the
    language must undo it (``use_language`` blocks do), or later tests would change."""
    assert current_language() == "en", "an earlier test left the language set"
    yield
    assert current_language() == "en", "this test left the language set"


@pytest.fixture
def write_rosters(tmp_path: Path) -> Callable[[pd.DataFrame, pd.DataFrame], tuple[Path, Path]]:
    """:func:`builders.write_rosters` into the test's ``tmp_path``."""
    return functools.partial(builders.write_rosters, tmp_path)
