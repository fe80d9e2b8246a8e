"""Synthetic children and mentors: the vocabulary, the distributions and the roster frames.

Every distribution is documented in :mod:`matching.datasets.synth`; the public tuples and
dicts here are the vocabulary those documents refer to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np
import pandas as pd

from matching.datasets.geography import Geography

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
    "children_roster",
    "mentors_roster",
    "text_column",
]

NEEDS: tuple[str, ...] = (
    "life_care",
    "spiritual_growth",
    "social_integration",
    "family_education",
)

INTEREST_TAGS: tuple[str, ...] = (
    "国际象棋",
    "书法",
    "篮球",
    "绘画",
    "阅读",
    "编程",
    "音乐",
    "舞蹈",
    "科学实验",
    "足球",
    "围棋",
    "手工",
)

#: Popularity weights of the first interest drawn (same order as INTEREST_TAGS).
CHILD_INTEREST_WEIGHTS: dict[str, float] = {
    "国际象棋": 0.04,
    "书法": 0.07,
    "篮球": 0.10,
    "绘画": 0.12,
    "阅读": 0.14,
    "编程": 0.06,
    "音乐": 0.09,
    "舞蹈": 0.08,
    "科学实验": 0.07,
    "足球": 0.10,
    "围棋": 0.05,
    "手工": 0.08,
}

MENTOR_INTEREST_WEIGHTS: dict[str, float] = {
    "国际象棋": 0.05,
    "书法": 0.10,
    "篮球": 0.07,
    "绘画": 0.09,
    "阅读": 0.16,
    "编程": 0.05,
    "音乐": 0.10,
    "舞蹈": 0.10,
    "科学实验": 0.07,
    "足球": 0.05,
    "围棋": 0.06,
    "手工": 0.10,
}

KINDS: tuple[str, ...] = ("left_behind", "in_difficulty")
_KIND_P = (0.60, 0.40)

#: Independent probability of each need, by kind, before the at-least-one fix-up.
NEED_PROBABILITIES: dict[str, dict[str, float]] = {
    "left_behind": {
        "life_care": 0.70,
        "spiritual_growth": 0.35,
        "social_integration": 0.25,
        "family_education": 0.60,
    },
    "in_difficulty": {
        "life_care": 0.40,
        "spiritual_growth": 0.60,
        "social_integration": 0.55,
        "family_education": 0.30,
    },
}

_CHILD_N_INTERESTS_P = (0.25, 0.35, 0.25, 0.15)
_PRIORITY_WEIGHT = {"left_behind": 1.0, "in_difficulty": 2.0}

REFERRAL_SOURCES: tuple[str, ...] = ("petition", "street", "school", "community")
_REFERRAL_P = {
    0: (0.05, 0.30, 0.35, 0.30),  # normal children
    1: (0.70, 0.10, 0.10, 0.10),  # priority children
}

_GENDERS = ("female", "male")
_CHILD_GENDER_P = (0.48, 0.52)
_MENTOR_GENDER_P = (0.90, 0.10)
_AGE_MIN, _AGE_SPAN, _AGE_BETA = 3.0, 14.0, (2.0, 2.0)

PROFESSION_SHARES: dict[str, float] = {
    "teacher": 0.22,
    "retired_cadre": 0.15,
    "social_worker": 0.12,
    "family_education_instructor": 0.10,
    "doctor_nurse": 0.10,
    "community_volunteer": 0.10,
    "psychologist": 0.08,
    "club_organiser": 0.08,
    "lawyer": 0.05,
}
PROFESSIONS: tuple[str, ...] = tuple(PROFESSION_SHARES)

PROFESSION_SKILLS: dict[str, tuple[str, ...]] = {
    "teacher": ("spiritual_growth", "family_education"),
    "retired_cadre": ("life_care", "social_integration"),
    "social_worker": ("life_care", "social_integration"),
    "family_education_instructor": ("family_education",),
    "doctor_nurse": ("life_care",),
    "community_volunteer": ("life_care",),
    "psychologist": ("spiritual_growth", "social_integration"),
    "club_organiser": ("social_integration",),
    "lawyer": ("social_integration", "family_education"),
}
_EXTRA_SKILL_P = 0.10
_MENTOR_N_INTERESTS_P = (0.30, 0.35, 0.22, 0.13)
_CLUB_N_INTERESTS_P = (0.0, 0.30, 0.40, 0.30)
_CAPACITY_P = (0.80, 0.15, 0.05)  # capacity 1, 2, 3
_NO_LIMIT_P = 0.85
_LIMIT_RANGE_KM = (2.0, 8.0)
_ACTIVE_P = 0.97


@cache
def _tuple_pool(vocab: tuple[str, ...]) -> np.ndarray:
    """Object array mapping a bit mask over ``vocab`` to the tuple of its members."""
    pool = np.empty(1 << len(vocab), dtype=object)
    for mask in range(1 << len(vocab)):
        pool[mask] = tuple(v for i, v in enumerate(vocab) if mask >> i & 1)
    pool.flags.writeable = False
    return pool


def _labels(vocab: Sequence[str], codes: np.ndarray) -> np.ndarray:
    """The vocabulary entry of each code (an object array)."""
    labels: np.ndarray = np.asarray(vocab, dtype=object)[codes]
    return labels


def _weighted_top_mask(
    rng: np.random.Generator, weights: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Bit masks of ``counts[i]`` items per row drawn without replacement.

    Successive weighted draws: each step picks one of the remaining items with
    probability proportional to its weight (inverse CDF), then removes it.
    """
    n = counts.shape[0]
    mask = np.zeros(n, dtype=np.int64)
    rows = np.flatnonzero(counts > 0)
    left = np.broadcast_to(weights, (rows.size, weights.shape[0])).copy()
    step = 0
    while rows.size:
        cum = np.cumsum(left, axis=1)
        u = rng.random(rows.size) * cum[:, -1]
        pick = (cum <= u[:, None]).sum(axis=1)
        mask[rows] |= np.left_shift(np.int64(1), pick.astype(np.int64))
        left[np.arange(rows.size), pick] = 0.0
        step += 1
        keep = counts[rows] > step
        rows, left = rows[keep], left[keep]
    return mask


