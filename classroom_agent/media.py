"""The agent's media: publish the site's camera (or test pattern) and receive the program.

The server tells the agent what to do with ``broadcast`` messages (``state`` live/stopped,
``publish``, ``quality`` main/return, ``subscribe``, ``ice_servers``, ``video_codec``), again
after every reconnect. For each task the agent makes a WebRTC offer after ICE gathering is
complete (non-trickle), sends it as ``media_offer`` and applies the ``media_answer``. A peer
that fails or closes is offered again with a capped back-off for as long as the broadcast runs.

A site whose agent relays (``relay_children`` > 0) also serves child sites: the server passes a
child's offer as ``relay_offer`` and the agent answers it (``relay_answer``) from a local
forwarding relay (``server.media.relay``) fed with the frames it receives itself, so the
program crosses the server's uplink once per top-level site. Children's keyframe requests go
upstream as RTCP PLI on the agent's own receiving peer.

Receiving (``display none``) counts the encoded frames as they leave the jitter buffer, without
decoding them (the relay's passthrough): frames per second, bitrate, freezes in the last minute.
``display window`` decodes the program, shows the picture and plays the sound (pygame, an
optional import).
The heartbeat carries these numbers; the stream is ``bad`` when too few frames arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)

from classroom_agent.health import StreamHealth
from classroom_agent.media_sources import SourceSpec, open_source, parse_size
from server.core.broadcast import FrameClock, site_peer, stream_state
from server.media import forward
from server.media.forward import EncodedFrame
from server.media.peers import MediaSettings, ice_servers_from_wire
from server.media.relay import LocalPublisher, Relay
from server.media.tasks import Background

log = logging.getLogger("classroom_agent.media")

ANSWER_TIMEOUT = 15.0
RETRY_BASE = 1.0
RETRY_CAP = 10.0
UPSTREAM_STALL = 2.0
"""Seconds without a frame from a relay site before the server is told (``upstream_lost``)."""
QUALITY = {"main": ("main_size", "main_fps"), "return": ("return_size", "return_fps")}

Send = Callable[[dict[str, Any]], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class MediaOptions:
    source: SourceSpec
    display: str = "none"
    main_size: str = "640x480"
    main_fps: float = 30.0
    return_size: str = "320x240"
    return_fps: float = 15.0
    audio_device: str = ""
    bind_addresses: tuple[str, ...] = ()
    relay_children: int = 0


def _codecs(kind: str, video_codec: str) -> list[Any]:
    caps = RTCRtpReceiver.getCapabilities(kind)
    assert caps is not None
    wanted = "opus" if kind == "audio" else video_codec.lower()
    chosen = [c for c in caps.codecs if c.mimeType.split("/")[1].lower() == wanted]
    if kind == "video":
        chosen += [c for c in caps.codecs if c.mimeType.lower() == "video/rtx"]
    return chosen


@dataclass
class _Peer:
    role: str  # publish or subscribe
    pc: RTCPeerConnection
    closers: list[Any] = field(default_factory=list)
    video_receiver: Any = None


class Receiver:
    """Frame statistics of the program as received; optionally shows it in a window."""

    def __init__(self, expected_fps: float, optional: bool = False) -> None:
        self.optional = optional  # the origin: receives only while a site has the floor
        self.clock = FrameClock()
        self.expected_fps = expected_fps
        self.frames = 0
        self.started = time.monotonic()

    def on_frame(self, size: int) -> None:
        self.frames += 1
        self.clock.add(time.monotonic(), size)

    def silent_for(self, now: float) -> float:
        """Seconds since the last frame (or since this receiver started, before the first)."""
        last = self.clock.times[-1] if self.clock.times else self.started
        return now - last

    def health(self, rtt_ms: float | None) -> StreamHealth:
        now = time.monotonic()
        summary = self.clock.summary(now)
        grace = now - self.started < 5.0 and summary["since_last"] is None
        since = summary["since_last"]
        if self.optional and (since is None or since > 2.0):
            return StreamHealth(state="none")
        state = "ok" if grace else stream_state(summary, self.expected_fps)
        fps = summary["fps"]
        # estimated: half the link round trip + one frame held by the jitter buffer
        delay = None
        if rtt_ms is not None and fps:
            delay = round(rtt_ms / 2 + 1000 / float(fps), 1)
        return StreamHealth(
            state="ok" if state == "ok" else "bad",
            fps=float(fps or 0.0),
            bitrate_kbps=float(summary["bitrate_kbps"] or 0.0),
            freezes_1m=int(summary["freezes_1m"] or 0),
            delay_ms=delay,
        )


class _Decoded:
    """Decodes the program's encoded frames (video for the window, audio for the speaker; one
    decoder per codec) and hands each decoded frame to ``show``."""

    def __init__(self, show: Callable[[Any], None]) -> None:
        self._show = show
        self._codec: Any = None
        self._name = ""
        self.errors = 0

    def decode(self, frame: EncodedFrame) -> None:
        name = frame.codec.partition("/")[2]
        if self._codec is None or name != self._name:
            self._codec, self._name = av.CodecContext.create(name, "r"), name
        try:
            pictures = self._codec.decode(av.Packet(frame.data))
        except av.FFmpegError:  # a lost packet: the next keyframe repairs the picture
            self.errors += 1
            return
        for picture in pictures:
            self._show(picture)


class SessionMedia:
    """Everything the agent does for one broadcasting session."""

    def __init__(self, client: MediaClient, session_id: int) -> None:
        self.client = client
        self.session_id = session_id
        self.order: dict[str, Any] = {}
        self.peers: dict[str, _Peer] = {}
        self.receiver: Receiver | None = None
        self.answers: dict[str, asyncio.Future[str]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.closed = False
        # relaying for child sites: a local relay fed with what this site receives
        self.relay: Relay | None = None
        self.upstream: LocalPublisher | None = None
        self._pli = Background(log, "keyframe request upstream")

    def update(self, order: dict[str, Any]) -> None:
        changed = {k: v for k, v in order.items() if self.order.get(k) != v}
        self.order = order
        for role, wanted in (
            ("publish", order.get("publish")),
            ("subscribe", order.get("subscribe")),
        ):
            if role == "publish" and not self.client.options.source.publishes:
                wanted = False
            if wanted:
                moved = role == "subscribe" and "upstream" in changed
                # a new generation: another node has taken the broadcast over (its relay is
                # elsewhere now), so every peer connects again
                restart = {"quality", "ice_servers", "video_codec", "generation"}
                if moved or restart & changed.keys():
                    self._restart(role)
                self._ensure(role)
            else:
                self._restart(role, again=False)

    def _ensure(self, role: str) -> None:
        task = self.tasks.get(role)
        if task is None or task.done():
            self.tasks[role] = asyncio.create_task(self._keep(role), name=f"media-{role}")

    def _restart(self, role: str, again: bool = True) -> None:
        task = self.tasks.pop(role, None)
        if task is not None:
            task.cancel()

    async def _keep(self, role: str) -> None:
        """Keep one peer of ``role`` up: connect, wait for it to end, reconnect (back-off)."""
        failures = 0
        while not self.closed:
            ended = asyncio.Event()
            try:
                peer = await self._connect(role, ended)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("media %s for session %d failed: %s", role, self.session_id, exc)
                failures += 1
            else:
                failures = 0
                try:
                    await self._until_ended(role, ended)
                finally:
                    await self._close_peer(peer)
                log.info("media %s for session %d ended; offering again", role, self.session_id)
            await asyncio.sleep(min(RETRY_CAP, RETRY_BASE * 2 ** min(failures, 4)))

    async def _until_ended(self, role: str, ended: asyncio.Event) -> None:
        """Wait for the peer to end. A site pulling from a relay site tells the server when
        nothing has come for ``UPSTREAM_STALL`` seconds (a hung or cut-off relay keeps its
        socket open for a while), so the server can re-parent it."""
        reported: object = None
        while not ended.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), 0.25)
            relay = self.order.get("upstream")
            receiver = self.receiver
            if role != "subscribe" or relay is None or relay == reported or receiver is None:
                continue
            if receiver.silent_for(time.monotonic()) > UPSTREAM_STALL:
                reported = relay
                log.warning("nothing from relay site %s for %.0f s", relay, UPSTREAM_STALL)
                await self.client.send(
                    {"type": "upstream_lost", "session_id": self.session_id, "site_id": relay}
                )

    async def _connect(self, role: str, ended: asyncio.Event) -> _Peer:
        options = self.client.options
        order = self.order
        ice = [RTCIceServer(**s) for s in order.get("ice_servers") or []]
        if options.bind_addresses:
            forward.set_host_addresses(options.bind_addresses)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice))
        peer = _Peer(role, pc)
        codec = str(order.get("video_codec") or "VP8")
        try:
            if role == "publish":
                size_key, fps_key = QUALITY.get(str(order.get("quality")), QUALITY["return"])
                width, height = parse_size(getattr(options, size_key))
                fps = float(getattr(options, fps_key))
                video, audio, _player = open_source(
                    options.source, width, height, fps, options.audio_device
                )
                peer.closers += [t for t in (video, audio) if t is not None]
                for track in (video, audio):
                    if track is not None:
                        transceiver = pc.addTransceiver(track, direction="sendonly")
                        transceiver.setCodecPreferences(_codecs(track.kind, codec))
            else:
                self.receiver = Receiver(options.main_fps, order.get("quality") == "main")
                for kind in ("video", "audio"):
                    transceiver = pc.addTransceiver(kind, direction="recvonly")
                    transceiver.setCodecPreferences(_codecs(kind, codec))
                    if kind == "video":
                        peer.video_receiver = transceiver.receiver
                        self._receive_video(transceiver.receiver)
                    else:
                        self._receive_audio(transceiver.receiver)
                if self.upstream is not None:
                    self.upstream.restarted()

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc.connectionState in ("failed", "closed"):
                    ended.set()

            await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
            future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self.answers[role] = future
            sent = await self.client.send(
                {
                    "type": "media_offer",
                    "session_id": self.session_id,
                    "role": role,
                    "sdp": pc.localDescription.sdp,
                }
            )
            if not sent:
                raise ConnectionError("not connected to the server")
            sdp = await asyncio.wait_for(future, ANSWER_TIMEOUT)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except BaseException:
            await self._close_peer(peer)
            raise
        finally:
            self.answers.pop(role, None)
        self.peers[role] = peer
        log.info("media %s for session %d negotiated", role, self.session_id)
        return peer

    def _receive_video(self, receiver: Any) -> None:
        """Encoded frames as they leave the jitter buffer: counted, handed to the local relay
        (if this site relays) and, with a window, decoded and shown."""
        stats = self.receiver
        assert stats is not None
        relay = self._relay_sink("video")
        window = self.client.window
        picture = _Decoded(window.show) if window is not None else None

        def on_frame(frame: EncodedFrame) -> None:
            stats.on_frame(len(frame.data))
            relay(frame)
            if picture is not None:
                picture.decode(frame)

        forward.install_passthrough(receiver, on_frame)
        forward.thin_feedback(receiver)

    def _receive_audio(self, receiver: Any) -> None:
        """Encoded audio: handed to the local relay and, with a window, played."""
        relay = self._relay_sink("audio")
        speaker = self.client.speaker
        sound = _Decoded(speaker.play) if speaker is not None else None

        def on_frame(frame: EncodedFrame) -> None:
            relay(frame)
            if sound is not None:
                sound.decode(frame)

        forward.install_passthrough(receiver, on_frame)
        forward.thin_feedback(receiver)

    async def _close_peer(self, peer: _Peer) -> None:
        if self.peers.get(peer.role) is peer:
            del self.peers[peer.role]
        for item in peer.closers:
            with contextlib.suppress(Exception):
                if isinstance(item, asyncio.Task):
                    item.cancel()
                else:
                    item.stop()
        for transceiver in peer.pc.getTransceivers():
            forward.stop_passthrough(transceiver.receiver)
        await peer.pc.close()

    # -- relaying for child sites ---------------------------------------------------------

    def _relay_sink(self, kind: str) -> Callable[[EncodedFrame], None]:
        def sink(frame: EncodedFrame) -> None:
            if self.upstream is not None:
                self.upstream.push(kind, frame)

        return sink

    def _local_relay(self) -> Relay:
        if self.relay is None:
            order, options = self.order, self.client.options
            settings = MediaSettings(
                ice_servers=ice_servers_from_wire(order.get("ice_servers") or []),
                bind_addresses=options.bind_addresses,
                video_codec=str(order.get("video_codec") or "VP8").upper(),
            )
            self.relay = Relay("upstream", settings)
            self.upstream = self.relay.add_local_publisher("upstream", self._ask_upstream_keyframe)
        return self.relay

    def _ask_upstream_keyframe(self) -> None:
        """A child needs a keyframe: ask whoever this site receives from (RTCP PLI)."""
        peer = self.peers.get("subscribe")
        if peer is None or peer.video_receiver is None:
            return
        self._pli.spawn(forward.send_pli(peer.video_receiver))

    async def relay_offer(self, child: int, sdp: str) -> dict[str, Any]:
        """Answer a child site's offer from the local relay; the message for the server."""
        reply: dict[str, Any] = {"session_id": self.session_id, "site_id": child}
        limit = self.client.options.relay_children
        relay = self._local_relay() if limit > 0 else None
        if relay is None:
            return {
                "type": "relay_error",
                **reply,
                "code": "relay.disabled",
                "message": "This site's agent does not relay (relay_children = 0).",
            }
        peer = site_peer(child)
        serving = sum(1 for s in relay.stats()["subscribers"] if s != peer)
        if serving >= limit:
            return {
                "type": "relay_error",
                **reply,
                "code": "relay.full",
                "message": f"This site relays for at most {limit} children.",
            }
        try:
            answer = await relay.subscribe(peer, sdp)
        except Exception as exc:  # aiortc raises assorted errors on an unusable offer
            return {
                "type": "relay_error",
                **reply,
                "code": "relay.bad_sdp",
                "message": f"The offer cannot be used: {exc}"[:300],
            }
        log.info("relaying session %d to site %d", self.session_id, child)
        return {"type": "relay_answer", **reply, "sdp": answer}

    async def relay_close(self, child: int) -> None:
        if self.relay is not None:
            await self.relay.close_subscriber(site_peer(child))

    def answer(self, role: str, sdp: str | None, error: str | None) -> None:
        future = self.answers.get(role)
        if future is None or future.done():
            return
        if sdp is not None:
            future.set_result(sdp)
        else:
            future.set_exception(RuntimeError(f"the server refused the offer: {error}"))

    async def close(self) -> None:
        self.closed = True
        for task in self.tasks.values():
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        for peer in list(self.peers.values()):
            await self._close_peer(peer)
        if self.relay is not None:
            await self.relay.close()
            self.relay = self.upstream = None


