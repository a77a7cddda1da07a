"""Polls and quizzes, quiz scores, the needs survey and feedback over HTTP: thin handlers,
each declared on its route (the rules: ``server.core.quiz``; the store: ``service``,
``surveys``)."""

from __future__ import annotations

from aiohttp import web

from server.core import quiz as quiz_core
from server.core import roles
from server.core.validation import Dict, Float, Int, List, Optional, Str
from server.core.validation import Enum as OneOf
from server.web.api import Answer, Body, Routes, body, read_body
from server.web.interaction.http import IN_SESSION, SESSION, services
from server.web.keys import principal
from server.web.polls import service, surveys
from server.web.resources import path_id

routes = Routes()
POLL = "/api/v1/polls/{id}"
PROGRAM_SURVEY = "/api/v1/programs/{id}/needs-survey"
_MODERATORS = roles.STAFF

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


@routes.json_body("POST", SESSION + "/polls", _MODERATORS, "polls", POLL_BODY, status=201)
async def create_poll(request: web.Request, data: Body) -> Answer:
    """Create a poll or quiz question"""
    return await service.create_poll(
        services(request), principal(request), path_id(request, "session"), data
    )


@routes.json("GET", SESSION + "/polls", IN_SESSION, "polls")
async def list_polls(request: web.Request) -> Answer:
    """List a session's polls and quizzes"""
    items = await service.list_polls(
        services(request), principal(request), path_id(request, "session")
    )
    return {"items": items}


@routes.json("GET", POLL, IN_SESSION, "polls")
async def get_poll(request: web.Request) -> Answer:
    """Show a poll with its live tally"""
    return await service.show_poll(services(request), principal(request), path_id(request, "poll"))


@routes.json("POST", POLL + "/launch", _MODERATORS, "polls", body=LAUNCH_BODY)
async def launch_poll(request: web.Request) -> Answer:
    """Launch a poll live, optionally with a time limit

    The body is optional: without one, the poll has no time limit."""
    data = await read_body(request, LAUNCH_BODY) if request.can_read_body else {}
    return await service.change_poll(
        services(request),
        principal(request),
        path_id(request, "poll"),
        quiz_core.PollAction.LAUNCH,
        data.get("time_limit"),
    )


@routes.json("POST", POLL + "/close", _MODERATORS, "polls")
async def close_poll(request: web.Request) -> Answer:
    """Close a poll"""
    return await service.change_poll(
        services(request), principal(request), path_id(request, "poll"), quiz_core.PollAction.CLOSE
    )


@routes.json_body("POST", POLL + "/answers", roles.TRAINEES, "polls", ANSWER_BODY, status=201)
async def answer_poll(request: web.Request, data: Body) -> Answer:
    """Answer a live poll or quiz

    A trainee in the room answers once; the live tally is published per site."""
    return await service.answer_poll(
        services(request), principal(request), path_id(request, "poll"), data["choices"]
    )


@routes.json("GET", "/api/v1/trainees/{id}/quiz-scores", roles.MANAGERS, "polls")
async def trainee_quiz_scores(request: web.Request) -> Answer:
    """Show a trainee's quiz scores"""
    return await service.quiz_scores(services(request), path_id(request, "trainee"))


@routes.json("GET", "/api/v1/trainee/quiz-scores", roles.TRAINEES, "polls")
async def own_quiz_scores(request: web.Request) -> Answer:
    """Show the trainee's own quiz scores"""
    who = principal(request)
    assert who.trainee_id is not None
    return await service.quiz_scores(services(request), who.trainee_id)


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


@routes.json_body("PUT", PROGRAM_SURVEY, roles.MANAGERS, "surveys", SURVEY_BODY)
async def put_survey(request: web.Request, data: Body) -> Answer:
    """Set up a program's needs survey"""
    return await surveys.put_survey(
        services(request), principal(request), path_id(request, "program"), data["topics"]
    )


@routes.json("GET", PROGRAM_SURVEY, roles.STAFF | roles.TRAINEES, "surveys")
async def get_survey(request: web.Request) -> Answer:
    """Show a needs survey (staff: the ranked needs)"""
    return await surveys.show_survey(
        services(request), principal(request), path_id(request, "program")
    )


@routes.json_body("POST", PROGRAM_SURVEY + "/response", roles.TRAINEES, "surveys", RESPONSE_BODY)
async def respond_survey(request: web.Request, data: Body) -> Answer:
    """Answer a program's needs survey"""
    return await surveys.respond_survey(
        services(request),
        principal(request),
        path_id(request, "program"),
        data["ranking"],
        data.get("needs_text", ""),
    )


@routes.json_body("POST", SESSION + "/feedback", roles.TRAINEES, "surveys", FEEDBACK_BODY)
async def submit_feedback(request: web.Request, data: Body) -> Answer:
    """Give feedback on a session"""
    return await surveys.submit_feedback(
        services(request), principal(request), path_id(request, "session"), data
    )


@routes.json("GET", SESSION + "/feedback", _MODERATORS, "surveys")
async def feedback_summary(request: web.Request) -> Answer:
    """Show a session's aggregated feedback"""
    return await surveys.feedback_summary(services(request), path_id(request, "session"))


register = routes.register
