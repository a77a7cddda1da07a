"""The Redis bus: fan-out across server processes, presence keys, bounded history per topic.

Keys (everything under ``prefix``, default ``classroom:``; ``{...}`` is a Redis Cluster hash
tag so that a topic's two keys live in one slot):

- ``<prefix>topic:{<topic>}:meta`` -- hash ``epoch``, ``seq``: the topic's counter.
- ``<prefix>topic:{<topic>}:log`` -- list of the last ``history`` encoded events, oldest first.
- ``<prefix>presence:<site_id>`` -- string, msgpack ``[node_id, state, data, updated_at]``,
  with a PX time to live.
- channel ``<prefix>events`` -- ONE pub/sub channel for every topic. Every process must see
  every event anyway (its local router filters by topic), so one SUBSCRIBE per process is the
  cheapest fan-out; the topic travels inside the message.

An encoded event is the msgpack array ``[seq, epoch, topic, type, origin, payload]``. Python
packs ``topic, type, origin, payload`` once; the publish script prepends the array header,
the seq and the epoch (with Redis's built-in ``cmsgpack``), so the payload is encoded once and
decoded once.

Publish is ONE round trip: a Lua script creates the topic's epoch if the topic has none
(deleting any orphan history), HINCRBYs the seq, RPUSH+LTRIMs the history, refreshes the
topic's idle time to live and PUBLISHes. Redis runs scripts one at a time, so seqs are
consecutive across processes and every subscriber receives a topic's events in seq order.

Connection loss. Commands use a pool with bounded connect/read timeouts and no retries (a
retried publish could publish twice); a failure raises :class:`BusUnavailable`. The listener
uses its own connection, PINGs it when idle (a half-open link is declared dead after
``2 * ping_interval``), and on loss reconnects with capped, jittered exponential back-off
(reset only once a subscription stayed up ``STABLE_AFTER`` s), re-SUBSCRIBEs, then calls
``on_gap(None)``. While the listener is disconnected ``publish``
fails at once with :class:`BusUnavailable` instead of waiting on a dead server. A publish that
times out after Redis ran the script raises although the event went out; clients that see it
are fine, and the caller must not retry blindly.

A restart without persistence empties Redis: the next use of each topic makes a new epoch, so
a client resuming with the old epoch gets ``Resync(EPOCH_CHANGED)``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import msgpack
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection, BlockingConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.aio import cancel_and_wait
from server.bus.port import (
    DEFAULT_HISTORY,
    Bus,
    BusEvent,
    BusUnavailable,
    PresenceRecord,
    decode_payload,
    new_epoch,
    new_node_id,
)
from server.core.errors import InvalidInput
from server.core.topics import Cursor, Replay, Resync, ResyncReason

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "classroom:"

# KEYS: meta, log.  ARGV: candidate epoch, ttl ms. Leaves epoch, seq in `epoch`, `last`.
_ENSURE_TOPIC = r"""
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
local epoch, last = meta[1], tonumber(meta[2])
if not epoch then
  epoch, last = ARGV[1], 0
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
"""

# ARGV: epoch, ttl, history, tail (packed topic, type, origin, payload), channel.
_PUBLISH = (
    _ENSURE_TOPIC
    + r"""
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local entry = '\150' .. cmsgpack.pack(seq) .. cmsgpack.pack(epoch) .. ARGV[4]
redis.call('RPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('PUBLISH', ARGV[5], entry)
return {seq, epoch}
"""
)

# ARGV: epoch, ttl.
_CURSOR = _ENSURE_TOPIC + "return {epoch, last}\n"

# ARGV: epoch, ttl, the client's epoch, the client's last seq. Returns epoch, last, held
# events count, and the events after the client's seq only when they can be replayed.
_RESUME = (
    _ENSURE_TOPIC
    + r"""
local held = redis.call('LLEN', KEYS[2])
local oldest = last - held + 1
local since = tonumber(ARGV[4])
if ARGV[3] ~= epoch or since > last or since < oldest - 1 then
  return {epoch, last, held}
end
return {epoch, last, held, redis.call('LRANGE', KEYS[2], since - oldest + 1, -1)}
"""
)

# KEYS: presence key. ARGV: the owner's prefix bytes (array header + packed node id).
_CLEAR_PRESENCE = r"""
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

STABLE_AFTER = 30.0
"""Seconds a subscription must stay up before the reconnect back-off starts from zero again."""

_ARRAY4 = b"\x94"  # msgpack fixarray header of a presence value


class RedisBus(Bus):
    """The bus on Redis. ``start()`` must succeed before use; ``close()`` at shutdown."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        prefix: str = DEFAULT_PREFIX,
        node_id: str | None = None,
        history: int = DEFAULT_HISTORY,
        topic_ttl: float = 2 * 86400.0,
        op_timeout: float = 1.0,
        max_connections: int = 32,
        ping_interval: float = 5.0,
        backoff_base: float = 0.05,
        backoff_cap: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        if op_timeout <= 0 or ping_interval <= 0 or backoff_base <= 0 or backoff_cap <= 0:
            raise ValueError("timeouts and back-off must be > 0")
        self.node_id = node_id or new_node_id()
        self.prefix = prefix
        self.channel = f"{prefix}events"
        self._url = url
        self._history = history
        self._topic_ttl_ms = max(0, int(topic_ttl * 1000))
        self._op_timeout = op_timeout
        self._max_connections = max_connections
        self._ping_interval = ping_interval
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._clock = clock
        self._redis: aioredis.Redis | None = None
        self._pool: BlockingConnectionPool | None = None
        self._listener: asyncio.Task[None] | None = None
        self._conn: AbstractConnection | None = None
        self._online = False
        self._closed = False
        self.reconnects = 0
        """How many times the listener got its subscription back after a loss (metrics)."""

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """True while the listener is subscribed (events from every process arrive)."""
        return self._online

    async def start(self) -> None:
        """Connect and subscribe; :class:`BusUnavailable` if Redis cannot be reached."""
        if self._closed:
            raise BusUnavailable("The bus is closed.")
        if self._redis is not None:
            return
        pool = BlockingConnectionPool.from_url(
            self._url,
            max_connections=self._max_connections,
            timeout=self._op_timeout,
            socket_connect_timeout=self._op_timeout,
            socket_timeout=self._op_timeout,
            protocol=2,
        )
        client = aioredis.Redis(connection_pool=pool)
        try:
            conn = await self._connect_listener(pool)
        except BusUnavailable:
            await client.aclose()
            await pool.disconnect()
            raise
        self._pool = pool
        self._redis = client
        self._publish_script = client.register_script(_PUBLISH)
        self._cursor_script = client.register_script(_CURSOR)
        self._resume_script = client.register_script(_RESUME)
        self._clear_script = client.register_script(_CLEAR_PRESENCE)
        self._online = True
        self._conn = conn
        self._listener = asyncio.create_task(
            self._listen(), name=f"bus-redis-listener:{self.node_id}"
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._online = False
        task, self._listener = self._listener, None
        if task is not None:
            await cancel_and_wait(task)
        conn, self._conn = self._conn, None
        if conn is not None:  # the task may have been cancelled before it ever ran
            await conn.disconnect(nowait=True)
        client, self._redis = self._redis, None
        pool, self._pool = self._pool, None
        if client is not None:
            await client.aclose()
        if pool is not None:
            await pool.disconnect()

    # ---- topics ----------------------------------------------------------------------

    async def _publish(self, topic: str, type: str, packed: bytes) -> BusEvent:
        self._client()
        if not self._online:
            raise BusUnavailable(details={"reason": "listener reconnecting"})
        tail = _pack(topic) + _pack(type) + _pack(self.node_id) + packed
        args = (new_epoch(), self._topic_ttl_ms, self._history, tail, self.channel)
        reply = await self._script(self._publish_script, self._topic_keys(topic), args)
        seq, epoch = reply
        return BusEvent(
            seq=int(seq),
            type=type,
            payload=decode_payload(packed),
            topic=topic,
            epoch=_text(epoch),
            origin=self.node_id,
        )

    async def _cursor(self, topic: str) -> Cursor:
        self._client()
        args = (new_epoch(), self._topic_ttl_ms)
        epoch, last = await self._script(self._cursor_script, self._topic_keys(topic), args)
        return Cursor(_text(epoch), int(last))

    async def _resume(self, topic: str, epoch: str, last_seq: int) -> Replay | Resync:
        """Like :meth:`TopicLog.resume`, decided in one script on the Redis side."""
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            raise InvalidInput(
                "topic.bad_cursor",
                f"{topic}: last_seq must be a whole number >= 0; subscribe without resume",
                {"topic": topic},
            )
        self._client()
        args = (new_epoch(), self._topic_ttl_ms, str(epoch), last_seq)
        reply = await self._script(self._resume_script, self._topic_keys(topic), args)
        current, last, held = _text(reply[0]), int(reply[1]), int(reply[2])
        if epoch != current:
            return Resync(ResyncReason.EPOCH_CHANGED, current, last)
        if last_seq > last:
            return Resync(ResyncReason.FUTURE_SEQ, current, last)
        if last_seq < last - held:
            return Resync(ResyncReason.HISTORY_LOST, current, last)
        events = tuple(_decode_event(raw).plain() for raw in reply[3])
        return Replay(current, events, last)

    # ---- presence --------------------------------------------------------------------

    async def _set_presence(
        self, site_id: int, node_id: str, state: str, packed: bytes, seconds: float
    ) -> None:
        value = _ARRAY4 + _pack(node_id) + _pack(state) + packed + _pack(float(self._clock()))
        client = self._client()
        px = max(1, int(seconds * 1000))
        await self._run(client.set(self._presence_key(site_id), value, px=px))

    async def get_presence(self, site_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        ids = list(dict.fromkeys(site_ids))
        client = self._client()
        if not ids:
            return {}
        values = await self._run(client.mget([self._presence_key(s) for s in ids]))
        found: dict[int, PresenceRecord] = {}
        for site_id, value in zip(ids, values, strict=True):
            if value is None:
                continue
            try:
                node_id, state, data, updated_at = decode_payload(value)
            except Exception:
                log.warning("bus: undecodable presence of site %s", site_id)
                continue
            found[site_id] = PresenceRecord(site_id, node_id, state, data, updated_at)
        return found

    async def clear_presence(self, site_id: int, node_id: str) -> None:
        self._client()
        owner = _ARRAY4 + _pack(node_id)
        await self._script(self._clear_script, (self._presence_key(site_id),), (owner,))

    # ---- internals -------------------------------------------------------------------

    def _topic_keys(self, topic: str) -> tuple[str, str]:
        base = f"{self.prefix}topic:{{{topic}}}"
        return f"{base}:meta", f"{base}:log"

    def _presence_key(self, site_id: int) -> str:
        if isinstance(site_id, bool) or not isinstance(site_id, int):
            raise InvalidInput("bus.bad_site", "a site id must be an integer")
        return f"{self.prefix}presence:{site_id}"

    def _client(self) -> aioredis.Redis:
        if self._closed:
            raise BusUnavailable("The bus is closed.")
        if self._redis is None:
            raise BusUnavailable("The bus is not started.")
        return self._redis

    async def _run(self, command: Awaitable[T]) -> T:
        """Await one Redis command or script, bounded by ``op_timeout``; any Redis failure
        becomes :class:`BusUnavailable`."""
        try:
            async with asyncio.timeout(self._op_timeout):
                return await command
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("bus: redis command failed: %r", exc)
            raise BusUnavailable(details={"error": type(exc).__name__}) from exc

    async def _script(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._run(script(keys=list(keys), args=list(args)))

    async def _connect_listener(self, pool: BlockingConnectionPool) -> AbstractConnection:
        """A new connection SUBSCRIBEd to the events channel."""
        conn: AbstractConnection = pool.connection_class(**pool.connection_kwargs)
        try:
            async with asyncio.timeout(self._op_timeout):
                await conn.connect()  # type: ignore[no-untyped-call]
                await conn.send_command("SUBSCRIBE", self.channel, check_health=False)
                reply = await conn.read_response()
            if not (isinstance(reply, list) and reply and reply[0] == b"subscribe"):
                raise BusUnavailable(details={"error": f"unexpected reply {reply!r}"})
        except (RedisError, OSError, TimeoutError) as exc:
            await conn.disconnect(nowait=True)
            raise BusUnavailable(details={"error": type(exc).__name__}) from exc
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        return conn

    async def _listen(self) -> None:
        """Deliver from the subscription for the life of the bus; reconnect when it drops.

        The back-off keeps growing across reconnects until a subscription has stayed up for
        ``STABLE_AFTER`` seconds, so a flapping Redis is not hammered (nor are clients told to
        resync many times a second)."""
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            conn = self._conn
            up_since = loop.time()
            assert conn is not None
            try:
                await self._pump(conn)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("bus %s: lost the redis subscription: %r", self.node_id, exc)
            except Exception:  # never let the listener die silently: start over instead
                log.exception("bus %s: listener failed; subscribing again", self.node_id)
            self._online = False
            self._conn = None
            await conn.disconnect(nowait=True)
            attempt = 0 if loop.time() - up_since >= STABLE_AFTER else attempt
            self._conn, attempt = await self._reconnect(attempt)
            self._online = True
            self.reconnects += 1
            log.info("bus %s: subscribed again; telling the app to resync", self.node_id)
            self._notify_gap(None)

    async def _pump(self, conn: AbstractConnection) -> None:
        awaiting_pong = False
        while True:
            reply = await conn.read_response(timeout=self._ping_interval)
            if reply is None:
                if awaiting_pong:
                    raise RedisTimeoutError("no reply to PING on the subscription")
                await conn.send_command("PING", check_health=False)
                awaiting_pong = True
                continue
            awaiting_pong = False
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                self._on_message(reply[2])

    def _on_message(self, raw: bytes) -> None:
        try:
            event = _decode_event(raw)
        except Exception:
            log.exception("bus %s: dropped an undecodable message", self.node_id)
            return
        self._dispatch(event)

    async def _reconnect(self, attempt: int) -> tuple[AbstractConnection, int]:
        """A new subscription, after a jittered wait that doubles with each failed attempt."""
        pool = self._pool
        assert pool is not None
        while True:
            delay = min(self._backoff_cap, self._backoff_base * 2**attempt)
            await asyncio.sleep(random.uniform(delay / 2, delay))
            try:
                return await self._connect_listener(pool), min(attempt + 1, 30)
            except BusUnavailable:
                pass
            except Exception:
                log.exception("bus %s: unexpected error while reconnecting", self.node_id)
            attempt = min(attempt + 1, 30)


def _pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode_event(raw: bytes) -> BusEvent:
    seq, epoch, topic, type_, origin, payload = decode_payload(raw)
    return BusEvent(seq=seq, type=type_, payload=payload, topic=topic, epoch=epoch, origin=origin)


__all__ = ["DEFAULT_PREFIX", "DEFAULT_URL", "RedisBus"]
