"""Asyncio helpers the server's packages share (the bus, the web app's background work)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel these tasks, then wait until each has stopped. A task's cancellation is the
    expected end and is not raised; any other exception a task ended with is."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
