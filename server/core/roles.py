"""Who is asking: the six kinds of caller and the groups that endpoints allow."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.core.errors import Conflict


class Actor(StrEnum):
    ANONYMOUS = "anonymous"
    TRAINEE = "trainee"
    SITE_AGENT = "site_agent"
    MODERATOR = "moderator"
    OPERATOR = "operator"
    ADMIN = "admin"


ALL: frozenset[Actor] = frozenset(Actor)
SIGNED_IN: frozenset[Actor] = ALL - {Actor.ANONYMOUS}
STAFF: frozenset[Actor] = frozenset({Actor.MODERATOR, Actor.OPERATOR, Actor.ADMIN})
MANAGERS: frozenset[Actor] = frozenset({Actor.OPERATOR, Actor.ADMIN})
ADMINS: frozenset[Actor] = frozenset({Actor.ADMIN})
TRAINEES: frozenset[Actor] = frozenset({Actor.TRAINEE})
AGENTS: frozenset[Actor] = frozenset({Actor.SITE_AGENT})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request or socket."""

    actor: Actor
    name: str = ""
    user_id: int | None = None
    trainee_id: int | None = None
    site_id: int | None = None
    csrf_token: str | None = None  # set for cookie logins: state changes must echo it

    @property
    def label(self) -> str:
        """How the audit trail names this caller."""
        if self.user_id is not None:
            return f"user:{self.user_id}:{self.name}"
        if self.trainee_id is not None:
            return f"trainee:{self.trainee_id}"
        if self.site_id is not None:
            return f"site:{self.site_id}"
        return "anonymous"


ANONYMOUS = Principal(Actor.ANONYMOUS)


def check_admins_remain(active_admins: frozenset[int], user_id: int, *, stays_admin: bool) -> None:
    """Refuse a change that leaves no active admin (nobody could manage users any more):
    removing, demoting or deactivating the last one. ``active_admins`` are the ids of the active
    admins now; ``stays_admin`` says whether ``user_id`` is still an active admin afterwards.
    The deploy engineer's ``create-admin`` command is the way back in if it happens anyway."""
    if stays_admin or user_id not in active_admins:
        return
    if not active_admins - {user_id}:
        raise Conflict(
            "users.last_admin",
            "This is the last active admin: make another user an active admin first.",
        )


def takes_part(who: Principal, session_site_ids: frozenset[int], trainee_listed: bool) -> bool:
    """Whether ``who`` may read a session's live data (questions, polls, roll calls, floor,
    its live topic). Staff read every session; a site only sessions it takes part in; a
    trainee only sessions of their home site or where they are listed (batch room, attendance
    record, elective registration: ``trainee_listed``)."""
    if who.actor in STAFF:
        return True
    if who.actor is Actor.SITE_AGENT:
        return who.site_id is not None and who.site_id in session_site_ids
    if who.actor is Actor.TRAINEE:
        return trainee_listed or (who.site_id is not None and who.site_id in session_site_ids)
    return False
