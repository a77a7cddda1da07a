"""R1: the smallest useful live server on ``websockets``, fanning out with ``broadcast()``.

The practical Python limit for a JSON fan-out: no auth, no history, no per-socket queue. Speaks
the same JSON as ``/ws/client`` for what the benchmark uses: ``subscribe`` → ``resync``; events
arrive as ``{"type": "event", "topic", "epoch", "seq", "kind", "data"}``, encoded once per event
and pushed to every subscriber's transport by ``broadcast()``. A control connection publishes
with ``{"type": "publish", "topic", "kind", "data"}``.

Run: python bench/peers/r1_websockets.py --port 9001
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from websockets.asyncio.server import ServerConnection, broadcast, serve

TOPICS: dict[str, set[ServerConnection]] = {}
SEQ: dict[str, int] = {}


async def handler(ws: ServerConnection) -> None:
    mine: set[str] = set()
    try:
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "subscribe":
                for topic in message["topics"]:
                    TOPICS.setdefault(topic, set()).add(ws)
                    mine.add(topic)
                    await ws.send(
                        json.dumps(
                            {
                                "type": "resync",
                                "topic": topic,
                                "epoch": "r1",
                                "seq": SEQ.get(topic, 0),
                                "reason": "new_subscription",
                                "snapshot": {},
                            },
                            separators=(",", ":"),
                        )
                    )
            elif kind == "publish":
                topic = message["topic"]
                seq = SEQ[topic] = SEQ.get(topic, 0) + 1
                frame = json.dumps(
                    {
                        "type": "event",
                        "topic": topic,
                        "epoch": "r1",
                        "seq": seq,
                        "kind": message["kind"],
                        "data": message["data"],
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                broadcast(TOPICS.get(topic, ()), frame)
    finally:
        for topic in mine:
            TOPICS.get(topic, set()).discard(ws)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, host, port, compression=None, max_size=2**20):
        print(f"r1 listening on {host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
