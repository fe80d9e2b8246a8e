"""mentor-matching: optimal, explainable pairing of children with volunteer mentors."""

from .config import MatchConfig, load_config
from .errors import (
    ConfigError,
    InfeasibleError,
    InputError,
    MatchingError,
    Problem,
    RosterError,
)
from .match import MatchResult, match
from .solve import integer_costs, solve_assignment, solve_sparse_assignment

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "InfeasibleError",
    "InputError",
    "MatchConfig",
    "MatchResult",
    "MatchingError",
    "Problem",
    "RosterError",
    "__version__",
    "integer_costs",
    "load_config",
    "match",
    "solve_assignment",
    "solve_sparse_assignment",
]
