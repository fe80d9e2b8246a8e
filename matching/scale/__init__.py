"""Many districts at once: partitioning a province and running the parts on executors."""

from matching.scale.executors import (
    DaskExecutor,
    Executor,
    Outcome,
    ProcessExecutor,
    SerialExecutor,
    ThreadExecutor,
    capture,
    match_threads,
)
from matching.scale.province import (
    DistrictNight,
    ProvinceNightlyReport,
    ProvinceResult,
    candidate_components,
    match_partition,
    match_province,
    run_province_nightly,
)

__all__ = [
    "DaskExecutor",
    "DistrictNight",
    "Executor",
    "Outcome",
    "ProcessExecutor",
    "ProvinceNightlyReport",
    "ProvinceResult",
    "SerialExecutor",
    "ThreadExecutor",
    "candidate_components",
    "capture",
    "match_partition",
    "match_province",
    "match_threads",
    "run_province_nightly",
]