def _by_group(
    rng: np.random.Generator, groups: np.ndarray, probs: Mapping[int, Sequence[float]]
) -> np.ndarray:
    """One categorical draw per row, the probabilities chosen by the row's group."""
    out = np.zeros(groups.shape[0], dtype=np.int64)
    for g, p in probs.items():
        sel = np.flatnonzero(groups == g)
        out[sel] = rng.choice(len(p), size=sel.size, p=np.asarray(p))
    return out


def _ids(head: str, n: int) -> np.ndarray:
    """``head + 6-digit serial`` for 1..n, as an object array of str."""
    if n and hasattr(np, "strings"):  # numpy >= 2: vectorised string ops
        serial = np.arange(1, n + 1).astype(np.dtypes.StringDType())
        return np.strings.add(head, np.strings.zfill(serial, 6)).astype(object)
    return np.array([f"{head}{i:06d}" for i in range(1, n + 1)], dtype=object)


_CHILD_COLUMNS = (
    "id",
    "lat",
    "lon",
    "street",
    "community",
    "needs",
    "interests",
    "priority",
    "referral_source",
    "gender",
    "age",
    "kind",
)
_MENTOR_COLUMNS = (
    "id",
    "lat",
    "lon",
    "street",
    "community",
    "profession",
    "skills",
    "interests",
    "capacity",
    "max_distance_km",
    "active",
    "gender",
)


def text_column(values: np.ndarray) -> pd.Series:
    """A column of text values (``str`` dtype)."""
    return pd.Series(values, dtype=str)


def _whereabouts(
    geo: Geography, comm: np.ndarray, lat: np.ndarray, lon: np.ndarray, head: str
) -> dict[str, pd.Series | np.ndarray]:
    """The first columns of a roster: ids ``head + serial``, coordinates, street, community."""
    return {
        "id": text_column(_ids(head, len(comm))),
        "lat": lat.astype(np.float64),
        "lon": lon.astype(np.float64),
        "street": text_column(geo.street_names[geo.community_street[comm]]),
        "community": text_column(geo.community_names[comm]),
    }


