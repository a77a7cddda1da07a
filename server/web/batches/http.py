"""The batch-plan endpoints of a course: plan, show, move, swap, publish.

Thin: parse the request, call :mod:`server.web.batches.service`, answer.
"""

from __future__ import annotations

from aiohttp import web

from server.core import roles
from server.core.validation import Bool, Float, List, Map, Optional, Str
from server.web.api import ID, Answer, Body, Routes, body
from server.web.batches import service
from server.web.keys import SESSIONS, principal
from server.web.resources import path_id

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


@routes.json_body("POST", PLAN, roles.MANAGERS, "batches", PLAN_BODY, status=201)
async def create_batch_plan(request: web.Request, data: Body) -> Answer:
    """Plan the staggered batches of a course and save them as the draft plan

    The planner runs over the course's sessions."""
    who = principal(request)
    return await service.create_plan(request.app[SESSIONS], who, path_id(request, "course"), data)


@routes.json("GET", PLAN, roles.MANAGERS, "batches")
async def get_batch_plan(request: web.Request) -> Answer:
    """Show a course's batch plan: units by batches, leaders, on-duty share, violations

    A course without a plan yet answers status "none": its sessions, nobody placed."""
    return await service.current_plan(request.app[SESSIONS], path_id(request, "course"))


async def _change(request: web.Request, how: str, data: Body) -> Answer:
    who = principal(request)
    course_id = path_id(request, "course")
    return await service.change_plan(request.app[SESSIONS], who, course_id, how, data)


@routes.json_body("POST", PLAN + "/move", roles.MANAGERS, "batches", MOVE_BODY)
async def move_in_plan(request: web.Request, data: Body) -> Answer:
    """Move a trainee to another batch of the plan (re-validated)"""
    return await _change(request, "move", data)


@routes.json_body("POST", PLAN + "/swap", roles.MANAGERS, "batches", SWAP_BODY)
async def swap_in_plan(request: web.Request, data: Body) -> Answer:
    """Swap two trainees' batches in the plan (re-validated)"""
    return await _change(request, "swap", data)


@routes.json("POST", PLAN + "/publish", roles.MANAGERS, "batches")
async def publish_plan(request: web.Request) -> Answer:
    """Publish the draft batch plan as the course's roster

    It becomes the roster of the course's sessions."""
    return await service.publish(
        request.app[SESSIONS], principal(request), path_id(request, "course")
    )
