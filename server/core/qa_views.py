"""Who sees what of a question (访谈式教学): trainees, moderators and screens, and who an
interaction-log entry names. Pure: the views of ``server.core.qa.Question``.

Decisions:

* Moderators see every question; trainees and screens see screened ones (approved, on air,
  answered) and a trainee also their own.
* A named (not anonymous) question shows its asker to everyone; an anonymous one hides the asker
  from other trainees and screens always, and from moderators unless the session lets them see
  identities. The asker of an anonymous question is never named in the interaction log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.core.qa import Question, QuestionState

_S = QuestionState

# --- who sees what ----------------------------------------------------------------------------


class ViewerRole(StrEnum):
    TRAINEE = "trainee"
    MODERATOR = "moderator"  # operators and moderators at the main classroom
    SCREEN = "screen"  # a site's projector, the guest's monitor: public display


#: States a trainee or a screen sees for questions that are not their own.
PUBLIC_STATES = frozenset({_S.APPROVED, _S.ON_AIR, _S.ANSWERED})


@dataclass(frozen=True, slots=True)
class QuestionView:
    """What one viewer may see of a question."""

    id: str
    state: QuestionState
    text: str
    site_id: str
    addressed_to: str | None
    anonymous: bool
    asker: str | None  # None when hidden from this viewer (or nobody asked by name)
    is_mine: bool
    pinned: bool
    vote_count: int
    voted_by_me: bool
    also_asked_count: int
    edited: bool
    created_at: float
    merged_into: str | None
    original_text: str | None  # moderators only
    flags: tuple[str, ...]  # moderators only


def is_mine(q: Question, viewer_id: str | None) -> bool:
    return viewer_id is not None and (viewer_id == q.asker or viewer_id in q.also_asked_by)


def is_visible(q: Question, viewer_role: ViewerRole, viewer_id: str | None = None) -> bool:
    """Moderators see every question; others see screened ones and their own."""
    if viewer_role is ViewerRole.MODERATOR:
        return True
    return q.state in PUBLIC_STATES or (viewer_role is ViewerRole.TRAINEE and is_mine(q, viewer_id))


def public_view(
    q: Question,
    viewer_role: ViewerRole,
    session_setting_moderators_see_identity: bool,
    viewer_id: str | None = None,
) -> QuestionView:
    """The question as ``viewer_role`` / ``viewer_id`` may see it.

    A named (not anonymous) question shows its asker to everyone. An anonymous one hides the
    asker from other trainees and screens always, and from moderators unless the session
    setting lets moderators see identities. The asker always sees it (``is_mine`` is also true
    for askers of merged duplicates, who do not see the original asker of an anonymous one).
    """
    mine = is_mine(q, viewer_id)
    moderator = viewer_role is ViewerRole.MODERATOR
    shown = (
        not q.anonymous
        or (viewer_id is not None and viewer_id == q.asker)
        or (moderator and session_setting_moderators_see_identity)
    )
    asker = q.asker if shown else None
    return QuestionView(
        id=q.id,
        state=q.state,
        text=q.text,
        site_id=q.site_id,
        addressed_to=q.addressed_to,
        anonymous=q.anonymous,
        asker=asker,
        is_mine=mine,
        pinned=q.pinned,
        vote_count=len(q.votes),
        voted_by_me=viewer_id is not None and viewer_id in q.votes,
        also_asked_count=len(q.also_asked_by),
        edited=bool(q.edits),
        created_at=q.created_at,
        merged_into=q.merged_into,
        original_text=q.original_text if moderator else None,
        flags=q.flags if moderator else (),
    )


ANONYMOUS_ACTOR = "anonymous"


def log_actor(actor: str, *, anonymous_asker: str | None) -> str:
    """Who an interaction-log entry names: never the asker of an anonymous question.

    ``anonymous_asker``: the actor label (``trainee:7``) of the entry's question's asker when
    that question is anonymous, else None.
    """
    return ANONYMOUS_ACTOR if anonymous_asker is not None and actor == anonymous_asker else actor
