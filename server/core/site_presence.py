"""A site is present on the wall when its classroom agent OR its site screen page is.

A room without an agent shows the programme on a kiosk browser (the site screen page, see
:mod:`server.core.screen`). That page reports its playback every 5 s -- the agent's heartbeat
interval -- so it gets the same presence machine as an agent (:class:`SitePresence`):

- its first report (or the first after it went offline) connects it;
- every report is a heartbeat whose stream is ok unless the screen does not play what it
  should (:func:`screen_ok`): such a screen makes the site ``DEGRADED``;
- no report for 15 s (3 missed reports) makes it ``OFFLINE``; its page closing (the live
  socket closed cleanly) makes it ``OFFLINE`` at once.

The site's reported state is the better of its agent's and its screen's
(:func:`combine`: online > degraded > offline), and each change of that combined state is
reported once through ``send``, like an agent-only :class:`PresenceBoard` does.
"""

from __future__ import annotations

from server.core.broadcast import START_GRACE
from server.core.presence import (
    PresenceBoard,
    PresenceChanged,
    PresenceConfig,
    PresenceState,
    Send,
    SiteId,
)

_RANK = {PresenceState.OFFLINE: 0, PresenceState.DEGRADED: 1, PresenceState.ONLINE: 2}


def combine(agent: PresenceState, screen: PresenceState) -> PresenceState:
    """The site's state: the better of what its agent and its screen page show."""
    return agent if _RANK[agent] >= _RANK[screen] else screen


def screen_ok(state: str, broadcasting_for: float | None) -> bool:
    """Does the screen page play what it should? A frozen picture never; an empty screen
    (``idle``) while nothing is broadcast to its session, or while the broadcast is starting
    (live for less than ``START_GRACE`` seconds: the page is still attaching it). A screen whose
    programme is ``starting`` (the broadcast is reaching it, no picture yet) is not at fault.
    ``broadcasting_for``: seconds the session's broadcast has been live (``None``: it is not).
    """
    if state in ("playing", "starting"):
        return True
    if state == "idle":
        return broadcasting_for is None or broadcasting_for < START_GRACE
    return False


class SiteBoard:
    """Agents' and screen pages' presence of every site, reported as one state per site."""

    def __init__(self, send: Send, config: PresenceConfig | None = None) -> None:
        self._send = send
        self.agents = PresenceBoard(self._changed, config)
        self.screens = PresenceBoard(self._changed, config)
        self._reported: dict[SiteId, PresenceState] = {}

    # -- agents ---------------------------------------------------------------------------
    def connected(self, site_id: SiteId, now: float) -> PresenceState:
        self.agents.connected(site_id, now)
        return self.state(site_id)

    def heartbeat(self, site_id: SiteId, now: float, stream_ok: bool = True) -> PresenceState:
        self.agents.heartbeat(site_id, now, stream_ok)
        return self.state(site_id)

    def closed(self, site_id: SiteId, now: float, clean: bool) -> PresenceState:
        self.agents.closed(site_id, now, clean)
        return self.state(site_id)

    # -- screen pages ---------------------------------------------------------------------
    def screen_report(self, site_id: SiteId, at: float, ok: bool) -> PresenceState:
        """A screen page's playback report (``ok``: :func:`screen_ok` of its judged state)."""
        screen = self.screens.site(site_id)
        if screen.is_connected:
            self.screens.heartbeat(site_id, at, ok)
        else:
            self.screens.connected(site_id, at)
            if not ok:
                self.screens.heartbeat(site_id, at, ok)
        return self.state(site_id)

    def screen_closed(self, site_id: SiteId, at: float) -> PresenceState:
        """The screen page went away (its live socket closed): offline at once."""
        if self.screens.site(site_id).is_connected:
            self.screens.closed(site_id, at, clean=True)
        return self.state(site_id)

    def screen_connected(self, site_id: SiteId) -> bool:
        return self.screens.site(site_id).is_connected

    # -- both -----------------------------------------------------------------------------
    def tick(self, now: float) -> int:
        return self.agents.tick(now) + self.screens.tick(now)

    def state(self, site_id: SiteId) -> PresenceState:
        return combine(self.agents.state(site_id), self.screens.state(site_id))

    def _changed(self, change: PresenceChanged) -> None:
        site_id = change.site_id
        new = self.state(site_id)
        old = self._reported.get(site_id, PresenceState.OFFLINE)
        if new is old:
            return
        self._reported[site_id] = new
        self._send(PresenceChanged(site_id, old, new, change.at, change.reason))
