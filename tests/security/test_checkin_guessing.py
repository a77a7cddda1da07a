"""Issue 14 item 1 against a real server process: the check-in code cannot be guessed from home.

A trainee at home runs a bounded guessing loop (1,000 tries, loopback) whose last guess is the
right code: nothing gets through, the wrong codes are slowed down to a few, the operator's
console is told, and meanwhile another trainee who mistypes once checks in with the right code
and the server keeps answering others quickly.
"""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

from server.core.checkin import current_code
from server.core.checkin_guard import (
    FREE_FAILURES,
    SESSION_LIMIT,
    SESSION_WINDOW,
    Attempts,
    after_failure,
    qr_token,
    retry_after,
)
from server.store.models import utcnow
from tests.security.checkin_world import (
    CHECKIN_KEY,
    answer,
    as_operator,
    healthy,
    served,
    signed_in,
)
from tests.web.live_helpers import subscribed

TRIES = 1_000
LOOP_SECONDS = 120.0  # bound in time as well as in count


def _code(site_id: int, session_id: int) -> str:
    return current_code(CHECKIN_KEY, str(site_id), str(session_id), utcnow().timestamp()).code


def _allowed(seconds: float) -> int:
    """Wrong codes the back-off lets through in ``seconds`` to one who waits exactly as told."""
    state, now, tries = Attempts(), 0.0, 0
    while True:
        now += retry_after(state, now)
        if now > seconds:
            return tries
        state = after_failure(state, now)
        tries += 1


def _wrong(site_id: int, session_id: int) -> str:
    return f"{(int(_code(site_id, session_id)) + 500_000) % 1_000_000:06d}"


async def _checkin(http: aiohttp.ClientSession, session_id: int, **body: Any) -> tuple[int, Any]:
    async with http.post(f"/api/v1/sessions/{session_id}/checkin", json=body) as r:
        status, data = await answer(r)
        if status == 429:
            assert int(r.headers["Retry-After"]) >= 1
        return status, data


