"""A session's interaction log (Q&A, floor, polls) as JSON, CSV or XLSX, in local time; and
what the interaction features' handlers share (:func:`services`, the session path, who
takes part).

The asker of an anonymous question is never named, in the stored log (the submission is
logged as ``anonymous``) nor in what is read back (:func:`service.read_log`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import roles
from server.core.interaction_log_text import Names, actor_ids, actor_text, content_text, site_ids
from server.store.models import ClassSession, Site, Trainee, User
from server.web import exports
from server.web.api import Param, Routes
from server.web.exports import CSV, XLSX
from server.web.interaction import service
from server.web.keys import LIVE, SESSIONS
from server.web.resources import load, path_id

SESSION = "/api/v1/sessions/{id}"
"""A session's path: the Q&A, floor and poll routes of a session hang below it."""
IN_SESSION = roles.STAFF | roles.TRAINEES | roles.AGENTS
"""Who takes part in a session's interaction: staff, its trainees and its sites' agents."""


def services_of(app: web.Application) -> service.Services:
    return service.Services(app[SESSIONS], app[LIVE])


def services(request: web.Request) -> service.Services:
    return services_of(request.app)


LOG_HEADER = ["序号", "时间", "事件", "问题编号", "操作者", "内容"]
KIND_ZH = {
    "question_submitted": "提交问题",
    "question_approve": "审核通过",
    "question_reject": "驳回",
    "question_put_on_air": "上屏",
    "question_mark_answered": "已回答",
    "question_archive": "归档",
    "question_send_back": "退回",
    "question_merge": "合并",
    "question_edited": "编辑",
    "question_pin": "置顶",
    "question_unpin": "取消置顶",
    "questions_merged": "合并问题",
    "vote_cast": "点赞",
    "vote_withdrawn": "取消点赞",
    "floor_requested": "申请发言",
    "floor_withdrawn": "撤回发言申请",
    "floor_granted": "授予发言权",
    "floor_returned": "发言权收回",
    "poll_created": "创建投票",
    "poll_opened": "发布投票",
    "poll_closed": "结束投票",
    "poll_answered": "作答",
    "feedback": "课后评价",
    "qa_settings": "互动设置",
}
FORMAT = Param(
    "format",
    {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"},
    "answer format",
)
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 100000}, "most entries")
routes = Routes()


@routes(
    "GET",
    SESSION + "/interaction-log",
    roles.STAFF,
    "Export a session's interaction log (anonymous askers are never named)",
    "reports",
    query=(FORMAT, LIMIT),
    produces=("application/json", XLSX, CSV),
)
async def interaction_log(request: web.Request) -> web.Response:
    """Everything that happened in a session's Q&A, floor and polls: JSON, CSV or XLSX."""
    fmt = FORMAT.parse(request)
    session_id = path_id(request, "session")
    limit = int(LIMIT.parse(request, 100_000))
    async with request.app[SESSIONS]() as db:
        await load(db, ClassSession, session_id, "session")
        entries = await service.read_log(db, session_id, limit)
        if fmt == "json":
            return web.json_response({"session_id": session_id, "items": [i for _, i in entries]})
        names = await _names(db, [i for _, i in entries])
    zone = exports.zone_of(request)
    table: list[list[exports.Cell]] = [
        [
            e.id,
            exports.local(e.at, zone),
            KIND_ZH.get(i["kind"], i["kind"]),
            e.question_id,
            actor_text(i["actor"], names),
            content_text(i["kind"], i["data"] or {}, names),
        ]
        for e, i in entries
    ]
    sheet = exports.Sheet("互动记录", LOG_HEADER, table)
    return await exports.download(f"session-{session_id}-interaction", [sheet], fmt)


async def _names(db: AsyncSession, items: list[dict[str, Any]]) -> Names:
    """The names of the trainees, users and sites the entries mention (after anonymising)."""
    wanted: dict[str, set[int]] = {"trainee": set(), "user": set(), "site": set()}
    for item in items:
        ids = actor_ids(item["actor"])
        if ids is not None:
            wanted[ids[0]].add(ids[1])
        wanted["site"].update(site_ids(item["data"] or {}))

    async def lookup(name: Any, key: Any, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await db.execute(select(key, name).where(key.in_(ids)))
        return {int(k): str(v) for k, v in rows.all() if v}

    return Names(
        trainees=await lookup(Trainee.name, Trainee.id, wanted["trainee"]),
        users=await lookup(User.display_name, User.id, wanted["user"]),
        sites=await lookup(Site.name, Site.id, wanted["site"]),
    )


register = routes.register
