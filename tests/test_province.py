"""Province-wide runs: executors, districts on Dask, exact cross-boundary matching, nightly."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching import ConfigError, InputError, MatchConfig, RosterError, match
from matching.cli import main
from matching.datasets.synth import city
from matching.geo.distance import pairs_within
from matching.programme import run_province_nightly
from matching.programme.store import StateStore
from matching.reports.files import write_csv
from matching.rosters import validate_children, validate_mentors
from matching.scale.executors import (
    DaskExecutor,
    Executor,
    Outcome,
    ProcessExecutor,
    SerialExecutor,
    ThreadExecutor,
    match_threads,
)
from matching.scale.partition import candidate_components
from matching.scale.province import match_province

# 1 mm units: at the default 1 m resolution two pairings can tie after rounding, and a tie
# may break differently in one big model and in its components (same objective, other pairs).
FINE = MatchConfig(resolution_km=1e-6)


@pytest.fixture(scope="module")
def province() -> tuple[pd.DataFrame, pd.DataFrame]:
    # districts 0.5 km apart: with the 5 km limit, pairs can cross a boundary
    return city(
        n_districts=5, children_per_district=400, mentors_per_district=320, gap_km=0.5, seed=3
    )


@pytest.fixture(scope="module")
def dask_ex() -> Iterator[DaskExecutor]:
    # threads in this process: starts in about a second on 2 cores
    ex = DaskExecutor(n_workers=2, threads_per_worker=1, processes=False)
    yield ex
    ex.close()


def _inverse(x: int) -> float:
    return 10 / x


def _die(x: int) -> int:
    import os

    if x == 0:
        os._exit(3)  # the worker process dies, as when killed for memory
    return x


def _break_child(kids: pd.DataFrame, name: str) -> tuple[pd.DataFrame, str]:
    bad = kids.copy()
    row = int(np.flatnonzero(bad["district"].to_numpy() == name)[3])
    bad.loc[row, "lat"] = 999.0
    return bad, str(bad.loc[row, "id"])


# ----------------------------------------------------------------------------------------------
# executors


@pytest.mark.parametrize("kind", ["serial", "threads", "dask", "processes", "spawn"])
def test_executor_keeps_order_and_captures_errors_per_item(
    kind: str, dask_ex: DaskExecutor
) -> None:
    ex: Executor = {
        "serial": SerialExecutor(),
        "threads": ThreadExecutor(n_workers=2),
        "dask": dask_ex,
        "processes": ProcessExecutor(n_workers=2),
        "spawn": ProcessExecutor(n_workers=2, start_method="spawn"),
    }[kind]
    out = ex.map(_inverse, [5, 0, 2, 0, 1])
    assert [o.ok for o in out] == [True, False, True, False, True]
    assert [o.value for o in out] == [2.0, None, 5.0, None, 10.0]
    assert out[1].error_type == "ZeroDivisionError"
    assert "division by zero" in (out[1].error or "")
    assert ex.map(_inverse, []) == []
    assert isinstance(out[0], Outcome)


def test_dask_executor_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="'n_workers' parameter of DaskExecutor"):
        DaskExecutor(n_workers=0)
    with pytest.raises(ConfigError, match="not both"):
        DaskExecutor(client=object(), scheduler_address="tcp://127.0.0.1:1")


def test_thread_executor_parameters() -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ConfigError, match="'n_workers' parameter of ThreadExecutor"):
            ThreadExecutor(n_workers=bad)  # type: ignore[arg-type]
    assert ThreadExecutor().n_workers >= 1
    assert repr(ThreadExecutor(n_workers=3)) == "ThreadExecutor(n_workers=3)"


def test_process_executor_parameters_and_workers() -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ConfigError, match="'n_workers' parameter of ProcessExecutor"):
            ProcessExecutor(n_workers=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'threads_per_worker' parameter of ProcessExecutor"):
        ProcessExecutor(threads_per_worker=0)
    with pytest.raises(ConfigError, match="'start_method' parameter of ProcessExecutor"):
        ProcessExecutor(start_method="teleport")
    ex = ProcessExecutor()
    assert ex.n_workers >= 1 and ex.threads_per_worker == 1
    assert ex.start_method == ("fork" if sys.platform.startswith("linux") else "spawn")
    # each worker's matches use the threads it was given; other executors' the default
    assert match_threads(ProcessExecutor(n_workers=2, threads_per_worker=3)) == 3
    assert match_threads(ThreadExecutor(n_workers=2)) is None
    assert match_threads(SerialExecutor()) is None


def test_one_search_thread_gives_the_same_match() -> None:
    # large enough for the threaded grid scans (2,000 children and more) and the
    # per-tag searches; a ProcessExecutor worker runs with one thread
    from matching.datasets.synth import district

    kids, moms = district(2500, 2000, seed=5)
    two = match(kids, moms, threads=2)
    one = match(kids, moms, threads=1)
    pd.testing.assert_frame_equal(one.pairs, two.pairs)
    pd.testing.assert_frame_equal(one.unmatched, two.unmatched)
    assert one.metrics["objective_units"] == two.metrics["objective_units"]


def test_a_dead_worker_fails_its_calls_not_the_finished_ones() -> None:
    out = ProcessExecutor(n_workers=1).map(_die, [1, 2, 0, 4])
    assert [o.value for o in out[:2]] == [1, 2]
    assert [o.ok for o in out] == [True, True, False, False]
    assert out[2].error_type == "BrokenProcessPool"


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"mentor-matching\[dask\]"):
        DaskExecutor()


# ----------------------------------------------------------------------------------------------
# independent districts


@pytest.mark.parametrize("kind", ["dask", "processes", "threads"])
def test_dask_and_processes_equal_serial_pair_for_pair(province, dask_ex, kind: str) -> None:
    kids, moms = province
    serial = match_province(kids, moms)
    ex = {
        "dask": dask_ex,
        "processes": ProcessExecutor(n_workers=2),
        "threads": ThreadExecutor(n_workers=2),
    }[kind]
    dist = match_province(kids, moms, executor=ex)
    pd.testing.assert_frame_equal(serial.pairs, dist.pairs)
    pd.testing.assert_frame_equal(serial.unmatched, dist.unmatched)
    pd.testing.assert_frame_equal(serial.districts, dist.districts)
    assert serial.metrics == dist.metrics
    assert serial.ok and serial.metrics["n_pairs"] > 1800
    # independent: nobody crosses a boundary, and each district is its own match
    assert (serial.pairs["district"] == serial.pairs["mentor_district"]).all()
    assert serial.metrics["cross_boundary_pairs"] == 0
    name = serial.districts["district"].iloc[2]
    own = match(kids[kids["district"] == name], moms[moms["district"] == name])
    mine = serial.pairs[serial.pairs["district"] == name].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[list(own.pairs.columns)], own.pairs)
    assert serial.district_metrics[name]["objective_units"] == own.metrics["objective_units"]
    alone = match_province(kids[kids["district"] == name], moms[moms["district"] == name])
    for key in ("pairing_rate", "distance_km_mean", "needs_covered_share"):
        assert alone.metrics[key] == own.metrics[key], key
    assert 0.5 < serial.metrics["needs_covered_share"] < 1
    assert serial.pairs["child_id"].is_monotonic_increasing


# ----------------------------------------------------------------------------------------------
# across boundaries: equal to one match over the whole province


def test_cross_boundary_equals_one_match_over_the_province(province, dask_ex) -> None:
    kids, moms = province
    whole = match(kids, moms, FINE)
    cross = match_province(kids, moms, FINE, cross_boundary=True, executor=dask_ex)
    assert cross.metrics["objective_units"] == whole.metrics["objective_units"]
    for key in ("pairing_rate", "distance_km_mean", "needs_covered_share"):
        assert cross.metrics[key] == whole.metrics[key], key
    pd.testing.assert_frame_equal(cross.pairs[list(whole.pairs.columns)], whole.pairs)
    pd.testing.assert_frame_equal(cross.unmatched[list(whole.unmatched.columns)], whole.unmatched)
    # boundaries matter here: some pair crosses one, which the default mode forbids
    crossing = cross.pairs[cross.pairs["district"] != cross.pairs["mentor_district"]]
    assert len(crossing) > 0
    assert cross.metrics["cross_boundary_pairs"] == len(crossing)
    limit = moms.set_index("id")["max_distance_km"].astype(float).fillna(5.0)
    assert (crossing["distance_km"] <= limit[crossing["mentor_id"]].to_numpy()).all()
    indep = match_province(kids, moms, FINE)

    # pairs first, then cost: crossing boundaries is strictly better here
    def rank(r):
        return (-r.metrics["n_pairs"], r.metrics["objective_units"])

    assert rank(cross) < rank(indep)
    comps = cross.metrics["components"]
    assert 1 <= comps["count"] < 5  # touching districts merge
    assert sum(comps["largest_children"]) == len(kids)
    # and the same pair for pair serially, whatever the number of tasks
    serial = match_province(kids, moms, FINE, cross_boundary=True, n_tasks=1)
    pd.testing.assert_frame_equal(serial.pairs, cross.pairs)
    assert serial.metrics["n_tasks"] == 1 and cross.metrics["n_tasks"] > 1
    # and on worker processes of this machine
    procs = match_province(
        kids, moms, FINE, cross_boundary=True, executor=ProcessExecutor(n_workers=2)
    )
    pd.testing.assert_frame_equal(procs.pairs, cross.pairs)
    pd.testing.assert_frame_equal(procs.unmatched, cross.unmatched)


@pytest.mark.parametrize("cell_km", [0.25, 1.0, 3.0])
def test_components_share_no_allowed_pair(cell_km: float) -> None:
    # districts 7 km apart: more than the 3 km limit plus two cells of up to 1 km
    kids, moms = city(
        n_districts=4, children_per_district=150, mentors_per_district=60, gap_km=7.0, seed=5
    )
    kids, moms = validate_children(kids), validate_mentors(moms)
    lim = np.where(np.arange(len(moms)) % 3 == 0, 1.5, np.nan)  # some mentors travel less
    moms = moms.assign(max_distance_km=lim)
    cfg = MatchConfig(max_distance_km=3.0)
    cl, ml, n = candidate_components(kids, moms, cfg, cell_km=cell_km)
    ia, jb, km = pairs_within(kids["lat"], kids["lon"], moms["lat"], moms["lon"], 3.0)
    limit = np.where(np.isnan(lim), 3.0, lim)
    ok = (km <= limit[jb]) & moms["active"].to_numpy(bool)[jb]
    assert ok.sum() > 1000 and (~ok).sum() > 0  # both kinds of pair present
    assert (cl[ia[ok]] == ml[jb[ok]]).all()  # every allowed pair inside one part
    assert (ml[~moms["active"].to_numpy(bool)] == -1).all()
    assert sorted(set(cl) | set(ml[ml >= 0])) == list(range(n))
    if cell_km <= 1.0:  # separated districts stay apart
        district = kids["district"].to_numpy()
        assert n >= 4
        assert all(len(set(district[cl == k])) <= 1 for k in range(n))
    with pytest.raises(InputError, match="cell_km"):
        candidate_components(kids, moms, cfg, cell_km=0)


# ----------------------------------------------------------------------------------------------
# broken input


@pytest.mark.parametrize("cross_boundary", [False, True])
def test_broken_district_fails_alone(province, dask_ex, cross_boundary: bool) -> None:
    kids, moms = province
    name = sorted(set(kids["district"]))[1]
    bad, bad_id = _break_child(kids, name)
    r = match_province(bad, moms, cross_boundary=cross_boundary, executor=dask_ex)
    assert r.failed == [name] and not r.ok
    row = r.districts.set_index("district").loc[name]
    assert row["status"] == "failed"
    assert bad_id in row["error"] and "lat" in row["error"]
    assert name not in set(r.pairs["district"]) and name not in set(r.unmatched["district"])
    others = r.districts[r.districts["district"] != name]
    assert (others["status"] == "ok").all() and (others["n_pairs"] > 300).all()
    good = match_province(kids, moms, cross_boundary=cross_boundary)
    if not cross_boundary:  # the other districts' pairs are exactly as without the fault
        keep = good.pairs[good.pairs["district"] != name].reset_index(drop=True)
        pd.testing.assert_frame_equal(r.pairs, keep)


def test_province_input_errors(province) -> None:
    kids, moms = province
    with pytest.raises(InputError, match="no 'county' column"):
        match_province(kids, moms, by="county")
    blank = kids.copy()
    blank.loc[7, "district"] = None
    with pytest.raises(RosterError, match="missing district") as info:
        match_province(blank, moms)
    assert info.value.problems[0].row_id == str(kids.loc[7, "id"])
    dup = kids.copy()
    a = str(kids.loc[0, "district"])
    b = sorted(set(kids["district"]) - {a})[0]
    first_b = int(np.flatnonzero(dup["district"].to_numpy() == b)[0])
    dup.loc[first_b, "id"] = str(kids.loc[0, "id"])  # an id of district a, reused in b
    r = match_province(dup, moms)
    assert set(r.failed) == {a, b}
    assert "also appears" in r.districts.set_index("district").loc[b, "error"]


# ----------------------------------------------------------------------------------------------
# the province nightly job


@pytest.fixture(scope="module")
def small_province() -> tuple[pd.DataFrame, pd.DataFrame]:
    return city(n_districts=4, children_per_district=300, mentors_per_district=240, seed=7)


def _committed(db: Path) -> tuple[int, int]:
    with StateStore.open(db, readonly=True) as store:
        return len(store.load().pairs), len(store.runs())


def test_province_nightly_commits_every_good_district(small_province, dask_ex, tmp_path) -> None:
    kids, moms = small_province
    names = sorted(set(kids["district"]))
    bad, bad_id = _break_child(kids, names[2])
    rep = run_province_nightly(tmp_path, bad, moms, date="2026-03-01", executor=dask_ex)
    assert rep.failed == [names[2]]
    err = rep.districts.set_index("district").loc[names[2], "error"]
    assert "RosterError" in err and bad_id in err
    assert not (tmp_path / names[2] / "state.db").exists()  # untouched: never opened
    for d in names[:2] + names[3:]:
        n_pairs, n_runs = _committed(tmp_path / d / "state.db")
        assert n_pairs > 250 and n_runs == 1
        assert rep.reports[d].counts["pairs_started"] == n_pairs
        assert (tmp_path / d / "plan" / "plan.json").is_file()
    # fixed the next night: the failed district runs, the others change nothing
    again = run_province_nightly(tmp_path, kids, moms, date="2026-03-02", executor=dask_ex)
    assert again.ok
    table = again.districts.set_index("district")
    assert table.loc[names[2], "pairs_started"] > 250
    assert (table.drop(index=names[2])["changes"] == 0).all()


def test_cli_province_exit_codes(small_province, tmp_path, capsys) -> None:
    kids, moms = small_province
    names = sorted(set(kids["district"]))
    bad, _ = _break_child(kids, names[0])
    kids_csv = write_csv(bad, tmp_path / "children.csv")
    moms_csv = write_csv(moms, tmp_path / "mentors.csv")
    root = tmp_path / "province"
    argv = ["province", "--root", str(root), "--children", str(kids_csv)]
    argv += ["--mentors", str(moms_csv), "--date", "2026-03-01", "--skip-price-of-stability"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: 1 district(s) failed: {names[0]}")
    assert _committed(root / names[1] / "state.db")[1] == 1
    write_csv(kids, kids_csv)
    # fixed the next night, on a LocalCluster of two worker processes (tasks are pickled)
    assert main([*argv[:-2], "2026-03-02", "--skip-price-of-stability", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{names[0]}: ok" in out and "0 failed" in out
    # a night with events for one district: its mentor leaves, that district alone changes
    with StateStore.open(root / names[1] / "state.db", readonly=True) as store:
        mentor = str(store.load().pairs["mentor_id"].iloc[0])
    events = tmp_path / "events"
    events.mkdir()
    pd.DataFrame(
        [{"kind": "mentor_leave", "child_id": "", "mentor_id": mentor, "actor": "", "note": ""}]
    ).to_csv(events / f"{names[1]}.csv", index=False)
    night3 = [*argv[:-2], "2026-03-03", "--skip-price-of-stability", "--events-dir", str(events)]
    assert main([*night3, "--processes", "2"]) == 0  # worker processes, no Dask
    assert f"{names[1]}: ok" in capsys.readouterr().out
    with StateStore.open(root / names[1] / "state.db", readonly=True) as store:
        assert mentor not in set(store.load().pairs["mentor_id"])
        assert len(store.runs()) == 3
    # another night on threads of this process
    night4 = [*argv[:-2], "2026-03-04", "--skip-price-of-stability", "--threads", "2"]
    assert main(night4) == 0
    assert "0 failed" in capsys.readouterr().out
    with StateStore.open(root / names[1] / "state.db", readonly=True) as store:
        assert len(store.runs()) == 4
    pd.DataFrame(columns=["kind"]).to_csv(events / "无此区.csv", index=False)
    assert main(night3) == 1
    assert "events name district(s) with no rows and no state store: 无此区" in (
        capsys.readouterr().err
    )
    assert main(["province", "--root", str(root)]) == 2  # usage: rosters missing
    assert main([*argv, "--workers", "2", "--scheduler", "tcp://x:1"]) == 2  # exclusive
    assert main([*argv, "--processes", "2", "--workers", "2"]) == 2
    assert main([*argv, "--threads", "2", "--processes", "2"]) == 2


@pytest.mark.parametrize(
    "name", ["matching.scale.province", "matching.scale.partition", "matching.scale.executors"]
)
def test_docstring_examples_run(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
