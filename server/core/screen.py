"""Is a site's screen really playing? The rule for the screen page's playback reports.

A room without a classroom agent shows the programme on a kiosk browser (the site screen page).
That page reports every ``REPORT_INTERVAL`` seconds what its ``<video>`` really does: how many
frames it has decoded so far, whether the element is paused, whether sound is on. From two
consecutive reports the server judges the screen:

- ``playing``: frames were decoded since the previous report (at least ``MIN_FPS`` a second) and
  the element is not paused;
- ``stalled``: a programme is attached but no new frames came (a frozen picture, a dead stream,
  a paused element);
- ``idle``: the screen has no programme to play (no broadcast, or no session);
- ``silent`` (judged by the wall, from the report's time): no report for ``STALE_AFTER`` seconds:
  the page is closed, the kiosk crashed, or the network is down.

Sound is reported as ``on`` (unmuted, volume up, an audio track), ``muted`` (the browser blocked
sound and nobody tapped 开启声音 yet, or the element is muted), or ``none`` (no audio track).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from server.core.validation import Bool, Enum, Int, Map, Optional

REPORT_INTERVAL = 5.0
"""Seconds between two reports of a screen page (the agents' heartbeat interval)."""

STALE_AFTER = 15.0
"""A screen with no report for this long is shown as not reporting (3 missed reports)."""

MIN_FPS = 1.0
"""Below this many decoded frames a second the picture is judged frozen."""

PlaybackState = Literal["playing", "stalled", "idle"]
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


def report_from_wire(wire: dict[str, Any]) -> ScreenReport:
    """The report a fanned-out status was judged from (enough to judge the next one)."""
    return ScreenReport(
        at=float(wire["at"]),
        session_id=wire.get("session_id"),
        attached=bool(wire["attached"]),
        paused=bool(wire["paused"]),
        frames=int(wire["frames"]),
        sound=wire["sound"],
    )


@dataclass(frozen=True, slots=True)
class ScreenStatus:
    state: PlaybackState
    fps: float
    sound: Sound

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
        }
        if report.width and report.height:
            out["resolution"] = f"{report.width}x{report.height}"
        return out


def judge(report: ScreenReport, previous: ScreenReport | None) -> ScreenStatus:
    """The screen's state from its report and the one before it (``None`` for the first)."""
    if not report.attached:
        return ScreenStatus("idle", 0.0, report.sound)
    fps = 0.0
    if previous is not None and previous.attached and report.at > previous.at:
        new_frames = report.frames - previous.frames
        if new_frames > 0:  # fewer frames than before: the page reloaded; judge next time
            fps = new_frames / (report.at - previous.at)
    elif previous is None and report.frames > 0 and not report.paused:
        # The first report of a page: frames decoded, not paused. Trust it until the next one.
        return ScreenStatus("playing", 0.0, report.sound)
    playing = not report.paused and fps >= MIN_FPS
    return ScreenStatus("playing" if playing else "stalled", fps, report.sound)


def is_stale(at: float, now: float) -> bool:
    """No report for ``STALE_AFTER`` seconds (strictly more)."""
    return now - at > STALE_AFTER
