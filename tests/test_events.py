"""Tests of events: the exit workflow, mentor changes, staff overrides, files, rosters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import child_rows, mentor_rows

from matching.datasets.synth import district
from matching.errors import EventError, InputError, RosterError
from matching.programme.events import (
    EVENT_KINDS,
    Event,
    apply_events,
    apply_rosters,
    event_key,
    read_events,
)
from matching.programme.state import (
    CHILD_STATE_COLUMNS,
    MENTOR_STATE_COLUMNS,
    PAIR_COLUMNS,
    State,
    empty_state,
    settle,
)
from matching.rosters import (
    CHILD_COLUMNS,
    MENTOR_COLUMNS,
    validate_children,
    validate_mentors,
)

DATE = "2026-03-02"


def C(n: int) -> str:
    return f"C{n:06d}"


def M(n: int) -> str:
    return f"M{n:06d}"


def _pairs(rows: list[tuple[str, str, str, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: pd.Series([row[k] for row in rows], dtype=bool if name == "pinned" else object)
            for k, name in enumerate(PAIR_COLUMNS)
        }
    )


def make_state(seed: int = 1) -> State:
    """20 children, 15 mentors (capacity 1; M2 and M6: 2; M8 paused) and five pairs.

    Pairs: C1-M1, C2-M2, C3-M2 (M2 full), C4-M3 (pinned), C5-M6.  Forbidden: C7-M7.
    First in line: C9.
    """
    raw_children, raw_mentors = district(20, 15, seed=seed)
    kids = validate_children(raw_children).loc[:, [c.name for c in CHILD_COLUMNS]]
    kids["exit_state"] = pd.Series([""] * len(kids), dtype=object)
    kids["exit_approved_by"] = pd.Series([""] * len(kids), dtype=object)
    mentors = validate_mentors(raw_mentors).loc[:, [c.name for c in MENTOR_COLUMNS]]
    mentors["capacity"] = np.where(mentors["id"].isin([M(2), M(6)]), 2, 1).astype(np.int64)
    mentors["active"] = True
    mentors["status"] = pd.Series(
        ["paused" if m == M(8) else "active" for m in mentors["id"]], dtype=object
    )
    pairs = _pairs(
        [
            (C(1), M(1), "2026-01-05", "optimiser", False),
            (C(2), M(2), "2026-01-05", "optimiser", False),
            (C(3), M(2), "2026-01-06", "optimiser", False),
            (C(4), M(3), "2026-01-06", "staff_override", True),
            (C(5), M(6), "2026-02-01", "optimiser", False),
        ]
    )
    return settle(
        State(
            children=child_rows(kids.sort_values("id")),
            mentors=mentor_rows(mentors.sort_values("id")),
            pairs=pairs,
            forbidden=((C(7), M(7)),),
            first_in_line=(C(9),),
        )
    )


def snapshot(state: State) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, tuple, tuple]:
    return (
        state.children.copy(deep=True),
        state.mentors.copy(deep=True),
        state.pairs.copy(deep=True),
        state.forbidden,
        state.first_in_line,
    )


def assert_unchanged(state: State, snap: tuple) -> None:
    pd.testing.assert_frame_equal(state.children, snap[0])
    pd.testing.assert_frame_equal(state.mentors, snap[1])
    pd.testing.assert_frame_equal(state.pairs, snap[2])
    assert state.forbidden == snap[3]
    assert state.first_in_line == snap[4]


def pairs_of(state: State) -> dict[tuple[str, str], tuple[str, str, bool]]:
    return {
        (r.child_id, r.mentor_id): (r.started_on, r.start_reason, bool(r.pinned))
        for r in state.pairs.itertuples()
    }


def child_row(state: State, child: str) -> pd.Series:
    rows = state.children[state.children["id"] == child]
    assert len(rows) == 1
    return rows.iloc[0]


def status_of(state: State, mentor: str) -> str:
    return str(state.mentors.set_index("id").at[mentor, "status"])


def apply_bad(state: State, events: list) -> list[str]:
    """Apply invalid events; check nothing changed; return the problems."""
    snap = snapshot(state)
    with pytest.raises(EventError) as info:
        apply_events(state, events, date=DATE)
    assert_unchanged(state, snap)
    return info.value.problems


# ----------------------------------------------------------------------------------------------
# the helper state


def test_helper_state_is_as_documented() -> None:
    state = make_state()
    assert list(state.children.columns) == list(CHILD_STATE_COLUMNS)
    assert list(state.mentors.columns) == list(MENTOR_STATE_COLUMNS)
    assert state.mentor_load() == {M(1): 1, M(2): 2, M(3): 1, M(6): 1}
    assert status_of(state, M(8)) == "paused"


# ----------------------------------------------------------------------------------------------
# exit workflow


def test_exit_workflow_step_by_step() -> None:
    state = make_state()
    steps = [
        (Event(kind="exit_request", child_id=C(1), actor="parent"), "requested", ""),
        (Event(kind="exit_investigate", child_id=C(1), actor="street-3"), "investigated", ""),
        (Event(kind="exit_approve", child_id=C(1), actor="district-7"), "approved", "district-7"),
    ]
    for event, exit_state, approved_by in steps:
        outcome = apply_events(state, [event], date=DATE)
        state = outcome.state
        row = child_row(state, C(1))
        assert row["exit_state"] == exit_state
        assert row["exit_approved_by"] == approved_by
        # the pair stays until the exit is effective
        assert (C(1), M(1)) in pairs_of(state)
        assert outcome.ended == {}
        assert outcome.started == {}
    outcome = apply_events(state, [Event(kind="exit_effective", child_id=C(1))], date=DATE)
    new = outcome.state
    # the child stays on the roster, exited, with the date and reason
    assert len(new.children) == 20
    row = child_row(new, C(1))
    assert (row["status"], row["left_on"], row["left_reason"]) == (
        "exited",
        DATE,
        "exit_effective",
    )
    assert row["exit_state"] == ""
    assert (C(1), M(1)) not in pairs_of(new)
    assert M(1) not in new.mentor_load()
    assert outcome.ended == {(C(1), M(1)): ("exit_effective", "district-7", DATE)}
    event = Event(kind="exit_effective", child_id=C(1))
    assert outcome.log == [
        {"kind": "exit_effective", "child_id": C(1), "mentor_id": "", "actor": "", "note": "",
         "date": DATE, "key": event_key(event, DATE)}
    ]  # fmt: skip


def test_exit_workflow_in_one_batch_leaves_the_queue_and_keeps_the_rest() -> None:
    state = make_state()
    snap = snapshot(state)
    batch = [
        Event(kind="exit_request", child_id=C(9)),
        Event(kind="exit_investigate", child_id=C(9)),
        Event(kind="exit_approve", child_id=C(9), actor="district-7"),
        Event(kind="exit_effective", child_id=C(9), actor="clerk"),
    ]
    outcome = apply_events(state, batch, date=DATE)
    assert_unchanged(state, snap)
    new = outcome.state
    assert new.first_in_line == ()
    assert child_row(new, C(9))["status"] == "exited"
    assert outcome.ended == {}  # C9 had no pair
    assert [row["kind"] for row in outcome.log] == [e.kind for e in batch]
    assert outcome.log[2]["actor"] == "district-7"
    # everyone else is untouched
    keep = (state.children["id"] != C(9)).to_numpy()
    pd.testing.assert_frame_equal(new.children[keep], state.children[keep])
    pd.testing.assert_frame_equal(new.mentors, state.mentors)
    pd.testing.assert_frame_equal(new.pairs, state.pairs)
    assert new.forbidden == state.forbidden


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_exit_reject_from_every_stage(steps: int) -> None:
    state = make_state()
    batch = [
        Event(kind="exit_request", child_id=C(2)),
        Event(kind="exit_investigate", child_id=C(2)),
        Event(kind="exit_approve", child_id=C(2), actor="district-7"),
    ][:steps]
    outcome = apply_events(
        state, [*batch, Event(kind="exit_reject", child_id=C(2), actor="x")], date=DATE
    )
    row = child_row(outcome.state, C(2))
    assert row["exit_state"] == ""
    assert row["exit_approved_by"] == ""
    assert (C(2), M(2)) in pairs_of(outcome.state)
    # after a rejection the workflow starts again from the beginning
    again = apply_events(outcome.state, [Event(kind="exit_request", child_id=C(2))], date=DATE)
    assert child_row(again.state, C(2))["exit_state"] == "requested"


def test_invalid_exit_transitions_are_all_reported_and_nothing_changes() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="exit_approve", child_id=C(1), actor="d"),  # 1: not requested
            Event(kind="exit_effective", child_id=C(2)),  # 2: not approved
            Event(kind="exit_request", child_id=C(3)),  # 3: fine
            Event(kind="exit_request", child_id=C(3)),  # 4: double request
            Event(kind="exit_investigate", child_id=C(4)),  # 5: not requested
            Event(kind="exit_reject", child_id=C(5)),  # 6: nothing to reject
            Event(kind="exit_investigate", child_id=C(3)),  # 7: fine (3 applied)
            Event(kind="exit_approve", child_id=C(3)),  # 8: no actor
            Event(kind="exit_effective", child_id=C(3)),  # 9: not approved (8 skipped)
        ],
    )
    assert problems == [
        f"event 1 (exit_approve, child {C(1)}): exit_state is none; exit_approve needs "
        "investigated",
        f"event 2 (exit_effective, child {C(2)}): exit_state is none; exit_effective needs "
        "approved",
        f"event 4 (exit_request, child {C(3)}): exit_state is requested; exit_request needs none",
        f"event 5 (exit_investigate, child {C(4)}): exit_state is none; exit_investigate needs "
        "requested",
        f"event 6 (exit_reject, child {C(5)}): exit_state is none; exit_reject needs requested "
        "or investigated or approved",
        f"event 8 (exit_approve, child {C(3)}): missing actor (who approved the exit)",
        f"event 9 (exit_effective, child {C(3)}): exit_state is investigated; exit_effective "
        "needs approved",
    ]


def test_error_message_summarises_and_is_an_input_error() -> None:
    state = make_state()
    with pytest.raises(InputError) as info:
        apply_events(state, [Event(kind="exit_effective", child_id=C(1))], date=DATE)
    assert isinstance(info.value, EventError)
    assert isinstance(info.value, ValueError)
    text = str(info.value)
    assert text.splitlines()[0] == "1 invalid event(s); nothing was applied"
    assert f"event 1 (exit_effective, child {C(1)})" in text


def test_message_is_capped_at_fifty_problems() -> None:
    state = make_state()
    events = [Event(kind="exit_effective", child_id=C(1))] * 60
    with pytest.raises(EventError) as info:
        apply_events(state, events, date=DATE)
    assert len(info.value.problems) == 60
    assert str(info.value).endswith("... and 10 more")


# ----------------------------------------------------------------------------------------------
# unknown ids, kinds and fields


def test_unknown_ids_kinds_and_missing_fields() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="exit_request", child_id="C999"),
            Event(kind="mentor_pause", mentor_id="M999"),
            Event(kind="pin", child_id="C999", mentor_id="M999"),
            Event(kind="forbid", child_id=C(1), mentor_id="M999"),
            Event(kind="adopt", child_id=C(1)),
            Event(kind="", child_id=C(1)),
            Event(kind="unpin", child_id=C(1)),
            Event(kind="mentor_leave"),
            Event(kind="end_pair", child_id=C(1), mentor_id=M(1)),
            Event(kind="exit_request", child_id=12),  # type: ignore[arg-type]
            ("exit_request", C(1)),
        ],
    )
    accepted = ", ".join(EVENT_KINDS)
    assert problems == [
        "event 1 (exit_request, child C999): unknown child id",
        "event 2 (mentor_pause, mentor M999): unknown mentor id",
        "event 3 (pin, child C999, mentor M999): unknown child id; unknown mentor id",
        f"event 4 (forbid, child {C(1)}, mentor M999): unknown mentor id",
        f"event 5 (?, child {C(1)}): unknown kind (accepted: {accepted})",
        f"event 6 (?, child {C(1)}): missing kind",
        f"event 7 (unpin, child {C(1)}): missing mentor_id",
        "event 8 (mentor_leave): missing mentor_id",
        f"event 9 (end_pair, child {C(1)}, mentor {M(1)}): missing note (the reason the pair ends)",
        "event 10 (exit_request): child_id must be text",
        "event 11 (?): not an Event",
    ]


def test_ids_gone_earlier_in_the_batch_are_explained() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="exit_request", child_id=C(1)),
            Event(kind="exit_investigate", child_id=C(1)),
            Event(kind="exit_approve", child_id=C(1), actor="d"),
            Event(kind="exit_effective", child_id=C(1)),
            Event(kind="exit_request", child_id=C(1)),
            Event(kind="mentor_leave", mentor_id=M(5)),
            Event(kind="mentor_resume", mentor_id=M(5)),
        ],
    )
    assert problems == [
        f"event 5 (exit_request, child {C(1)}): the child exited on {DATE}; a child_rejoin "
        "event must come first",
        f"event 7 (mentor_resume, mentor {M(5)}): the mentor left on {DATE}; a mentor_rejoin "
        "event must come first",
    ]


def test_messages_never_carry_the_note_or_actor() -> None:
    state = make_state()
    secret = "张小明 lives at 幸福路 12 号"
    with pytest.raises(EventError) as info:
        apply_events(
            state,
            [Event(kind="end_pair", child_id=C(1), mentor_id=M(2), note=secret, actor=secret)],
            date=DATE,
        )
    assert info.value.problems == [f"event 1 (end_pair, child {C(1)}, mentor {M(2)}): no such pair"]
    assert "张小明" not in str(info.value)


@pytest.mark.parametrize("date", ["2026-13-01", "yesterday", "", 20260302, None])
def test_bad_date_is_rejected(date: object) -> None:
    state = make_state()
    with pytest.raises(EventError, match="date"):
        apply_events(state, [], date=date)  # type: ignore[arg-type]


def test_no_events_gives_an_equal_state() -> None:
    state = make_state()
    outcome = apply_events(state, [], date=DATE)
    assert_unchanged(outcome.state, snapshot(state))
    assert (outcome.ended, outcome.started, outcome.log) == ({}, {}, [])


def test_events_must_be_a_sequence() -> None:
    with pytest.raises(EventError, match="sequence"):
        apply_events(make_state(), "exit_request", date=DATE)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# mentors


def test_mentor_pause_keeps_pairs_and_resume_reactivates() -> None:
    state = make_state()
    paused = apply_events(state, [Event(kind="mentor_pause", mentor_id=M(2))], date=DATE).state
    assert status_of(paused, M(2)) == "paused"
    assert status_of(state, M(2)) == "active"
    pd.testing.assert_frame_equal(paused.pairs, state.pairs)
    resumed = apply_events(paused, [Event(kind="mentor_resume", mentor_id=M(2))], date=DATE).state
    assert status_of(resumed, M(2)) == "active"
    pd.testing.assert_frame_equal(resumed.mentors, state.mentors)


def test_invalid_mentor_transitions() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="mentor_pause", mentor_id=M(8)),  # already paused
            Event(kind="mentor_resume", mentor_id=M(1)),  # not paused
            Event(kind="mentor_pause", mentor_id=M(1)),  # fine
            Event(kind="mentor_pause", mentor_id=M(1)),  # now paused
        ],
    )
    assert problems == [
        f"event 1 (mentor_pause, mentor {M(8)}): mentor status is paused; mentor_pause needs "
        "active",
        f"event 2 (mentor_resume, mentor {M(1)}): mentor status is active; mentor_resume needs "
        "paused",
        f"event 4 (mentor_pause, mentor {M(1)}): mentor status is paused; mentor_pause needs "
        "active",
    ]


def test_mentor_leave_ends_pairs_and_queues_children() -> None:
    state = make_state()
    snap = snapshot(state)
    outcome = apply_events(
        state,
        [
            Event(kind="mentor_leave", mentor_id=M(6), actor="staff-1"),
            Event(kind="mentor_leave", mentor_id=M(2), actor="staff-2"),
            Event(kind="mentor_leave", mentor_id=M(9)),  # no pairs
        ],
        date=DATE,
    )
    assert_unchanged(state, snap)
    new = outcome.state
    assert outcome.ended == {
        (C(5), M(6)): ("mentor_left", "staff-1", DATE),
        (C(2), M(2)): ("mentor_left", "staff-2", DATE),
        (C(3), M(2)): ("mentor_left", "staff-2", DATE),
    }
    assert new.first_in_line == (C(9), C(5), C(2), C(3))
    left = set(new.mentors.loc[new.mentors["status"] == "left", "id"])
    assert left == {M(2), M(6), M(9)}
    assert set(new.mentors["id"]) == set(state.mentors["id"])  # nobody is removed
    assert set(pairs_of(new)) == {(C(1), M(1)), (C(4), M(3))}
    assert new.mentors["id"].is_monotonic_increasing
    assert new.forbidden == state.forbidden


def test_mentor_leave_does_not_queue_a_child_twice() -> None:
    state = make_state()
    outcome = apply_events(
        state,
        [
            Event(kind="pin", child_id=C(9), mentor_id=M(6)),  # C9 (queued) gets M6
            Event(kind="mentor_leave", mentor_id=M(6)),
        ],
        date=DATE,
    )
    assert outcome.state.first_in_line == (C(9), C(5))
    assert set(outcome.ended) == {(C(5), M(6)), (C(9), M(6))}


# ----------------------------------------------------------------------------------------------
# pin, unpin, forbid, end_pair


def test_pin_an_existing_pair() -> None:
    state = make_state()
    outcome = apply_events(
        state, [Event(kind="pin", child_id=C(1), mentor_id=M(1), actor="s")], date=DATE
    )
    assert pairs_of(outcome.state)[(C(1), M(1))] == ("2026-01-05", "optimiser", True)
    assert (outcome.started, outcome.ended) == ({}, {})
    assert pairs_of(state)[(C(1), M(1))][2] is False


def test_pin_override_ends_the_old_pair_and_starts_a_pinned_one() -> None:
    state = make_state()
    snap = snapshot(state)
    outcome = apply_events(
        state,
        [
            Event(kind="pin", child_id=C(1), mentor_id=M(5), actor="staff-9"),
            Event(kind="pin", child_id=C(10), mentor_id=M(6), actor="staff-9"),  # unpaired child
        ],
        date=DATE,
    )
    assert_unchanged(state, snap)
    new = outcome.state
    assert outcome.ended == {(C(1), M(1)): ("staff_override", "staff-9", DATE)}
    assert outcome.started == {
        (C(1), M(5)): ("staff_override", DATE),
        (C(10), M(6)): ("staff_override", DATE),
    }
    pairs = pairs_of(new)
    assert (C(1), M(1)) not in pairs
    assert pairs[(C(1), M(5))] == (DATE, "staff_override", True)
    assert pairs[(C(10), M(6))] == (DATE, "staff_override", True)
    assert new.mentor_load()[M(6)] == 2
    assert M(1) not in new.mentor_load()
    assert new.first_in_line == (C(9),)  # an override does not queue anyone
    assert list(new.pairs["child_id"]) == sorted(new.pairs["child_id"])


def test_override_problems() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="pin", child_id=C(10), mentor_id=M(2)),  # 1: M2 full
            Event(kind="pin", child_id=C(4), mentor_id=M(5)),  # 2: C4's pair is pinned
            Event(kind="pin", child_id=C(10), mentor_id=M(8)),  # 3: M8 paused
            Event(kind="pin", child_id=C(7), mentor_id=M(7)),  # 4: forbidden
            Event(kind="pin", child_id=C(11), mentor_id=M(5)),  # 5: fine
            Event(kind="pin", child_id=C(12), mentor_id=M(5)),  # 6: M5 now full
        ],
    )
    assert problems == [
        f"event 1 (pin, child {C(10)}, mentor {M(2)}): mentor is full (2 of capacity 2)",
        f"event 2 (pin, child {C(4)}, mentor {M(5)}): the child's pair with mentor {M(3)} is "
        "pinned; unpin it first",
        f"event 3 (pin, child {C(10)}, mentor {M(8)}): mentor status is paused; a new pair "
        "needs active",
        f"event 4 (pin, child {C(7)}, mentor {M(7)}): the pair is forbidden",
        f"event 6 (pin, child {C(12)}, mentor {M(5)}): mentor is full (1 of capacity 1)",
    ]


def test_override_is_checked_against_the_evolving_state() -> None:
    state = make_state()
    outcome = apply_events(
        state,
        [
            Event(kind="end_pair", child_id=C(3), mentor_id=M(2), note="moved away", actor="s"),
            Event(kind="pin", child_id=C(10), mentor_id=M(2)),  # M2 has room now
            Event(kind="unpin", child_id=C(4), mentor_id=M(3)),
            Event(kind="pin", child_id=C(4), mentor_id=M(5)),  # C4 no longer pinned
        ],
        date=DATE,
    )
    assert set(outcome.started) == {(C(10), M(2)), (C(4), M(5))}
    assert outcome.ended == {
        (C(3), M(2)): ("ended: moved away", "s", DATE),
        (C(4), M(3)): ("staff_override", "", DATE),
    }


def test_unpin() -> None:
    state = make_state()
    new = apply_events(state, [Event(kind="unpin", child_id=C(4), mentor_id=M(3))], date=DATE).state
    assert pairs_of(new)[(C(4), M(3))] == ("2026-01-06", "staff_override", False)
    problems = apply_bad(
        state,
        [
            Event(kind="unpin", child_id=C(1), mentor_id=M(1)),  # not pinned
            Event(kind="unpin", child_id=C(1), mentor_id=M(2)),  # no such pair
        ],
    )
    assert problems == [
        f"event 1 (unpin, child {C(1)}, mentor {M(1)}): the pair is not pinned",
        f"event 2 (unpin, child {C(1)}, mentor {M(2)}): no such pair",
    ]


def test_forbid_ends_the_pair_and_queues_the_child() -> None:
    state = make_state()
    snap = snapshot(state)
    outcome = apply_events(
        state,
        [
            Event(kind="forbid", child_id=C(2), mentor_id=M(2), actor="staff-4"),
            Event(kind="forbid", child_id=C(4), mentor_id=M(3), actor="staff-4"),  # pinned
            Event(kind="forbid", child_id=C(1), mentor_id=M(9)),  # not paired
            Event(kind="forbid", child_id=C(7), mentor_id=M(7)),  # already forbidden
        ],
        date=DATE,
    )
    assert_unchanged(state, snap)
    new = outcome.state
    assert outcome.ended == {
        (C(2), M(2)): ("forbidden", "staff-4", DATE),
        (C(4), M(3)): ("forbidden", "staff-4", DATE),
    }
    assert new.forbidden == ((C(1), M(9)), (C(2), M(2)), (C(4), M(3)), (C(7), M(7)))
    assert new.first_in_line == (C(9), C(2), C(4))
    assert set(pairs_of(new)) == {(C(1), M(1)), (C(3), M(2)), (C(5), M(6))}


def test_forbidden_pair_cannot_then_be_pinned() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="forbid", child_id=C(10), mentor_id=M(9)),
            Event(kind="pin", child_id=C(10), mentor_id=M(9)),
        ],
    )
    assert problems == [f"event 2 (pin, child {C(10)}, mentor {M(9)}): the pair is forbidden"]


def test_end_pair_records_the_reason_and_does_not_queue() -> None:
    state = make_state()
    outcome = apply_events(
        state,
        [Event(kind="end_pair", child_id=C(4), mentor_id=M(3), note="family moved", actor="s-1")],
        date=DATE,
    )
    assert outcome.ended == {(C(4), M(3)): ("ended: family moved", "s-1", DATE)}
    assert outcome.state.first_in_line == (C(9),)
    assert (C(4), M(3)) not in pairs_of(outcome.state)
    assert outcome.log == [
        {
            "kind": "end_pair",
            "child_id": C(4),
            "mentor_id": M(3),
            "actor": "s-1",
            "note": "family moved",
            "date": DATE,
            "key": event_key(
                Event(kind="end_pair", child_id=C(4), mentor_id=M(3), actor="s-1",
                      note="family moved"),
                DATE,
            ),
        }
    ]  # fmt: skip


def test_end_pair_on_a_missing_pair() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="end_pair", child_id=C(1), mentor_id=M(1), note="a"),  # fine
            Event(kind="end_pair", child_id=C(1), mentor_id=M(1), note="b"),  # gone now
            Event(kind="end_pair", child_id=C(10), mentor_id=M(9), note="c"),  # never was
        ],
    )
    assert problems == [
        f"event 2 (end_pair, child {C(1)}, mentor {M(1)}): no such pair",
        f"event 3 (end_pair, child {C(10)}, mentor {M(9)}): no such pair",
    ]


def test_every_listed_invalid_case_in_one_batch() -> None:
    state = make_state()
    problems = apply_bad(
        state,
        [
            Event(kind="exit_approve", child_id=C(1), actor="d"),
            Event(kind="exit_effective", child_id=C(1)),
            Event(kind="exit_request", child_id=C(2)),
            Event(kind="exit_request", child_id=C(2)),
            Event(kind="exit_request", child_id="nobody"),
            Event(kind="end_pair", child_id=C(1), mentor_id=M(3), note="x"),
            Event(kind="unpin", child_id=C(1), mentor_id=M(1)),
            Event(kind="pin", child_id=C(10), mentor_id=M(2)),
            Event(kind="pin", child_id=C(4), mentor_id=M(5)),
        ],
    )
    assert [p.split(" (")[0] for p in problems] == [f"event {n}" for n in (1, 2, 4, 5, 6, 7, 8, 9)]


def test_output_frames_keep_columns_and_dtypes() -> None:
    state = make_state()
    outcome = apply_events(
        state,
        [
            Event(kind="pin", child_id=C(10), mentor_id=M(5)),
            Event(kind="exit_request", child_id=C(11)),
            Event(kind="mentor_pause", mentor_id=M(4)),
        ],
        date=DATE,
    )
    new = outcome.state
    pd.testing.assert_series_equal(new.children.dtypes, state.children.dtypes)
    pd.testing.assert_series_equal(new.mentors.dtypes, state.mentors.dtypes)
    pd.testing.assert_series_equal(new.pairs.dtypes, state.pairs.dtypes)
    assert list(new.pairs.columns) == list(PAIR_COLUMNS)
    assert isinstance(new.pairs.index, pd.RangeIndex)


# ----------------------------------------------------------------------------------------------
# read_events


ROUND_TRIP = [
    Event(kind="exit_request", child_id="007", actor="parent"),
    Event(kind="exit_approve", child_id="007", actor="区妇联"),
    Event(kind="mentor_pause", mentor_id="M1"),
    Event(kind="pin", child_id="C1", mentor_id="M2", actor="staff, 2"),
    Event(kind="end_pair", child_id="C3", mentor_id="M4", note='搬家，"转学"; moved'),
]


def _write_csv(path: Path, header: list[str], rows: list[list[str]], bom: bool = True) -> None:
    import csv

    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_read_events_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    header = ["note", "Kind ", "child_id", "mentor_id", "actor"]  # any order, any case
    rows = [[e.note, e.kind, e.child_id, e.mentor_id, e.actor] for e in ROUND_TRIP]
    rows.insert(2, ["", "", "", "", ""])  # a blank row is skipped
    _write_csv(path, header, rows)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_events(path) == ROUND_TRIP
    assert read_events(str(path)) == ROUND_TRIP


def test_read_events_csv_optional_columns_strip_and_case(tmp_path: Path) -> None:
    path = tmp_path / "events.CSV"
    path.write_text("kind,child_id\n EXIT_Request , 007 \n\nexit_reject,8\n", encoding="utf-8")
    assert read_events(path) == [
        Event(kind="exit_request", child_id="007"),
        Event(kind="exit_reject", child_id="8"),
    ]


def test_read_events_csv_reports_every_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    _write_csv(
        path,
        ["kind", "child_id", "mentor_id", "actor", "note"],
        [
            ["exit_request", "C1", "", "", ""],  # 1: fine
            ["adopt", "C1", "", "", ""],  # 2: unknown kind
            ["pin", "", "", "", ""],  # 3: missing both ids
            ["exit_approve", "C1", "", "", ""],  # 4: missing actor
            ["end_pair", "C1", "M1", "s", ""],  # 5: missing note
            ["mentor_leave", "", "", "", ""],  # 6: missing mentor_id
            ["", "C1", "", "", ""],  # 7: missing kind
            ["exit_request", "C1", "", "", "", "extra"],  # 8: too many cells
        ],
    )
    with pytest.raises(EventError) as info:
        read_events(path)
    # problems name the line (the header is line 1) and the ids of the row
    assert info.value.problems == [
        f"line 3 (child C1): column 'kind': unknown kind (accepted: {', '.join(EVENT_KINDS)})",
        "line 4: column 'child_id': missing child_id",
        "line 4: column 'mentor_id': missing mentor_id",
        "line 5 (child C1): column 'actor': missing actor (who approved the exit)",
        "line 6 (child C1, mentor M1): column 'note': missing note (the reason the pair ends)",
        "line 7: column 'mentor_id': missing mentor_id",
        "line 8 (child C1): column 'kind': missing kind",
        "line 9: 6 cells but 5 columns",
    ]
    assert str(path) in str(info.value).splitlines()[0]


def test_read_events_csv_header_problems(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("child_id,child_id,name\nC1,C1,张三\n", encoding="utf-8")
    with pytest.raises(EventError) as info:
        read_events(path)
    assert info.value.problems == [
        "header: column 'child_id' appears 2 times",
        "header: column 3 is not an event field "
        "(accepted: kind, child_id, mentor_id, actor, note, date)",
        "header: missing required column 'kind'",
    ]
    assert "张三" not in str(info.value)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
@pytest.mark.parametrize("content", ["", "\n  \n", "\ufeff"])
def test_read_events_empty_file(tmp_path: Path, suffix: str, content: str) -> None:
    path = tmp_path / f"events{suffix}"
    path.write_text(content, encoding="utf-8")
    assert read_events(path) == []


def test_read_events_header_only_and_empty_list(tmp_path: Path) -> None:
    csv_path = tmp_path / "events.csv"
    csv_path.write_text("kind,child_id,mentor_id,actor,note\n", encoding="utf-8")
    json_path = tmp_path / "events.json"
    json_path.write_text("[]", encoding="utf-8")
    assert read_events(csv_path) == []
    assert read_events(json_path) == []


def test_read_events_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    items = [{k: v for k, v in vars(e).items() if v} for e in ROUND_TRIP]  # blank fields left out
    items[0]["note"] = None  # null is blank
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8-sig")
    assert read_events(path) == ROUND_TRIP
    path.write_text('[{"kind": "exit_request", "child_id": 7}]', encoding="utf-8")
    assert read_events(path) == [Event(kind="exit_request", child_id="7")]


def test_read_events_json_problems(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    items = [
        {"kind": "exit_request", "child_id": "C1"},  # 1: fine
        ["exit_request", "C1"],  # 2: not an object
        {"kind": "pin", "child_id": "C1", "name": "张三"},  # 3: unknown key
        {"kind": "exit_request", "child_id": 1.5},  # 4: not text
        {"kind": "exit_request", "child_id": True},  # 5: not text
        {"kind": "end_pair", "child_id": "C1", "mentor_id": "M1"},  # 6: missing note
        {"kind": "nope"},  # 7: unknown kind
    ]
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(EventError) as info:
        read_events(path)
    assert info.value.problems == [
        "row 2: expected an object, got list",
        "row 3: a key that is not an event field "
        "(accepted: kind, child_id, mentor_id, actor, note, date)",
        "row 4: column 'child_id': must be text",
        "row 5: column 'child_id': must be text",
        "row 6 (child C1, mentor M1): column 'note': missing note (the reason the pair ends)",
        f"row 7: column 'kind': unknown kind (accepted: {', '.join(EVENT_KINDS)})",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"kind": "exit_request"}', "expected a JSON list of event objects, got dict"),
        ("[{", "not valid JSON"),
    ],
)
def test_read_events_json_structure(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "events.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EventError) as info:
        read_events(path)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(expected)


def test_read_events_missing_file_and_wrong_type(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(EventError) as info:
        read_events(missing)
    assert str(missing) in str(info.value)
    assert info.value.problems == ["no such file"]
    other = tmp_path / "events.xls"
    other.write_bytes(b"PK")
    with pytest.raises(EventError) as info:
        read_events(other)
    assert str(other) in str(info.value)
    assert info.value.problems == ["unsupported file type '.xls'; expected .csv, .xlsx or .json"]
    broken = tmp_path / "events.xlsx"
    broken.write_bytes(b"PK")
    with pytest.raises(EventError) as info:
        read_events(broken)
    assert info.value.problems == ["not a readable .xlsx workbook (BadZipFile)"]


def test_read_events_not_text(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(b"kind,child_id\nexit_request,\x80\xff\n")  # neither UTF-8 nor GB18030
    with pytest.raises(EventError) as info:
        read_events(path)
    assert info.value.problems == ["not text in UTF-8, UTF-16 or GB18030 (GBK)"]


def test_read_then_apply(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    _write_csv(
        path,
        ["kind", "child_id", "mentor_id", "actor", "note"],
        [
            ["mentor_leave", "", M(2), "staff-1", ""],
            ["pin", C(2), M(5), "staff-1", ""],
        ],
    )
    outcome = apply_events(make_state(), read_events(path), date=DATE)
    assert outcome.started == {(C(2), M(5)): ("staff_override", DATE)}
    assert outcome.state.first_in_line == (C(9), C(2), C(3))


# ----------------------------------------------------------------------------------------------
# apply_rosters


def test_apply_rosters_joins_updates_and_never_removes() -> None:
    state = make_state()
    state = apply_events(state, [Event(kind="exit_request", child_id=C(3))], date=DATE).state
    snap = snapshot(state)
    raw_children, raw_mentors = district(20, 15, seed=1)  # the rosters of make_state
    more_children, more_mentors = district(5, 3, seed=9)  # newcomers
    more_children["id"] = [C(n) for n in range(21, 26)]
    more_mentors["id"] = [M(n) for n in range(16, 19)]
    raw_children = pd.concat([raw_children, more_children], ignore_index=True)
    raw_mentors = pd.concat([raw_mentors, more_mentors], ignore_index=True)
    raw_children = raw_children[raw_children["id"] != C(1)].copy()  # C1 absent from the file
    raw_children.loc[raw_children["id"] == C(3), "priority"] = 5  # an update
    raw_children.loc[raw_children["id"] == C(2), "lat"] = 31.5  # another
    raw_children["name"] = "某某"  # personal data, not kept
    raw_mentors = raw_mentors[raw_mentors["id"] != M(4)].copy()
    raw_mentors["capacity"] = np.where(raw_mentors["id"].isin([M(2), M(6)]), 2, 1)
    raw_mentors["active"] = True
    raw_mentors.loc[raw_mentors["id"] == M(6), "capacity"] = 3  # update
    raw_mentors.loc[raw_mentors["id"] == M(7), "active"] = False  # pauses M7
    raw_mentors.loc[raw_mentors["id"] == M(17), "active"] = False  # joins paused
    # shuffled input order does not matter
    raw_children = raw_children.sample(frac=1.0, random_state=3)

    new, changes = apply_rosters(state, raw_children, raw_mentors, date=DATE)
    assert_unchanged(state, snap)
    assert changes == {
        "children_joined": [C(n) for n in range(21, 26)],
        "children_updated": [C(2), C(3)],
        "children_ignored": [],
        "mentors_joined": [M(n) for n in range(16, 19)],
        "mentors_updated": [M(6), M(7)],
        "mentors_ignored": [],
    }
    kids = new.children.set_index("id")
    assert list(new.children["id"]) == sorted([C(n) for n in range(1, 26)])
    assert kids.at[C(1), "lat"] == child_row(state, C(1))["lat"]  # kept although absent
    assert kids.at[C(3), "priority"] == 5
    assert kids.at[C(3), "exit_state"] == "requested"  # exit state kept
    assert kids.at[C(2), "lat"] == 31.5
    assert kids.at[C(21), "exit_state"] == ""
    assert kids.at[C(21), "exit_approved_by"] == ""
    assert (kids.at[C(21), "status"], kids.at[C(21), "joined_on"]) == ("waiting", DATE)
    assert kids.at[C(2), "joined_on"] == "2026-01-01"  # kept
    mums = new.mentors.set_index("id")
    assert list(new.mentors["id"]) == sorted([M(n) for n in range(1, 19)])
    assert M(4) in mums.index
    assert mums.at[M(6), "capacity"] == 3
    assert mums.at[M(7), "status"] == "paused"
    assert mums.at[M(8), "status"] == "paused"  # paused by an event: kept
    assert mums.at[M(16), "status"] == "active"
    assert mums.at[M(17), "status"] == "paused"
    assert list(new.children.columns) == list(CHILD_STATE_COLUMNS)
    assert list(new.mentors.columns) == list(MENTOR_STATE_COLUMNS)
    reference = empty_state()
    pd.testing.assert_series_equal(new.children.dtypes, reference.children.dtypes)
    pd.testing.assert_series_equal(new.mentors.dtypes, reference.mentors.dtypes)
    pd.testing.assert_frame_equal(new.pairs, state.pairs)
    assert (new.forbidden, new.first_in_line) == (state.forbidden, state.first_in_line)
    # unchanged rows are identical to before
    same = [C(n) for n in range(4, 21)]
    pd.testing.assert_frame_equal(
        new.children[new.children["id"].isin(same)].reset_index(drop=True),
        state.children[state.children["id"].isin(same)].reset_index(drop=True),
    )


def test_apply_rosters_same_roster_changes_nothing() -> None:
    state = make_state()
    raw_children, _ = district(20, 15, seed=1)
    new, changes = apply_rosters(state, raw_children, None, date=DATE)
    assert all(ids == [] for ids in changes.values())
    pd.testing.assert_frame_equal(new.children, state.children)
    assert new.mentors is state.mentors


def test_apply_rosters_ignores_rows_of_people_who_left() -> None:
    """A master roster re-uploaded after an exit and a departure changes nothing for them."""
    state = make_state()
    exit_ = [
        Event(kind="exit_request", child_id=C(2)),
        Event(kind="exit_investigate", child_id=C(2)),
        Event(kind="exit_approve", child_id=C(2), actor="district"),
        Event(kind="exit_effective", child_id=C(2), date="2026-03-01"),
        Event(kind="mentor_leave", mentor_id=M(1)),
    ]
    left = apply_events(state, exit_, date=DATE).state
    raw_children, raw_mentors = district(20, 15, seed=1)
    raw_children.loc[raw_children["id"] == C(2), "priority"] = 9  # would be an update
    new, changes = apply_rosters(left, raw_children, raw_mentors, date="2026-03-09")
    assert changes["children_ignored"] == [C(2)]
    assert changes["mentors_ignored"] == [M(1)]
    assert changes["children_joined"] == changes["mentors_joined"] == []
    kids = new.children.set_index("id")
    assert (kids.at[C(2), "status"], kids.at[C(2), "left_on"]) == ("exited", "2026-03-01")
    assert kids.at[C(2), "priority"] == child_row(left, C(2))["priority"]
    assert new.mentors.set_index("id").at[M(1), "status"] == "left"
    # a rejoin brings the child back, on the rejoin's date
    back = apply_events(new, [Event(kind="child_rejoin", child_id=C(2))], date="2026-03-09").state
    row = child_row(back, C(2))
    assert (row["status"], row["joined_on"], row["left_on"]) == ("waiting", "2026-03-09", "")
    _, changes = apply_rosters(back, raw_children, None, date="2026-03-09")
    assert changes["children_ignored"] == [] and changes["children_updated"] == [C(2)]


def test_apply_rosters_on_an_empty_state() -> None:
    raw_children, raw_mentors = district(20, 15, seed=2)
    new, changes = apply_rosters(empty_state(), raw_children, raw_mentors, date=DATE)
    assert changes["children_joined"] == sorted(raw_children["id"])
    assert changes["mentors_joined"] == sorted(raw_mentors["id"])
    assert changes["children_updated"] == changes["mentors_updated"] == []
    assert new.children["exit_state"].eq("").all()
    expected = np.where(raw_mentors.sort_values("id")["active"], "active", "paused")
    assert new.mentors["status"].tolist() == expected.tolist()
    assert len(new.pairs) == 0


def test_apply_rosters_raises_roster_errors_and_keeps_the_state() -> None:
    state = make_state()
    snap = snapshot(state)
    raw_children, _ = district(20, 15, seed=1)
    raw_children.loc[0, "lat"] = 123.0
    with pytest.raises(RosterError) as info:
        apply_rosters(state, raw_children, None, date=DATE)
    assert [p.column for p in info.value.problems] == ["lat"]
    assert_unchanged(state, snap)


def test_apply_rosters_none_changes_nothing() -> None:
    state = make_state()
    new, changes = apply_rosters(state, None, None, date=DATE)
    assert new.children is state.children
    assert new.mentors is state.mentors
    assert all(v == [] for v in changes.values())
    assert sorted(changes) == [
        "children_ignored",
        "children_joined",
        "children_updated",
        "mentors_ignored",
        "mentors_joined",
        "mentors_updated",
    ]
