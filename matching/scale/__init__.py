"""Many districts at once: partitioning a province and running the parts on executors."""

from matching.scale.districts import (
    DistrictSplit,
    DistrictStatus,
    district_labels,
    failure_text,
    folder_name_problem,
    split_by_district,
)
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
from matching.scale.partition import Packing, candidate_components, pack_parts
from matching.scale.province import (
    ProvinceResult,
    match_partition,
    match_province,
    read_raw_table,
)

__all__ = [
    "DaskExecutor",
    "DistrictSplit",
    "DistrictStatus",
    "Executor",
    "Outcome",
    "Packing",
    "ProcessExecutor",
    "ProvinceResult",
    "SerialExecutor",
    "ThreadExecutor",
    "candidate_components",
    "capture",
    "district_labels",
    "failure_text",
    "folder_name_problem",
    "match_partition",
    "match_province",
    "match_threads",
    "pack_parts",
    "read_raw_table",
    "split_by_district",
]
