"""The one lookup every transition table goes through, and the machines that use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from itertools import product
from typing import Any

import pytest

from server.core import floor, qa, quiz
from server.core.errors import Conflict
from server.core.transitions import transition


class Door(StrEnum):
    OPEN = "open"
    SHUT = "shut"
    LOCKED = "locked"


class Act(StrEnum):
    CLOSE = "close"
    LOCK = "lock"
    OPEN = "open"


TABLE = {
    (Door.OPEN, Act.CLOSE): Door.SHUT,
    (Door.SHUT, Act.OPEN): Door.OPEN,
    (Door.SHUT, Act.LOCK): Door.LOCKED,
}
REFUSALS = {(Door.LOCKED, Act.OPEN): ("door.locked", "Unlock it first.")}


def test_a_pair_in_the_table_gives_its_next_state() -> None:
    for (state, action), after in TABLE.items():
        assert transition(TABLE, state, action, refusal=("door.bad", "No.")) is after


def test_a_missing_pair_is_refused_with_its_own_code_or_the_general_one() -> None:
    with pytest.raises(Conflict) as own:
        transition(TABLE, Door.LOCKED, Act.OPEN, refusal=("door.bad", "No."), refusals=REFUSALS)
    assert (own.value.code, own.value.message) == ("door.locked", "Unlock it first.")
    assert own.value.details == {"state": "locked", "action": "open"}

    with pytest.raises(Conflict) as general:
        transition(
            TABLE,
            Door.OPEN,
            Act.LOCK,
            refusal=("door.bad", "Cannot lock an open door."),
            refusals=REFUSALS,
            details={"door_id": "d1"},
        )
    assert (general.value.code, general.value.message) == ("door.bad", "Cannot lock an open door.")
    assert general.value.details == {"door_id": "d1", "state": "open", "action": "lock"}


MACHINES = [
    pytest.param(
        floor.SiteFloorState,
        floor.FloorAction,
        floor.TRANSITIONS,
        floor.next_state,
        "site_id",
        {"floor.bad_transition", "floor.already_requested", "floor.already_holding"},
        id="floor",
    ),
    pytest.param(
        quiz.PollState,
        quiz.PollAction,
        quiz.TRANSITIONS,
        quiz.next_state,
        "poll_id",
        {"quiz.bad_transition", "quiz.not_open", "quiz.closed", "quiz.already_launched"},
        id="quiz",
    ),
    pytest.param(
        qa.QuestionState,
        qa.QuestionAction,
        qa.TRANSITIONS,
        qa.next_state,
        "question_id",
        {"question.bad_transition"},
        id="qa",
    ),
]


@pytest.mark.parametrize(("states", "actions", "table", "next_state", "id_key", "codes"), MACHINES)
def test_every_pair_missing_from_a_machines_table_is_refused_naming_state_and_action(
    states: type[StrEnum],
    actions: type[StrEnum],
    table: Mapping[tuple[Any, Any], Any],
    next_state: Callable[[Any, Any, str], Any],
    id_key: str,
    codes: set[str],
) -> None:
    for state, action in product(states, actions):
        if (state, action) in table:
            assert next_state(state, action, "x") is table[(state, action)]
            continue
        with pytest.raises(Conflict) as info:
            next_state(state, action, "x")
        assert info.value.details == {id_key: "x", "state": state, "action": action}
        assert info.value.code in codes
