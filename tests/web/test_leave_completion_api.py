"""Leave, write-ups, completion, certificates and reminders over HTTP, on a real server."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from openpyxl import load_workbook
from sqlalchemy import select

from server.config import Config
from server.core.ledger import Interval
from server.core.selfstudy import Progress, progress_to_json
from server.store import db as store_db
from server.store.attendance_models import RecordKind
from server.store.models import ClassSession, Course, User, utcnow
from server.store.selfstudy_models import SelfStudyCourse, SelfStudyProgress
from server.web.checkin.records import new_row, store_core, to_core
from tests.conftest import ClientFactory, World
from tests.seed import add_lecture
from tests.web.http_helpers import expect_error, expect_ok

WRITEUP = (
    "通过学习新发展理念，我在本单位推动了两项改进：一是优化审批流程，二是建立月度学习例会制度。" * 2
)


async def _past_session(config: Config, world: World, attended: bool) -> int:
    """A session of the world's program that ended an hour ago (3 h, so 4 class hours)."""
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        course = await db.get(Course, world.ids["courses"])
        assert course is not None
        now = utcnow()
        live = await db.get(ClassSession, world.session_id)
        assert live is not None
        starts, ends = now - timedelta(hours=4), now - timedelta(hours=1)
        past = await add_lecture(db, course.id, "已结束的一场", starts, ends, live.sites)
        if attended:  # checked in at the start, still in when the session closed
            row = new_row(world.trainee_id, past.id, world.site_id, RecordKind.REGULAR)
            record = to_core(row).check_in(past.starts_at.timestamp())
            store_core(row, record.close_at(past.ends_at.timestamp()))
            db.add(row)
        past_id = past.id
    await engine.dispose()
    return past_id


async def _user_id(config: Config, name: str) -> int:
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db:
        found = await db.scalar(select(User.id).where(User.username == name))
    await engine.dispose()
    assert found is not None
    return int(found)


