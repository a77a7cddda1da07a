"""Roll call (点名): a surprise presence check during a session.

The operator starts a roll call for all sites or some, with a time limit (default 60 s). The
trainees who are in the room at that moment (checked in, not checked out) at a targeted site
are expected to answer before the deadline; whoever did not is marked ``missed`` when it closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from server.core.errors import Conflict, Forbidden, InvalidInput

DEFAULT_SECONDS = 60
MIN_SECONDS = 10
MAX_SECONDS = 600


class EntryStatus(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    MISSED = "missed"


def check_seconds(seconds: int) -> int:
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise InvalidInput(
            "rollcall.bad_time_limit", f"A roll call lasts {MIN_SECONDS} to {MAX_SECONDS} seconds."
        )
    return seconds


def targeted_sites(requested: Iterable[int] | None, participating: Iterable[int]) -> list[int]:
    """The sites a roll call covers: the requested ones (all must take part) or all of them."""
    sites = sorted(set(participating))
    if requested is None:
        return sites
    wanted = sorted(set(requested))
    unknown = [s for s in wanted if s not in sites]
    if unknown:
        raise InvalidInput(
            "rollcall.unknown_site", f"Sites {unknown} do not take part in this session."
        )
    if not wanted:
        raise InvalidInput("rollcall.no_site", "Name at least one site, or none for all sites.")
    return wanted


@dataclass(frozen=True, slots=True)
class AnswerDecision:
    site_id: int
    late_joiner: bool  # checked in after the roll call started: answered, though not expected


def decide_answer(
    *,
    now: float,
    deadline: float,
    closed: bool,
    status: EntryStatus | None,
    in_room_site: int | None,
    sites: Iterable[int],
) -> AnswerDecision:
    """May this trainee answer now? ``status`` is their entry (None: not expected at start);
    ``in_room_site`` the site they are checked in at now (None: not in the room)."""
    if closed or now > deadline:
        raise Conflict("rollcall.closed", "This roll call has closed; answers are no longer taken.")
    if status is EntryStatus.ANSWERED:
        raise Conflict("rollcall.already_answered", "You have already answered this roll call.")
    if in_room_site is None:
        raise Forbidden("rollcall.not_in_room", "Check in to the session at your site first.")
    if in_room_site not in set(sites):
        raise Forbidden("rollcall.other_site", "This roll call is not for your site.")
    return AnswerDecision(in_room_site, late_joiner=status is None)


def tally(entries: Iterable[tuple[int, EntryStatus]]) -> dict[int, dict[str, int]]:
    """Per site: how many were expected (or joined), answered, are pending, missed."""
    result: dict[int, dict[str, int]] = {}
    for site_id, status in entries:
        row = result.setdefault(site_id, {"expected": 0, "answered": 0, "pending": 0, "missed": 0})
        row["expected"] += 1
        row[status.value] += 1
    return dict(sorted(result.items()))


def close_statuses(statuses: Mapping[int, EntryStatus]) -> dict[int, EntryStatus]:
    """At the deadline everyone still pending has missed it."""
    return {
        trainee: EntryStatus.MISSED if status is EntryStatus.PENDING else status
        for trainee, status in statuses.items()
    }
