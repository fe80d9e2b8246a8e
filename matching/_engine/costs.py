"""The one cost model: every term in kilometre-equivalents (km-eq).

For a child ``i`` and a mentor ``j`` within reach::

    cost = distance_km
         + uncovered_need_km  * (number of the child's needs the mentor's skills miss)
         - shared_interest_km * min(shared interest tags, max_shared_interests)

and leaving child ``i`` unmatched costs
``unmatched_km + priority_km * priority_i``.  The terms are kept apart for
explanations (:class:`CostTerms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching._arrays import distinct_codes
from matching.config import MatchConfig

__all__ = ["CostTerms", "InterestCodes", "pair_costs", "unmatched_price"]


@dataclass(frozen=True)
class CostTerms:
    """Per-arc cost terms (arrays aligned with the arcs)."""

    distance_km: np.ndarray
    need_km: np.ndarray  # penalty for uncovered needs, >= 0
    interest_km: np.ndarray  # bonus for shared interests, <= 0
    uncovered: np.ndarray  # bitmask of the child's needs the mentor misses
    shared: np.ndarray  # number of shared interest tags (uncapped)

    @property
    def total_km(self) -> np.ndarray:
        """Each arc's cost: distance plus need penalty plus interest bonus."""
        total: np.ndarray = self.distance_km + self.need_km + self.interest_km
        return total


class InterestCodes:
    """Interest tags of both sides as bitsets over the tags they have in common.

    Only tags that appear on both sides can be shared, so the bitsets hold
    just those, in ``ceil(T / 64)`` uint64 words per person.
    """

    def __init__(
        self, child_tags: Sequence[tuple[str, ...]], mentor_tags: Sequence[tuple[str, ...]]
    ):
        # each distinct tag list once (they repeat)
        ccodes, cdistinct = distinct_codes(child_tags)
        mcodes, mdistinct = distinct_codes(mentor_tags)
        cset = {t for tags in cdistinct for t in tags}
        mset = {t for tags in mdistinct for t in tags}
        common = sorted(cset & mset)
        index = {t: k for k, t in enumerate(common)}
        words = max(1, (len(common) + 63) // 64)
        self.tags = common
        self.child = _bitsets(cdistinct, index, words)[ccodes]
        self.mentor = _bitsets(mdistinct, index, words)[mcodes]

    def shared_count(self, ci: np.ndarray, mj: np.ndarray) -> np.ndarray:
        out = np.zeros(ci.size, dtype=np.int64)
        for w in range(self.child.shape[1]):
            out += np.bitwise_count(self.child[ci, w] & self.mentor[mj, w])
        return out


def _bitsets(tag_lists: list[tuple[str, ...]], index: dict[str, int], words: int) -> np.ndarray:
    """One row of ``words`` uint64 words per tag list: bit k set for the tag
    ``index`` numbers k (tags it does not number are left out)."""
    table = np.zeros((len(tag_lists), words), dtype=np.uint64)
    for row, tags in enumerate(tag_lists):
        bits = [0] * words  # Python ints: numpy scalar shifts cost 10x more
        for t in tags:
            k = index.get(t)
            if k is not None:
                bits[k >> 6] |= 1 << (k & 63)
        if any(bits):
            table[row] = bits
    return table


def pair_costs(
    ci: np.ndarray,
    mj: np.ndarray,
    distance_km: np.ndarray,
    child_needs: np.ndarray,
    mentor_skills: np.ndarray,
    interests: InterestCodes,
    config: MatchConfig,
) -> CostTerms:
    """Cost terms for arcs ``(ci[k], mj[k])`` at ``distance_km[k]``.

    ``child_needs`` and ``mentor_skills`` are uint8 need bitmasks per person.
    """
    uncovered = child_needs[ci] & ~mentor_skills[mj]
    n_unc = np.bitwise_count(uncovered).astype(np.float64)
    shared = interests.shared_count(ci, mj)
    counted = np.minimum(shared, config.max_shared_interests).astype(np.float64)
    return CostTerms(
        distance_km=distance_km,
        need_km=config.uncovered_need_km * n_unc,
        interest_km=0.0 - config.shared_interest_km * counted,
        uncovered=uncovered,
        shared=shared,
    )


def unmatched_price(priority: pd.Series | np.ndarray, config: MatchConfig) -> np.ndarray:
    """Price (km-eq) of leaving each child unmatched."""
    p = np.asarray(priority, dtype=np.float64)
    return config.unmatched_km + config.priority_km * p
