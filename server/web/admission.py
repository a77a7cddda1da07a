"""What a browser's live socket needs when it opens and subscribes, read in batches.

A socket needs: who its cookie signs in, whether that caller takes part in the session it
subscribes to, the topic's cursor (or the events it missed, when it resumes) and the session's
snapshot. One read per socket for each made a storm of sockets (9:00, or every browser of a
lost node reconnecting) cost about 20 database and Redis round trips per socket; here each
kind of read is made once per turn of the event loop for every socket that asked meanwhile
(:class:`server.web.batching.Batcher`: nothing cached, every answer read after its question,
so revocation, a moved trainee or a changed session are seen exactly as before).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.bus.port import Bus
from server.core.errors import DomainError
from server.core.roles import Principal
from server.core.topics import Cursor, Replay, Resync
from server.security import sha256
from server.store.models import ClassSession, utcnow
from server.web import auth, scope
from server.web.batching import Batcher, padded
from server.web.hub import encode


def session_facts(session: ClassSession | None) -> dict[str, Any]:
    """The ``session:N`` topic's snapshot."""
    if session is None:
        return {"session": None}
    return {
        "session": {
            "id": session.id,
            "title": session.title,
            "status": session.status.value,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            "site_ids": [s.id for s in session.sites],
        }
    }


@dataclass(frozen=True, slots=True)
class Resumed:
    """A resume's answer; for a replay also its events as one ``batch`` frame, encoded once
    for every socket that resumes from the same position (after a node is lost, thousands)."""

    answer: Replay | Resync
    frame: str | None = None

    @staticmethod
    def of(topic: str, answer: Replay | Resync) -> Resumed:
        if not isinstance(answer, Replay) or not answer.events:
            return Resumed(answer)
        parts = [
            encode(
                {
                    "type": "event",
                    "topic": topic,
                    "epoch": answer.epoch,
                    "seq": event.seq,
                    "kind": event.type,
                    "data": event.payload,
                },
                binary=False,
            )
            for event in answer.events
        ]
        if len(parts) == 1:
            return Resumed(answer, str(parts[0]))
        return Resumed(answer, '{"type":"batch","messages":[' + ",".join(map(str, parts)) + "]}")


class Admission:
    """The batched reads of one server process's ``/ws/client`` sockets."""

    def __init__(self, engine: Any, sessions: Any, bus: Bus, screen_key: bytes) -> None:
        self._engine = engine
        self._screen_key = screen_key
        self._sessions = sessions
        self._bus = bus
        self.principals: Batcher[str, Principal | None] = Batcher(
            self._load_principals, None, name="principals"
        )
        self.takes_part: Batcher[tuple[Principal, int], bool] = Batcher(
            self._load_takes_part, False, name="takes-part"
        )
        self.snapshots: Batcher[int, dict[str, Any]] = Batcher(
            self._load_snapshots, {"session": None}, name="snapshots"
        )
        self.cursors: Batcher[str, Cursor | None] = Batcher(
            self._load_cursors, None, name="cursors"
        )
        self.resumes: Batcher[tuple[str, str, int], Resumed | DomainError | None] = Batcher(
            self._load_resumes, None, name="resumes"
        )

    async def close(self) -> None:
        """At shutdown: every batched read stops (``app.py``, before the bus and the database)."""
        for batcher in (
            self.principals,
            self.takes_part,
            self.snapshots,
            self.cursors,
            self.resumes,
        ):
            await batcher.close()

    # -- what ws_client asks ----------------------------------------------------------

    async def principal(self, token: str) -> Principal | None:
        if token.startswith(auth.SCREEN_PREFIX):  # a site's screen: rare, signed, one read
            key = self._screen_key
            return await auth.principal_from_cookie(self._engine, token, utcnow(), key)
        return await self.principals.get(sha256(token))

    async def may_watch(self, who: Principal, session_id: int) -> bool:
        return await self.takes_part.get((who, session_id))

    async def session_snapshot(self, session_id: int) -> dict[str, Any]:
        return await self.snapshots.get(session_id)

    async def cursor(self, topic: str) -> Cursor:
        found = await self.cursors.get(topic)
        assert found is not None
        return found

    async def resume(self, topic: str, epoch: str, last_seq: int) -> Resumed:
        found = await self.resumes.get((topic, epoch, last_seq))
        if isinstance(found, DomainError):  # this socket's own bad cursor
            raise found
        assert found is not None
        return found

    # -- the reads --------------------------------------------------------------------

    async def _load_principals(self, hashes: list[str]) -> dict[str, Principal | None]:
        return await auth.principals_from_token_hashes(self._engine, hashes, utcnow())

    async def _load_takes_part(
        self, asks: list[tuple[Principal, int]]
    ) -> dict[tuple[Principal, int], bool]:
        return await scope.takes_part_many(self._sessions, asks)

    async def _load_snapshots(self, session_ids: list[int]) -> dict[int, dict[str, Any]]:
        async with self._sessions() as db:
            found = {
                s.id: s
                for s in await db.scalars(
                    select(ClassSession)
                    .where(ClassSession.id.in_(padded(session_ids)))
                    .options(selectinload(ClassSession.sites))
                )
            }
            return {sid: session_facts(found.get(sid)) for sid in session_ids}

    async def _load_cursors(self, topics: list[str]) -> dict[str, Cursor | None]:
        # usually one topic for a whole storm, a few at most: one read each, together
        found = await asyncio.gather(*(self._bus.cursor(topic) for topic in topics))
        return dict(zip(topics, found, strict=True))

    async def _load_resumes(
        self, asks: list[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], Resumed | DomainError | None]:
        # the reconnecting browsers of one topic mostly share their position: one read each
        async def one(ask: tuple[str, str, int]) -> Resumed | DomainError:
            try:
                return Resumed.of(ask[0], await self._bus.resume(*ask))
            except DomainError as exc:
                return exc

        found = await asyncio.gather(*(one(ask) for ask in asks))
        return dict(zip(asks, found, strict=True))
