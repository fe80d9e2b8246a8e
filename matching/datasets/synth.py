"""Synthetic rosters of children and volunteer mentors for demos, tests and benchmarks.

The generator makes realistic *fake* rosters for a district women's federation
pairing children in need (困境儿童 / 留守儿童) with volunteer mentors ("caring
mothers", 爱心妈妈).  Nothing here is real: there are no name columns at all,
street and community names are built from a fixed list of syllables, and the
coordinates are random points around a made-up footprint.

Public functions
----------------
``district(n_children, n_mentors, *, seed, ...)``
    One district; returns ``(children, mentors)``.
``city(n_districts, children_per_district, mentors_per_district, *, seed, ...)``
    Several districts side by side, with ``district`` columns and prefixed ids.
``province(n_districts, children_per_district, mentors_per_district, *, seed, ...)``
    :func:`city` with province-scale defaults: 100 districts of 10,000
    children and 8,000 mentors (1,000,000 x 800,000), ids ``"D001-C000001"``.

Everything is drawn from ``np.random.default_rng(seed)`` (no global state), so the
same arguments always give identical frames.  The district's generator is split
with ``Generator.spawn`` into three independent streams - geography, children,
mentors - so the children of ``district(n, m, seed=s)`` do not depend on ``m``
and the geography depends on neither ``n`` nor ``m``.

Geography
---------
- Footprint: an ellipse of area ``area_km2`` around ``center`` with axis ratio
  1.3 (semi-major ``a = sqrt(1.3 * area / pi)``, semi-minor ``b = a / 1.3``),
  turned by a random angle.  For the default 300 km² ``a ≈ 11.1 km``,
  ``b ≈ 8.6 km``.  Every generated point lies inside the ellipse, so no point
  is farther than ``a`` from the centre.
- Streets (街道): ``n_streets`` centroids on a sunflower spiral inside the
  ellipse - street ``i`` at normalised radius ``0.8 * sqrt(i / n_streets)``
  (0 = centre, 1 = edge of the ellipse), golden-angle spacing from a random
  start angle, with ±0.25 rad angular jitter.  Streets with normalised radius
  below 0.5 form the *urban core* (4 of the default 8), the others the *edge*.
- Communities (社区): ``n_streets * communities_per_street`` in all, shared out
  between streets in proportion 2 (core) : 1 (edge), largest remainder, at least
  one per street - by default 8 communities per core street and 4 per edge
  street.  A community centre is its street centroid plus a normal offset with
  sd ``0.3 * s`` km per axis, where ``s = sqrt(area / (pi * n_streets))`` is the
  typical street radius (≈ 1.0 km by default), kept within 0.9 of the
  footprint radius.
- Community size: each community has a lognormal weight (log-sd 0.35, median
  1).  Children pick their community with probability proportional to this
  weight; mentors with this weight times 1.5 in core communities (volunteers
  live more in town).  So a core street houses about 2x the children of an
  edge street (same expected size per community, twice the communities) and
  about 3x the mentors.
- People: normally scattered around their community centre with a per-community
  sd drawn uniformly from 0.3-0.6 km per axis (capped at ``s / 4`` for tiny
  districts).  The rare point falling outside the footprint is pulled back
  inside by radial inversion (normalised radius ``r`` becomes ``1 / r``).
  A person's ``street`` is always the street of their ``community``.
- km to degrees: 1° latitude = 111.2 km, 1° longitude = 111.2·cos(latitude) km
  (at the point's own latitude).  Coordinates are WGS-84 degrees rounded to 6
  decimals (~0.1 m); longitudes are wrapped into [-180, 180).

Children (columns ``id, lat, lon, street, community, needs, interests,
priority, referral_source, gender, age, kind``)
-----------------------------------------------------------------------------
- ``id``: ``id_prefix + "C" + 6-digit serial`` starting at ``C000001``.
- ``kind``: ``"left_behind"`` (留守) with probability 0.60, else
  ``"in_difficulty"`` (困境).
- ``needs``: a tuple of need codes in the fixed order of ``NEEDS``.  Each need
  is drawn independently with a probability depending on ``kind``
  (``NEED_PROBABILITIES``):

  ==================  ===========  =============
  need                left_behind  in_difficulty
  ==================  ===========  =============
  life_care           0.70         0.40
  spiritual_growth    0.35         0.60
  social_integration  0.25         0.55
  family_education    0.60         0.30
  ==================  ===========  =============

  A child who drew no need at all (5.9 % of left-behind, 7.6 % of children in
  difficulty) gets exactly one, chosen with probabilities proportional to the
  column above, so every child has at least one need.  Effective shares are
  therefore a little higher: left-behind ≈ 0.72 / 0.36 / 0.26 / 0.62,
  in difficulty ≈ 0.42 / 0.62 / 0.57 / 0.31.
- ``interests``: 0, 1, 2 or 3 tags with probabilities 0.25 / 0.35 / 0.25 / 0.15,
  drawn one after the other without replacement, each pick proportional to the
  popularity weights of the tags still left (``CHILD_INTEREST_WEIGHTS``:
  阅读 .14, 绘画 .12, 篮球 .10, 足球 .10, 音乐 .09, 舞蹈 .08, 手工 .08, 书法 .07,
  科学实验 .07, 编程 .06, 围棋 .05, 国际象棋 .04), stored in the order of
  ``INTEREST_TAGS``.
- ``priority`` (int64): exactly ``round(priority_share * n_children)`` children
  have priority 1 (e.g. referrals from petition cases, 信访), the others 0.
  They are picked without replacement with weight 2 for children in difficulty
  and 1 for left-behind children (≈ 57 % of priority children are in
  difficulty with the default shares).
- ``referral_source``: priority children come from ``"petition"`` 0.70,
  ``"street"`` 0.10, ``"school"`` 0.10, ``"community"`` 0.10; the others from
  petition 0.05, street 0.30, school 0.35, community 0.30.
- ``gender``: ``"male"`` 0.52, ``"female"`` 0.48.
- ``age`` (float64, years, one decimal): ``3 + 14 * Beta(2, 2)``, so in
  [3, 17] with mean 10 and sd ≈ 3.1.

Mentors (columns ``id, lat, lon, street, community, profession, skills,
interests, capacity, max_distance_km, active, gender``)
---------------------------------------------------------------------------
- ``id``: ``id_prefix + "M" + 6-digit serial`` starting at ``M000001``.
- ``profession`` with shares (``PROFESSION_SHARES``) and the skills it brings
  (``PROFESSION_SKILLS``):

  ===========================  =====  =======================================
  profession                   share  skills
  ===========================  =====  =======================================
  teacher                      0.22   spiritual_growth, family_education
  retired_cadre                0.15   life_care, social_integration
  social_worker                0.12   life_care, social_integration
  family_education_instructor  0.10   family_education
  doctor_nurse                 0.10   life_care
  community_volunteer          0.10   life_care
  psychologist                 0.08   spiritual_growth, social_integration
  club_organiser               0.08   social_integration (+ ≥ 1 interest tag)
  lawyer                       0.05   social_integration, family_education
  ===========================  =====  =======================================

- ``skills``: the profession's skills plus, independently, each other need
  with probability 0.10 (life experience); a tuple in the order of ``NEEDS``.
- ``interests``: 0, 1, 2 or 3 tags with probabilities 0.30 / 0.35 / 0.22 / 0.13
  (club organisers: 1 / 2 / 3 with 0.30 / 0.40 / 0.30, so always at least one),
  drawn the same way with weights ``MENTOR_INTEREST_WEIGHTS`` (阅读 .16,
  书法 .10, 音乐 .10, 舞蹈 .10, 手工 .10, 绘画 .09, 篮球 .07, 科学实验 .07,
  围棋 .06, 足球 .05, 编程 .05, 国际象棋 .05).
- ``capacity`` (int64): 1 / 2 / 3 children with probabilities 0.80 / 0.15 / 0.05.
- ``max_distance_km`` (float64): NaN (no personal limit) with probability
  0.85, else uniform on [2, 8] km rounded to 0.1 km.
- ``active`` (bool): True with probability 0.97.
- ``gender``: ``"female"`` 0.90, ``"male"`` 0.10.

Tested tolerances
-----------------
``tests/test_synth.py`` checks these on ``district(20_000, 16_000)`` for
several seeds (sampling sd of a share p over n draws is sqrt(p(1-p)/n), under
0.006 here, so each tolerance is at least 2.5 sd):

- need shares by kind (the effective shares above): ± 0.03 of each;
- kind (0.60 left-behind), capacity (0.80 / 0.15 / 0.05) and each
  profession share: ± 0.015;
- priority count: exact, ``round(priority_share * n_children)``;
- the urban core is denser than the edge: core streets hold 1.4-2.8x the
  children of an edge street, and mentors lean further to the core;
- in a ``city`` / ``province`` every district follows the same distributions
  (checked per district of 6,000 children with doubled tolerances).

City
----
``city`` lays ``n_districts`` districts out on a near-square grid
(``ceil(sqrt(n))`` columns, filled row by row from the north-west) whose
spacing is ``2 * a + gap_km``, so the footprints - and even their bounding
boxes - never overlap.  District ``k`` (1-based) gets ids prefixed
``"D{k:02d}-"`` (three digits from 100 districts on), a distinct Chinese
district name (``"…区"``) in a ``district`` column right after ``id``, and its
own generator spawned from ``default_rng(seed)``.  Street and community names
are unique across the whole city.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from numbers import Integral, Real

import numpy as np
import pandas as pd

from matching.errors import InputError

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

# --------------------------------------------------------------------------
# Vocabulary and distributions (documented in the module docstring)
# --------------------------------------------------------------------------

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

# Geography
_KM_PER_DEG = 111.2
_ASPECT = 1.3
_STREET_MAX_RADIUS = 0.8
_CORE_RADIUS = 0.5
_CORE_COMMUNITY_WEIGHT = 2.0
_MENTOR_CORE_BOOST = 1.5
_COMMUNITY_SPREAD = 0.3  # community sd as a fraction of the street radius
_COMMUNITY_LIMIT = 0.9
_COMMUNITY_LOG_SD = 0.35
_PERSON_SD_KM = (0.3, 0.6)
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
_MAX_ABS_LAT = 85.0

# Syllables for names (fixed lists; names are combinations, never real records).
_SYL_A = tuple("湖青红茶丽兰雕潞南北东西新金龙凤桂柳梅松竹荷春永安和平嘉泰康宁华清明德顺长天云月")
_SYL_B = tuple("塘龙梅山华陵庄城桥湾港河湖溪林园坊泽亭岗田墅阳门洲浦口头堰渡")
_COMMUNITY_SUFFIX = ("", "苑", "园", "里", "新村", "花园")


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _check_count(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        kind = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise InputError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def _check_share(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(float(value))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise InputError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _check_positive(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(float(value))
        or float(value) <= 0.0
    ):
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_center(value: object) -> tuple[float, float]:
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


def _check_prefix(value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"id_prefix must be a string, got {value!r}")
    return value


def _semi_major_km(area_km2: float) -> float:
    return math.sqrt(_ASPECT * area_km2 / math.pi)


def _check_extent(lat: float, half_extent_km: float, value: object, what: str = "area_km2") -> None:
    if abs(lat) + half_extent_km / _KM_PER_DEG > _MAX_ABS_LAT:
        raise InputError(
            f"{what} must keep the footprint within ±{_MAX_ABS_LAT:g}° latitude "
            f"around center latitude {lat:g}, got {value!r}"
        )


def _check_seed(value: object) -> int:
    return _check_count("seed", value)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


@cache
def _tuple_pool(vocab: tuple[str, ...]) -> np.ndarray:
    """Object array mapping a bit mask over ``vocab`` to the tuple of its members."""
    pool = np.empty(1 << len(vocab), dtype=object)
    for mask in range(1 << len(vocab)):
        pool[mask] = tuple(v for i, v in enumerate(vocab) if mask >> i & 1)
    pool.flags.writeable = False
    return pool


def _labels(vocab: Sequence[str], codes: np.ndarray) -> np.ndarray:
    return np.asarray(vocab, dtype=object)[codes]


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


def _unique_names(
    rng: np.random.Generator, count: int, stems: Sequence[str], suffix: str, used: set[str]
) -> list[str]:
    """``count`` names ``stem + suffix`` in random order, avoiding and updating ``used``.

    Once every stem is taken, further rounds number the stems ("湖塘2街道").
    """
    order = rng.permutation(len(stems))
    names: list[str] = []
    round_ = 0
    while len(names) < count:
        for j in order:
            stem = stems[j]
            name = f"{stem}{suffix}" if round_ == 0 else f"{stem}{round_ + 1}{suffix}"
            if name not in used:
                used.add(name)
                names.append(name)
                if len(names) == count:
                    break
        round_ += 1
    return names


@cache
def _stems() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Two-syllable place stems, and community stems with an optional estate suffix."""
    places = tuple(a + b for a in _SYL_A for b in _SYL_B if a != b)
    communities = tuple(s + suf for suf in _COMMUNITY_SUFFIX for s in places)
    return places, communities


