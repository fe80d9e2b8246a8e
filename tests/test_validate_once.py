"""A roster is validated once: at the public boundary, never again on the way to the solver.

The spy wraps the one function every validation goes through
(``matching.rosters.validate._validate``) and records the roster of each
non-empty table it checks (an empty state is built from empty frames).
"""

from __future__ import annotations

import pandas as pd
import pytest

import matching.rosters.validate as validate_module
from matching import RematchPolicy, match
from matching.datasets.synth import district
from matching.programme.events import Event
from matching.programme.nightly import run_nightly
from matching.reports.files import write_csv


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    real = validate_module._validate

    def spy(df: pd.DataFrame, roster: str, *args: object, **kwargs: object) -> pd.DataFrame:
        if len(df):
            calls.append((roster, len(df)))
        return real(df, roster, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validate_module, "_validate", spy)
    return calls


@pytest.fixture(scope="module")
def rosters() -> tuple[pd.DataFrame, pd.DataFrame]:
    return district(120, 90, seed=5)


def test_nightly_from_files_validates_each_roster_once(tmp_path, rosters, validations):
    kids, mentors = rosters
    kids_csv, mentors_csv = tmp_path / "children.csv", tmp_path / "mentors.csv"
    write_csv(kids, kids_csv)
    write_csv(mentors, mentors_csv)
    report = run_nightly(tmp_path / "state.db", date="2026-03-01", children=kids_csv,
                         mentors=mentors_csv)  # fmt: skip
    assert report.counts["changes"] > 0
    assert validations == [("children", len(kids)), ("mentors", len(mentors))]


def test_nightly_from_frames_with_moves_validates_each_roster_once(tmp_path, rosters, validations):
    kids, mentors = rosters
    db = tmp_path / "state.db"
    run_nightly(db, date="2026-03-01", children=kids, mentors=mentors)
    validations.clear()
    # moves capped at zero: the re-match is solved more than once, and from scratch too
    policy = RematchPolicy(allow_moves=True, max_moves=0, price_of_stability=True)
    run_nightly(db, date="2026-03-08", children=kids, mentors=mentors, policy=policy)
    assert validations == [("children", len(kids)), ("mentors", len(mentors))]


def test_a_rejoiners_roster_row_is_not_validated_again(tmp_path, rosters, validations):
    kids, mentors = rosters
    db = tmp_path / "state.db"
    mentor = str(mentors["id"].iloc[0])
    run_nightly(db, date="2026-03-01", children=kids, mentors=mentors)
    run_nightly(db, date="2026-03-08", events=[Event(kind="mentor_leave", mentor_id=mentor)])
    validations.clear()
    # the roster names the mentor who left; the rejoin event brings them back, and their
    # row is applied from the roster validated above
    report = run_nightly(db, date="2026-03-15", mentors=mentors,
                         events=[Event(kind="mentor_rejoin", mentor_id=mentor)])  # fmt: skip
    assert report.counts["events_applied"] == 1
    assert validations == [("mentors", len(mentors))]


def test_match_takes_a_validated_roster_as_it_is(rosters, validations):
    from matching.rosters import valid_children, valid_mentors

    kids, mentors = rosters
    plain = match(kids, mentors)
    assert validations == [("children", len(kids)), ("mentors", len(mentors))]
    kids_v, mentors_v = valid_children(kids), valid_mentors(mentors)
    validations.clear()
    marked = match(kids_v, mentors_v)
    assert validations == []
    pd.testing.assert_frame_equal(marked.pairs, plain.pairs)
    pd.testing.assert_frame_equal(marked.unmatched, plain.unmatched)
    assert marked.metrics == plain.metrics


def test_only_validation_makes_a_validated_roster(rosters):
    from matching.rosters import ValidRoster

    kids, _ = rosters
    with pytest.raises(TypeError, match="made by validation"):
        ValidRoster(kids, "children")


def test_a_validated_roster_of_the_other_kind_is_refused(rosters):
    from matching.errors import InputError
    from matching.rosters import valid_children, valid_mentors

    kids, mentors = rosters
    with pytest.raises(InputError, match="expected a children roster"):
        valid_children(valid_mentors(mentors))
    with pytest.raises(InputError, match="expected a mentors roster"):
        match(kids, valid_children(kids))


def test_load_returns_the_validated_roster_read_returns_its_frame(tmp_path, rosters):
    from matching.rosters import load_children, load_mentors, read_children, read_mentors

    kids, mentors = rosters
    write_csv(kids, tmp_path / "children.csv")
    write_csv(mentors, tmp_path / "mentors.csv")
    loaded = load_children(tmp_path / "children.csv")
    assert loaded.kind == "children" and len(loaded) == len(kids)
    pd.testing.assert_frame_equal(loaded.frame, read_children(tmp_path / "children.csv"))
    assert load_mentors(tmp_path / "mentors.csv").kind == "mentors"
    pd.testing.assert_frame_equal(
        load_mentors(tmp_path / "mentors.csv").frame, read_mentors(tmp_path / "mentors.csv")
    )


def test_select_keeps_the_mark_and_gives_a_fresh_index(rosters):
    from matching.rosters import valid_children

    kids, _ = rosters
    valid = valid_children(kids)
    some = valid.select(valid.frame["id"].isin(set(kids["id"].iloc[[3, 5]])))
    assert some.kind == "children" and len(some) == 2
    assert some.frame.index.tolist() == [0, 1]
    assert some.frame["id"].tolist() == valid.frame["id"].iloc[[3, 5]].tolist()


def test_assume_valid_puts_the_canonical_columns_first_and_refuses_a_raw_table(rosters):
    from matching.errors import InputError
    from matching.rosters import CHILD_COLUMNS, assume_valid, valid_children

    kids, _ = rosters
    frame = valid_children(kids).frame
    shuffled = frame.assign(note="x")[["note", *reversed(frame.columns)]].iloc[::2]
    marked = assume_valid(shuffled, "children")
    names = [c.name for c in CHILD_COLUMNS]
    assert marked.frame.columns.tolist()[: len(names)] == names
    assert marked.frame.columns.tolist()[len(names)] == "note"  # then the others, in order
    assert marked.frame.index.tolist() == list(range(len(shuffled)))
    with pytest.raises(InputError, match="not a validated children roster"):
        assume_valid(kids.drop(columns=["priority"]), "children")


def test_rematch_keeps_a_queued_child_at_the_top_priority():
    # the queue raises a child's priority above the roster's range on purpose; the re-match
    # hands its frames to the solver as derived from validated rosters, not as a roster file
    from matching.programme.events import apply_rosters
    from matching.programme.rematch import rematch
    from matching.programme.state import empty_state

    kids = pd.DataFrame({"id": ["a", "b"], "lat": [31.0, 31.0], "lon": [120.0, 120.0],
                         "priority": [100, 100]})  # fmt: skip
    mentors = pd.DataFrame({"id": ["m"], "lat": [31.0], "lon": [120.0]})
    state, _ = apply_rosters(empty_state(), kids, mentors, date="2026-01-01")
    plan = rematch(state.with_(first_in_line=("b",)), date="2026-01-02")
    assert plan.new_pairs[["child_id", "mentor_id"]].values.tolist() == [["b", "m"]]
