"""Server cost of a district with N towns: every town pulling the program from the server, or
the district's agent relaying it to its towns (cascade). Same run, side by side.

The server is ``server.media.relay.Relay`` in its own process pinned to CPU 0 (what a broadcast
runs on); the main classroom's publisher (bench/media.py's test pattern, VP8 640x480 ~800
kbps), the district and the towns run in this process on CPU 1. The district and the towns are
the real agent media code (``classroom_agent.media.MediaClient``, no display: frames are
counted, not decoded); this script routes their signalling the way the server does
(``relay_offer`` to the district, its ``relay_answer`` back to the town).

Measured per mode over a window: the server's CPU (% of one core), its peers, and each town's
frames per second. Expected: direct grows by one subscriber's cost per town, cascade stays at
one subscriber (the district) whatever N.

Run: .venv/bin/python bench/cascade.py [--towns 10] [--window 10] [--out result.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.media import PROFILES, Remote, negotiate_publisher, pin, start_server  # noqa: E402
from classroom_agent.media import MediaClient, MediaOptions  # noqa: E402
from classroom_agent.media_sources import parse_source  # noqa: E402
from server.media import forward  # noqa: E402

SESSION = 1
DISTRICT = 1


class Sites:
    """The district (site 1) and its towns (2..N+1), with the server's signalling between
    them and the relay process."""

    def __init__(self, remote: Remote, towns: int, cascade: bool) -> None:
        self.remote = remote
        self.cascade = cascade
        self.clients: dict[int, MediaClient] = {}
        for site in range(DISTRICT, towns + 2):
            options = MediaOptions(
                source=parse_source("none"),
                bind_addresses=("127.0.0.1",),
                relay_children=towns if site == DISTRICT else 0,
            )
            self.clients[site] = MediaClient(options, self._sender(site))

    def upstream(self, site: int) -> int | None:
        return DISTRICT if self.cascade and site != DISTRICT else None

    async def start(self) -> None:
        for site, client in self.clients.items():
            await client.on_message(
                {
                    "type": "broadcast",
                    "session_id": SESSION,
                    "state": "live",
                    "publish": False,
                    "quality": "return",
                    "subscribe": True,
                    "upstream": self.upstream(site),
                    "video_codec": "VP8",
                    "ice_servers": [],
                }
            )

    def _sender(self, site: int) -> Any:
        async def send(message: dict[str, Any]) -> bool:
            kind = message["type"]
            if kind == "media_offer":
                relay = self.upstream(site)
                if relay is None:
                    sdp = await self.remote.call("subscribe", f"site:{site}", message["sdp"])
                    await self._answer(site, sdp)
                else:
                    await self.clients[relay].on_message(
                        {**message, "type": "relay_offer", "site_id": site}
                    )
            elif kind == "relay_answer":
                await self._answer(int(message["site_id"]), str(message["sdp"]))
            return True

        return send

    async def _answer(self, site: int, sdp: str) -> None:
        await self.clients[site].on_message(
            {"type": "media_answer", "session_id": SESSION, "role": "subscribe", "sdp": sdp}
        )

    def frames(self, site: int) -> int:
        media = self.clients[site].sessions.get(SESSION)
        return media.receiver.frames if media is not None and media.receiver is not None else 0

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()


async def run(mode: str, towns: int, window: float, settle: float) -> dict[str, Any]:
    proc, remote = start_server("fast")
    pub, track = await negotiate_publisher(remote, PROFILES["480p"], "main")
    sites = Sites(remote, towns, cascade=mode == "cascade")
    try:
        await sites.start()
        deadline = time.monotonic() + 30
        while any(sites.frames(s) == 0 for s in sites.clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(settle)
        cpu0, t0 = await remote.call("cpu")
        here0 = time.process_time()
        frames0 = {s: sites.frames(s) for s in sites.clients}
        await asyncio.sleep(window)
        cpu1, t1 = await remote.call("cpu")
        here1 = time.process_time()
        elapsed = t1 - t0
        fps = {s: (sites.frames(s) - frames0[s]) / elapsed for s in sites.clients}
        stats = await remote.call("stats")
        town_fps = [fps[s] for s in sites.clients if s != DISTRICT]
        row = {
            "mode": mode,
            "towns": towns,
            "server_cpu_pct": round(100 * (cpu1 - cpu0) / elapsed, 2),
            "server_subscribers": len(stats["subscribers"]),
            "bench_process_cpu_pct": round(100 * (here1 - here0) / elapsed, 1),
            "district_fps": round(fps[DISTRICT], 1),
            "town_fps_min": round(min(town_fps), 1),
            "town_fps_mean": round(sum(town_fps) / len(town_fps), 1),
        }
    finally:
        await sites.close()
        await remote.call("quit")
        proc.join(10)
        await pub.close()
        track.close()
    print(f"  {json.dumps(row)}", flush=True)
    return row


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--towns", type=int, default=10)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--out", help="also write the result as JSON to this file")
    args = parser.parse_args()
    pin(1)
    forward.set_host_addresses(["127.0.0.1"])
    print(
        f"cascade bench: 1 district + {args.towns} towns, VP8 640x480; {os.cpu_count()} CPUs; "
        f"{platform.python_implementation()} {platform.python_version()}",
        flush=True,
    )
    rows = [await run(mode, args.towns, args.window, args.settle) for mode in ("direct", "cascade")]
    direct, cascade = rows
    result = {
        "rows": rows,
        "server_cpu_saved_pct": round(direct["server_cpu_pct"] - cascade["server_cpu_pct"], 2),
        "server_cpu_ratio_direct_over_cascade": round(
            direct["server_cpu_pct"] / max(cascade["server_cpu_pct"], 0.01), 2
        ),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
