"""Reads that many concurrent requests need, made once for all of them (issue 18 item 2).

When thousands of browsers open their live socket at once (9:00, or a node lost), each would
otherwise make its own database and Redis round trips: who its cookie belongs to, whether it
takes part in the session, the session's snapshot, the topic's cursor. A :class:`Batcher`
collects the keys asked for while the event loop runs, and answers all of them with ONE read
made on the next turn of the loop (a storm of 1,000 sockets makes a few reads, not 1,000).

Nothing is cached: every answer comes from a read that *started after* its question was asked.
Keys asked while a read is running wait for the next read. So an answer is never older than
its question, which is what keeps it exact: a login ended, a trainee moved, a session changed
before the question are all seen, exactly as with one read per request (and a snapshot is
always newer than the topic cursor its socket read before asking for it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger("server.batching")

MAX_BATCH = 500  # keys per read: bounded statement size and pool hold time
SLOW_READ = 0.5  # seconds: a read slower than this is logged (every socket waiting on it waits)


def padded(values: list[K]) -> list[K]:
    """``values`` lengthened to the next power of two by repeating the last one. An ``IN``
    list of every length is a statement of its own to prepare (asyncpg keeps 100 per
    connection); padded, batches of 1 to 500 keys make 10 statements."""
    if not values:
        return values
    size = 1 << (len(values) - 1).bit_length()
    return values + [values[-1]] * (size - len(values))


class Batcher(Generic[K, V]):
    """``await batcher.get(key)``: the value ``load`` gives for ``key``, read together with
    every other key asked for meanwhile. ``load`` gets distinct keys (at most ``max_batch``)
    and returns a mapping; a key it leaves out gets ``default``."""

    def __init__(
        self,
        load: Callable[[list[K]], Awaitable[Mapping[K, V]]],
        default: V,
        max_batch: int = MAX_BATCH,
        name: str = "batch",
    ) -> None:
        self._load = load
        self._default = default
        self._max_batch = max_batch
        self._name = name
        self._pending: dict[K, list[asyncio.Future[V]]] = {}
        self._runner: asyncio.Task[None] | None = None
        self.reads = 0  # how many loads ran (for tests and the bench)
        self.keys = 0  # how many keys they answered
        self.closed = False

    async def get(self, key: K) -> V:
        if self.closed:
            raise RuntimeError(f"the {self._name} batcher is closed (the server is stopping)")
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, []).append(future)
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"batcher:{self._name}"
            )
        return await future

    async def close(self) -> None:
        """Start no more reads: the read in progress is cancelled and so is every question still
        waiting (its caller sees the request cancelled); a later ``get`` raises."""
        self.closed = True
        runner = self._runner
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        for futures in self._pending.values():  # a runner cancelled before its first step
            for future in futures:
                future.cancel()
        self._pending.clear()

    async def _run(self) -> None:
        try:
            # The task starts on the loop's next turn: every question asked during this
            # turn (one readiness pass over all sockets) is in the first read.
            while self._pending:
                keys = list(self._pending)[: self._max_batch]
                waiting = {k: self._pending.pop(k) for k in keys}
                started = time.monotonic()
                try:
                    found = await self._load(keys)
                except Exception as exc:  # every waiter of this read gets the error
                    for futures in waiting.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                except BaseException:  # cancelled: nobody is left without an answer
                    for futures in [*waiting.values(), *self._pending.values()]:
                        for future in futures:
                            future.cancel()
                    self._pending.clear()
                    raise
                self.reads += 1
                self.keys += len(keys)
                took = time.monotonic() - started
                if took > SLOW_READ:
                    log.warning(
                        "slow batched read",
                        extra={"read": self._name, "keys": len(keys), "seconds": round(took, 3)},
                    )
                for key, futures in waiting.items():
                    value = found.get(key, self._default)
                    for future in futures:
                        if not future.done():
                            future.set_result(value)
        finally:
            self._runner = None
