"""Which site a check-in code is shown for, and where and when staff may mark a trainee present.

Pure rules of the staff side of check-in (a trainee's own check-in is
:func:`server.core.checkin.decide_checkin`): the service loads the session and the trainee's
record, asks here, and then shows the code or stores the mark. Ids are the store's integers.
"""

from __future__ import annotations

from collections.abc import Collection

from server.core.errors import Forbidden, InvalidInput, RuleViolation
from server.core.sessions import SessionStatus


def code_site(*, by_site_agent: bool, agent_site_id: int | None, asked: int | None) -> int:
    """The site whose code to show: a site agent's own (it may not ask for another), else the
    one asked for (``request.bad_query`` when none is)."""
    site_id = asked
    if by_site_agent:
        if asked is not None and asked != agent_site_id:
            raise Forbidden("checkin.other_site", "A site agent may only show its own site's code.")
        site_id = agent_site_id
    if site_id is None:
        raise InvalidInput("request.bad_query", "Give site_id: the site whose code to show.")
    return site_id


def check_code_shown(
    *, session_id: int, status: SessionStatus, participating: Collection[int], site_id: int
) -> None:
    """A code is shown only for a site taking part in a session that has not ended."""
    if site_id not in participating:
        raise _wrong_site(session_id, site_id, "This site is not taking part in the session.")
    if status is SessionStatus.ENDED:
        raise _not_live(session_id, status, "The session has ended; check-in is closed.")


def marking_site(
    *,
    by_site_agent: bool,
    agent_site_id: int | None,
    asked: int | None,
    record_site_id: int | None,
    home_site_id: int | None,
) -> int | None:
    """Where a mark by hand puts the trainee: a site agent marks only at its own site and only
    a trainee not checked in elsewhere; staff mark at the site asked for, else where the trainee
    checked in, else their home site (None: no site known)."""
    if by_site_agent:
        if asked is not None and asked != agent_site_id:
            raise Forbidden("attendance.other_site", "A site agent marks only at its own site.")
        if record_site_id is not None and record_site_id != agent_site_id:
            raise Forbidden("attendance.other_site", "This trainee checked in at another site.")
        return agent_site_id
    return asked or record_site_id or home_site_id


def check_mark(
    *, session_id: int, status: SessionStatus, participating: Collection[int], site_id: int | None
) -> int:
    """A mark goes to a site taking part in a session that has started; returns the site."""
    if site_id is None or site_id not in participating:
        raise _wrong_site(
            session_id,
            site_id,
            "This site is not taking part in the session; give a participating site_id.",
        )
    if status is SessionStatus.SCHEDULED:
        raise _not_live(session_id, status, "The session has not started yet.")
    return site_id


def mark_span(
    *,
    status: SessionStatus,
    now: float,
    ran: tuple[float, float],
    start: float | None,
    end: float | None,
) -> tuple[float, float | None]:
    """When a staff mark says the trainee was present: the times given; else, in a running
    session, from now on (they are in the room now); else, after the session (补签 once it
    ended), the whole session as it ran, ``ran`` = (started, ended): a mark from "now" would
    lie after the end and credit nothing."""
    if status is SessionStatus.ENDED and start is None:
        return ran[0], ran[1] if end is None else end
    return (now if start is None else start), end


def _wrong_site(session_id: int, site_id: int | None, message: str) -> RuleViolation:
    return RuleViolation(
        "checkin.wrong_site",
        message,
        rule="site_participation",
        details={"session_id": session_id, "site_id": site_id},
    )


def _not_live(session_id: int, status: SessionStatus, message: str) -> RuleViolation:
    return RuleViolation(
        "checkin.session_not_live",
        message,
        rule="session_live",
        details={"session_id": session_id, "status": status.value},
    )
