"""A session's interaction log (Q&A, floor, polls) as JSON, CSV or XLSX, in local time; and
what the interaction features' handlers share (:func:`services`, the session path, who
takes part).

The asker of an anonymous question is never named, in the stored log (the submission is
logged as ``anonymous``) nor in what is read back (:func:`service.read_log`).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from server.core import roles
from server.core.qa_views import ANONYMOUS_ACTOR
from server.store.models import ClassSession
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
ACTOR_ZH = {ANONYMOUS_ACTOR: "匿名学员"}
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
    zone = exports.zone_of(request)
    table: list[list[exports.Cell]] = [
        [
            e.id,
            exports.local(e.at, zone),
            KIND_ZH.get(i["kind"], i["kind"]),
            e.question_id,
            ACTOR_ZH.get(i["actor"], i["actor"]),
            json_text(i["data"]),
        ]
        for e, i in entries
    ]
    sheet = exports.Sheet("互动记录", LOG_HEADER, table)
    return await exports.download(f"session-{session_id}-interaction", [sheet], fmt)


def json_text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


register = routes.register