class MediaClient:
    """The agent's media side; ``send`` puts a message on the agent's socket."""

    def __init__(self, options: MediaOptions, send: Send) -> None:
        self.options = options
        self.send = send
        self.sessions: dict[int, SessionMedia] = {}
        self.window: Any = None
        self.speaker: Any = None
        if options.display == "window":
            from classroom_agent.media_window import Speaker, Window

            self.window = Window()
            try:
                self.speaker = Speaker()
            except Exception as exc:  # no sound card: the picture still shows
                log.warning("no sound output, the program plays silent: %s", exc)

    async def on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        session_id = msg.get("session_id")
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            return
        if kind == "broadcast":
            if msg.get("state") == "live":
                media = self.sessions.get(session_id)
                if media is None:
                    media = self.sessions[session_id] = SessionMedia(self, session_id)
                    log.info("broadcast of session %d: %s", session_id, msg)
                media.update({k: v for k, v in msg.items() if k not in ("type", "state")})
            else:
                media = self.sessions.pop(session_id, None)
                if media is not None:
                    log.info("broadcast of session %d stopped", session_id)
                    await media.close()
        elif kind in ("relay_offer", "relay_close"):
            media = self.sessions.get(session_id)
            child = msg.get("site_id")
            if not isinstance(child, int) or isinstance(child, bool):
                return
            if kind == "relay_close":
                if media is not None:
                    await media.relay_close(child)
                return
            sdp = msg.get("sdp")
            if media is None or not isinstance(sdp, str):
                reply = {
                    "type": "relay_error",
                    "session_id": session_id,
                    "site_id": child,
                    "code": "relay.not_receiving",
                    "message": "This site does not receive this session's broadcast.",
                }
            else:
                reply = await media.relay_offer(child, sdp)
            await self.send(reply)
        elif kind in ("media_answer", "media_error"):
            media = self.sessions.get(session_id)
            role = str(msg.get("role"))
            if media is not None:
                sdp = msg.get("sdp") if kind == "media_answer" else None
                media.answer(role, sdp if isinstance(sdp, str) else None, str(msg.get("code")))

    def stream_health(self, rtt_ms: float | None) -> StreamHealth:
        receiving = [m.receiver for m in self.sessions.values() if m.receiver is not None]
        if not receiving:
            return StreamHealth(state="none")
        return receiving[0].health(rtt_ms)

    def display_state(self) -> str:
        if self.window is None:
            return "none"
        return str(self.window.state)

    async def close(self) -> None:
        for media in list(self.sessions.values()):
            await media.close()
        self.sessions.clear()
        if self.window is not None:
            self.window.close()
        if self.speaker is not None:
            self.speaker.close()
