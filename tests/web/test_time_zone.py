"""One configured time zone for everything a person reads (issue 15.10): the pages ask the
server for it, and the exports use it. Here a deployment set to Tokyo time."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from server.config import Config, load_config
from server.core.errors import InvalidInput
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import expect_ok as _ok

TOKYO = timezone(timedelta(hours=9))


@pytest.fixture
def config(config: Config) -> Config:
    return replace(config, time_zone="Asia/Tokyo")


async def test_pages_and_exports_use_the_configured_zone(
    client_as: ClientFactory, world: World
) -> None:
    anyone, op = await client_as("anonymous"), await client_as("operator")
    told = await _ok(await anyone.get("/api/v1/time"))
    assert told["time_zone"] == "Asia/Tokyo" and told["utc_offset_minutes"] == 540
    assert datetime.fromisoformat(told["now"]).utcoffset() == timedelta(hours=9)
    session = await _ok(await op.get(f"/api/v1/sessions/{world.session_id}"))
    r = await op.get(f"/api/v1/sessions/{world.session_id}/report?format=xlsx")
    book = load_workbook(io.BytesIO(await r.read()))
    plan = {row[0].value: row[1].value for row in book["课次信息"].iter_rows(min_row=2)}
    assert plan["时区"] == "Asia/Tokyo"
    tokyo = datetime.fromisoformat(session["starts_at"]).astimezone(TOKYO).replace(tzinfo=None)
    assert abs((plan["计划开始"] - tokyo).total_seconds()) < 1


def test_the_default_is_beijing_time_and_an_unknown_zone_is_refused() -> None:
    assert load_config(env={}).time_zone == "Asia/Shanghai"
    assert datetime(2026, 12, 6, tzinfo=load_config(env={}).zone).utcoffset() == timedelta(hours=8)
    with pytest.raises(InvalidInput) as info:
        load_config(env={"CLASSROOM_TIME_ZONE": "Beijing"})
    assert info.value.code == "config.invalid"
