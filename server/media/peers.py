"""Creating ``RTCPeerConnection``s: ICE servers from settings, host addresses, codec choice."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
)

from server.core.turn import turn_credentials
from server.media import forward

#: Video codecs the relay can forward (aiortc packetizes both). Opus is the audio codec.
VIDEO_CODECS = ("VP8", "H264")
AUDIO_CODEC = "opus"


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN or TURN server, as in the browser's ``RTCIceServer`` (``stun:host:3478`` ...)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Media settings of the server.

    ``ice_servers`` empty means host candidates only (never aiortc's default Google STUN).
    ``bind_addresses`` empty means every non-loopback interface (aioice's default); it is
    process-wide because aioice has a single address list. ``port_range`` ``(low, high)`` makes
    every host candidate bind a free UDP port in that range (inclusive; process-wide too, see
    :func:`server.media.forward.set_port_range`); ``None`` means an ephemeral port per candidate.
    """

    ice_servers: tuple[IceServer, ...] = ()
    bind_addresses: tuple[str, ...] = ()
    video_codec: str = "VP8"
    keyframe_min_interval: float = 1.0
    port_range: tuple[int, int] | None = None
    turn_secret: str = ""  # set: TURN URLs get per-peer TURN REST credentials (ice_servers_for)
    turn_ttl: int = 43200
    # subscribers' RTP sent by server.media.fastpath (False: aiortc's per-packet sender)
    fast_path: bool = True
    # the fast path sends a video frame's packets to a subscriber in one GSO sendmsg
    udp_gso: bool = True
    # the fast path protects and sends in C (server.media._rtpsend) where it was built
    native_send: bool = True
    # the fast path sends a frame to every steady subscriber in one call (server.media.fanout)
    fan_out: bool = True

    def __post_init__(self) -> None:
        if self.port_range is not None:
            low, high = self.port_range
            if not 1 <= low <= high <= 65535:
                raise ValueError(
                    f"port_range must be (low, high) with 1 <= low <= high <= 65535,"
                    f" not {self.port_range}"
                )
        if self.video_codec not in VIDEO_CODECS:
            raise ValueError(f"video_codec must be one of {VIDEO_CODECS}, not {self.video_codec}")
        if self.keyframe_min_interval < 0:
            raise ValueError("keyframe_min_interval must be >= 0")


def loopback_settings(**kwargs: Any) -> MediaSettings:
    """Settings for tests and single-host benches: host candidates on 127.0.0.1 only."""
    return MediaSettings(bind_addresses=("127.0.0.1",), **kwargs)


def parse_port_range(text: str) -> tuple[int, int] | None:
    """``"40000-40100"`` -> ``(40000, 40100)`` (inclusive); ``""`` -> ``None``; a single port
    ``"40000"`` is a range of one. Raises ``ValueError`` with the reason otherwise."""
    if not text.strip():
        return None
    match = re.fullmatch(r"\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?", text, re.ASCII)
    if match is None:
        raise ValueError(f"expected LOW-HIGH UDP ports such as 40000-40100, got {text!r}")
    low = int(match[1])
    high = int(match[2]) if match[2] is not None else low
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"expected 1 <= LOW <= HIGH <= 65535, got {text!r}")
    return low, high


def parse_ice_servers(
    urls: Sequence[str], username: str = "", credential: str = ""
) -> tuple[IceServer, ...]:
    """One :class:`IceServer` per URL; TURN URLs get the credentials, STUN URLs do not."""
    servers = []
    for url in urls:
        if url.startswith(("turn:", "turns:")):
            servers.append(IceServer((url,), username or None, credential or None))
        else:
            servers.append(IceServer((url,)))
    return tuple(servers)


def ice_servers_for(
    settings: MediaSettings, who: str, now: float | None = None
) -> tuple[IceServer, ...]:
    """The ICE servers one peer (``site-12``, ``user-3``, ``relay-<node>``) is given: with a
    ``turn_secret``, TURN URLs carry that peer's own short-lived TURN REST credentials."""
    if not settings.turn_secret:
        return settings.ice_servers
    username, credential = turn_credentials(
        settings.turn_secret, who, time.time() if now is None else now, settings.turn_ttl
    )
    return tuple(
        replace(s, username=username, credential=credential)
        if any(u.startswith(("turn:", "turns:")) for u in s.urls)
        else s
        for s in settings.ice_servers
    )


def ice_servers_to_wire(servers: Sequence[IceServer]) -> list[dict[str, Any]]:
    """ICE servers as sent to agents in ``broadcast`` messages (the browser's shape)."""
    return [
        {
            "urls": list(s.urls),
            **({"username": s.username} if s.username else {}),
            **({"credential": s.credential} if s.credential else {}),
        }
        for s in servers
    ]


def ice_servers_from_wire(items: Sequence[Mapping[str, Any]]) -> tuple[IceServer, ...]:
    """The reverse of :func:`ice_servers_to_wire` (``urls`` may be one string)."""
    return tuple(
        IceServer(
            (item["urls"],) if isinstance(item["urls"], str) else tuple(item["urls"]),
            item.get("username"),
            item.get("credential"),
        )
        for item in items
    )


def rtc_configuration(settings: MediaSettings, who: str = "relay") -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in ice_servers_for(settings, who)
        ],
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )


def apply_host_addresses(settings: MediaSettings) -> None:
    """Make aioice gather host candidates on the settings' addresses and port range."""
    forward.set_host_addresses(settings.bind_addresses)
    forward.set_port_range(settings.port_range)


def create_peer_connection(settings: MediaSettings) -> RTCPeerConnection:
    """A peer connection using the configured ICE servers, bind addresses and port range
    (bundled media)."""
    apply_host_addresses(settings)
    return RTCPeerConnection(configuration=rtc_configuration(settings))


def codec_preferences(kind: str, video_codec: str = "VP8") -> list[Any]:
    """The capabilities to pass to ``setCodecPreferences``: one codec (plus RTX for video)."""
    wanted = AUDIO_CODEC if kind == "audio" else video_codec
    caps = RTCRtpReceiver.getCapabilities(kind)
    if caps is None:
        raise ValueError(f"aiortc has no {kind} codecs")
    chosen = [c for c in caps.codecs if c.mimeType.split("/")[1].lower() == wanted.lower()]
    if not chosen:
        raise ValueError(f"aiortc cannot negotiate {kind} codec {wanted}")
    if kind == "video":
        chosen += [c for c in caps.codecs if c.mimeType.lower() == "video/rtx"]
    return chosen


def offered_kinds(offer_sdp: str) -> list[str]:
    """The media kinds of an offer's audio/video m-lines, first of each kind, in order."""
    kinds: list[str] = []
    for line in offer_sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
            if kind in ("audio", "video") and kind not in kinds:
                kinds.append(kind)
    return kinds


def add_transceivers(
    pc: RTCPeerConnection,
    direction: str,
    video_codec: str = "VP8",
    kinds: Sequence[str] = ("video", "audio"),
) -> list[Any]:
    """Add one transceiver per kind with the relay's codec preferred.

    For an answerer, call before ``setRemoteDescription`` with exactly the offered kinds
    (:func:`offered_kinds`): aiortc then matches the offer's m-lines to these transceivers and
    negotiates only the preferred codec. (aiortc 1.16 fails in ``setLocalDescription`` on a
    transceiver that no m-line matched.)
    """
    transceivers = []
    for kind in kinds:
        t = pc.addTransceiver(kind, direction=direction)
        t.setCodecPreferences(codec_preferences(kind, video_codec))
        transceivers.append(t)
    return transceivers
