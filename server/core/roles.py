"""Who is asking: the six kinds of caller and the groups that endpoints allow."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
