"""Which site's code is shown and where staff may mark present (server/core/checkin_sites.py)."""

from __future__ import annotations

import pytest

from server.core.checkin_sites import (
    check_code_shown,
    check_mark,
    code_site,
    mark_span,
    marking_site,
)
from server.core.errors import DomainError
from server.core.sessions import SessionStatus


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(DomainError) as info:
        call()
    return info.value.code


def test_an_operator_shows_the_site_asked_for_and_must_name_one() -> None:
    assert code_site(by_site_agent=False, agent_site_id=None, asked=7) == 7
    assert _code(lambda: code_site(by_site_agent=False, agent_site_id=None, asked=None)) == (
        "request.bad_query"
    )


def test_a_site_agent_shows_only_its_own_sites_code() -> None:
    assert code_site(by_site_agent=True, agent_site_id=3, asked=None) == 3
    assert code_site(by_site_agent=True, agent_site_id=3, asked=3) == 3
    assert _code(lambda: code_site(by_site_agent=True, agent_site_id=3, asked=4)) == (
        "checkin.other_site"
    )


def test_a_code_is_shown_for_a_participating_site_until_the_session_ends() -> None:
    for status in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
        check_code_shown(session_id=1, status=status, participating={2, 3}, site_id=2)
    assert _code(
        lambda: check_code_shown(
            session_id=1, status=SessionStatus.LIVE, participating={2, 3}, site_id=9
        )
    ) == ("checkin.wrong_site")
    assert _code(
        lambda: check_code_shown(
            session_id=1, status=SessionStatus.ENDED, participating={2}, site_id=2
        )
    ) == ("checkin.session_not_live")


def test_staff_mark_at_the_site_asked_else_where_checked_in_else_at_home() -> None:
    def site(asked: int | None, record: int | None, home: int | None) -> int | None:
        return marking_site(
            by_site_agent=False,
            agent_site_id=None,
            asked=asked,
            record_site_id=record,
            home_site_id=home,
        )

    assert site(5, 6, 7) == 5
    assert site(None, 6, 7) == 6
    assert site(None, None, 7) == 7
    assert site(None, None, None) is None


def test_a_site_agent_marks_only_at_its_own_site_and_not_a_trainee_checked_in_elsewhere() -> None:
    def site(asked: int | None, record: int | None) -> int | None:
        return marking_site(
            by_site_agent=True, agent_site_id=4, asked=asked, record_site_id=record, home_site_id=9
        )

    assert site(None, None) == 4
    assert site(4, 4) == 4
    assert _code(lambda: site(5, None)) == "attendance.other_site"
    assert _code(lambda: site(None, 5)) == "attendance.other_site"


def test_a_mark_needs_a_participating_site_of_a_started_session() -> None:
    for status in (SessionStatus.LIVE, SessionStatus.ENDED):
        assert check_mark(session_id=1, status=status, participating={2}, site_id=2) == 2
    assert _code(
        lambda: check_mark(session_id=1, status=SessionStatus.LIVE, participating={2}, site_id=3)
    ) == ("checkin.wrong_site")
    assert _code(
        lambda: check_mark(session_id=1, status=SessionStatus.LIVE, participating={2}, site_id=None)
    ) == ("checkin.wrong_site")
    assert _code(
        lambda: check_mark(
            session_id=1, status=SessionStatus.SCHEDULED, participating={2}, site_id=2
        )
    ) == ("checkin.session_not_live")


RAN = (1_000.0, 10_000.0)


def test_a_mark_after_the_session_covers_the_session_as_it_ran() -> None:
    ended = SessionStatus.ENDED
    assert mark_span(status=ended, now=20_000, ran=RAN, start=None, end=None) == RAN
    assert mark_span(status=ended, now=20_000, ran=RAN, start=None, end=5_000) == (1_000, 5_000)
    assert mark_span(status=ended, now=20_000, ran=RAN, start=2_000, end=3_000) == (2_000, 3_000)


def test_a_mark_in_a_running_session_is_from_now_on_unless_times_are_given() -> None:
    live = SessionStatus.LIVE
    assert mark_span(status=live, now=5_000, ran=RAN, start=None, end=None) == (5_000, None)
    assert mark_span(status=live, now=5_000, ran=RAN, start=1_500, end=None) == (1_500, None)
