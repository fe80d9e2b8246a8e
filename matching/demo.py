"""A simulated month of nightly runs on a synthetic district (the README's main job).

Night 1 enrols the district's children and mentors and pairs them.  Each
later night (a week apart) brings synthetic churn, deterministic for the
seed: about 1 % of children start the exit workflow (investigation, approval
and the effective exit follow on later nights), about 1 % of active mentors
leave (their children go first in line), and about 1 % new children and
mentors join through the roster files.  Every night runs :func:`~matching.programme.run_nightly`
against one state store, ``state.db`` in the output folder.

The demo starts a fresh store each time (it removes the ``state.db`` it
made before in the same folder); the tests show that running the same night
twice against one store changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching.config import MatchConfig
from matching.datasets.synth import district
from matching.programme.nightly import NightlyReport, run_nightly
from matching.programme.store import StateStore
from matching.reports.files import write_csv

__all__ = ["DemoNight", "simulate_nights"]

_START = dt.date(2026, 1, 5)


@dataclass(frozen=True)
class DemoNight:
    """One simulated night: its date, its folder and what the job reported."""

    date: str
    folder: Path
    report: NightlyReport


def _events_for(db: Path, rng: np.random.Generator) -> pd.DataFrame:
    with StateStore.open(db, readonly=True) as store:
        state = store.load()
    rows: list[dict[str, str]] = []
    step = {"requested": "exit_investigate", "investigated": "exit_approve",
            "approved": "exit_effective"}  # fmt: skip
    kids = state.enrolled_children()
    for cid, ex in zip(kids["id"], kids["exit_state"], strict=True):
        if ex in step:
            actor = "district-office" if step[ex] == "exit_approve" else ""
            rows.append({"kind": step[ex], "child_id": cid, "actor": actor})
    calm = kids.loc[kids["exit_state"] == "", "id"].to_numpy(dtype=object)
    for cid in rng.choice(calm, size=min(len(calm), max(1, len(calm) // 100)), replace=False):
        rows.append({"kind": "exit_request", "child_id": str(cid), "actor": ""})
    active = state.mentors.loc[state.mentors["status"] == "active", "id"].to_numpy(dtype=object)
    for mid in rng.choice(active, size=min(len(active), max(1, len(active) // 100)), replace=False):
        rows.append({"kind": "mentor_leave", "mentor_id": str(mid), "actor": ""})
    cols = ["kind", "child_id", "mentor_id", "actor", "note"]
    return pd.DataFrame([{c: r.get(c, "") for c in cols} for r in rows], columns=cols)


def simulate_nights(
    out_dir: str | Path,
    *,
    n_children: int = 2000,
    n_mentors: int = 1600,
    nights: int = 5,
    seed: int = 0,
    config: MatchConfig | None = None,
) -> list[DemoNight]:
    """Run ``nights`` nightly jobs on a synthetic district in ``out_dir``.

    Returns one :class:`DemoNight` per night.  The folder gets ``state.db``
    and one ``night-YYYY-MM-DD`` folder per night holding that night's
    roster and event files and its plan folder, ``plan/``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "state.db"
    suffixes = ("-journal", "-wal", "-shm", ".lock")  # the last three: schema-1 stores
    for leftover in (db, *(db.with_name(db.name + s) for s in suffixes)):
        leftover.unlink(missing_ok=True)
    children, mentors = district(n_children, n_mentors, seed=seed)
    kids_path = write_csv(children, out / "children.csv")
    mentors_path = write_csv(mentors, out / "mentors.csv")
    result: list[DemoNight] = []
    roster = children
    for night in range(nights):
        date = (_START + dt.timedelta(days=7 * night)).isoformat()
        folder = out / f"night-{date}"
        events_path = None
        if night > 0:
            rng = np.random.default_rng([seed, night])
            events = _events_for(db, rng)
            folder.mkdir(parents=True, exist_ok=True)
            events_path = write_csv(events, folder / "events.csv")
            joiners, _ = district(
                max(1, n_children // 100), 0, seed=seed * 1000 + night, id_prefix=f"N{night:02d}-"
            )
            with StateStore.open(db, readonly=True) as store:
                state = store.load()
            # the day's roster exports list who is enrolled, plus the new referrals
            kids_now = set(state.enrolled_children()["id"])
            roster = pd.concat([roster[roster["id"].isin(kids_now)], joiners], ignore_index=True)
            kids_path = write_csv(roster, folder / "children.csv")
            _, new_mentors = district(
                0, max(1, n_mentors // 100), seed=seed * 1000 + night, id_prefix=f"N{night:02d}-"
            )
            mentors = pd.concat(
                [mentors[mentors["id"].isin(set(state.present_mentors()["id"]))], new_mentors],
                ignore_index=True,
            )
            mentors_path = write_csv(mentors, folder / "mentors.csv")
        report = run_nightly(
            db,
            out_dir=folder / "plan",
            date=date,
            children=kids_path,
            mentors=mentors_path,
            events=events_path,
            config=config,
        )
        result.append(DemoNight(date, folder, report))
    return result
