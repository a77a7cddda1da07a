"""The application's delayed and background jobs (a floor grant's expiry, a roll call's close,
closing revoked sockets), owned by the app: ``app.py`` cancels every one of them when it stops.

A job is kept referenced until it ends (asyncio holds only weak references to tasks) and its
failure is logged, not lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("server.timers")


class Timers:
    def __init__(self) -> None:
        self._handles: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    def later(self, delay: float, job: Callable[[], Awaitable[Any]], what: str) -> None:
        """Run ``job()`` in ``delay`` seconds, unless the app stops first."""
        if self.closed:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._handles.discard(handle)
            self.spawn(job(), what)

        handle = loop.call_later(delay, fire)
        self._handles.add(handle)

    def spawn(self, job: Awaitable[Any], what: str = "a background job") -> None:
        """Run ``job`` now in the background, until it ends or the app stops."""
        if self.closed:
            if asyncio.iscoroutine(job):
                job.close()  # never started: no "never awaited" warning
            return
        task = asyncio.ensure_future(job)
        self._tasks.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.warning("%s failed: %r", what, task.exception())

        task.add_done_callback(done)

    def pending(self) -> int:
        """Jobs waiting for their time or running."""
        return len(self._handles) + len(self._tasks)

    async def close(self) -> None:
        """Cancel every job not yet run and every one running, and wait until they have ended."""
        self.closed = True
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