def _ids(prefix: str, letter: str, n: int) -> np.ndarray:
    """``prefix + letter + 6-digit serial`` for 1..n, as an object array of str."""
    head = prefix + letter
    if n and hasattr(np, "strings"):  # numpy >= 2: vectorised string ops
        serial = np.arange(1, n + 1).astype(np.dtypes.StringDType())
        return np.strings.add(head, np.strings.zfill(serial, 6)).astype(object)
    return np.array([f"{head}{i:06d}" for i in range(1, n + 1)], dtype=object)


# --------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------


def _fold_inside(
    x: np.ndarray, y: np.ndarray, a: float, b: float, theta: float, limit: float
) -> None:
    """Pull points beyond normalised radius ``limit`` back inside, in place.

    A point at normalised radius ``r > limit`` moves along its ray to
    ``limit**2 / r`` (radial inversion), which is strictly inside.
    """
    c, s = math.cos(theta), math.sin(theta)
    u = (x * c + y * s) / a
    v = (-x * s + y * c) / b
    rho = np.sqrt(u * u + v * v)
    out = rho > limit
    if out.any():
        scale = (limit / rho[out]) ** 2
        x[out] *= scale
        y[out] *= scale


@dataclass(frozen=True)
class _Geography:
    lat0: float
    lon0: float
    a: float  # semi-major, km
    b: float  # semi-minor, km
    theta: float  # rotation of the major axis from east, radians
    street_names: np.ndarray  # object, per street
    community_names: np.ndarray  # object, per community
    community_street: np.ndarray  # int, per community
    community_x: np.ndarray  # km east of the centre
    community_y: np.ndarray  # km north of the centre
    community_sd: np.ndarray  # km, person scatter
    child_p: np.ndarray  # probability of a child living in each community
    mentor_p: np.ndarray

    def to_degrees(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat = self.lat0 + y / _KM_PER_DEG
        lon = self.lon0 + x / (_KM_PER_DEG * np.cos(np.radians(lat)))
        lon = np.round((lon + 180.0) % 360.0 - 180.0, 6)
        lon[lon >= 180.0] -= 360.0  # rounding may land exactly on +180
        return np.round(lat, 6), lon

    def place(self, rng: np.random.Generator, n: int, p: np.ndarray):
        """Communities and coordinates of ``n`` people."""
        comm = rng.choice(p.shape[0], size=n, p=p)
        sd = self.community_sd[comm]
        x = self.community_x[comm] + sd * rng.standard_normal(n)
        y = self.community_y[comm] + sd * rng.standard_normal(n)
        _fold_inside(x, y, self.a, self.b, self.theta, 1.0)
        lat, lon = self.to_degrees(x, y)
        return comm, lat, lon


def _share_out(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` with at least one per slot."""
    quota = total * weights / weights.sum()
    counts = np.floor(quota).astype(np.int64)
    rest = total - int(counts.sum())
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[:rest]] += 1
    for i in np.flatnonzero(counts == 0):
        counts[int(np.argmax(counts))] -= 1
        counts[i] = 1
    return counts


def _geography(
    rng: np.random.Generator,
    center: tuple[float, float],
    area_km2: float,
    n_streets: int,
    communities_per_street: int,
    used_streets: set[str],
    used_communities: set[str],
) -> _Geography:
    a = _semi_major_km(area_km2)
    b = a / _ASPECT
    theta = float(rng.uniform(0.0, math.pi))
    cos_t, sin_t = math.cos(theta), math.sin(theta)

    # Street centroids on a sunflower spiral in normalised ellipse coordinates.
    i = np.arange(n_streets)
    rho = _STREET_MAX_RADIUS * np.sqrt(i / n_streets)
    phi = rng.uniform(0.0, 2 * math.pi) + i * _GOLDEN_ANGLE
    phi = phi + rng.uniform(-0.25, 0.25, size=n_streets)
    u, v = a * rho * np.cos(phi), b * rho * np.sin(phi)
    sx, sy = u * cos_t - v * sin_t, u * sin_t + v * cos_t
    core = rho < _CORE_RADIUS

    n_comm = n_streets * communities_per_street
    per_street = _share_out(n_comm, np.where(core, _CORE_COMMUNITY_WEIGHT, 1.0))
    street_of = np.repeat(i, per_street)
    street_radius = math.sqrt(area_km2 / (math.pi * n_streets))
    spread = _COMMUNITY_SPREAD * street_radius
    cx = sx[street_of] + spread * rng.standard_normal(n_comm)
    cy = sy[street_of] + spread * rng.standard_normal(n_comm)
    _fold_inside(cx, cy, a, b, theta, _COMMUNITY_LIMIT)
    person_sd = np.minimum(rng.uniform(*_PERSON_SD_KM, size=n_comm), street_radius / 4)
    size = rng.lognormal(0.0, _COMMUNITY_LOG_SD, size=n_comm)
    mentor_size = size * np.where(core[street_of], _MENTOR_CORE_BOOST, 1.0)

    places, community_stems = _stems()
    street_names = _unique_names(rng, n_streets, places, "街道", used_streets)
    community_names = _unique_names(rng, n_comm, community_stems, "社区", used_communities)

    geo = _Geography(
        lat0=center[0],
        lon0=center[1],
        a=a,
        b=b,
        theta=theta,
        street_names=np.array(street_names, dtype=object),
        community_names=np.array(community_names, dtype=object),
        community_street=street_of,
        community_x=cx,
        community_y=cy,
        community_sd=person_sd,
        child_p=size / size.sum(),
        mentor_p=mentor_size / mentor_size.sum(),
    )
    return geo


# --------------------------------------------------------------------------
# Rosters
# --------------------------------------------------------------------------

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


def _str_col(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype=str)


def _place_columns(geo: _Geography, comm: np.ndarray) -> tuple[pd.Series, pd.Series]:
    street = geo.street_names[geo.community_street[comm]]
    community = geo.community_names[comm]
    return _str_col(street), _str_col(community)


def _children(
    rng: np.random.Generator, geo: _Geography, n: int, priority_share: float, prefix: str
) -> pd.DataFrame:
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

    street, community = _place_columns(geo, comm)
    return pd.DataFrame(
        {
            "id": _str_col(_ids(prefix, "C", n)),
            "lat": lat.astype(np.float64),
            "lon": lon.astype(np.float64),
            "street": street,
            "community": community,
            "needs": pd.Series(needs, dtype=object),
            "interests": pd.Series(interests, dtype=object),
            "priority": priority,
            "referral_source": _str_col(_labels(REFERRAL_SOURCES, referral)),
            "gender": _str_col(_labels(_GENDERS, gender)),
            "age": age.astype(np.float64),
            "kind": _str_col(_labels(KINDS, kind)),
        },
        columns=list(_CHILD_COLUMNS),
    )


def _mentors(rng: np.random.Generator, geo: _Geography, n: int, prefix: str) -> pd.DataFrame:
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

    street, community = _place_columns(geo, comm)
    return pd.DataFrame(
        {
            "id": _str_col(_ids(prefix, "M", n)),
            "lat": lat.astype(np.float64),
            "lon": lon.astype(np.float64),
            "street": street,
            "community": community,
            "profession": _str_col(_labels(PROFESSIONS, prof)),
            "skills": pd.Series(skills, dtype=object),
            "interests": pd.Series(interests, dtype=object),
            "capacity": capacity.astype(np.int64),
            "max_distance_km": max_distance.astype(np.float64),
            "active": active.astype(bool),
            "gender": _str_col(_labels(_GENDERS, gender)),
        },
        columns=list(_MENTOR_COLUMNS),
    )


def _district(
    rng: np.random.Generator,
    n_children: int,
    n_mentors: int,
    center: tuple[float, float],
    n_streets: int,
    communities_per_street: int,
    area_km2: float,
    priority_share: float,
    id_prefix: str,
    used_streets: set[str],
    used_communities: set[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    geo_rng, child_rng, mentor_rng = rng.spawn(3)
    geo = _geography(
        geo_rng,
        center,
        area_km2,
        n_streets,
        communities_per_street,
        used_streets,
        used_communities,
    )
    children = _children(child_rng, geo, n_children, priority_share, id_prefix)
    mentors = _mentors(mentor_rng, geo, n_mentors, id_prefix)
    return children, mentors


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def district(
    n_children: int = 2000,
    n_mentors: int = 1600,
    *,
    seed: int = 0,
    center: tuple[float, float] = (31.81, 119.97),
    n_streets: int = 8,
    communities_per_street: int = 6,
    area_km2: float = 300.0,
    priority_share: float = 0.08,
    id_prefix: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate a synthetic district: ``(children, mentors)`` raw rosters.

    Parameters
    ----------
    n_children, n_mentors : int
        Number of rows of each roster (>= 0).
    seed : int
        Seed of ``np.random.default_rng``; same arguments give identical frames.
    center : (lat, lon)
        Centre of the footprint in WGS-84 degrees (default near Changzhou,
        Jiangsu); ``-80 <= lat <= 80``.
    n_streets, communities_per_street : int
        Number of streets (>= 1) and average communities per street (>= 1).
    area_km2 : float
        Area of the elliptical footprint (> 0).
    priority_share : float
        Share of children with ``priority == 1`` (0 to 1).
    id_prefix : str
        Prepended to every id, e.g. ``"D03-"``.

    Returns
    -------
    (children, mentors) : tuple of DataFrame
        Columns and distributions as described in the module docstring.

    Raises
    ------
    InputError
        (a ``ValueError``) naming the bad parameter and its value.
    """
    n_children = _check_count("n_children", n_children)
    n_mentors = _check_count("n_mentors", n_mentors)
    seed = _check_seed(seed)
    center = _check_center(center)
    n_streets = _check_count("n_streets", n_streets, minimum=1)
    communities_per_street = _check_count(
        "communities_per_street", communities_per_street, minimum=1
    )
    area_km2 = _check_positive("area_km2", area_km2)
    priority_share = _check_share("priority_share", priority_share)
    id_prefix = _check_prefix(id_prefix)
    _check_extent(center[0], _semi_major_km(area_km2), area_km2)

    return _district(
        np.random.default_rng(seed),
        n_children,
        n_mentors,
        center,
        n_streets,
        communities_per_street,
        area_km2,
        priority_share,
        id_prefix,
        set(),
        set(),
    )


def _per_district(name: str, value: object, n_districts: int) -> list[int]:
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        if len(value) != n_districts:
            raise InputError(
                f"{name} must have {n_districts} entries (one per district), got {len(value)}"
            )
        return [_check_count(f"{name}[{k}]", v) for k, v in enumerate(value)]
    return [_check_count(name, value)] * n_districts


def city(
    n_districts: int = 5,
    children_per_district: int | Sequence[int] = 2000,
    mentors_per_district: int | Sequence[int] = 1600,
    *,
    seed: int = 0,
    center: tuple[float, float] = (31.81, 119.97),
    n_streets: int = 8,
    communities_per_street: int = 6,
    area_km2: float = 300.0,
    priority_share: float = 0.08,
    gap_km: float = 2.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate several districts side by side: ``(children, mentors)``.

    Districts sit on a near-square grid around ``center`` with ``gap_km``
    between the bounding circles of their footprints, so footprints never
    overlap.  District ``k`` (1-based) has ids prefixed ``"D{k:02d}-"`` and a
    distinct Chinese name in the ``district`` column (second column).
    ``children_per_district`` / ``mentors_per_district`` are one count for all
    districts or one count per district.  The other parameters are as in
    :func:`district` and apply to every district.
    """
    n_districts = _check_count("n_districts", n_districts, minimum=1)
    kids = _per_district("children_per_district", children_per_district, n_districts)
    mentors_n = _per_district("mentors_per_district", mentors_per_district, n_districts)
    seed = _check_seed(seed)
    lat0, lon0 = _check_center(center)
    n_streets = _check_count("n_streets", n_streets, minimum=1)
    communities_per_street = _check_count(
        "communities_per_street", communities_per_street, minimum=1
    )
    area_km2 = _check_positive("area_km2", area_km2)
    priority_share = _check_share("priority_share", priority_share)
    if isinstance(gap_km, bool) or not isinstance(gap_km, Real) or not 0 <= gap_km < math.inf:
        raise InputError(f"gap_km must be a non-negative finite number, got {gap_km!r}")

    a = _semi_major_km(area_km2)
    spacing = 2 * a + float(gap_km)
    n_cols = math.ceil(math.sqrt(n_districts))
    n_rows = math.ceil(n_districts / n_cols)
    _check_extent(
        lat0,
        (n_rows - 1) * spacing / 2 + a,
        (n_districts, area_km2),
        what="(n_districts, area_km2)",
    )

    root = np.random.default_rng(seed)
    names = _unique_names(root, n_districts, _stems()[0], "区", set())
    rngs = root.spawn(n_districts)
    width = max(2, len(str(n_districts)))
    used_streets: set[str] = set()
    used_communities: set[str] = set()
    children_parts, mentor_parts = [], []
    for k in range(n_districts):
        col, row = k % n_cols, k // n_cols
        dx = (col - (n_cols - 1) / 2) * spacing
        dy = ((n_rows - 1) / 2 - row) * spacing
        lat = lat0 + dy / _KM_PER_DEG
        lon = lon0 + dx / (_KM_PER_DEG * math.cos(math.radians(lat)))
        lon = (lon + 180.0) % 360.0 - 180.0
        prefix = f"D{k + 1:0{width}d}-"
        ch, me = _district(
            rngs[k],
            kids[k],
            mentors_n[k],
            (lat, lon),
            n_streets,
            communities_per_street,
            area_km2,
            priority_share,
            prefix,
            used_streets,
            used_communities,
        )
        ch.insert(1, "district", _str_col(np.full(len(ch), names[k], dtype=object)))
        me.insert(1, "district", _str_col(np.full(len(me), names[k], dtype=object)))
        children_parts.append(ch)
        mentor_parts.append(me)
    children = pd.concat(children_parts, ignore_index=True)
    mentors = pd.concat(mentor_parts, ignore_index=True)
    return children, mentors


def province(
    n_districts: int = 100,
    children_per_district: int | Sequence[int] = 10_000,
    mentors_per_district: int | Sequence[int] = 8_000,
    *,
    seed: int = 0,
    **kwargs: object,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate a province-scale roster: many districts, as :func:`city` lays them out.

    A thin composition of :func:`city` with province-scale defaults: 100
    districts of 10,000 children and 8,000 mentors each (1,000,000 x 800,000
    in all) on a 10 x 10 grid, ids prefixed ``"D001-"`` to ``"D100-"``.
    ``kwargs`` (``center``, ``n_streets``, ``communities_per_street``,
    ``area_km2``, ``priority_share``, ``gap_km``) are passed on to :func:`city`
    and apply to every district.

    Examples
    --------
    >>> from matching.datasets.synth import province
    >>> children, mentors = province(4, 30, 20, seed=1)
    >>> len(children), len(mentors), children["district"].nunique()
    (120, 80, 4)
    >>> children["id"].iloc[0], mentors["id"].iloc[-1]
    ('D01-C000001', 'D04-M000020')
    """
    return city(
        n_districts,
        children_per_district,
        mentors_per_district,
        seed=seed,
        **kwargs,  # type: ignore[arg-type]
    )
