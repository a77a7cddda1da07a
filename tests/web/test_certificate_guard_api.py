"""Certificates over HTTP need a stated bar: while a program has no completion requirements
set nobody is 已结业 and issuing is refused (completion.rules_unset)."""

from __future__ import annotations

from typing import Any

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


async def _one_certificate(
    client_as: ClientFactory, world: World, config: Config
) -> tuple[Any, Any, Any, dict[str, Any]]:
    """The operator, the trainee, an anonymous client, and the trainee's one certificate,
    issued after a past session the trainee attended (rules: half the sessions)."""
    operator, trainee = await client_as("operator"), await client_as("trainee")
    anonymous = await client_as("anonymous")
    program = world.ids["programs"]
    rules = f"/api/v1/programs/{program}/completion-rules"
    await expect_ok(await operator.put(rules, json={"min_attendance_share": 0.5}))
    await _past_session(config, world, attended=True)
    issued = await expect_ok(await operator.post(f"/api/v1/programs/{program}/certificates"), 201)
    assert issued["issued"] == 1
    cert = (await expect_ok(await trainee.get("/api/v1/trainee/certificates")))["items"][0]
    return operator, trainee, anonymous, cert


async def test_a_revoked_certificate_is_not_valid_nor_downloadable(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    operator, trainee, anonymous, cert = await _one_certificate(client_as, world, config)
    program = world.ids["programs"]
    assert cert["revoked"] is False
    assert (await expect_ok(await trainee.get("/api/v1/trainee/todo")))["certificates"] == 1
    pdf = f"/api/v1/certificates/{cert['id']}/pdf"
    assert (await trainee.get(pdf)).status == 200
    revoke = f"/api/v1/certificates/{cert['id']}/revoke"
    await expect_error(
        await operator.post(revoke, json={"reason": "  "}), 400, "certificate.reason_invalid"
    )
    assert (await trainee.post(revoke, json={"reason": "学时记录有误"})).status == 403
    reason = "考勤记录更正后学时不足"
    done = await expect_ok(await operator.post(revoke, json={"reason": reason}))
    assert done["revoked_at"] and done["revoke_reason"] == reason
    await expect_error(
        await operator.post(revoke, json={"reason": "再撤一次"}), 409, "certificate.revoked"
    )
    # The PDF is refused, to the trainee and to the office alike.
    await expect_error(await trainee.get(pdf), 409, "certificate.revoked")
    await expect_error(await operator.get(pdf), 409, "certificate.revoked")
    # The public check says it is revoked, not valid (the reason stays with the office).
    checked = await expect_ok(await anonymous.get(f"/api/v1/verify?code={cert['code']}"))
    assert checked["valid"] is False and checked["revoked"] is True
    assert checked["revoked_on"] and "reason" not in str(checked)
    mine = (await expect_ok(await trainee.get("/api/v1/trainee/certificates")))["items"]
    assert [c["revoked"] for c in mine] == [True]
    # ... and is no longer counted among the trainee's certificates.
    assert (await expect_ok(await trainee.get("/api/v1/trainee/todo")))["certificates"] == 0
    listed = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion"))
    me = next(i for i in listed["items"] if i["trainee_id"] == world.trainee_id)
    assert me["certificate"]["revoked_at"] and me["certificate"]["revoke_reason"] == reason
    # Revoking is audited, with the reason.
    trail = await expect_ok(
        await operator.get("/api/v1/audit", params={"action": "revoke", "entity": "certificate"})
    )
    assert [(e["entity_id"], e["reason"]) for e in trail["items"]] == [(str(cert["id"]), reason)]
    # Issuing again does not hand the revoked trainee a fresh certificate behind the office's back.
    again = await expect_ok(await operator.post(f"/api/v1/programs/{program}/certificates"), 201)
    assert again["issued"] == 0


async def test_certificates_revoked_together_all_or_none_each_audited(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    operator, trainee, anonymous, cert = await _one_certificate(client_as, world, config)
    many = "/api/v1/certificates/revoke"
    reason = "批量核查：学时记录有误"
    assert (await trainee.post(many, json={"ids": [cert["id"]], "reason": reason})).status == 403
    await expect_error(
        await operator.post(many, json={"ids": [cert["id"]], "reason": " "}),
        400,
        "certificate.reason_invalid",
    )
    r = await operator.post(many, json={"ids": [], "reason": reason})
    assert r.status == 400
    # One unknown certificate among them: nothing is revoked.
    r = await operator.post(many, json={"ids": [cert["id"], 999_999], "reason": reason})
    assert r.status == 404
    checked = await expect_ok(await anonymous.get(f"/api/v1/verify?code={cert['code']}"))
    assert checked["valid"] is True
    done = await expect_ok(await operator.post(many, json={"ids": [cert["id"]], "reason": reason}))
    assert [(c["id"], c["revoke_reason"]) for c in done["revoked"]] == [(cert["id"], reason)]
    checked = await expect_ok(await anonymous.get(f"/api/v1/verify?code={cert['code']}"))
    assert checked["valid"] is False and checked["revoked"] is True
    await expect_error(
        await operator.post(many, json={"ids": [cert["id"]], "reason": reason}),
        409,
        "certificate.revoked",
    )
    trail = await expect_ok(
        await operator.get("/api/v1/audit", params={"action": "revoke", "entity": "certificate"})
    )
    assert [(e["entity_id"], e["reason"]) for e in trail["items"]] == [(str(cert["id"]), reason)]
