"""The agent against a small REAL websockets server speaking docs/agent-protocol.md.

The server below is minimal but honest: it checks the Bearer secret before the upgrade (401),
validates every agent message with the server's own ``AGENT_MESSAGES`` schemas, answers
heartbeats and outbox batches, replays missed events or sends a resync, and closes with the
protocol's codes. Every wait is bounded; the whole file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from classroom_agent import protocol
from classroom_agent.agent import Agent
from classroom_agent.config import AgentConfig
from classroom_agent.outbox import Outbox
from classroom_agent.protocol import Cursor, Event
from server.core.errors import InvalidInput
from server.core.messages import AGENT_MESSAGES, check_protocol_version, validate_message

SECRET = "site12.dGVzdC1zZWNyZXQtZm9yLXRoZS1hZ2VudA"
SITE_ID = 12
WAIT = 5.0
ROOT = Path(__file__).resolve().parents[2]


class ProtocolServer:
    """``/ws/agent`` in miniature; tests steer it through its attributes."""

    def __init__(self) -> None:
        self.url = ""
        self.secret = SECRET
        self.epoch = "ep1"
        self.events: list[dict[str, Any]] = []
        self.snapshot: dict[str, Any] = {}
        self.clock_offset = 0.0
        self.send_welcome = True
        self.ack_heartbeats = True
        self.ack_outbox = True
        self.refuse: dict[str, str] = {}
        self.close_on_hello: tuple[int, str] | None = None
        self.close_after_welcome: tuple[int, str] | None = None
        self.live: ServerConnection | None = None
        self.rejected = 0
        self.hellos: list[dict[str, Any]] = []
        self.welcomes: list[dict[str, Any]] = []
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.invalid: list[str] = []
        self.outbox_received: list[str] = []
        self.recorded: dict[str, dict[str, Any]] = {}
        self.acked_seq: int | None = None
        self.close_codes: list[int | None] = []

    def now(self) -> float:
        return time.time() + self.clock_offset

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [body for t, body in self.messages if t == kind]

    async def publish(self, kind: str, data: dict[str, Any]) -> None:
        event = {
            "type": "event",
            "topic": f"site:{SITE_ID}",
            "epoch": self.epoch,
            "seq": len(self.events) + 1,
            "kind": kind,
            "data": data,
        }
        self.events.append(event)
        if self.live is not None:
            await self.live.send(protocol.encode(event))

    async def kick(self, code: int, reason: str) -> None:
        assert self.live is not None, "no agent connected"
        await self.live.close(code, reason)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.secret}":
            self.rejected += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, '{"code":"auth.bad_site_secret"}')
        return None

    async def handler(self, ws: ServerConnection) -> None:
        try:
            await self._serve(ws)
        except ConnectionClosed:
            pass
        finally:
            if self.live is ws:
                self.live = None
            await ws.wait_closed()
            self.close_codes.append(ws.close_code)

    async def _serve(self, ws: ServerConnection) -> None:
        try:
            frame = await asyncio.wait_for(ws.recv(), 10)
        except TimeoutError:
            await ws.close(4000, "hello timeout")
            return
        hello = validate_message(AGENT_MESSAGES, protocol.decode(frame), now=self.now())
        assert hello.type == "hello"
        self.hellos.append(hello.body)
        if self.close_on_hello is not None:
            await ws.close(*self.close_on_hello)
            return
        try:
            check_protocol_version(hello.body["protocol"])
        except InvalidInput as exc:
            await ws.close(4002, f"protocol.unsupported_version: {exc.message}"[:120])
            return
        if hello.body["site_id"] != SITE_ID:
            await ws.close(4004, "protocol.wrong_site")
            return
        if not self.send_welcome:
            await ws.wait_closed()
            return
        last_seq, epoch, head = hello.body["last_seq"], hello.body["epoch"], len(self.events)
        if last_seq is None and not self.events:
            resume = "fresh"
        elif epoch == self.epoch and last_seq is not None and last_seq <= head:
            resume = "replay"
        else:
            resume = "resync"
        welcome = {
            "type": "welcome",
            "protocol": "1.0",
            "server_version": "test",
            "node_id": "n1",
            "site_id": SITE_ID,
            "topic": f"site:{SITE_ID}",
            "epoch": self.epoch,
            "seq": head,
            "heartbeat_interval": 5.0,
            "resume": resume,
            "server_ts": self.now(),
        }
        self.welcomes.append(welcome)
        await ws.send(protocol.encode(welcome))
        if resume == "replay":
            for event in self.events[last_seq:]:
                await ws.send(protocol.encode(event))
        elif resume == "resync":
            await ws.send(
                protocol.encode(
                    {
                        "type": "resync",
                        "epoch": self.epoch,
                        "seq": head,
                        "reason": "epoch_changed",
                        "snapshot": self.snapshot,
                    }
                )
            )
        if self.close_after_welcome is not None:
            await ws.close(*self.close_after_welcome)
            return
        self.live = ws
        async for frame in ws:
            await self._on_message(ws, frame)

    async def _on_message(self, ws: ServerConnection, frame: bytes | str) -> None:
        try:
            msg = validate_message(AGENT_MESSAGES, protocol.decode(frame), now=self.now())
        except InvalidInput as exc:
            self.invalid.append(f"{exc.code}: {exc.message}")
            await ws.send(
                protocol.encode({"type": "error", "code": exc.code, "message": exc.message})
            )
            return
        self.messages.append((msg.type, msg.body))
        if msg.type == "heartbeat" and self.ack_heartbeats:
            await ws.send(
                protocol.encode(
                    {"type": "heartbeat_ack", "seq": msg.body["seq"], "server_ts": self.now()}
                )
            )
        elif msg.type == "outbox":
            ids = [item["id"] for item in msg.body["items"]]
            self.outbox_received.extend(ids)
            if not self.ack_outbox:
                return
            results: dict[str, str] = {}
            for item in msg.body["items"]:
                if item["id"] in self.refuse:
                    results[item["id"]] = self.refuse[item["id"]]
                elif item["id"] in self.recorded:
                    results[item["id"]] = "duplicate"
                else:
                    self.recorded[item["id"]] = item
                    results[item["id"]] = "recorded"
            await ws.send(protocol.encode({"type": "outbox_ack", "results": results}))
        elif msg.type == "ack":
            self.acked_seq = msg.body["seq"]


@pytest.fixture
async def server() -> AsyncIterator[ProtocolServer]:
    proto = ProtocolServer()
    async with serve(
        proto.handler,
        "127.0.0.1",
        0,
        process_request=proto.process_request,
        max_size=64 * 1024,
        compression=None,
    ) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        proto.url = f"ws://127.0.0.1:{port}"
        yield proto


class Ceiling:
    """Always waits the longest the back-off allows (to count reconnects deterministically)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def make_agent(url: str, state_dir: Path, rng: Any = None, **settings: Any) -> Agent:
    values: dict[str, Any] = {
        "server": url,
        "site_secret": SECRET,
        "state_dir": str(state_dir),
        "heartbeat_interval": 0.05,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "open_timeout": 2.0,
        "welcome_timeout": 2.0,
        "outbox_resend": 0.3,
    }
    values.update(settings)
    return Agent(AgentConfig(**values), rng=rng if rng is not None else random.Random(7))


