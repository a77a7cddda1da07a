"""The batch-plan endpoints of a course: plan, show, move, swap, publish.

Thin: parse the request, call :mod:`server.web.batches.service`, answer.
"""

from __future__ import annotations

from aiohttp import web

from server.core import roles
from server.core.validation import Bool, Float, List, Map, Optional, Str, validate
from server.web.api import ID, Routes, body
from server.web.batches import service
from server.web.keys import SESSIONS, principal
from server.web.resources import path_id, read_json

PLAN = "/api/v1/courses/{id}/batch-plan"

routes = Routes()
register = routes.register

PLAN_BODY = body(
    {
        "org_unit_ids": List(ID, max_items=5000),
        "on_duty_share": Float(0, 1),
        "keep_apart": List(List(ID, max_items=2, min_items=2), max_items=20_000),
        "unavailable": List(
            Map(
                {"trainee_id": ID, "session_id": ID, "reason": Optional(Str(max_len=200))},
                extra="reject",
            ),
            max_items=50_000,
        ),
        "use_site_capacity": Bool(),
    },
    required=set(),
)
MOVE_BODY = body({"trainee_id": ID, "session_id": ID}, {"trainee_id", "session_id"})
SWAP_BODY = body({"trainee_a": ID, "trainee_b": ID}, {"trainee_a", "trainee_b"})


@routes(
    "POST",
    PLAN,
    roles.MANAGERS,
    "Plan the staggered batches of a course and save them as the draft plan",
    "batches",
    body=PLAN_BODY,
    status=201,
)
async def create_batch_plan(request: web.Request) -> web.Response:
    """Run the planner over the course's sessions and save the result as the draft plan."""
    data = validate(PLAN_BODY, await read_json(request), path="body")
    view = await service.create_plan(
        request.app[SESSIONS], principal(request), path_id(request, "course"), data
    )
    return web.json_response(view, status=201)


@routes(
    "GET",
    PLAN,
    roles.MANAGERS,
    "Show a course's batch plan: units by batches, leaders, on-duty share, violations",
    "batches",
)
async def get_batch_plan(request: web.Request) -> web.Response:
    view = await service.current_plan(request.app[SESSIONS], path_id(request, "course"))
    return web.json_response(view)


async def _change(request: web.Request, how: str) -> web.Response:
    data = validate(
        MOVE_BODY if how == "move" else SWAP_BODY, await read_json(request), path="body"
    )
    view = await service.change_plan(
        request.app[SESSIONS], principal(request), path_id(request, "course"), how, data
    )
    return web.json_response(view)


@routes(
    "POST",
    PLAN + "/move",
    roles.MANAGERS,
    "Move a trainee to another batch of the plan (re-validated)",
    "batches",
    body=MOVE_BODY,
)
async def move_in_plan(request: web.Request) -> web.Response:
    return await _change(request, "move")


@routes(
    "POST",
    PLAN + "/swap",
    roles.MANAGERS,
    "Swap two trainees' batches in the plan (re-validated)",
    "batches",
    body=SWAP_BODY,
)
async def swap_in_plan(request: web.Request) -> web.Response:
    return await _change(request, "swap")


@routes(
    "POST",
    PLAN + "/publish",
    roles.MANAGERS,
    "Publish the draft batch plan as the course's roster",
    "batches",
)
async def publish_plan(request: web.Request) -> web.Response:
    """Publish the draft: it becomes the roster of the course's sessions."""
    view = await service.publish(
        request.app[SESSIONS], principal(request), path_id(request, "course")
    )
    return web.json_response(view)
