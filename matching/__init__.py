"""mentor-matching: optimal, explainable pairing of children with volunteer mentors.

The names below are the stable API. The subpackages, by job:

- :mod:`matching.rosters`: roster columns, need categories, reading and validating files;
- :mod:`matching.geo`: distances, coordinate systems, geocoding;
- :mod:`matching.programme`: state, events, the nightly re-match, the state store;
- :mod:`matching.scale`: a province in districts, on executors;
- :mod:`matching.reports`: result files, workbooks, plots, maps;
- :mod:`matching.datasets`: synthetic rosters.
"""

from matching._engine.tuning import SolverTuning
from matching._version import __version__
from matching.config import MatchConfig, RematchPolicy, load_config
from matching.errors import (
    ConfigError,
    EventError,
    InfeasibleError,
    InputError,
    MatchingError,
    Problem,
    RosterError,
    StoreConflictError,
    StoreError,
    StoreLockedError,
)
from matching.match import MatchResult, match
from matching.programme import StateStore, rematch, run_nightly
from matching.rosters import read_children, read_mentors
from matching.scale import match_province
from matching.solve import integer_costs, solve_assignment, solve_sparse_assignment

__all__ = [
    "ConfigError",
    "EventError",
    "InfeasibleError",
    "InputError",
    "MatchConfig",
    "MatchResult",
    "MatchingError",
    "Problem",
    "RematchPolicy",
    "RosterError",
    "SolverTuning",
    "StateStore",
    "StoreConflictError",
    "StoreError",
    "StoreLockedError",
    "__version__",
    "integer_costs",
    "load_config",
    "match",
    "match_province",
    "read_children",
    "read_mentors",
    "rematch",
    "run_nightly",
    "solve_assignment",
    "solve_sparse_assignment",
]
