"""Synthetic rosters: a district, a city, a province (deterministic for a seed)."""

from matching.datasets.people import (
    CHILD_INTEREST_WEIGHTS,
    INTEREST_TAGS,
    KINDS,
    MENTOR_INTEREST_WEIGHTS,
    NEED_PROBABILITIES,
    NEEDS,
    PROFESSION_SHARES,
    PROFESSION_SKILLS,
    PROFESSIONS,
    REFERRAL_SOURCES,
)
from matching.datasets.synth import city, district, province

__all__ = [
    "CHILD_INTEREST_WEIGHTS",
    "INTEREST_TAGS",
    "KINDS",
    "MENTOR_INTEREST_WEIGHTS",
    "NEEDS",
    "NEED_PROBABILITIES",
    "PROFESSIONS",
    "PROFESSION_SHARES",
    "PROFESSION_SKILLS",
    "REFERRAL_SOURCES",
    "city",
    "district",
    "province",
]
