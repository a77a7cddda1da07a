"""Is a site's screen really playing? The rule for the screen page's playback reports.

A room without a classroom agent shows the programme on a kiosk browser (the site screen page).
That page reports every ``REPORT_INTERVAL`` seconds what its ``<video>`` really does: how many
frames it has decoded so far, whether the element is paused, whether sound is on. From two
consecutive reports the server judges the screen:

- ``playing``: frames were decoded since the previous report (at least ``MIN_FPS`` a second) and
  the element is not paused;
- ``starting``: a programme was attached less than ``START_GRACE`` seconds ago and has not
  played yet (the broadcast is just starting to reach the room: connecting, waiting for the
  first picture). It is not a fault: the room is receiving, shown neutral (正在接收);
- ``stalled``: a programme is attached but no new frames came (a frozen picture, a dead stream,
  a paused element), after it played or once the start-up grace is over;
- ``idle``: the screen has no programme to play (no broadcast, or no session);
- ``silent`` (judged by the wall, from the report's time): no report for ``STALE_AFTER`` seconds:
  the page is closed, the kiosk crashed, or the network is down.

Sound is reported as ``on`` (unmuted, volume up, an audio track), ``muted`` (the browser blocked
sound and nobody tapped 开启声音 yet, or the element is muted), or ``none`` (no audio track).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from server.core.broadcast import START_GRACE
from server.core.validation import Bool, Enum, Int, Map, Optional

REPORT_INTERVAL = 5.0
"""Seconds between two reports of a screen page (the agents' heartbeat interval)."""

STALE_AFTER = 15.0
"""A screen with no report for this long is shown as not reporting (3 missed reports)."""

MIN_FPS = 1.0
"""Below this many decoded frames a second the picture is judged frozen."""

PlaybackState = Literal["playing", "starting", "stalled", "idle"]
Sound = Literal["on", "muted", "none"]

SCREEN_REPORT = Map(
    {
        "session_id": Optional(Int(1, 2**31 - 1)),
        "attached": Bool(),  # a programme stream is attached to the video element
        "paused": Bool(),
        "frames": Int(0, 2**53 - 1),  # frames decoded since the page loaded (monotonic)
        "width": Optional(Int(0, 16384)),
        "height": Optional(Int(0, 16384)),
        "sound": Enum("on", "muted", "none"),
    },
    frozenset({"attached", "paused", "frames", "sound"}),
    extra="reject",
)
"""The body of ``POST /api/v1/site/screen-status``."""


@dataclass(frozen=True, slots=True)
class ScreenReport:
    at: float
    session_id: int | None
    attached: bool
    paused: bool
    frames: int
    sound: Sound
    width: int | None = None
    height: int | None = None
    # the server's judgement so far, carried from report to report (see ``judge``):
    attached_at: float | None = None  # when this programme was first reported attached
    played: bool = False  # it was judged playing since it was attached


def report_from_wire(wire: dict[str, Any]) -> ScreenReport:
    """The report a fanned-out status was judged from (enough to judge the next one)."""
    return ScreenReport(
        at=float(wire["at"]),
        session_id=wire.get("session_id"),
        attached=bool(wire["attached"]),
        paused=bool(wire["paused"]),
        frames=int(wire["frames"]),
        sound=wire["sound"],
        attached_at=wire.get("attached_at"),
        played=bool(wire.get("played", False)),
    )


@dataclass(frozen=True, slots=True)
class ScreenStatus:
    state: PlaybackState
    fps: float
    sound: Sound
    attached_at: float | None = None
    played: bool = False

    def to_wire(self, report: ScreenReport, site_id: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "site_id": site_id,
            "at": report.at,
            "state": self.state,
            "fps": round(self.fps, 1),
            "sound": self.sound,
            "session_id": report.session_id,
            # what the next report is judged against, in whichever process receives it
            "frames": report.frames,
            "attached": report.attached,
            "paused": report.paused,
            "attached_at": self.attached_at,
            "played": self.played,
        }
        if report.width and report.height:
            out["resolution"] = f"{report.width}x{report.height}"
        return out


def judge(report: ScreenReport, previous: ScreenReport | None) -> ScreenStatus:
    """The screen's state from its report and the one before it (``None`` for the first).

    A programme that was just attached (after an empty screen, as the broadcast starts, or on
    a page that reloaded) is ``starting`` until it plays or ``START_GRACE`` seconds pass: the
    start-up is not a stall. Once it has played, no new frames is ``stalled`` at once.
    """
    if not report.attached:
        return ScreenStatus("idle", 0.0, report.sound)
    reloaded = previous is not None and report.frames < previous.frames
    fresh = previous is None or not previous.attached or reloaded
    attached_at = report.at
    played = False
    if previous is not None and not fresh:
        if previous.attached_at is None:  # judged before its start was kept: long playing
            played = True
        else:
            attached_at, played = previous.attached_at, previous.played
    fps = 0.0
    if previous is not None and not reloaded and report.at > previous.at:
        # frames decoded since the previous report (an empty screen decodes none)
        fps = (report.frames - previous.frames) / (report.at - previous.at)
    elif previous is None and report.frames > 0 and not report.paused:
        # The first report of a page: frames decoded, not paused. Trust it until the next one.
        return ScreenStatus("playing", 0.0, report.sound, attached_at, True)
    if not report.paused and fps >= MIN_FPS:
        return ScreenStatus("playing", fps, report.sound, attached_at, True)
    starting = not played and report.at - attached_at < START_GRACE
    return ScreenStatus(
        "starting" if starting else "stalled", fps, report.sound, attached_at, played
    )


def is_stale(at: float, now: float) -> bool:
    """No report for ``STALE_AFTER`` seconds (strictly more)."""
    return now - at > STALE_AFTER