async def test_a_guessing_loop_from_home_never_checks_in_and_the_operator_sees_it(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as (rooms, server):
        world, sid, base = rooms.world, rooms.session_id, server.url
        async with (
            signed_in(base, code=world.trainee_code) as guesser,
            signed_in(base, code=rooms.trainee_a2_code) as honest,
            as_operator(base, rooms) as op,
        ):
            console = await subscribed(op, "alerts")

            # Another room's current code (a photo sent by a friend) is not the guesser's room.
            status, body = await _checkin(
                guesser, sid, code=_code(rooms.site_b, sid), client_id="x0"
            )
            assert (status, body["error"]["code"]) == (400, "checkin.code_invalid")
            status, body = await _checkin(
                guesser, sid, code=_code(rooms.site_b, sid), site_id=rooms.site_b, client_id="x1"
            )
            assert (status, body["error"]["code"]) == (409, "checkin.no_room")

            rng = random.Random(14)
            answers: dict[int, int] = {}
            codes: dict[str, int] = {}
            honest_done = False
            started = time.monotonic()
            for n in range(TRIES):
                if time.monotonic() - started > LOOP_SECONDS:
                    break
                own = _code(world.site_id, sid)
                guess = own if n == TRIES - 1 else f"{rng.randrange(1_000_000):06d}"
                if guess == own and n != TRIES - 1:
                    continue  # a lucky draw is not what this loop measures
                status, body = await _checkin(guesser, sid, code=guess, client_id=f"g{n}")
                answers[status] = answers.get(status, 0) + 1
                if status != 200:
                    codes[body["error"]["code"]] = codes.get(body["error"]["code"], 0) + 1
                if n == 500:  # meanwhile: a trainee of the same room mistypes once, then succeeds
                    right = _code(world.site_id, sid)
                    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
                    status, body = await _checkin(honest, sid, code=wrong, client_id="h1")
                    assert (status, body["error"]["code"]) == (400, "checkin.code_invalid")
                    status, body = await _checkin(honest, sid, code=right, client_id="h2")
                    assert status == 200 and body["kind"] == "regular", body
                    assert await healthy(base) < 1.0
                    honest_done = True
            elapsed = time.monotonic() - started
            tried = sum(answers.values())

            assert tried >= TRIES - 5 and honest_done
            assert 200 not in answers, answers  # not even the right code at the end
            compared = codes.get("checkin.code_invalid", 0) + codes.get("checkin.code_expired", 0)
            assert compared <= _allowed(elapsed), codes  # the rest were never compared
            assert codes.get("checkin.too_many_attempts", 0) >= tried - compared
            print(f"\n{tried} guesses in {elapsed:.1f} s; {compared} compared with a code")

            # The scanned QR of the room still works for the blocked trainee (it cannot be
            # guessed, so it is not slowed down) - sitting in the room is the way in.
            qr = qr_token(CHECKIN_KEY, str(world.site_id), str(sid), utcnow().timestamp())
            status, body = await _checkin(guesser, sid, qr=qr, client_id="scan-1")
            assert status == 200 and body["record"]["site_id"] == world.site_id
            # A forged token is refused.
            status, body = await _checkin(guesser, sid, qr=qr[:-3] + "AAA", client_id="scan-2")
            assert (status, body["error"]["code"]) == (400, "checkin.qr_invalid")

            # The operator's console: a live alert and the list with the guesser on top.
            alert = await console.expect("event", kind="checkin_failures", timeout=5)
            assert alert["data"]["trainee_id"] == world.trainee_id and alert["data"]["name"]
            async with op.get(f"/api/v1/sessions/{sid}/checkin-failures") as r:
                listed = await r.json()
            top = listed["items"][0]
            assert top["trainee_id"] == world.trainee_id and top["total"] >= compared
            assert listed["total_failures"] >= compared + 1  # + the honest trainee's slip
            await console.ws.close()
        assert await healthy(base) < 1.0


async def test_the_server_keeps_serving_while_a_trainee_is_throttled(tmp_path: Path) -> None:
    """429 is cheap: a blocked trainee hammering the endpoint does not slow /healthz down."""
    async with (
        served(tmp_path) as (rooms, server),
        signed_in(server.url, code=rooms.world.trainee_code) as guesser,
    ):
        sid = rooms.session_id
        site = rooms.world.site_id
        statuses = []
        for n in range(FREE_FAILURES + 1):
            wrong = _wrong(site, sid)
            statuses.append((await _checkin(guesser, sid, code=wrong, client_id=f"w{n}"))[0])
        assert statuses == [400] * FREE_FAILURES + [429]

        async def hammer() -> None:
            for n in range(300):
                await _checkin(guesser, sid, code=_wrong(site, sid), client_id=f"h{n}")

        task = asyncio.create_task(hammer())
        timings = [await healthy(server.url) for _ in range(20)]
        await task
        assert max(timings) < 1.0, timings


async def test_many_accounts_guessing_together_pause_typed_codes_but_not_the_qr(
    tmp_path: Path,
) -> None:
    """125 accounts of one room guess 5 codes each (625 wrong codes in well under a minute):
    after SESSION_LIMIT the session pauses typed codes (429, scope session) and the operator is
    told once; a trainee in the room still checks in by scanning the QR."""
    crowd = 125
    async with served(tmp_path, crowd=crowd) as (rooms, server), AsyncExitStack() as stack:
        world, sid, base = rooms.world, rooms.session_id, server.url
        op = await stack.enter_async_context(as_operator(base, rooms))
        console = await subscribed(op, "alerts")
        clients = [
            await stack.enter_async_context(signed_in(base, code=code))
            for code in rooms.crowd_codes
        ]
        started = time.monotonic()
        scopes: list[str] = []

        async def guess_five(n: int, http: aiohttp.ClientSession) -> None:
            for k in range(FREE_FAILURES):
                status, body = await _checkin(
                    http, sid, code=_wrong(world.site_id, sid), client_id=f"c{n}-{k}"
                )
                assert status in (400, 429), body
                scopes.append(body["error"].get("details", {}).get("scope", "compared"))

        await asyncio.gather(*(guess_five(n, c) for n, c in enumerate(clients)))
        elapsed = time.monotonic() - started
        assert elapsed < SESSION_WINDOW - 5, f"too slow to fill a minute: {elapsed:.1f} s"
        assert scopes.count("compared") == SESSION_LIMIT, scopes.count("compared")
        assert scopes.count("session") == crowd * FREE_FAILURES - SESSION_LIMIT
        paused = await console.expect("event", kind="checkin_failures", scope="session", timeout=5)
        assert paused["data"]["failures"] == SESSION_LIMIT
        async with op.get(f"/api/v1/sessions/{sid}/checkin-failures") as r:
            listed = await r.json()
        assert listed["typed_codes_paused_for"] > 0
        assert listed["total_failures"] == SESSION_LIMIT

        async with signed_in(base, code=rooms.trainee_a2_code) as honest:
            status, body = await _checkin(
                honest, sid, code=_code(world.site_id, sid), client_id="typed"
            )
            assert status == 429 and body["error"]["details"]["scope"] == "session"
            qr = qr_token(CHECKIN_KEY, str(world.site_id), str(sid), utcnow().timestamp())
            status, body = await _checkin(honest, sid, qr=qr, client_id="scanned")
            assert status == 200 and body["kind"] == "regular"
        await console.ws.close()
        assert await healthy(base) < 1.0
