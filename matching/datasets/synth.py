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
from collections.abc import Sequence

import numpy as np
import pandas as pd

from matching.datasets.checks import (
    check_center,
    check_count,
    check_non_negative,
    check_positive,
    check_prefix,
    check_seed,
    check_share,
    per_district_counts,
)
from matching.datasets.geography import (
    build_geography,
    check_extent,
    name_stems,
    offset_degrees,
    semi_major_km,
    unique_names,
)
from matching.datasets.people import children_roster, mentors_roster, text_column

__all__ = ["city", "district", "province"]


def _check_layout(
    n_streets: object, communities_per_street: object, area_km2: object, priority_share: object
) -> tuple[int, int, float, float]:
    """The checked parameters every district of :func:`district` and :func:`city` shares."""
    return (
        check_count("n_streets", n_streets, minimum=1),
        check_count("communities_per_street", communities_per_street, minimum=1),
        check_positive("area_km2", area_km2),
        check_share("priority_share", priority_share),
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
    geo = build_geography(
        geo_rng,
        center,
        area_km2,
        n_streets,
        communities_per_street,
        used_streets,
        used_communities,
    )
    children = children_roster(child_rng, geo, n_children, priority_share, id_prefix)
    mentors = mentors_roster(mentor_rng, geo, n_mentors, id_prefix)
    return children, mentors


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
    n_children = check_count("n_children", n_children)
    n_mentors = check_count("n_mentors", n_mentors)
    seed = check_seed(seed)
    center = check_center(center)
    n_streets, communities_per_street, area_km2, priority_share = _check_layout(
        n_streets, communities_per_street, area_km2, priority_share
    )
    id_prefix = check_prefix(id_prefix)
    check_extent(center[0], semi_major_km(area_km2), area_km2)

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
    n_districts = check_count("n_districts", n_districts, minimum=1)
    kids = per_district_counts("children_per_district", children_per_district, n_districts)
    mentors_n = per_district_counts("mentors_per_district", mentors_per_district, n_districts)
    seed = check_seed(seed)
    lat0, lon0 = check_center(center)
    n_streets, communities_per_street, area_km2, priority_share = _check_layout(
        n_streets, communities_per_street, area_km2, priority_share
    )
    gap = check_non_negative("gap_km", gap_km)
    centres = _grid(lat0, lon0, n_districts, semi_major_km(area_km2), gap, area_km2)

    root = np.random.default_rng(seed)
    names = unique_names(root, n_districts, name_stems()[0], "区", set())
    rngs = root.spawn(n_districts)
    width = max(2, len(str(n_districts)))
    used_streets: set[str] = set()
    used_communities: set[str] = set()
    children_parts, mentor_parts = [], []
    for k in range(n_districts):
        ch, me = _district(
            rngs[k], kids[k], mentors_n[k], centres[k], n_streets, communities_per_street,
            area_km2, priority_share, f"D{k + 1:0{width}d}-", used_streets, used_communities,
        )  # fmt: skip
        ch.insert(1, "district", text_column(np.full(len(ch), names[k], dtype=object)))
        me.insert(1, "district", text_column(np.full(len(me), names[k], dtype=object)))
        children_parts.append(ch)
        mentor_parts.append(me)
    children = pd.concat(children_parts, ignore_index=True)
    mentors = pd.concat(mentor_parts, ignore_index=True)
    return children, mentors


def _grid(
    lat0: float, lon0: float, n_districts: int, a: float, gap: float, area_km2: float
) -> list[tuple[float, float]]:
    """Centres of the districts on a near-square grid, row by row from the north-west.

    Raises
    ------
    InputError
        The grid would reach beyond the latitudes the generator supports.
    """
    spacing = 2 * a + gap
    n_cols = math.ceil(math.sqrt(n_districts))
    n_rows = math.ceil(n_districts / n_cols)
    check_extent(
        lat0,
        (n_rows - 1) * spacing / 2 + a,
        (n_districts, area_km2),
        what="(n_districts, area_km2)",
    )
    centres = []
    for k in range(n_districts):
        col, row = k % n_cols, k // n_cols
        dx = (col - (n_cols - 1) / 2) * spacing
        dy = ((n_rows - 1) / 2 - row) * spacing
        centres.append(offset_degrees(lat0, lon0, dx, dy))
    return centres


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