@pytest.fixture
def agent(server: ProtocolServer, tmp_path: Path) -> Agent:
    """The agent under test: ``make_agent``'s quick settings, for ``server``; not started."""
    return make_agent(server.url, tmp_path)


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[asyncio.Task[int]]:
    task = asyncio.create_task(agent.run())
    try:
        yield task
    finally:
        agent.stop()
        await asyncio.wait_for(task, WAIT)


@asynccontextmanager
async def connected(server: ProtocolServer, agent: Agent) -> AsyncIterator[Agent]:
    """``agent`` running, once it holds a connection to ``server``."""
    async with running(agent):
        await wait_until(lambda: server.live is not None, "the connection")
        yield agent


async def test_hello_then_heartbeats_with_rtt_and_a_clean_close(
    server: ProtocolServer, agent: Agent
) -> None:
    async with running(agent) as task:
        await wait_until(lambda: len(server.of_type("heartbeat")) >= 3, "three heartbeats")
        await wait_until(lambda: agent.rtt_ms is not None, "an RTT")
    assert task.result() == 0
    [hello] = server.hellos
    assert hello["protocol"] == "1.0" and hello["site_id"] == SITE_ID
    assert hello["capabilities"] == ["heartbeat", "outbox"]
    assert hello["last_seq"] is None and hello["epoch"] is None
    beats = server.of_type("heartbeat")
    assert [b["seq"] for b in beats] == sorted({b["seq"] for b in beats})
    assert beats[-1]["health"]["display_state"] == "none"
    assert beats[-1]["health"]["stream"]["state"] == "none"
    assert agent.rtt_ms is not None and 0 <= agent.rtt_ms < 1000
    assert server.invalid == []
    assert server.close_codes == [1000]


