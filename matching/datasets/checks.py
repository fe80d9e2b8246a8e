"""Argument checks of the synthetic generators: each names the parameter and its value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

from matching.errors import InputError

__all__ = [
    "check_center",
    "check_count",
    "check_non_negative",
    "check_positive",
    "check_prefix",
    "check_seed",
    "check_share",
    "per_district_counts",
]


def check_count(name: str, value: object, *, minimum: int = 0) -> int:
    """``value`` as an int, if it is an integer >= ``minimum`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        kind = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise InputError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def _finite(value: object) -> float | None:
    """``value`` as a float if it is a finite real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def check_share(name: str, value: object) -> float:
    """``value`` as a float, if it is a number between 0 and 1."""
    number = _finite(value)
    if number is None or not 0.0 <= number <= 1.0:
        raise InputError(f"{name} must be a number between 0 and 1, got {value!r}")
    return number


def check_positive(name: str, value: object) -> float:
    """``value`` as a float, if it is a finite number > 0."""
    number = _finite(value)
    if number is None or number <= 0.0:
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return number


def check_non_negative(name: str, value: object) -> float:
    """``value`` as a float, if it is a finite number >= 0."""
    number = _finite(value)
    if number is None or number < 0.0:
        raise InputError(f"{name} must be a non-negative finite number, got {value!r}")
    return number


def check_center(value: object) -> tuple[float, float]:
    """``value`` as ``(lat, lon)``, if it is a pair with ``-80 <= lat <= 80`` and a valid lon."""
    ok = (
        isinstance(value, Sequence | np.ndarray)
        and not isinstance(value, str)
        and len(value) == 2
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
    )
    if ok:
        lat, lon = float(value[0]), float(value[1])  # type: ignore[index]
        ok = math.isfinite(lat) and math.isfinite(lon) and -80 <= lat <= 80 and -180 <= lon <= 180
    if not ok:
        raise InputError(
            "center must be a (lat, lon) pair with -80 <= lat <= 80 and "
            f"-180 <= lon <= 180, got {value!r}"
        )
    return lat, lon


def check_prefix(value: object) -> str:
    """``value``, if it is a string (an id prefix)."""
    if not isinstance(value, str):
        raise InputError(f"id_prefix must be a string, got {value!r}")
    return value


def check_seed(value: object) -> int:
    """``value`` as an int, if it is a non-negative integer (a generator seed)."""
    return check_count("seed", value)


def per_district_counts(name: str, value: object, n_districts: int) -> list[int]:
    """One count per district: ``value`` repeated, or a sequence of ``n_districts`` counts."""
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        if len(value) != n_districts:
            raise InputError(
                f"{name} must have {n_districts} entries (one per district), got {len(value)}"
            )
        return [check_count(f"{name}[{k}]", v) for k, v in enumerate(value)]
    return [check_count(name, value)] * n_districts
