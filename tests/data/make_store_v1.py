"""Make tests/data/store_v1.db with the schema-1 code (commit 62fc571)."""

from pathlib import Path

import pandas as pd
from matching.events import Event
from matching.nightly import run_nightly

kids = pd.DataFrame(
    {
        "id": ["C1", "C2", "C3", "C4"],
        "lat": [31.80, 31.81, 31.82, 31.83],
        "lon": [119.90, 119.91, 119.92, 119.93],
        "street": ["S1", "S1", "S2", "S2"],
        "needs": ["life_care", "", "family_education", ""],
    }
)
moms = pd.DataFrame(
    {
        "id": ["M1", "M2", "M3"],
        "lat": [31.80, 31.81, 31.825],
        "lon": [119.90, 119.91, 119.925],
        "capacity": [1, 1, 2],
        "skills": ["life_care", "", "family_education"],
    }
)
db = Path("store_v1.db")
run_nightly(db, date="2026-01-05", children=kids, mentors=moms, price_of_stability=False)
run_nightly(
    db,
    date="2026-01-12",
    events=[Event(kind="exit_request", child_id="C2"), Event(kind="mentor_pause", mentor_id="M3")],
    price_of_stability=False,
)
run_nightly(
    db,
    date="2026-01-19",
    events=[
        Event(kind="exit_investigate", child_id="C2"),
        Event(kind="exit_approve", child_id="C2", actor="district-office"),
        Event(kind="mentor_leave", mentor_id="M1", note="moved away"),
    ],
    price_of_stability=False,
)
run_nightly(
    db,
    date="2026-01-26",
    events=[
        Event(kind="exit_effective", child_id="C2"),
        Event(kind="mentor_resume", mentor_id="M3"),
        Event(kind="pin", child_id="C3", mentor_id="M3", actor="staff-1"),
    ],
    price_of_stability=False,
)
