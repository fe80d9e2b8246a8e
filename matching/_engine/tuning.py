"""Every crossover constant of the engine, and its threads, in one frozen object.

The engine chooses between strategies by size: when to price arcs lazily,
when to search on the grid rather than with k-d trees, when to solve afresh
rather than re-route, how many threads to use. Those thresholds are fields of
:class:`SolverTuning`, passed down explicitly from :func:`matching.match`; no
module holds a setting that another module or a test overwrites. The defaults
were chosen on a 2-core machine; they change the running time, never the
result: every setting gives the same proven optimum.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace

from matching.errors import ConfigError

__all__ = ["DEFAULT_TUNING", "SolverTuning", "default_threads", "resolve_tuning"]


# counts that must be at least one for the engine to work at all
_AT_LEAST_ONE = frozenset(
    {"threads", "max_pricing_rounds", "pricing_add", "tiers", "hot_k", "grid_cells_per_radius",
     "pricing_k", "pricing_km", "pricing_kc", "nearest_split_max"}
)  # fmt: skip


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, kw_only=True)
class SolverTuning:
    """The engine's crossover constants (sizes are counts; shares are fractions).

    Parameters
    ----------
    threads : int or None, default None
        Threads for the searches of one match (k-d tree queries, grid scans);
        ``None``: :func:`default_threads`.
    pricing_min_pairs : int
        Below this many (children x mentors) the whole model is solved at once.
    max_pricing_rounds : int
        Rounds of the pricing loop, at most, before every remaining arc is added.
    pricing_add : int
        Arcs added per child and round of pricing.
    tiers : int
        Distance tiers of the suspect searches.
    hot_k : int
        While the model still pairs more children each round, "hot" children
        get only this many nearest mentors per search.
    grid_cells_per_radius : int
        Grid cells across one search radius.
    grid_reach_pairs : int
        From about this many (children x mentors) on, unmatched children's pairs
        in reach are listed by the grid scan, by k-d trees below.
    hot_scan_pairs : int
        Hot children are scanned on the grid (not searched with k-d trees)
        while they have about this many allowed mentors in reach in all.
    hot_best_pairs : int
        The same bound in the settling round, where each hot child's best list
        is kept.
    tag_split_min : int
        Children, at least, for the suspect searches by interest tag.
    query_split_min : int
        Children and mentors, at least, for the first model's k-d tree searches
        on more than one thread.
    margin_units : int
        Cost units of slack in the suspect searches' distance bound.
    pricing_k, pricing_km, pricing_kc : int
        The first model: each child's nearest mentors, each mentor's nearest
        children, each child's nearest mentors who cover all its needs.
    suspect_extra_km : float
        Extra reach of a suspect search beyond the bound it must cover.
    fresh_share : float
        A round whose new arcs take more than this share of the children off
        their arcs is solved afresh (the auction), not re-routed child by child.
    rough_units : float
        Up to ``rough_max_children`` children, the first round's auction stops
        at this many cost units, without the exact finish.
    rough_max_children : int
        See ``rough_units``.
    rescan_share : float
        Where more than this share of the children's kept suspect lists have
        drifted too far, every child gets a fresh list.
    best_k : int
        Each child's suspects with the lowest reduced cost kept per search once
        the number of pairs is settled.
    scan_split_min : int
        Children, at least, for a grid scan on more than one thread.
    ring_max : int
        Cell offsets, at most, of a nearest-first walk on the grid.
    nearest_per_cell : float
        The nearest-first walk splits the grid's cells so that about this many
        mentors fall in an occupied cell ...
    nearest_split_max : int
        ... by a whole factor of at most this.
    nearest_max_index : int
        Entries, at most, of the walk's cell pointer arrays; beyond, the k-d
        trees search instead.
    grid_max_kappa : float
        No planar grid (the k-d trees search instead) where its projection
        would overstate distances by more than this factor.
    grid_max_cells : int
        Cells, at most, of a planar grid (coarser cells beyond).
    """

    threads: int | None = None
    pricing_min_pairs: int = 250_000
    max_pricing_rounds: int = 30
    pricing_add: int = 4
    tiers: int = 4
    hot_k: int = 8
    grid_cells_per_radius: int = 8
    grid_reach_pairs: int = 1_000_000
    hot_scan_pairs: int = 10_000_000
    hot_best_pairs: int = 100_000_000
    tag_split_min: int = 10_000
    query_split_min: int = 1_000
    margin_units: int = 300
    pricing_k: int = 8
    pricing_km: int = 16
    pricing_kc: int = 16
    suspect_extra_km: float = 0.3
    fresh_share: float = 0.1
    rough_units: float = 36.0
    rough_max_children: int = 5_000
    rescan_share: float = 0.25
    best_k: int = 32
    scan_split_min: int = 256
    ring_max: int = 1_000_000
    nearest_per_cell: float = 3.0
    nearest_split_max: int = 8
    nearest_max_index: int = 8_000_000
    grid_max_kappa: float = 1.25
    grid_max_cells: int = 4_000_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "threads" and value is None:
                continue
            whole = f.name == "threads" or isinstance(f.default, int)
            kind = (int,) if whole else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind):
                need = "an integer" if whole else "a number"
                raise ConfigError(
                    f"SolverTuning.{f.name} must be {need}, not {type(value).__name__}"
                )
            least = 1 if f.name in _AT_LEAST_ONE else 0
            if not math.isfinite(value) or value < least:
                raise ConfigError(f"SolverTuning.{f.name} must be >= {least}, got {value!r}")

    @property
    def search_threads(self) -> int:
        """``threads``, or the cores this process may run on when it is ``None``."""
        return default_threads() if self.threads is None else int(self.threads)

    def with_threads(self, threads: int | None) -> SolverTuning:
        """A copy with ``threads`` set (unchanged when ``threads`` is ``None``)."""
        return self if threads is None else replace(self, threads=threads)


DEFAULT_TUNING = SolverTuning()
"""The defaults: every crossover constant as tuned, threads as the machine has."""


def resolve_tuning(tuning: object, threads: object, *, owner: str) -> SolverTuning:
    """The tuning a call of ``owner`` runs with: ``tuning`` (default
    :data:`DEFAULT_TUNING`) with ``threads`` set where given; ConfigError
    naming the parameter where either is of the wrong kind."""
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(
            f"The 'threads' parameter of {owner} must be an integer >= 1, got {threads!r} instead."
        )
    if tuning is not None and not isinstance(tuning, SolverTuning):
        raise ConfigError(
            f"The 'tuning' parameter of {owner} must be a SolverTuning, got "
            f"{type(tuning).__name__} instead."
        )
    return (DEFAULT_TUNING if tuning is None else tuning).with_threads(threads)
