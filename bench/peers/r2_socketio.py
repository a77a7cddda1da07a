"""R2: python-socketio on aiohttp, the usual Python peer for rooms and fan-out.

Clients connect over the websocket transport (Engine.IO 4), emit ``subscribe`` with
``{"topics": [...]}`` and are put in one room per topic; they get a ``resync`` event back.
A control client emits ``publish`` with ``{"topic", "kind", "data"}``: the server emits one
``event`` (same fields as ``/ws/client``'s event message) to the topic's room.

Run: python bench/peers/r2_socketio.py --port 9002
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
SEQ: dict[str, int] = {}


@sio.on("subscribe")  # type: ignore[untyped-decorator]
async def subscribe(sid: str, body: dict[str, Any]) -> None:
    for topic in body["topics"]:
        await sio.enter_room(sid, topic)
        await sio.emit(
            "resync",
            {
                "type": "resync",
                "topic": topic,
                "epoch": "r2",
                "seq": SEQ.get(topic, 0),
                "reason": "new_subscription",
                "snapshot": {},
            },
            to=sid,
        )


@sio.on("publish")  # type: ignore[untyped-decorator]
async def publish(sid: str, body: dict[str, Any]) -> None:
    topic = body["topic"]
    seq = SEQ[topic] = SEQ.get(topic, 0) + 1
    await sio.emit(
        "event",
        {
            "type": "event",
            "topic": topic,
            "epoch": "r2",
            "seq": seq,
            "kind": body["kind"],
            "data": body["data"],
        },
        room=topic,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    sio.attach(app)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
