"""One query parser: a declared ``Param`` documents a parameter in the OpenAPI document and
parses it in the handler, with the same schema; a bad value is a 400 with a stable code."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from server.core.errors import InvalidInput
from server.web.api import Param
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import expect_error, expect_ok

YEAR = Param("year", {"type": "integer", "minimum": 2000, "maximum": 2100})
FORMAT = Param("format", {"type": "string", "enum": ["json", "csv"], "default": "json"})
DAY = Param("day", {"type": "string", "format": "date"})
FLAG = Param("flag", {"type": "boolean"})
TEXT = Param("q", {"type": "string", "maxLength": 5})


def _parse(param: Param, query: str, default: Any = None) -> Any:
    return param.parse(make_mocked_request("GET", "/x" + query), default)


def _refused(param: Param, query: str) -> str:
    with pytest.raises(InvalidInput) as refused:
        _parse(param, query)
    return refused.value.code


def test_a_whole_number_is_ascii_digits_within_its_bounds() -> None:
    assert _parse(YEAR, "?year=2026") == 2026
    assert _parse(YEAR, "", 2025) == 2025  # absent: the caller's default
    assert _parse(YEAR, "?year=", 2025) == 2025  # empty: the same
    assert _parse(YEAR, "") is None
    for bad in ("²", "%C2%B2", "２０２６", "1999", "2101", "20x6", "2026.0", "-2026"):
        assert _refused(YEAR, f"?year={bad}") == "request.bad_query", bad


def test_enum_date_boolean_and_text_are_checked_against_the_schema() -> None:
    assert _parse(FORMAT, "") == "json"  # the schema's default
    assert _parse(FORMAT, "?format=csv") == "csv"
    assert _refused(FORMAT, "?format=pdf") == "request.bad_query"
    assert _parse(DAY, "?day=2026-03-01") == date(2026, 3, 1)
    for bad in ("2026-3-1", "2026-02-30", "２０２６-03-01", "yesterday"):
        assert _refused(DAY, f"?day={bad}") == "request.bad_query", bad
    assert (_parse(FLAG, "?flag=true"), _parse(FLAG, "?flag=0")) == (True, False)
    assert _refused(FLAG, "?flag=yes please") == "request.bad_query"
    assert _parse(TEXT, "?q=+abc+") == "abc"
    assert _refused(TEXT, "?q=abcdef") == "request.bad_query"
    assert _refused(TEXT, "?q=a%01b") == "request.bad_query"


def test_a_parameter_may_carry_its_own_code_and_be_required() -> None:
    scope = Param("scope", {"type": "string", "enum": ["a"]}, required=True, code="x.bad_scope")
    assert _refused(scope, "?scope=b") == "x.bad_scope"
    assert _refused(scope, "") == "x.bad_scope"


async def test_a_superscript_year_is_a_400_not_a_500(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    path = f"/api/v1/trainees/{world.trainee_id}/transcript"
    await expect_ok(await op.get(path + "?year=2026"))
    for bad in ("²", "²⁰²⁶", "１"):
        await expect_error(await op.get(path, params={"year": bad}), 400, "request.bad_query")
    roster = "/api/v1/trainees/export"
    await expect_error(await op.get(roster, params={"lang": "fr"}), 400, "request.bad_query")


async def test_every_declared_parameter_is_parsed_by_its_declaration(
    client_as: ClientFactory, world: World
) -> None:
    """Leave, completion, write-ups, self-study, the interaction log, the check-in code, the
    reports and the catalogue lists read their query through their declared ``Param``: a bad
    value is a 400 with a stable code (not ignored, not a 500 from the database)."""
    op = await client_as("operator")
    program, session, unit = world.ids["programs"], world.session_id, world.org_unit_id
    too_big = str(2**31)
    refused = [
        ("/api/v1/leave", {"state": "lost"}),
        ("/api/v1/leave", {"program_id": too_big}),
        (f"/api/v1/programs/{program}/honour-list", {"top": "0"}),
        (f"/api/v1/programs/{program}/writeups", {"state": "lost"}),
        (f"/api/v1/programs/{program}/outstanding", {"format": "pdf"}),
        (f"/api/v1/programs/{program}/outstanding", {"org_unit_id": too_big}),
        ("/api/v1/selfstudy/courses/1/completion/export", {"format": "pdf"}),
        (f"/api/v1/sessions/{session}/interaction-log", {"format": "pdf"}),
        (f"/api/v1/sessions/{session}/interaction-log", {"limit": "0"}),
        (f"/api/v1/sessions/{session}/checkin-code", {"site_id": too_big}),
        (f"/api/v1/org-units/{unit}/report", {"from": "2026-02-30"}),
        ("/api/v1/trainees", {"org_unit_id": too_big}),
        ("/api/v1/trainees", {"q": "x" * 101}),
    ]
    for path, query in refused:
        await expect_error(await op.get(path, params=query), 400, "request.bad_query")
    await expect_ok(await op.get("/api/v1/leave", params={"state": "all"}))
    await expect_ok(await op.get(f"/api/v1/programs/{program}/writeups", params={"state": ""}))
    for query in ({}, {"code": "X" * 65}):  # the check's own code, as for a malformed code
        answer = await op.get("/api/v1/verify", params=query)
        await expect_error(answer, 400, "certificate.code_invalid")
