"""One frame to every subscriber in one call: the feeds of a publisher and kind that take its
frames as they come (issue 18).

A fast-path feed (:class:`server.media.feed.ProgramFeed`) in the steady state — it follows this
publisher, needs no keyframe, and its socket takes packets directly — adds nothing per frame to
the rules in :mod:`server.media.feed`: its next RTP timestamp is the source's pts plus a fixed
offset, and its next sequence number follows the last. Such a feed *joins* the publisher's
:class:`FanOut` after a frame it sent itself; from then on the relay hands each frame of that
publisher and kind to the fan-out once, which sends it to every member in one call
(:func:`server.media.fastpath.fan_out`: a C loop over the members where it was built).

A feed leaves (and goes back to its own per-frame rules, its timeline handed back) when
anything is no longer steady: its target or source changes, it stops, its send did not all go
(a full socket: what was left goes to asyncio's transport, and the feed's own rules drop or
queue from there), its route changes (checked every :data:`CHECK_EVERY` seconds), or the
source's pts jumps (every member leaves: each feed's rule for a jump takes over).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from server.media.fastpath import PacketizedFrame, fan_out

if TYPE_CHECKING:
    from server.media.fastpath import Member
    from server.media.feed import ProgramFeed

#: A source's pts step beyond this (seconds) or backwards is a jump (see ProgramFeed._next_pts).
MAX_PTS_STEP_SECONDS = 5.0

#: How often the members' routes are checked (a new ICE pair, a DTLS session that closed,
#: data waiting in asyncio's transport): a member found off its route leaves.
CHECK_EVERY = 1.0


class FanOut:
    """The feeds taking every frame of one publisher and kind directly."""

    def __init__(self) -> None:
        self.feeds: list[ProgramFeed] = []
        self.members: list[Member] = []
        self.last_pts = 0  # the source pts of the last frame every member was sent
        self.last_time = 0.0  # time.monotonic() it was sent
        self.frames = 0  # frames sent through this fan-out (to all its members at once)
        self._checked = 0.0

    def __len__(self) -> int:
        return len(self.feeds)

    def join(self, feed: ProgramFeed, member: Member, pts: int, ts_offset: int) -> bool:
        """``feed`` has just sent the frame of source pts ``pts`` itself; from the next frame on
        it is sent ``ts_offset + pts``. Refused (False) unless that frame is this fan-out's last."""
        now = time.monotonic()
        if self.feeds and pts != self.last_pts:
            return False
        if not self.feeds:
            self.last_pts, self.last_time, self._checked = pts, now, now
        member.ts_offset = ts_offset & 0xFFFFFFFF
        self.feeds.append(feed)
        self.members.append(member)
        return True

    def leave(self, feed: ProgramFeed) -> None:
        """``feed`` goes back to its own rules (see :meth:`ProgramFeed.left_fan_out`)."""
        try:
            index = self.feeds.index(feed)
        except ValueError:
            return
        del self.feeds[index]
        del self.members[index]
        feed.left_fan_out(self.last_pts, self.last_time)

    def dissolve(self) -> None:
        """Every feed back to its own rules."""
        for feed in list(self.feeds):
            self.leave(feed)

    def send(self, packets: PacketizedFrame, pts: int, clock_rate: int) -> None:
        """A frame of the source (``pts`` on its clock) to every member."""
        now = time.monotonic()
        step = pts - self.last_pts
        if not 0 < step <= MAX_PTS_STEP_SECONDS * clock_rate:
            self.dissolve()  # a jump: each feed's own rule sends this frame
            return
        failed = fan_out(self.members, packets, pts & 0xFFFFFFFF)
        self.last_pts, self.last_time = pts, now
        self.frames += 1
        if failed:
            for member, gso, error, unsent in failed:
                feed = self.feeds[self.members.index(member)]
                fast = feed.fast
                if fast is not None:
                    fast.settle(bool(gso), error, unsent or [])
                self.leave(feed)
        if now - self._checked >= CHECK_EVERY:
            self._checked = now
            for feed in [f for f in self.feeds if f.fast is None or not f.fast.direct()]:
                self.leave(feed)
