"""A session's Q&A settings and the global sensitive-word list. No HTTP here."""

from __future__ import annotations

from typing import Any

from server.core.roles import Principal
from server.store.models import utcnow
from server.store.qa_models import QaSettings, QaWordList
from server.web.db import get_or_add
from server.web.interaction.service import Services, log_event, session_status
from server.web.qa.service import DEFAULTS, GLOBAL_WORDS, setting


def settings_view(session_id: int, s: QaSettings | None) -> dict[str, Any]:
    return {
        "session_id": session_id,
        **{name: setting(s, name) for name in DEFAULTS},
        "sensitive_words": list(s.sensitive_words or []) if s else [],
    }


async def show_settings(svc: Services, session_id: int) -> dict[str, Any]:
    async with svc.sessions() as db:
        await session_status(db, session_id)
        return settings_view(session_id, await db.get(QaSettings, session_id))


async def change_settings(
    svc: Services, who: Principal, session_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    async with svc.sessions() as db, db.begin():
        await session_status(db, session_id)
        row = await get_or_add(
            db, QaSettings, {"session_id": session_id}, **DEFAULTS, sensitive_words=[]
        )
        for key, value in data.items():
            setattr(row, key, value)
        await db.flush()
        view = settings_view(session_id, row)
        log_event(db, session_id, "qa_settings", who.label, view)
    return view


async def show_words(svc: Services) -> list[str]:
    async with svc.sessions() as db:
        row = await db.get(QaWordList, GLOBAL_WORDS)
    return list(row.words) if row else []


async def replace_words(svc: Services, words: list[str]) -> list[str]:
    async with svc.sessions() as db, db.begin():
        row = await get_or_add(db, QaWordList, {"key": GLOBAL_WORDS}, words=[])
        row.words, row.updated_at = words, utcnow()
    return words
