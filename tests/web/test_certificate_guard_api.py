"""Certificates over HTTP need a stated bar: while a program has no completion requirements
set nobody is 已结业 and issuing is refused (completion.rules_unset)."""

from __future__ import annotations

from server.config import Config
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import expect_error, expect_ok
from tests.web.test_leave_completion_api import _past_session


async def test_no_certificate_while_the_program_has_no_requirements(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    operator, trainee = await client_as("operator"), await client_as("trainee")
    program = world.ids["programs"]
    await _past_session(config, world, attended=False)  # 0 hours, 0% attendance
    listed = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion"))
    assert listed["requirements_set"] is False and listed["rules"]["min_hours"] is None
    assert listed["total"] >= 1 and listed["completed"] == 0
    for item in listed["items"]:
        assert item["completed"] is False
        assert [m["what"] for m in item["missing"]] == ["requirements"]
    await expect_error(
        await operator.post(f"/api/v1/programs/{program}/certificates"),
        409,
        "completion.rules_unset",
    )
    assert (await expect_ok(await trainee.get("/api/v1/trainee/certificates")))["items"] == []
    board = await expect_ok(await operator.get(f"/api/v1/programs/{program}/honour-list"))
    assert board["items"] == []
    # The leave limit alone is no requirement; an attendance share is.
    rules = f"/api/v1/programs/{program}/completion-rules"
    await expect_ok(await operator.put(rules, json={"leave_limit_num": 1, "leave_limit_den": 5}))
    listed = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion"))
    assert listed["requirements_set"] is False and listed["completed"] == 0
    await expect_ok(await operator.put(rules, json={"min_attendance_share": 0.75}))
    listed = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion"))
    assert listed["requirements_set"] is True
    me = next(i for i in listed["items"] if i["trainee_id"] == world.trainee_id)
    assert me["completed"] is False and [m["what"] for m in me["missing"]] == ["attendance"]
    issued = await expect_ok(await operator.post(f"/api/v1/programs/{program}/certificates"), 201)
    assert issued["issued"] == 0
