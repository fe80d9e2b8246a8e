"""``match(children, mentors, config) -> MatchResult``: the optimal pairing.

Data flows one way: rosters -> validated frames (sorted by id) -> the
problem's arrays under the hard rules (:mod:`matching._engine.problem`) ->
candidate arcs (:mod:`matching._engine.arcs`) -> the integer flow model and
its pricing loop (:mod:`matching._engine.pricing`) -> pairs, unmatched
children with reasons, metrics (:mod:`matching._engine.explain`).

The objective
-------------
By default (``objective="max_pairs"``) the result pairs as many children as
the rules allow and, among all such pairings, minimises the total cost: the
sum of the pair costs plus the unmatched price of every child left out
(``unmatched_km + priority_km * priority``), so a priority child is never
left out where a normal child could give way.  With ``objective="min_cost"``
the same total is minimised without the cardinality rule.

Exactness
---------
Only pairs that break a hard rule (distance limits, forbidden pairs, street
and gender rules) are left out of the model, so the sparse result is the
optimum over every allowed pair: the solver works on a subset of the
allowed arcs and proves with node potentials that no arc outside it could
lower the total (:mod:`matching._engine.pricing`).  Costs are solved in
integer units of ``resolution_km`` (1 m by default); the total is optimal
for the rounded costs, i.e. within half a unit per pair of the real-valued
optimum.  The engine's crossover constants (:class:`SolverTuning`) change
the running time, never the result.

Determinism
-----------
Both rosters are sorted by id before anything else, so the same records in
any row order give the same model and therefore the same pairs, whatever
the number of threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from matching._engine.explain import PAIR_COLUMNS, UNMATCHED_COLUMNS, explain
from matching._engine.pricing import solve_problem
from matching._engine.problem import MatchProblem, check_forbidden, check_keep, sort_by_id
from matching._engine.tuning import SolverTuning, resolve_tuning
from matching.config import MatchConfig, validate_config
from matching.errors import InputError
from matching.rosters import ValidRoster, valid_children, valid_mentors

__all__ = ["PAIR_COLUMNS", "UNMATCHED_COLUMNS", "MatchResult", "match"]

Method = Literal["sparse", "dense"]


@dataclass(frozen=True)
class MatchResult:
    """The outcome of :func:`match`.

    Attributes
    ----------
    pairs : DataFrame
        One row per pair, sorted by ``child_id``: ``child_id``, ``mentor_id``,
        ``distance_km``, the cost terms ``need_penalty_km`` (>= 0) and
        ``interest_bonus_km`` (<= 0), their sum ``cost_km``,
        ``needs_covered`` / ``needs_uncovered`` (tuples of need codes),
        ``shared_interests`` (tuple of tags), both streets and the child's
        priority.
    unmatched : DataFrame
        One row per child left without a mentor, sorted by ``child_id``:
        ``reason`` (one of ``no_mentor_in_reach``, ``forbidden_by_rule``,
        ``mentors_taken``, ``cheaper_unmatched``), ``detail`` in words (naming
        the rule where one applies), how many mentors were within reach and
        how many of those the rules allowed, and the unmatched price.
    metrics : dict
        Pairing rate overall, per street and for priority children;
        distance mean, median and 90th percentile; share of needs covered;
        mentor utilisation; the objective; solver statistics.
    config : MatchConfig
        The configuration used.
    """

    pairs: pd.DataFrame
    unmatched: pd.DataFrame
    metrics: dict[str, Any]
    config: MatchConfig = field(repr=False)

    def summary(self, *, language: str | None = None) -> str:
        """A few lines for a terminal: counts, rates and distances (ids only).

        In ``language`` (None: the current language); see
        :func:`matching.reports.summary_lines`.
        """
        from matching.reports.files import summary_lines  # reports imports this module

        return "\n".join(summary_lines(self, language=language))


def match(
    children: pd.DataFrame | ValidRoster,
    mentors: pd.DataFrame | ValidRoster,
    config: MatchConfig | None = None,
    *,
    method: Method = "sparse",
    keep: Mapping[tuple[str, str], float] | None = None,
    threads: int | None = None,
    tuning: SolverTuning | None = None,
) -> MatchResult:
    """Pair children with mentors optimally under the configured rules.

    Parameters
    ----------
    children, mentors : DataFrame
        Rosters with the columns documented in :mod:`matching.rosters`
        (validated here; every problem is reported at once), or rosters
        validated already (:class:`~matching.rosters.ValidRoster`, used as they are).
    config : MatchConfig, optional
        Weights and rules; ``MatchConfig()`` by default.
    method : {"sparse", "dense"}, default "sparse"
        ``"sparse"`` builds only the allowed pairs with a spatial index and
        solves with pricing; ``"dense"`` builds the full children x mentors
        matrix (for checking, and small rosters).  Both give the same total.
    keep : mapping of (child_id, mentor_id) to float, optional
        Existing pairs and a bonus (km-eq, >= 0) for keeping each: the solver
        minimises the total cost minus the bonuses of the pairs it keeps, so
        a pair moves only when the move gains more than its bonus.  Used by
        :func:`matching.programme.rematch.rematch`; the reported costs and objective
        never include the bonuses.  A kept pair must still satisfy the rules.
    threads : int, optional
        Threads for the searches of this match; default: the cores this
        process may run on.  The result is the same for any number.
    tuning : SolverTuning, optional
        Advanced: the engine's crossover constants (when to price arcs
        lazily, when to scan the grid, ...).  They change the running time,
        never the result; the defaults suit most machines.  ``threads``, if
        given, overrides ``tuning.threads``.

    Returns
    -------
    MatchResult

    Raises
    ------
    RosterError
        A roster is invalid (every problem listed, naming id and column).
    ConfigError
        A configuration value is invalid (``threads`` or ``tuning`` too).
    InputError
        A forbidden pair names an unknown id, or ``method`` is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> from matching import match
    >>> kids = pd.DataFrame({"id": ["C1", "C2"], "lat": [31.78, 31.79],
    ...                      "lon": [119.95, 119.96], "needs": ["生活关爱", "family_education"]})
    >>> moms = pd.DataFrame({"id": ["M1", "M2"], "lat": [31.781, 31.80],
    ...                      "lon": [119.951, 119.96], "skills": ["life_care", "家庭教育"]})
    >>> r = match(kids, moms)
    >>> r.pairs[["child_id", "mentor_id"]].values.tolist()
    [['C1', 'M1'], ['C2', 'M2']]
    >>> r.metrics["pairing_rate"]
    1.0
    """
    cfg = validate_config(MatchConfig() if config is None else config)
    if method not in ("sparse", "dense"):
        raise InputError(
            f"The 'method' parameter of match must be 'sparse' or 'dense', got {method!r} instead."
        )
    tuned = resolve_tuning(tuning, threads, owner="match")
    kids = sort_by_id(valid_children(children).frame)
    all_mentors = sort_by_id(valid_mentors(mentors).frame)
    mentors_v = all_mentors[all_mentors["active"].to_numpy(dtype=bool)].reset_index(drop=True)
    check_forbidden(cfg, kids, all_mentors)
    keep_bonus = check_keep(keep, kids, mentors_v)
    problem = MatchProblem(kids, mentors_v, cfg, keep=keep_bonus, tuning=tuned)
    stats: dict[str, Any] = {"method": method}
    solution = solve_problem(problem, method, stats)
    pairs, unmatched, metrics = explain(problem, solution, stats, len(all_mentors))
    return MatchResult(pairs=pairs, unmatched=unmatched, metrics=metrics, config=cfg)
