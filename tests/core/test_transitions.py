"""The one lookup every transition table goes through."""

from __future__ import annotations

from enum import StrEnum

import pytest

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
