"""Fire-and-forget work of the media side (keyframe requests, announcements, bus messages):
each task is kept referenced until it ends (asyncio holds only weak references) and a failure
is logged, not lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any


class Background:
    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self._what = what
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, job: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._logger.warning("%s failed: %r", self._what, task.exception())
