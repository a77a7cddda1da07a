"""Questions, votes, moderation, on air and the Q&A settings over HTTP: thin handlers, each
declared on its route (the rules: ``server.core.qa``; the store: ``service``, ``moderation``,
``settings``). Moderation is for moderators, operators and admins."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core import roles
from server.core.qa import QuestionState
from server.core.text import clean_question_text, clean_user_text
from server.core.validation import Bool, Int, List, Optional, Str
from server.web.api import ID, Answer, Body, Param, Routes, body, read_body
from server.web.interaction.http import IN_SESSION, SESSION, services
from server.web.keys import principal
from server.web.qa import moderation, service, settings
from server.web.resources import PAGE_PARAMS, page_params, path_id

routes = Routes()
QUESTION = "/api/v1/questions/{id}"
WORDS_PATH = "/api/v1/qa/sensitive-words"
_MODERATORS = roles.STAFF
_ASKERS = roles.TRAINEES | roles.AGENTS

# --- questions --------------------------------------------------------------------------------

SUBMIT_BODY = body(
    {
        "text": Str(max_len=20_000, raw=True),
        "addressed_to": Optional(Str(max_len=200)),
        "anonymous": Bool(),
        "client_id": Str(min_len=1, max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9_.:-]*"),
    },
    {"text"},
)


@routes(
    "POST",
    SESSION + "/questions",
    _ASKERS,
    "Ask a question (a checked-in trainee, or a site agent for its room)",
    "qa",
    body=SUBMIT_BODY,
    status=201,
)
async def submit_question(request: web.Request) -> web.Response:
    data = await read_body(request, SUBMIT_BODY)
    data["text"] = clean_question_text(data["text"])  # refused here, before any lock
    if data.get("addressed_to") is not None:
        data["addressed_to"] = clean_user_text(
            data["addressed_to"],
            max_len=100,
            code_prefix="question.addressed_to",
            what="guest's name",
        )
    view, replayed = await service.submit(
        services(request), principal(request), path_id(request, "session"), data
    )
    return web.json_response({**view, "replayed": replayed}, status=200 if replayed else 201)


ORDER = Param("order", {"type": "string", "enum": list(service.ORDERS), "default": "votes"}, "sort")
STATE = Param(
    "state", {"type": "string", "enum": sorted(s.value for s in QuestionState)}, "only this"
)


@routes.json("GET", SESSION + "/questions", IN_SESSION, "qa", query=(ORDER, STATE, *PAGE_PARAMS))
async def list_questions(request: web.Request) -> Answer:
    """List a session's questions by votes or time"""
    limit, offset = page_params(request)
    return await service.list_questions(
        services(request),
        principal(request),
        path_id(request, "session"),
        ORDER.parse(request),
        STATE.parse(request),
        limit,
        offset,
    )


@routes.json("GET", QUESTION, IN_SESSION, "qa")
async def get_question(request: web.Request) -> Answer:
    """Read a question"""
    return await service.show_question(
        services(request), principal(request), path_id(request, "question")
    )


@routes.json("POST", QUESTION + "/vote", roles.TRAINEES, "qa")
async def upvote(request: web.Request) -> Answer:
    """Upvote a question

    Once per trainee; a second upvote changes nothing."""
    return await service.vote(
        services(request), principal(request), path_id(request, "question"), True
    )


@routes.json("DELETE", QUESTION + "/vote", roles.TRAINEES, "qa")
async def withdraw_vote(request: web.Request) -> Answer:
    """Withdraw one's upvote"""
    return await service.vote(
        services(request), principal(request), path_id(request, "question"), False
    )


# --- moderation and on air --------------------------------------------------------------------

EDIT_BODY = body({"text": Str(max_len=20_000, raw=True)}, {"text"})
MERGE_BODY = body({"into": ID}, {"into"})
MODERATION = (
    ("approve", "Approve a question", None),
    ("reject", "Reject a question", None),
    ("edit", "Edit a question's text (the original is kept)", EDIT_BODY),
    ("merge", "Merge a duplicate question into another", MERGE_BODY),
    ("pin", "Pin a question to the top", None),
    ("unpin", "Unpin a question", None),
    ("send-back", "Send a question back a step (off air, or back to screening)", None),
    ("on-air", "Put a question on air on every site's screen", None),
    ("answered", "Mark the question on air as answered", None),
    ("archive", "Archive an answered or rejected question", None),
)


def _moderation_handler(action: str, schema: Any) -> Any:
    async def handler(request: web.Request) -> web.Response:
        data: dict[str, Any] = {}
        if schema is not None:
            data = await read_body(request, schema)
        if action == "edit":
            clean_question_text(data["text"])  # refused here, before any lock
        view = await moderation.moderate(
            services(request), principal(request), path_id(request, "question"), action, data
        )
        return web.json_response(view)

    handler.__name__ = f"moderate_{action.replace('-', '_')}"
    return handler


for _action, _summary, _schema in MODERATION:
    routes("POST", f"{QUESTION}/{_action}", _MODERATORS, _summary, "qa", body=_schema)(
        _moderation_handler(_action, _schema)
    )


@routes.json("GET", SESSION + "/on-air", IN_SESSION, "qa")
async def on_air(request: web.Request) -> Answer:
    """Show the question on air and the on-air history"""
    return await service.on_air(services(request), principal(request), path_id(request, "session"))


# --- settings ---------------------------------------------------------------------------------

WORDS = List(Str(min_len=1, max_len=50), max_items=2000)
SETTINGS_BODY = body(
    {
        "moderators_see_identity": Bool(),
        "auto_approve": Bool(),
        "rate_limit": Int(1, 1000),
        "rate_window": Int(1, 86_400),
        "sensitive_words": WORDS,
    },
    set(),
)
WORDS_BODY = body({"words": WORDS}, {"words"})


@routes.json("GET", SESSION + "/qa-settings", _MODERATORS, "qa")
async def get_qa_settings(request: web.Request) -> Answer:
    """Show a session's Q&A settings"""
    return await settings.show_settings(services(request), path_id(request, "session"))


@routes.json_body("PUT", SESSION + "/qa-settings", roles.MANAGERS, "qa", SETTINGS_BODY)
async def put_qa_settings(request: web.Request, data: Body) -> Answer:
    """Change a session's Q&A settings"""
    return await settings.change_settings(
        services(request), principal(request), path_id(request, "session"), data
    )


@routes.json("GET", WORDS_PATH, _MODERATORS, "qa")
async def get_words(request: web.Request) -> Answer:
    """Show the global sensitive-word list"""
    return {"words": await settings.show_words(services(request))}


@routes.json_body("PUT", WORDS_PATH, roles.MANAGERS, "qa", WORDS_BODY)
async def put_words(request: web.Request, data: Body) -> Answer:
    """Replace the global sensitive-word list"""
    return {"words": await settings.replace_words(services(request), data["words"])}


register = routes.register