async def test_reconnects_after_the_server_replaces_the_connection(
    server: ProtocolServer, agent: Agent
) -> None:
    async with connected(server, agent):
        await server.kick(4003, "replaced by a newer connection of this site")
        await wait_until(lambda: len(server.hellos) == 2 and server.live is not None, "a reconnect")
        await wait_until(
            lambda: any(i["kind"] == "outage_log" for i in server.recorded.values()),
            "the outage report",
        )
    [outage] = [i for i in server.recorded.values() if i["kind"] == "outage_log"]
    assert "4003" in outage["body"]["reason"]
    assert outage["body"]["from"] <= outage["body"]["to"] <= time.time() + 1
    assert server.close_codes[0] == 4003 and agent.connections == 2
    assert server.invalid == []


async def test_outbox_is_resent_while_unacked_and_after_reconnect_until_acked(
    server: ProtocolServer, agent: Agent
) -> None:
    server.ack_outbox = False
    async with connected(server, agent):
        ids = [
            agent.record_checkin(501, 7),
            agent.record_checkin(502, 7),
            agent.record_rollcall_answer(501, 7, 3),
        ]
        await wait_until(
            lambda: all(server.outbox_received.count(i) >= 2 for i in ids),
            "the periodic resend of unacked items",
        )
        assert len(agent.outbox) == 3
        server.ack_outbox = True
        await server.kick(1001, "server going away")
        await wait_until(lambda: len(agent.outbox) == 0, "the outbox to drain after reconnect")
    assert len(server.hellos) == 2
    assert set(ids) <= set(server.recorded)
    assert server.recorded[ids[0]]["body"] == {
        "trainee_id": 501,
        "session_id": 7,
        "method": "site_staff",
    }
    assert server.recorded[ids[2]]["kind"] == "rollcall_answer"
    assert server.invalid == []


async def test_outbox_items_survive_an_agent_restart(
    server: ProtocolServer, tmp_path: Path
) -> None:
    server.ack_outbox = False
    first = make_agent(server.url, tmp_path)
    async with connected(server, first):
        item = first.record_checkin(900, 7)
        await wait_until(lambda: item in server.outbox_received, "the item sent once")
    server.ack_outbox = True
    second = make_agent(server.url, tmp_path)
    assert second.state.checked_in_count() == 1  # the unacked check-in still counts
    async with running(second):
        await wait_until(lambda: len(second.outbox) == 0, "the item acked after restart")
    assert item in server.recorded


async def test_a_duplicate_answer_also_clears_the_item(
    server: ProtocolServer, agent: Agent
) -> None:
    item = agent.outbox.add("checkin", {"trainee_id": 1, "session_id": 7}, ts=time.time())
    server.recorded[item] = {}  # the server recorded it before the agent saw the ack
    async with running(agent):
        await wait_until(lambda: len(agent.outbox) == 0, "the duplicate ack")
    assert server.outbox_received == [item]