def children_roster(
    rng: np.random.Generator, geo: Geography, n: int, priority_share: float, prefix: str
) -> pd.DataFrame:
    """``n`` children living in ``geo``, ids ``prefix + "C" + serial``."""
    comm, lat, lon = geo.place(rng, n, geo.child_p)
    kind = rng.choice(len(KINDS), size=n, p=np.asarray(_KIND_P))

    # Needs: independent Bernoulli per need by kind, then at least one.
    need_p = np.array([[NEED_PROBABILITIES[k][nd] for nd in NEEDS] for k in KINDS])
    has = rng.random((n, len(NEEDS))) < need_p[kind]
    mask = has.astype(np.int64) @ (np.int64(1) << np.arange(len(NEEDS), dtype=np.int64))
    for k in range(len(KINDS)):
        sel = np.flatnonzero((mask == 0) & (kind == k))
        pick = rng.choice(len(NEEDS), size=sel.size, p=need_p[k] / need_p[k].sum())
        mask[sel] = np.int64(1) << pick
    needs = _tuple_pool(NEEDS)[mask]

    n_int = rng.choice(len(_CHILD_N_INTERESTS_P), size=n, p=np.asarray(_CHILD_N_INTERESTS_P))
    weights = np.array([CHILD_INTEREST_WEIGHTS[t] for t in INTEREST_TAGS])
    interests = _tuple_pool(INTEREST_TAGS)[_weighted_top_mask(rng, weights, n_int)]

    # Priority: exactly round(share * n), weighted towards children in difficulty.
    n_priority = min(n, math.floor(priority_share * n + 0.5))
    priority = np.zeros(n, dtype=np.int64)
    if n_priority:
        pw = np.array([_PRIORITY_WEIGHT[k] for k in KINDS])[kind]
        keys = np.log(pw) + rng.gumbel(size=n)
        priority[np.argsort(-keys, kind="stable")[:n_priority]] = 1
    referral = _by_group(rng, priority, _REFERRAL_P)

    gender = rng.choice(len(_GENDERS), size=n, p=np.asarray(_CHILD_GENDER_P))
    age = np.round(_AGE_MIN + _AGE_SPAN * rng.beta(*_AGE_BETA, size=n), 1)

    return pd.DataFrame(
        {
            **_whereabouts(geo, comm, lat, lon, prefix + "C"),
            "needs": pd.Series(needs, dtype=object),
            "interests": pd.Series(interests, dtype=object),
            "priority": priority,
            "referral_source": text_column(_labels(REFERRAL_SOURCES, referral)),
            "gender": text_column(_labels(_GENDERS, gender)),
            "age": age.astype(np.float64),
            "kind": text_column(_labels(KINDS, kind)),
        },
        columns=list(_CHILD_COLUMNS),
    )


def mentors_roster(rng: np.random.Generator, geo: Geography, n: int, prefix: str) -> pd.DataFrame:
    """``n`` mentors living in ``geo``, ids ``prefix + "M" + serial``."""
    comm, lat, lon = geo.place(rng, n, geo.mentor_p)
    shares = np.array([PROFESSION_SHARES[p] for p in PROFESSIONS])
    prof = rng.choice(len(PROFESSIONS), size=n, p=shares / shares.sum())

    bit = {nd: 1 << j for j, nd in enumerate(NEEDS)}
    base = np.array([sum(bit[s] for s in PROFESSION_SKILLS[p]) for p in PROFESSIONS])
    extra = rng.random((n, len(NEEDS))) < _EXTRA_SKILL_P
    extra_mask = extra.astype(np.int64) @ (np.int64(1) << np.arange(len(NEEDS), dtype=np.int64))
    skills = _tuple_pool(NEEDS)[base[prof] | extra_mask]

    club = PROFESSIONS.index("club_organiser")
    n_int = _by_group(
        rng, (prof == club).astype(np.int64), {0: _MENTOR_N_INTERESTS_P, 1: _CLUB_N_INTERESTS_P}
    )
    weights = np.array([MENTOR_INTEREST_WEIGHTS[t] for t in INTEREST_TAGS])
    interests = _tuple_pool(INTEREST_TAGS)[_weighted_top_mask(rng, weights, n_int)]

    capacity = rng.choice(len(_CAPACITY_P), size=n, p=np.asarray(_CAPACITY_P)) + 1
    limited = rng.random(n) >= _NO_LIMIT_P
    limit = np.round(rng.uniform(*_LIMIT_RANGE_KM, size=n), 1)
    max_distance = np.where(limited, limit, np.nan)
    active = rng.random(n) < _ACTIVE_P
    gender = rng.choice(len(_GENDERS), size=n, p=np.asarray(_MENTOR_GENDER_P))

    return pd.DataFrame(
        {
            **_whereabouts(geo, comm, lat, lon, prefix + "M"),
            "profession": text_column(_labels(PROFESSIONS, prof)),
            "skills": pd.Series(skills, dtype=object),
            "interests": pd.Series(interests, dtype=object),
            "capacity": capacity.astype(np.int64),
            "max_distance_km": max_distance.astype(np.float64),
            "active": active.astype(bool),
            "gender": text_column(_labels(_GENDERS, gender)),
        },
        columns=list(_MENTOR_COLUMNS),
    )
