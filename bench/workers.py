"""Client worker processes driven over pipes, both ends: the coordinator's ``WorkerPool`` and
the worker's loop (``run_worker``, ``commands``). control_plane.py drives cp_clients.py's raw
sockets with it, reconnect_storm.py page_clients.py's pages."""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import AsyncIterator, Awaitable, Callable
from multiprocessing.connection import Connection as Pipe
from typing import Any


class WorkerPool:
    """``count`` spawned processes, each running ``target(pipe)``: it answers every
    (command, argument) it is sent once, and ``exit`` last."""

    def __init__(self, target: Callable[[Pipe], None], count: int, timeout: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.timeout = timeout
        self.pipes = []
        self.procs = []
        for _ in range(count):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=target, args=(there,), daemon=True)
            proc.start()
            self.pipes.append(here)
            self.procs.append(proc)

    async def call(self, command: str, args: Any = None, timeout: float | None = None) -> list[Any]:
        """Every worker's answer to ``command``: worker i gets ``args[i]`` when ``args`` is a
        list, else ``args``."""
        wait = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        for i, pipe in enumerate(self.pipes):
            pipe.send((command, args[i] if isinstance(args, list) else args))
        replies = []
        for pipe in self.pipes:
            if not await loop.run_in_executor(None, pipe.poll, wait):
                raise TimeoutError(f"client worker did not answer {command} in {wait} s")
            replies.append(pipe.recv())
        return replies

    def reap(self) -> None:
        """Wait a moment for the processes to end (after ``exit``), then end the rest."""
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def run_worker(pipe: Pipe, serve: Callable[[Pipe], Awaitable[None]]) -> None:
    """A worker process: as many sockets as the system allows, ``serve(pipe)`` until ``exit``."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(serve(pipe))


async def commands(pipe: Pipe) -> AsyncIterator[tuple[str, Any]]:
    """The coordinator's (command, argument) pairs, until ``exit`` (answered here)."""
    loop = asyncio.get_running_loop()
    while True:
        command, arg = await loop.run_in_executor(None, pipe.recv)
        if command == "exit":
            pipe.send(None)
            return
        yield command, arg
