"""Polls and quizzes, quiz scores, the needs survey and feedback over HTTP: thin handlers,
each declared on its route (the rules: ``server.core.quiz``; the store: ``service``,
``surveys``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core import quiz as quiz_core
from server.core import roles
from server.core.validation import Dict, Float, Int, List, Optional, Str, validate
from server.core.validation import Enum as OneOf
from server.web.api import Routes, body
from server.web.interaction.http import services
from server.web.keys import principal
from server.web.polls import service, surveys
from server.web.resources import path_id, read_json

routes = Routes()
SESSION = "/api/v1/sessions/{id}"
POLL = "/api/v1/polls/{id}"
PROGRAM_SURVEY = "/api/v1/programs/{id}/needs-survey"
_MODERATORS = roles.STAFF
_IN_SESSION = roles.STAFF | roles.TRAINEES | roles.AGENTS

# --- polls and quizzes ------------------------------------------------------------------------

POLL_BODY = body(
    {
        "prompt": Str(min_len=1, max_len=500),
        "options": List(Str(min_len=1, max_len=200), max_items=20),
        "mode": OneOf(*[m.value for m in quiz_core.ChoiceMode]),
        "correct": Optional(List(Int(0, 19), max_items=20)),
    },
    {"prompt", "options"},
)
LAUNCH_BODY = body({"time_limit": Optional(Float(1, 86_400))}, set())
ANSWER_BODY = body({"choices": List(Int(0, 1000), max_items=20)}, {"choices"})


@routes(
    "POST",
    SESSION + "/polls",
    _MODERATORS,
    "Create a poll or quiz question",
    "polls",
    body=POLL_BODY,
    status=201,
)
async def create_poll(request: web.Request) -> web.Response:
    data = validate(POLL_BODY, await read_json(request), path="body")
    view = await service.create_poll(
        services(request), principal(request), path_id(request, "session"), data
    )
    return web.json_response(view, status=201)


@routes("GET", SESSION + "/polls", _IN_SESSION, "List a session's polls and quizzes", "polls")
async def list_polls(request: web.Request) -> web.Response:
    items = await service.list_polls(
        services(request), principal(request), path_id(request, "session")
    )
    return web.json_response({"items": items})


@routes("GET", POLL, _IN_SESSION, "Show a poll with its live tally", "polls")
async def get_poll(request: web.Request) -> web.Response:
    view = await service.show_poll(services(request), principal(request), path_id(request, "poll"))
    return web.json_response(view)


@routes(
    "POST",
    POLL + "/launch",
    _MODERATORS,
    "Launch a poll live, optionally with a time limit",
    "polls",
    body=LAUNCH_BODY,
)
async def launch_poll(request: web.Request) -> web.Response:
    data: dict[str, Any] = {}
    if request.can_read_body:
        data = validate(LAUNCH_BODY, await read_json(request), path="body")
    view = await service.change_poll(
        services(request),
        principal(request),
        path_id(request, "poll"),
        quiz_core.PollAction.LAUNCH,
        data.get("time_limit"),
    )
    return web.json_response(view)


@routes("POST", POLL + "/close", _MODERATORS, "Close a poll", "polls")
async def close_poll(request: web.Request) -> web.Response:
    view = await service.change_poll(
        services(request), principal(request), path_id(request, "poll"), quiz_core.PollAction.CLOSE
    )
    return web.json_response(view)


@routes(
    "POST",
    POLL + "/answers",
    roles.TRAINEES,
    "Answer a live poll or quiz",
    "polls",
    body=ANSWER_BODY,
    status=201,
)
async def answer_poll(request: web.Request) -> web.Response:
    """A trainee in the room answers once; the live tally is published per site."""
    data = validate(ANSWER_BODY, await read_json(request), path="body")
    answer = await service.answer_poll(
        services(request), principal(request), path_id(request, "poll"), data["choices"]
    )
    return web.json_response(answer, status=201)


@routes(
    "GET",
    "/api/v1/trainees/{id}/quiz-scores",
    roles.MANAGERS,
    "Show a trainee's quiz scores",
    "polls",
)
async def trainee_quiz_scores(request: web.Request) -> web.Response:
    return web.json_response(
        await service.quiz_scores(services(request), path_id(request, "trainee"))
    )


@routes(
    "GET",
    "/api/v1/trainee/quiz-scores",
    roles.TRAINEES,
    "Show the trainee's own quiz scores",
    "polls",
)
async def own_quiz_scores(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    return web.json_response(await service.quiz_scores(services(request), who.trainee_id))


# --- needs survey and feedback ----------------------------------------------------------------

SURVEY_BODY = body({"topics": List(Str(min_len=1, max_len=100), max_items=50)}, {"topics"})
RESPONSE_BODY = body(
    {
        "ranking": List(Str(min_len=1, max_len=100), max_items=50),
        "needs_text": Str(max_len=5000),
    },
    {"ranking"},
)
FEEDBACK_BODY = body(
    {
        "course_rating": Int(-1000, 1000),
        "lecturer_ratings": Dict(Str(min_len=1, max_len=100), Int(-1000, 1000), max_items=20),
        "comment": Str(max_len=5000),
    },
    {"course_rating"},
)


@routes(
    "PUT",
    PROGRAM_SURVEY,
    roles.MANAGERS,
    "Set up a program's needs survey",
    "surveys",
    body=SURVEY_BODY,
)
async def put_survey(request: web.Request) -> web.Response:
    data = validate(SURVEY_BODY, await read_json(request), path="body")
    view = await surveys.put_survey(
        services(request), principal(request), path_id(request, "program"), data["topics"]
    )
    return web.json_response(view)


@routes(
    "GET",
    PROGRAM_SURVEY,
    roles.STAFF | roles.TRAINEES,
    "Show a needs survey (staff: the ranked needs)",
    "surveys",
)
async def get_survey(request: web.Request) -> web.Response:
    view = await surveys.show_survey(
        services(request), principal(request), path_id(request, "program")
    )
    return web.json_response(view)


@routes(
    "POST",
    PROGRAM_SURVEY + "/response",
    roles.TRAINEES,
    "Answer a program's needs survey",
    "surveys",
    body=RESPONSE_BODY,
)
async def respond_survey(request: web.Request) -> web.Response:
    data = validate(RESPONSE_BODY, await read_json(request), path="body")
    view = await surveys.respond_survey(
        services(request),
        principal(request),
        path_id(request, "program"),
        data["ranking"],
        data.get("needs_text", ""),
    )
    return web.json_response(view)


@routes(
    "POST",
    SESSION + "/feedback",
    roles.TRAINEES,
    "Give feedback on a session",
    "surveys",
    body=FEEDBACK_BODY,
)
async def submit_feedback(request: web.Request) -> web.Response:
    data = validate(FEEDBACK_BODY, await read_json(request), path="body")
    view = await surveys.submit_feedback(
        services(request), principal(request), path_id(request, "session"), data
    )
    return web.json_response(view)


@routes(
    "GET", SESSION + "/feedback", _MODERATORS, "Show a session's aggregated feedback", "surveys"
)
async def feedback_summary(request: web.Request) -> web.Response:
    view = await surveys.feedback_summary(services(request), path_id(request, "session"))
    return web.json_response(view)


register = routes.register