async def test_a_refused_item_leaves_the_outbox_and_is_logged(
    server: ProtocolServer, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    async with connected(server, agent):
        good = agent.record_checkin(1, 7)
        bad_id = "refused-item"
        server.refuse[bad_id] = "checkin.not_enrolled"
        agent.outbox.add(
            "checkin", {"trainee_id": 2, "session_id": 7}, ts=time.time(), item_id=bad_id
        )
        agent.state.note_checkin(7, 2)
        await wait_until(lambda: len(agent.outbox) == 0, "both items answered")
    assert good in server.recorded and bad_id not in server.recorded
    assert agent.state.checked_in_count() == 1
    assert any(
        "checkin.not_enrolled" in r.getMessage() and r.levelno == logging.ERROR
        for r in caplog.records
    )


@pytest.mark.parametrize(("code", "hint"), [(4002, "upgrade"), (4004, "check site_id")])
async def test_unsupported_version_or_wrong_site_stops_the_agent_with_exit_code_3(
    server: ProtocolServer,
    agent: Agent,
    caplog: pytest.LogCaptureFixture,
    code: int,
    hint: str,
) -> None:
    server.close_on_hello = (
        code,
        "protocol.unsupported_version: 9.0" if code == 4002 else "protocol.wrong_site",
    )
    assert await asyncio.wait_for(agent.run(), WAIT) == 3
    assert len(server.hellos) == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert str(code) in line and hint in line and "exit code 3" in line


async def test_hello_carries_the_last_seq_seen_across_reconnects_and_restarts(
    server: ProtocolServer, tmp_path: Path, agent: Agent
) -> None:
    seen: list[tuple[int, str]] = []
    agent.on("*", lambda event: seen.append((event.seq, event.kind)))
    async with connected(server, agent):
        await server.publish("session_started", {"session_id": 7, "title": "第一场"})
        await server.publish("question_on_air", {"question_id": 3, "text": "如何落实?"})
        await wait_until(lambda: server.acked_seq == 2, "the ack of event 2")
        assert set(agent.state.live_sessions) == {7}
        assert agent.state.question_on_air == {"question_id": 3, "text": "如何落实?"}
        secret, server.secret = server.secret, "locked-out"  # keep it away while we publish
        await server.kick(4003, "replaced")
        await wait_until(lambda: server.live is None, "the disconnect")
        await server.publish("session_ended", {"session_id": 7})  # missed while away
        server.secret = secret
        await wait_until(lambda: server.acked_seq == 3, "the replayed event acked")
        assert agent.state.live_sessions == {}
    assert [(h["last_seq"], h["epoch"]) for h in server.hellos] == [(None, None), (2, "ep1")]
    assert seen == [(1, "session_started"), (2, "question_on_air"), (3, "session_ended")]
    assert server.welcomes[1]["resume"] == "replay"

    restarted = make_agent(server.url, tmp_path)
    assert restarted.cursor == Cursor("ep1", 3)
    async with running(restarted):
        await wait_until(lambda: len(server.hellos) == 3, "the hello after restart")
    assert (server.hellos[2]["last_seq"], server.hellos[2]["epoch"]) == (3, "ep1")


async def test_resync_replaces_the_local_state_with_the_snapshot(
    server: ProtocolServer, agent: Agent
) -> None:
    agent.state.apply("session_started", {"session_id": 1})
    agent.record_checkin(60, 1)  # session 1 ended while the agent was away
    agent.record_checkin(61, 8)  # session 8 is live
    server.ack_outbox = False
    agent.cursor_store.save(Cursor("old-epoch", 99))
    agent.cursor = agent.cursor_store.load()
    snapshots: list[Event] = []
    agent.on("resync", snapshots.append)
    server.epoch = "ep2"
    server.events = [
        {
            "type": "event",
            "topic": "site:12",
            "epoch": "ep2",
            "seq": 1,
            "kind": "session_started",
            "data": {"session_id": 8},
        }
    ]
    server.snapshot = {
        "site": {"id": SITE_ID},
        "sessions": [{"id": 8}],
        "question_on_air": {"question_id": 4},
    }
    async with running(agent):
        await wait_until(lambda: agent.cursor == Cursor("ep2", 1), "the resync")
    assert server.welcomes[0]["resume"] == "resync"
    assert set(agent.state.live_sessions) == {8}
    assert agent.state.question_on_air == {"question_id": 4}
    assert agent.state.checked_in == {8: {61}}  # unacked local check-in of a live session
    assert len(snapshots) == 1 and snapshots[0].data["site"] == {"id": SITE_ID}


async def test_heartbeat_counts_distinct_trainees_checked_in(
    server: ProtocolServer, agent: Agent
) -> None:
    async with connected(server, agent):
        agent.record_checkin(11, 7)
        agent.record_checkin(11, 7)
        await server.publish("checked_in", {"session_id": 7, "trainee_id": 12})
        await wait_until(
            lambda: any(b["health"]["checked_in"] == 2 for b in server.of_type("heartbeat")),
            "a heartbeat with two trainees",
        )
    assert server.invalid == []


async def test_ping_is_answered_with_pong_and_junk_frames_are_ignored(
    server: ProtocolServer, agent: Agent
) -> None:
    async with connected(server, agent):
        assert server.live is not None
        await server.live.send("a text frame")
        await server.live.send(b"\xc1 not msgpack")
        await server.live.send(protocol.encode({"type": "surprise", "x": 1}))
        await server.live.send(
            protocol.encode({"type": "error", "code": "message.invalid", "message": "test"})
        )
        await server.live.send(protocol.encode({"type": "ping", "nonce": 42}))
        await wait_until(lambda: {"nonce": 42} in server.of_type("pong"), "the pong")
    assert len(server.hellos) == 1  # junk did not cost the connection


async def test_a_wrong_secret_is_retried_with_back_off_and_never_logged(
    server: ProtocolServer, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    server.secret = "site12.another-secret-entirely"
    async with running(agent) as task:
        await wait_until(lambda: server.rejected >= 3, "three refused attempts")
        assert not task.done()
    assert server.hellos == []
    assert any("HTTP 401" in r.getMessage() for r in caplog.records)
    assert all(SECRET.split(".")[1] not in r.getMessage() for r in caplog.records)


async def test_repeated_closes_back_off_instead_of_busy_looping(
    server: ProtocolServer, tmp_path: Path
) -> None:
    server.close_after_welcome = (4003, "replaced by a newer connection of this site")
    agent = make_agent(server.url, tmp_path, rng=Ceiling(), backoff_base=0.05, backoff_cap=0.2)
    async with running(agent):
        await asyncio.sleep(1.0)
    # Waits of 0.05, 0.1, 0.2, 0.2, ... seconds: about six connections in a second, not hundreds.
    assert 3 <= len(server.hellos) <= 8, len(server.hellos)


async def test_a_silent_server_is_left_after_the_welcome_timeout(
    server: ProtocolServer, tmp_path: Path
) -> None:
    server.send_welcome = False
    agent = make_agent(server.url, tmp_path, welcome_timeout=0.2)
    async with running(agent):
        await wait_until(lambda: len(server.hellos) >= 2, "a second attempt")


async def test_missing_heartbeat_acks_mean_a_dead_link_and_a_reconnect(
    server: ProtocolServer, agent: Agent
) -> None:
    server.ack_heartbeats = False
    async with running(agent):
        await wait_until(lambda: len(server.hellos) >= 2, "a reconnect after missed acks")
    assert server.close_codes[0] == 1001


async def test_a_pc_clock_an_hour_off_is_corrected_from_the_server_time(
    server: ProtocolServer, agent: Agent
) -> None:
    server.clock_offset = 3600.0
    async with running(agent):
        await wait_until(lambda: len(server.of_type("heartbeat")) >= 2, "heartbeats")
        item = agent.record_checkin(5, 7)
        await wait_until(lambda: item in server.recorded, "the check-in")
    assert abs(agent.clock_offset - 3600.0) < 2.0
    assert abs(server.recorded[item]["ts"] - server.now()) < 10
    assert server.invalid == []


async def test_stop_while_the_server_is_unreachable_records_the_outage(tmp_path: Path) -> None:
    agent = make_agent("ws://127.0.0.1:9", tmp_path)
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(0.3)
    agent.stop()
    assert await asyncio.wait_for(task, WAIT) == 0
    with Outbox(tmp_path / "outbox.db") as box:
        [item] = box.pending()
    assert item.kind == "outage_log"
    assert "cannot connect" in item.body["reason"] and "agent stopped" in item.body["reason"]
    assert item.body["attempts"] >= 2


async def test_a_failing_event_handler_is_logged_and_the_event_still_counts(
    server: ProtocolServer, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:

    async def broken(event: Event) -> None:
        raise RuntimeError("display not ready")

    agent.on("session_started", broken)
    async with connected(server, agent):
        await server.publish("session_started", {"session_id": 7})
        await wait_until(lambda: server.acked_seq == 1, "the ack")
    assert set(agent.state.live_sessions) == {7}
    assert any("handler for session_started" in r.getMessage() for r in caplog.records)


async def test_the_command_runs_until_sigterm_and_closes_cleanly(
    server: ProtocolServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_AGENT_")}
    env["CLASSROOM_AGENT_SITE_SECRET"] = SECRET
    log_file = tmp_path / "agent.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from classroom_agent.cli import main; sys.exit(main())",
        "--server", server.url, "--state-dir", str(tmp_path / "state"),
        "--log-file", str(log_file), "--heartbeat-interval", "0.05",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await wait_until(lambda: len(server.of_type("heartbeat")) >= 2, "heartbeats", 20.0)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert server.close_codes == [1000]
    text = log_file.read_text(encoding="utf-8")
    assert "connected to ws://127.0.0.1" in text and "stopped (exit code 0)" in text
    assert SECRET.split(".")[1] not in text
    assert (tmp_path / "state" / "outbox.db").exists()