async def test_leave_is_asked_decided_by_the_unit_contact_and_flagged_by_the_one_seventh_rule(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    trainee, operator = await client_as("trainee"), await client_as("operator")
    moderator = await client_as("moderator")
    mine = await expect_ok(await trainee.get("/api/v1/trainee/leave"))
    assert [s["id"] for s in mine["sessions"]] == [world.session_id]
    assert mine["sessions"][0]["room"] == "海曙分课堂"
    await expect_error(
        await trainee.post(
            "/api/v1/trainee/leave", json={"session_ids": [world.session_id], "reason": " "}
        ),
        400,
        "leave_reason.empty",
    )
    asked = await expect_ok(
        await trainee.post(
            "/api/v1/trainee/leave",
            json={"session_ids": [world.session_id], "reason": "赴外地参加防汛值班"},
        ),
        201,
    )
    assert asked["state"] == "requested" and asked["sessions"][0]["id"] == world.session_id
    # a moderator who is no unit contact sees nothing and decides nothing
    assert (await expect_ok(await moderator.get("/api/v1/leave")))["items"] == []
    await expect_error(
        await moderator.post(f"/api/v1/leave/{asked['id']}/decide", json={"decision": "approve"}),
        403,
        "leave.not_your_unit",
    )
    # the office sees the request: approving it would pass the 1/7 limit (one session of one)
    listed = await expect_ok(await operator.get("/api/v1/leave"))
    standing = listed["items"][0]["standing"]
    assert listed["items"][0]["trainee"]["name"] == "张伟"
    assert standing["over_before"] is False and standing["over_after"] is True
    # the operator names the moderator contact of the trainee's unit: now they decide
    mod_id = await _user_id(config, "moderator")
    await expect_ok(
        await operator.put(
            f"/api/v1/org-units/{world.org_unit_id}/contacts", json={"user_ids": [mod_id]}
        )
    )
    contacts = await expect_ok(
        await operator.get(f"/api/v1/org-units/{world.org_unit_id}/contacts")
    )
    assert [c["username"] for c in contacts["items"]] == ["moderator"]
    seen = await expect_ok(await moderator.get("/api/v1/leave"))
    assert [i["id"] for i in seen["items"]] == [asked["id"]] and seen["office"] is False
    approved = await expect_ok(
        await moderator.post(
            f"/api/v1/leave/{asked['id']}/decide", json={"decision": "approve", "note": "同意"}
        )
    )
    assert approved["state"] == "approved" and approved["note"] == "同意"
    report = await expect_ok(await operator.get(f"/api/v1/sessions/{world.session_id}/report"))
    (line,) = [p for p in report["trainees"] if p["trainee_id"] == world.trainee_id]
    assert line["status"] == "leave" and report["totals"]["leave"] == 1
    assert report["totals"]["absent"] == 0 and report["totals"]["pending"] == 0
    sheet = await operator.get(f"/api/v1/sessions/{world.session_id}/report?format=xlsx")
    book = load_workbook(io.BytesIO(await sheet.read()))
    detail = list(book["考勤明细"].iter_rows(values_only=True))
    assert detail[0][5] == "出勤情况" and detail[1][5] == "请假"
    await expect_error(
        await operator.post(f"/api/v1/leave/{asked['id']}/decide", json={"decision": "refuse"}),
        409,
        "leave.not_allowed",
    )
    program = world.ids["programs"]
    shares = await expect_ok(await operator.get(f"/api/v1/programs/{program}/leave"))
    assert shares["limit"] == "1/7"
    assert shares["items"][0]["flagged"] and shares["items"][0]["over_before"]
    todo = await expect_ok(await trainee.get("/api/v1/trainee/todo"))
    kinds = [i["kind"] for i in todo["programs"][0]["items"]]
    assert "live" not in kinds  # the only coming session is on leave
    assert ("leave", "approved") in [(i["kind"], i["state"]) for i in todo["programs"][0]["items"]]
    withdrawn = await expect_ok(await trainee.post(f"/api/v1/leave/{asked['id']}/withdraw"))
    assert withdrawn["state"] == "withdrawn"


def _qr_link(pdf: bytes, tmp_path: Path) -> str:
    """What a phone reads from the certificate's QR: the PDF rendered (pdftoppm) and decoded
    (zbarimg), both installed by deploy/test-services.sh."""
    pdftoppm, zbarimg = shutil.which("pdftoppm"), shutil.which("zbarimg")
    assert pdftoppm and zbarimg, "install poppler-utils and zbar-tools (deploy/test-services.sh)"
    (tmp_path / "c.pdf").write_bytes(pdf)
    subprocess.run(
        [
            pdftoppm,
            "-r",
            "100",
            "-png",
            "-singlefile",
            str(tmp_path / "c.pdf"),
            str(tmp_path / "c"),
        ],
        check=True,
        timeout=60,
    )
    out = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(tmp_path / "c.png")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


async def test_write_up_completion_certificate_and_public_check(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    trainee, operator = await client_as("trainee"), await client_as("operator")
    anonymous = await client_as("anonymous")
    program = world.ids["programs"]
    await expect_ok(
        await operator.put(
            f"/api/v1/programs/{program}/completion-rules",
            json={"min_hours": 4, "writeup_required": True, "min_attendance_share": 0.5},
        )
    )
    reading = await expect_ok(
        await operator.post(
            f"/api/v1/programs/{program}/readings",
            json={"title": "习近平谈治国理政", "author": "习近平", "link": "https://example.org/b"},
        ),
        201,
    )
    await expect_error(
        await operator.post(
            f"/api/v1/programs/{program}/readings", json={"title": "x", "link": "ftp://x"}
        ),
        400,
        "reading.link_invalid",
    )
    material = await expect_ok(
        await operator.post(f"/api/v1/programs/{program}/readings", json={"title": "案例选编"}),
        201,
    )
    uploaded = await expect_ok(
        await operator.post(
            f"/api/v1/readings/{material['id']}/file",
            data={"file": io.BytesIO(b"%PDF-1.4\n% cases\n")},
        )
    )
    assert uploaded["has_file"] is True
    await expect_error(
        await operator.post(
            f"/api/v1/readings/{reading['id']}/file", data={"file": io.BytesIO(b"%PDF-1.4\n")}
        ),
        400,
        "reading.link_or_file",
    )
    shelf = await expect_ok(await trainee.get(f"/api/v1/programs/{program}/readings"))
    assert [r["title"] for r in shelf["items"]] == ["习近平谈治国理政", "案例选编"]
    book = await trainee.get(f"/api/v1/readings/{material['id']}/file")
    assert book.status == 200 and (await book.read()).startswith(b"%PDF-")
    view = await expect_ok(await trainee.get("/api/v1/trainee/writeup"))
    assert view["open"] is False and view["readings"][0]["id"] == reading["id"]
    assert view["program"]["name"] == "周末知行学堂"
    body = {"program_id": program, "text": WRITEUP}
    await expect_error(
        await trainee.post("/api/v1/trainee/writeup", json=body), 409, "writeup.not_open"
    )
    await _past_session(config, world, attended=True)
    await expect_error(
        await trainee.post("/api/v1/trainee/writeup", json={**body, "text": "太短"}),
        400,
        "writeup_text.too_short",
    )
    sent = await expect_ok(await trainee.post("/api/v1/trainee/writeup", json=body))
    assert sent["state"] == "submitted"
    exe = {"file": io.BytesIO(b"MZ\x90\x00not a pdf")}
    await expect_error(
        await trainee.post(f"/api/v1/trainee/writeup/file?program_id={program}", data=exe),
        400,
        "writeup.file_type",
    )
    pdf = {"file": io.BytesIO(b"%PDF-1.4\n% a tiny attachment\n")}
    attached = await expect_ok(
        await trainee.post(f"/api/v1/trainee/writeup/file?program_id={program}", data=pdf)
    )
    assert attached["file_size"] > 0
    got = await operator.get(f"/api/v1/writeups/{sent['id']}/file")
    assert got.status == 200 and (await got.read()).startswith(b"%PDF-")
    listed = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion"))
    me = next(i for i in listed["items"] if i["trainee_id"] == world.trainee_id)
    assert me["completed"] is False and [m["what"] for m in me["missing"]] == ["writeup"]
    board = await expect_ok(await operator.get(f"/api/v1/programs/{program}/honour-list"))
    assert board["items"] == []  # the honour list has only those who completed
    assert me["live_hours"] == 4.0
    rules = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion-rules"))
    assert rules["leave_limit"] == "1/7" and rules["min_hours"] == 4
    marking = await expect_ok(await operator.get(f"/api/v1/programs/{program}/writeups"))
    assert [w["trainee"]["name"] for w in marking["items"]] == ["张伟"]
    await expect_error(
        await operator.post(f"/api/v1/writeups/{sent['id']}/mark", json={"mark": "revise"}),
        400,
        "writeup_comment.empty",
    )
    await expect_ok(
        await operator.post(f"/api/v1/writeups/{sent['id']}/mark", json={"mark": "accept"})
    )
    board = await expect_ok(await operator.get(f"/api/v1/programs/{program}/honour-list"))
    assert [e["name"] for e in board["items"]] == ["张伟"] and board["items"][0]["rank"] == 1
    issued = await expect_ok(await operator.post(f"/api/v1/programs/{program}/certificates"), 201)
    assert issued["issued"] == 1
    again = await expect_ok(await operator.post(f"/api/v1/programs/{program}/certificates"), 201)
    assert again["issued"] == 0
    certs = await expect_ok(await trainee.get("/api/v1/trainee/certificates"))
    cert = certs["items"][0]
    assert len(cert["code"]) == 16
    download = await trainee.get(f"/api/v1/certificates/{cert['id']}/pdf")
    assert download.status == 200 and download.content_type == "application/pdf"
    link = _qr_link(await download.read(), tmp_path)
    path = urlparse(link).path
    assert path == f"/verify/{cert['code']}"
    page = await anonymous.get(path)
    assert page.status == 200 and "text/html" in page.content_type
    checked = await expect_ok(await anonymous.get(f"/api/v1/verify?code={cert['code']}"))
    assert checked == {
        "valid": True,
        "code": cert["code"],
        "name": "张*",
        "program": "周末知行学堂",
        "hours": 4.0,
        "issued_on": checked["issued_on"],
        "revoked": False,
        "revoked_on": None,
    }
    await expect_error(
        await anonymous.get("/api/v1/verify?code=AAAAAAAAAAAAAAAA"), 404, "certificate.unknown"
    )
    await expect_error(
        await anonymous.get("/api/v1/verify?code=abc"), 400, "certificate.code_invalid"
    )


async def test_unknown_codes_are_rate_limited(client_as: ClientFactory) -> None:
    anonymous = await client_as("anonymous")
    statuses = []
    for n in range(22):
        r = await anonymous.get(f"/api/v1/verify?code=AAAAAAAAAAAAAA{chr(65 + n % 26)}A")
        statuses.append(r.status)
    assert statuses[:20] == [404] * 20 and statuses[-1] == 429


async def test_the_office_exports_who_has_not_done_what(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    operator = await client_as("operator")
    program = world.ids["programs"]
    await expect_ok(
        await operator.put(
            f"/api/v1/programs/{program}/completion-rules", json={"writeup_required": True}
        )
    )
    await _past_session(config, world, attended=False)
    r = await operator.get(f"/api/v1/programs/{program}/outstanding?format=xlsx")
    assert r.status == 200, await r.text()
    sheet = load_workbook(io.BytesIO(await r.read())).active
    assert sheet is not None
    rows: list[Any] = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("单位", "工号", "姓名", "事项")
    body = {(row[2], row[3]) for row in rows[1:]}
    assert ("张伟", "集中授课") in body and ("张伟", "学用成果") in body
    live = next(row for row in rows[1:] if row[3] == "集中授课")
    assert live[5] is not None and live[5].tzinfo is None  # a local time, a real Excel date


async def _self_study(config: Config, world: World, watched_s: float, title: str) -> None:
    """A self-study course of the world's program (10 min, 2 class hours, open now) and the
    trainee's progress in it: ``watched_s`` seconds credited."""
    engine = store_db.create_engine(config.effective_database_url)
    now = utcnow()
    async with store_db.session_factory(engine)() as db, db.begin():
        course = SelfStudyCourse(
            title=title,
            unit_id=world.ids["units"],
            class_hours=2.0,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=7),
            format="mp4",
            file_name="course.mp4",
            duration_s=600.0,
            created_by="test",
        )
        db.add(course)
        await db.flush()
        if watched_s:
            state = progress_to_json(Progress(committed=(Interval(0.0, watched_s),)))
            db.add(
                SelfStudyProgress(
                    course_id=course.id,
                    trainee_id=world.trainee_id,
                    state=state,
                    position_s=watched_s,
                    watched_s=watched_s,
                )
            )
    await engine.dispose()


async def test_self_study_counts_toward_completion_when_the_program_says_so(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    trainee, operator = await client_as("trainee"), await client_as("operator")
    program = world.ids["programs"]
    await _past_session(config, world, attended=True)  # 4 live class hours
    await _self_study(config, world, 600.0, "案例一")  # watched whole: 2 self-study hours
    await _self_study(config, world, 0.0, "案例二")  # not started
    rules = f"/api/v1/programs/{program}/completion-rules"
    await expect_ok(await operator.put(rules, json={"min_hours": 5}))
    listed = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion"))
    (me,) = listed["items"]
    assert me["self_study_hours"] == 2.0 and me["hours"] == 4.0 and not me["completed"]
    await expect_ok(await operator.put(rules, json={"count_self_study": True}))
    listed = await expect_ok(await operator.get(f"/api/v1/programs/{program}/completion"))
    assert listed["items"][0]["hours"] == 6.0 and listed["items"][0]["completed"]
    todo = await expect_ok(await trainee.get("/api/v1/trainee/todo"))
    due = [i for i in todo["programs"][0]["items"] if i["kind"] == "self_study"]
    assert [i["title"] for i in due] == ["案例二"]


async def test_a_refusal_needs_its_reason_and_the_trainee_reads_it(
    client_as: ClientFactory, world: World
) -> None:
    trainee, operator = await client_as("trainee"), await client_as("operator")
    asked = await expect_ok(
        await trainee.post(
            "/api/v1/trainee/leave",
            json={"session_ids": [world.session_id], "reason": "家中有事"},
        ),
        201,
    )
    decide = f"/api/v1/leave/{asked['id']}/decide"
    await expect_error(
        await operator.post(decide, json={"decision": "refuse", "note": " "}),
        400,
        "leave.refuse_reason_required",
    )
    mine = await expect_ok(await trainee.get("/api/v1/trainee/leave"))
    assert mine["requests"][0]["state"] == "requested"  # nothing was decided
    why = "该场为结业考核，不能请假"
    refused = await expect_ok(await operator.post(decide, json={"decision": "refuse", "note": why}))
    assert refused["state"] == "refused" and refused["note"] == why
    mine = await expect_ok(await trainee.get("/api/v1/trainee/leave"))
    assert (mine["requests"][0]["state"], mine["requests"][0]["note"]) == ("refused", why)
