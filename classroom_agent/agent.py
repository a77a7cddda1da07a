"""The connection loop: one WebSocket to ``/ws/agent``, kept up for as long as the agent runs.

``Agent.run()`` connects, says ``hello`` (with the last stream position it handled), waits for
``welcome``, then runs four things side by side until the socket closes or ``stop()`` is
called: the receiver (events, resyncs, acks, pings), the heartbeat, the outbox sender
(:mod:`classroom_agent.outbox_sender`) and the stream ``ack`` sender. When the socket closes
it waits a capped, jittered back-off and connects again; close codes 4002 and 4004 stop it
for good (``run()`` returns 3), because no retry can fix an agent too old for the server or a
configuration naming the wrong site.

Nothing here raises out of ``run()`` for a network problem or a bad frame: a field PC that
nobody watches must keep trying on its own, without ever spinning the CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from classroom_agent import __version__, protocol
from classroom_agent.backoff import UniformSource, backoff_delay, retry_attempt
from classroom_agent.config import AgentConfig
from classroom_agent.hand import RaiseHand
from classroom_agent.health import Health, read_cpu_load
from classroom_agent.media import MediaClient, MediaOptions
from classroom_agent.media_sources import parse_source
from classroom_agent.outbox import Outbox
from classroom_agent.outbox_sender import OutboxSender, open_outbox
from classroom_agent.protocol import Cursor, Event, ProtocolError, Welcome
from classroom_agent.state import CursorStore, SiteState
from server.core.messages import MAX_FRAME

log = logging.getLogger("classroom_agent")

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_FATAL_CLOSE = 3

DEFAULT_HEARTBEAT_INTERVAL = 5.0
ACK_MIN_GAP = 0.5
"""Stream ``ack`` messages are coalesced to at most two a second (the server limits rates)."""
HANDLER_TIMEOUT = 10.0
CLOCK_TOLERANCE = 2.0
"""A clock offset under this (seconds) is measurement noise: timestamps stay as they are."""
CLOCK_WARN = 60.0
CLOSE_TIMEOUT = 5.0
MISSED_ACKS = 3
"""Heartbeats in a row without any ``heartbeat_ack`` before the link is declared dead."""

EventHandler = Callable[[Event], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class ConnectionEnd:
    """How one connection attempt ended."""

    connected_for: float
    """Seconds between ``welcome`` and the end; 0 when there was no welcome."""
    code: int | None
    """Close code the server sent, ``None`` if the socket never opened or was lost."""
    reason: str


@dataclass(slots=True)
class _Outage:
    start: float
    reason: str
    attempts: int = 0


class Agent:
    """A site's classroom agent. Create it inside or outside a loop; ``await run()`` in one.

    ``rng``, ``clock`` (epoch seconds), ``monotonic`` and ``cpu_load`` are injectable so tests
    control jitter and time. The outbox and the stream cursor live in ``config.state_dir``.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        rng: UniformSource | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        cpu_load: Callable[[], float] = read_cpu_load,
    ) -> None:
        self.config = config.checked()
        self._rng: UniformSource = rng if rng is not None else random.SystemRandom()
        self._clock = clock
        self._monotonic = monotonic
        self._cpu_load = cpu_load
        state_dir = Path(self.config.state_dir or self.config.state_path)
        state_dir.mkdir(parents=True, exist_ok=True)
        outbox = open_outbox(state_dir / "outbox.db", self._clock())
        self.cursor_store = CursorStore(state_dir / "cursor.json")
        self.cursor: Cursor | None = self.cursor_store.load()
        self.state = SiteState()
        self.sender = OutboxSender(
            outbox, self.state, self.config, now=self.now, monotonic=monotonic
        )
        self.state.merge_local_checkins(self.sender.pending_checkins())
        self.welcome: Welcome | None = None
        self.rtt_ms: float | None = None
        self.connections = 0
        """Connections that got as far as ``welcome``."""
        self.exit_code: int | None = None
        self._handlers: dict[str, list[EventHandler]] = {}
        self._started = monotonic()
        self._stop = asyncio.Event()
        self._ack_wakeup = asyncio.Event()
        self._serving = False
        self._outage: _Outage | None = None
        self._hb_seq = 0
        self._hb_sent: dict[int, float] = {}
        self._last_hb_ack = 0.0
        self._acked_seq: int | None = None
        self.clock_offset = 0.0
        """Server clock minus this PC's clock, estimated from ``heartbeat_ack.server_ts``."""
        self._clock_warned = False
        self._ws: ClientConnection | None = None
        self.media = MediaClient(self._media_options(), self._send_now)
        self.hand = RaiseHand(self.config.server, self.config.site_secret, self.media)

    def _media_options(self) -> MediaOptions:
        c = self.config
        return MediaOptions(
            source=parse_source(c.source),
            display=c.display,
            main_size=c.main_size,
            main_fps=c.main_fps,
            return_size=c.return_size,
            return_fps=c.return_fps,
            audio_device=c.audio_device,
            bind_addresses=tuple(a.strip() for a in c.media_bind.split(",") if a.strip()),
            relay_children=c.relay_children,
        )

    def _capabilities(self) -> tuple[str, ...]:
        relay = self.config.relay_children
        return protocol.CAPABILITIES + ((f"relay.{relay}",) if relay > 0 else ())

    async def _send_now(self, msg: Mapping[str, Any]) -> bool:
        """Send on the current connection; False when there is none."""
        ws = self._ws
        if ws is None or not self._serving:
            return False
        try:
            await self._send(ws, msg)
        except ConnectionClosed:
            return False
        return True

    # -- public API ------------------------------------------------------------------------

    def on(self, kind: str, handler: EventHandler) -> None:
        """Call ``handler(event)`` for every command-stream event of ``kind`` (``"*"``: all;
        ``"resync"``: after a snapshot replaced the state, with the snapshot as ``data``).

        Handlers run in the receive loop after the state is updated and before the stream
        position is saved; keep them short (each is cut off after 10 s). An exception in a
        handler is logged and does not stop the agent.
        """
        self._handlers.setdefault(kind, []).append(handler)

    def stop(self) -> None:
        """Ask ``run()`` to close the socket (1000), flush the outbox file and return."""
        self._stop.set()

    @property
    def connected(self) -> bool:
        return self._serving

    @property
    def outbox(self) -> Outbox:
        """What the site must still tell the server (check-ins, roll-call answers, outages)."""
        return self.sender.outbox

    def record_checkin(
        self,
        trainee_id: int,
        session_id: int,
        *,
        method: str = "site_staff",
        ts: float | None = None,
    ) -> str:
        """Queue a check-in made at this site (durably); returns the outbox item id."""
        body = {"trainee_id": trainee_id, "session_id": session_id, "method": method}
        item_id = self.sender.add("checkin", body, ts)
        self.state.note_checkin(session_id, trainee_id)
        return item_id

    def record_rollcall_answer(
        self,
        trainee_id: int,
        session_id: int,
        roll_call_id: int,
        *,
        answer: str = "present",
        ts: float | None = None,
    ) -> str:
        """Queue a trainee's answer to a roll call (durably); returns the outbox item id."""
        body = {
            "trainee_id": trainee_id,
            "session_id": session_id,
            "roll_call_id": roll_call_id,
            "answer": answer,
        }
        return self.sender.add("rollcall_answer", body, ts)

    def health(self) -> Health:
        """The health map the next heartbeat carries."""
        return Health(
            uptime_s=self._monotonic() - self._started,
            rtt_ms=self.rtt_ms,
            cpu_load=self._cpu_load(),
            display_state=self.media.display_state(),  # type: ignore[arg-type]
            checked_in=self.state.checked_in_count(),
            stream=self.media.stream_health(self.rtt_ms),
        )

    async def run(self) -> int:
        """Stay connected until ``stop()`` (returns 0) or a 4002/4004 close (returns 3)."""
        failures = 0
        self.hand.attach()
        try:
            while not self._stop.is_set():
                end = await self._attempt()
                if self._stop.is_set():
                    break
                fatal = protocol.FATAL_CLOSE_CODES.get(end.code) if end.code is not None else None
                if fatal is not None:
                    log.error(
                        "server closed the connection with %s (%s): %s; stopping with exit code %d",
                        end.code,
                        end.reason,
                        fatal,
                        EXIT_FATAL_CLOSE,
                    )
                    self.exit_code = EXIT_FATAL_CLOSE
                    break
                if self._outage is None:
                    self._outage = _Outage(self.now(), end.reason)
                self._outage.attempts += 1
                attempt = retry_attempt(failures, end.connected_for, self.config.backoff_reset)
                delay = backoff_delay(
                    attempt, self._rng, self.config.backoff_base, self.config.backoff_cap
                )
                failures = attempt + 1
                log.warning("%s; reconnecting in %.1f s (attempt %d)", end.reason, delay, failures)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            self._record_outage(" (agent stopped)")
            self.outbox.close()
            self.hand.cancel()
            await self.media.close()
        return self.exit_code if self.exit_code is not None else EXIT_OK

    # -- one connection --------------------------------------------------------------------

    async def _attempt(self) -> ConnectionEnd:
        """One connection, raced against ``stop()`` while it is not yet serving."""
        conn = asyncio.create_task(self._connect_once())
        stopper = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({conn, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not conn.done() and not self._serving:
                conn.cancel()  # still connecting or waiting for welcome: give up now
            await asyncio.wait({conn})
        finally:
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper
        if conn.cancelled():
            return ConnectionEnd(0.0, None, "stopped while connecting")
        exc = conn.exception()
        if exc is not None:
            log.error("unexpected error in the connection", exc_info=exc)
            return ConnectionEnd(0.0, None, f"internal error: {type(exc).__name__}")
        return conn.result()

    async def _connect_once(self) -> ConnectionEnd:
        headers = {"Authorization": f"Bearer {self.config.site_secret}"}
        try:
            async with connect(
                self.config.url,
                additional_headers=headers,
                user_agent_header=f"classroom-agent/{__version__}",
                max_size=MAX_FRAME,
                open_timeout=self.config.open_timeout,
                close_timeout=CLOSE_TIMEOUT,
                compression=None,
                ping_interval=20.0,
                ping_timeout=20.0,
            ) as ws:
                return await self._serve(ws)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                log.error("the server refused the site secret (HTTP %d): check site_secret", status)
            return ConnectionEnd(0.0, None, f"server refused the connection: HTTP {status}")
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return ConnectionEnd(0.0, None, f"cannot connect: {exc or type(exc).__name__}")

    async def _serve(self, ws: ClientConnection) -> ConnectionEnd:
        welcomed_at: float | None = None
        try:
            await self._send(
                ws,
                protocol.hello(self.config.site_id, self.cursor, capabilities=self._capabilities()),
            )
            hello_sent = self._monotonic()
            try:
                welcome = await asyncio.wait_for(
                    self._await_welcome(ws), self.config.welcome_timeout
                )
            except TimeoutError:
                await ws.close(protocol.CLOSE_NORMAL, "no welcome")
                return ConnectionEnd(0.0, None, "no welcome from the server in time")
            welcomed_at = self._monotonic()
            if welcome.server_ts is not None:
                self._observe_server_time(welcome.server_ts, welcomed_at - hello_sent)
            self._on_welcome(welcome)
            self._ws = ws
            self._serving = True
            stopped = await self._run_session(ws)
            if stopped:
                with contextlib.suppress(ConnectionClosed):
                    await self._flush_ack(ws)
                await ws.close(protocol.CLOSE_NORMAL, "agent stopping")
                return ConnectionEnd(self._monotonic() - welcomed_at, None, "stopped")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.wait_closed(), CLOSE_TIMEOUT * 2)
        except ConnectionClosed:
            pass
        finally:
            self._serving = False
            self._ws = None
        connected_for = 0.0 if welcomed_at is None else self._monotonic() - welcomed_at
        rcvd = ws.protocol.close_rcvd
        if rcvd is None:
            return ConnectionEnd(connected_for, None, "connection lost")
        text = f"server closed the connection: {rcvd.code}"
        if rcvd.reason:
            text += f" {rcvd.reason}"
        return ConnectionEnd(connected_for, rcvd.code, text)

    async def _await_welcome(self, ws: ClientConnection) -> Welcome:
        while True:
            msg = self._decode(await ws.recv())
            if msg is None:
                continue
            if msg["type"] == "welcome":
                try:
                    return protocol.parse_welcome(msg)
                except ProtocolError as exc:
                    log.warning("ignoring a bad welcome: %s", exc)
                    continue
            await self._handle(ws, msg)

    def _on_welcome(self, welcome: Welcome) -> None:
        self.welcome = welcome
        self.connections += 1
        self._hb_sent.clear()
        self._last_hb_ack = self._monotonic()
        self._acked_seq = None
        if welcome.resume == "fresh":
            self._save_cursor(Cursor(welcome.epoch, welcome.seq))
        log.info(
            "connected to %s as site %d (node %s, server %s, resume %s at %s/%d)",
            self.config.url,
            self.config.site_id,
            welcome.node_id or "?",
            welcome.server_version or "?",
            welcome.resume,
            welcome.epoch,
            welcome.seq,
        )
        self._record_outage("")
        self.sender.connected()

    def _record_outage(self, suffix: str) -> None:
        """Queue the outage that just ended (or is cut short by a stop) as an outbox item."""
        outage, self._outage = self._outage, None
        if outage is None:
            return
        now = self.now()
        end = max(now, outage.start)
        body: dict[str, Any] = {
            "from": outage.start,
            "to": end,
            "reason": (outage.reason + suffix)[:500],
            "attempts": outage.attempts,
        }
        try:
            self.outbox.add("outage_log", body, ts=now)
        except Exception:
            log.exception("cannot record the outage in the outbox")
            return
        log.info("outage of %.1f s recorded: %s", end - outage.start, body["reason"])

    async def _run_session(self, ws: ClientConnection) -> bool:
        """Run the session tasks until the socket ends (False) or ``stop()`` (True)."""
        tasks = {
            asyncio.create_task(self._receive_loop(ws), name="receive"),
            asyncio.create_task(self._heartbeat_loop(ws), name="heartbeat"),
            asyncio.create_task(self.sender.run(partial(self._send, ws)), name="outbox"),
            asyncio.create_task(self._ack_loop(ws), name="ack"),
        }
        stopper = asyncio.create_task(self._stop.wait(), name="stop")
        try:
            await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*tasks, stopper):
                task.cancel()
            results = await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for task, result in zip((*tasks, stopper), results, strict=True):
            if isinstance(result, Exception) and not isinstance(result, ConnectionClosed):
                log.error("%s task failed", task.get_name(), exc_info=result)
                await ws.close(1011, "agent error")
        return self._stop.is_set()

    # -- receiving -------------------------------------------------------------------------

    async def _receive_loop(self, ws: ClientConnection) -> None:
        while True:
            msg = self._decode(await ws.recv())
            if msg is not None:
                await self._handle(ws, msg)

    def _decode(self, frame: bytes | str) -> dict[str, Any] | None:
        try:
            return protocol.decode(frame)
        except ProtocolError as exc:
            log.warning("ignoring a frame from the server: %s", exc)
            return None

    async def _handle(self, ws: ClientConnection, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        try:
            if kind == "event":
                await self._handle_event(protocol.parse_event(msg))
            elif kind == "resync":
                await self._handle_resync(protocol.parse_resync(msg))
            elif kind == "heartbeat_ack":
                self._handle_heartbeat_ack(protocol.parse_seq(msg), protocol.parse_ts(msg))
            elif kind == "outbox_ack":
                self.sender.acknowledge(protocol.parse_results(msg))
            elif kind == "ping":
                nonce = msg.get("nonce")
                await self._send(ws, protocol.pong(nonce if protocol.is_valid_seq(nonce) else None))
            elif kind == "error":
                log.warning(
                    "server error %s: %s", str(msg.get("code"))[:100], str(msg.get("message"))[:500]
                )
            elif kind in ("broadcast", "media_answer", "media_error", "relay_offer", "relay_close"):
                await self.media.on_message(msg)
            elif kind == "welcome":
                log.debug("ignoring a second welcome")
            else:
                log.debug("ignoring a message of unknown type %.40s", kind)
        except ProtocolError as exc:
            log.warning("ignoring a bad %s message: %s", kind, exc)

    async def _handle_event(self, event: Event) -> None:
        cursor = self.cursor
        if cursor is not None and cursor.epoch == event.epoch:
            if event.seq <= cursor.seq:
                log.debug("skipping event %d already handled", event.seq)
                return
            if event.seq > cursor.seq + 1:
                log.warning("events %d to %d missed", cursor.seq + 1, event.seq - 1)
        self.state.apply(event.kind, event.data)
        await self._dispatch(event.kind, event)
        self._save_cursor(Cursor(event.epoch, event.seq))

    async def _handle_resync(self, resync: protocol.Resync) -> None:
        log.info(
            "resync (%s): state replaced by a snapshot at %s/%d",
            resync.reason or "?",
            resync.epoch,
            resync.seq,
        )
        self.state.replace_with(resync.snapshot)
        # Check-ins not acked yet are unknown to the server's snapshot: keep those of the
        # sessions still live (all of them when the snapshot names no live session).
        live = self.state.live_sessions
        self.state.merge_local_checkins(
            (sid, tid) for sid, tid in self.sender.pending_checkins() if not live or sid in live
        )
        event = Event("", resync.epoch, resync.seq, "resync", resync.snapshot)
        await self._dispatch("resync", event)
        self._save_cursor(Cursor(resync.epoch, resync.seq))

    async def _dispatch(self, kind: str, event: Event) -> None:
        handlers = self._handlers.get(kind, [])
        if kind != "resync":
            handlers = [*handlers, *self._handlers.get("*", [])]
        for handler in handlers:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, HANDLER_TIMEOUT)
            except Exception:
                log.exception("handler for %s event %d failed", kind, event.seq)

    def _save_cursor(self, cursor: Cursor) -> None:
        self.cursor = cursor
        try:
            self.cursor_store.save(cursor)
        except OSError as exc:
            log.error("cannot save the stream position: %s", exc)
        self._ack_wakeup.set()

    def now(self) -> float:
        """Epoch seconds by the server's clock as far as the agent can tell (this PC's clock
        plus the measured offset): what goes into ``ts`` fields, so a PC whose clock is off
        (a flat CMOS battery) still has its heartbeats and check-ins accepted."""
        return self._clock() + self.clock_offset

    def _handle_heartbeat_ack(self, seq: int, server_ts: float | None) -> None:
        sent = self._hb_sent.pop(seq, None)
        received = self._monotonic()
        self._last_hb_ack = received
        if sent is None:
            return
        rtt = max(0.0, received - sent)
        self.rtt_ms = rtt * 1000.0
        if server_ts is not None:
            self._observe_server_time(server_ts, rtt)

    def _observe_server_time(self, server_ts: float, rtt: float) -> None:
        offset = server_ts + rtt / 2 - self._clock()
        self.clock_offset = offset if abs(offset) > CLOCK_TOLERANCE else 0.0
        if abs(offset) > CLOCK_WARN and not self._clock_warned:
            self._clock_warned = True
            log.warning(
                "this PC's clock is %.0f s off the server's; correcting timestamps,"
                " but set the clock (NTP)",
                -offset,
            )

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, ws: ClientConnection, msg: Mapping[str, Any]) -> None:
        await ws.send(protocol.encode(msg))

    def _heartbeat_interval(self) -> float:
        if self.config.heartbeat_interval > 0:
            return self.config.heartbeat_interval
        if self.welcome is not None and self.welcome.heartbeat_interval:
            return self.welcome.heartbeat_interval
        return DEFAULT_HEARTBEAT_INTERVAL

    async def _heartbeat_loop(self, ws: ClientConnection) -> None:
        while True:
            interval = self._heartbeat_interval()
            silent = self._monotonic() - self._last_hb_ack
            if silent > (MISSED_ACKS + 1) * interval:
                log.warning("no heartbeat_ack for %.1f s: the link is dead", silent)
                await ws.close(protocol.CLOSE_GOING_AWAY, "no heartbeat_ack")
                return
            self._hb_seq += 1
            seq = self._hb_seq
            self._hb_sent[seq] = self._monotonic()
            for old in [s for s in self._hb_sent if s <= seq - 16]:
                del self._hb_sent[old]
            msg = protocol.heartbeat(self.now(), seq, self.health().to_wire())
            await self._send(ws, msg)
            await asyncio.sleep(interval)

    async def _ack_loop(self, ws: ClientConnection) -> None:
        while True:
            await self._ack_wakeup.wait()
            self._ack_wakeup.clear()
            await self._flush_ack(ws)
            await asyncio.sleep(ACK_MIN_GAP)

    async def _flush_ack(self, ws: ClientConnection) -> None:
        cursor = self.cursor
        if cursor is not None and cursor.seq != self._acked_seq:
            await self._send(ws, protocol.ack(cursor.seq))
            self._acked_seq = cursor.seq
