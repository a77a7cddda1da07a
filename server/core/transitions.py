"""A move in a state machine written as one transition table, ``(state, action) -> next state``:
the next state, or the Conflict that refuses the move (sessions, questions, the floor, polls,
leave requests)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from server.core.errors import Conflict

State = TypeVar("State", bound=StrEnum)
Action = TypeVar("Action", bound=StrEnum)

Refusal = tuple[str, str]
"""The code and message of a refused move."""


def transition(
    table: Mapping[tuple[State, Action], State],
    state: State,
    action: Action,
    *,
    refusal: Refusal,
    refusals: Mapping[tuple[State, Action], Refusal] | None = None,
    details: Mapping[str, str] | None = None,
) -> State:
    """``table[(state, action)]``. A pair missing from the table is illegal: a Conflict with the
    pair's own code and message in ``refusals``, else ``refusal``'s; its details are
    ``details`` and the state and the action."""
    after = table.get((state, action))
    if after is not None:
        return after
    code, message = (refusals or {}).get((state, action), refusal)
    raise Conflict(code, message, {**(details or {}), "state": state.value, "action": action.value})
