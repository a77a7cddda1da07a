"""Benchmark of staggered batches and check-in.

(a) Planner time for 10,000 trainees in 40 units into 2 and 3 batches (the problem of
    bench/planner.py, reused).
(b) 2,000 trainees check in through the HTTP API of a real server process, on SQLite and on
    PostgreSQL, clients on loopback; one wave per offered rate (default 200/s, i.e. 2,000 in
    10 s, and 400/s for headroom), each into its own live session. Prints the acknowledgement
    latency (p50, p95, p99, max), client time-outs, the server process's CPU time per
    check-in, and counts the stored rows: "none lost" (every acknowledged client id stored)
    and "none doubled" (no trainee with two records in the session).

Run: .venv/bin/python bench/attendance.py [--skip-planner] [--backends sqlite,postgres]
     [--rates 200,400] [--count 2000] [--probe]
PostgreSQL: CLASSROOM_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres) must
allow CREATE DATABASE; a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import planner as planner_bench  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bench.measure import cpu_seconds  # noqa: E402
from server import security  # noqa: E402
from server.core.batches import plan_batches  # noqa: E402
from server.core.checkin import current_code  # noqa: E402
from server.store import db as store_db  # noqa: E402
from server.store.attendance_models import CheckinRequest  # noqa: E402
from server.store.models import (  # noqa: E402
    ClassSession,
    OrgUnit,
    SessionStatus,
    Site,
    SiteKind,
    TeachingMethod,
    Trainee,
    session_sites,
    utcnow,
)
from server.web.checkin.service import checkin_secret  # noqa: E402
from tests.checkins import stored_checkins  # noqa: E402
from tests.conftest import create_pg_database  # noqa: E402
from tests.seed import add_course  # noqa: E402
from tests.server_process import LOAD_TEST_ENV, ServerProcess  # noqa: E402

CHECKINS = 2_000
CLIENT_TIMEOUT = 30.0
PROBE = False
SITES = 20
KEY = "bench-secret-key-0123456789abcdef"


# --- (a) planner ---------------------------------------------------------------------------


def bench_planner(runs: int = 3) -> None:
    for k in (2, 3):
        problem = planner_bench.build(k)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            plan_batches(problem)
            times.append(time.perf_counter() - start)
        print(
            f"planner k={k}: {len(problem.trainees)} trainees, {planner_bench.UNITS} units -> "
            f"best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
            f"over {runs} runs"
        )


# --- (b) check-ins -------------------------------------------------------------------------


async def seed(url: str, waves: int) -> tuple[list[int], list[tuple[int, str]]]:
    """``waves`` live sessions over SITES sub-classrooms and CHECKINS trainees homed there;
    ([session ids], [(site, join code)])."""
    await store_db.migrate(url)
    engine = store_db.create_engine(url)
    people: list[tuple[int, str]] = []
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            unit = OrgUnit(name="基准单位")
            main = Site(name="主课堂", kind=SiteKind.MAIN, capacity=5000)
            db.add_all([unit, main])
            await db.flush()
            subs = [Site(name=f"分课堂{i}", parent_id=main.id, capacity=500) for i in range(SITES)]
            db.add_all(subs)
            _, _, course = await add_course(db, "基准", "专题", title="课程")
            now = utcnow()
            session_ids = []
            for wave in range(waves):
                session = ClassSession(
                    course_id=course.id,
                    title=f"基准场次{wave + 1}",
                    starts_at=now - timedelta(minutes=5),
                    ends_at=now + timedelta(hours=2),
                    teaching_method=TeachingMethod.LECTURE,
                    status=SessionStatus.LIVE,
                    started_at=now,
                )
                db.add(session)
                await db.flush()
                await db.execute(
                    insert(session_sites),
                    [{"session_id": session.id, "site_id": s.id} for s in [main, *subs]],
                )
                session_ids.append(session.id)
            rows = []
            for i in range(CHECKINS):
                code, digest = security.new_join_code()
                site = subs[i % SITES].id
                rows.append(
                    {
                        "name": f"学员{i}",
                        "staff_no": f"B{i:05d}",
                        "org_unit_id": unit.id,
                        "position": "",
                        "is_leader": False,
                        "home_site_id": site,
                        "join_code_hash": digest,
                        "active": True,
                        "created_at": now,
                    }
                )
                people.append((site, code))
            await db.execute(insert(Trainee), rows)
            return session_ids, people
    finally:
        await engine.dispose()


async def count_rows(url: str, session_id: int, acked: list[str]) -> tuple[int, int, int, int]:
    """For one session: (records, stored requests, acknowledged client ids found among the
    requests, trainees with more than one record)."""
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db:
            records, requests, doubled = await stored_checkins(db, session_id)
            found = 0
            for i in range(0, len(acked), 500):
                found += int(
                    await db.scalar(
                        select(func.count()).where(
                            CheckinRequest.client_id.in_(acked[i : i + 500]),
                            CheckinRequest.session_id == session_id,
                        )
                    )
                    or 0
                )
            return records, requests, found, doubled
    finally:
        await engine.dispose()


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, int(len(sorted_values) * share) - 1))]


Wave = tuple[float, int, list[float], list[str], list[str], float, float, float]


async def wave(
    http: aiohttp.ClientSession,
    base: str,
    logins: list[dict[str, str]],
    people: list[tuple[int, str]],
    session_id: int,
    rate: float,
    pid: int,
) -> Wave:
    """CHECKINS check-ins offered at ``rate`` a second; (rate, session, latencies, acknowledged
    client ids, failures, seconds to the last answer, server CPU seconds)."""
    secret = checkin_secret(KEY)
    spread = CHECKINS / rate
    latencies: list[float] = []
    acked: list[str] = []
    failures: list[str] = []
    cpu_before = cpu_seconds(pid)
    begin = time.perf_counter() + 0.5

    async def checkin(i: int) -> None:
        await asyncio.sleep(max(0.0, begin + spread * i / CHECKINS - time.perf_counter()))
        site, _ = people[i]
        code = current_code(secret, str(site), str(session_id), time.time()).code
        client_id = f"bench-{session_id}-{i}"
        sent = time.perf_counter()
        try:
            async with http.post(
                f"{base}/api/v1/sessions/{session_id}/checkin",
                json={"code": code, "client_id": client_id},
                headers=logins[i],
            ) as r:
                await r.read()
                if r.status != 200:
                    failures.append(f"{r.status}")
                    return
        except (aiohttp.ClientError, TimeoutError) as exc:
            failures.append(type(exc).__name__)
            return
        latencies.append(time.perf_counter() - sent)
        acked.append(client_id)

    await asyncio.wait_for(
        asyncio.gather(*(checkin(i) for i in range(CHECKINS))),
        timeout=spread + CLIENT_TIMEOUT + 60,
    )
    wall = time.perf_counter() - begin
    cpu = cpu_seconds(pid) - cpu_before
    return rate, session_id, latencies, acked, failures, wall, cpu, os.getloadavg()[0]


async def probe(
    http: aiohttp.ClientSession,
    base: str,
    logins: list[dict[str, str]],
    path: str,
    rate: float,
    pid: int,
) -> str:
    """The same load shape on a request that does less: ``/healthz`` (no sign-in lookup) or
    ``/api/v1/auth/me`` (the sign-in lookup alone), to see what a check-in adds to them."""
    latencies: list[float] = []
    failures = 0
    cpu_before = cpu_seconds(pid)
    begin = time.perf_counter() + 0.5

    async def one(i: int) -> None:
        nonlocal failures
        await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
        sent = time.perf_counter()
        try:
            async with http.get(f"{base}{path}", headers=logins[i]) as r:
                await r.read()
                if r.status != 200:
                    failures += 1
                    return
        except (aiohttp.ClientError, TimeoutError):
            failures += 1
            return
        latencies.append(time.perf_counter() - sent)

    await asyncio.wait_for(
        asyncio.gather(*(one(i) for i in range(CHECKINS))),
        timeout=CHECKINS / rate + CLIENT_TIMEOUT + 60,
    )
    cpu = cpu_seconds(pid) - cpu_before
    latencies.sort()
    return (
        f"GET {path} x {CHECKINS} at {rate:.0f}/s: server CPU {cpu * 1000 / CHECKINS:.2f} ms a "
        f"request; p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms; failures {failures}; "
        f"machine load {os.getloadavg()[0]:.1f}"
    )


async def run_checkins(label: str, url: str, work: Path, rates: list[float]) -> None:
    session_ids, people = await seed(url, len(rates))
    server = ServerProcess(
        work / label,
        None,
        "--database-url",
        url,
        env={**LOAD_TEST_ENV, "CLASSROOM_SECRET_KEY": KEY, "CLASSROOM_LOG_LEVEL": "WARNING"},
    )
    await asyncio.to_thread(server.start, 60.0)
    assert server.proc is not None
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=500)
    waves: list[Wave] = []
    try:
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), connector=connector, timeout=timeout
        ) as http:
            gate = asyncio.Semaphore(20)

            async def join(code: str) -> dict[str, str]:
                for _ in range(5):  # a join may meet a busy store under this burst: retry
                    async with (
                        gate,
                        http.post(f"{server.url}/api/v1/auth/join", json={"code": code}) as r,
                    ):
                        if r.status == 503:
                            continue
                        assert r.status == 200, await r.text()
                        token = r.cookies["classroom_session"].value
                        csrf = (await r.json())["csrf_token"]
                        return {"Cookie": f"classroom_session={token}", "X-CSRF-Token": csrf}
                raise RuntimeError("join kept failing")

            logins = await asyncio.wait_for(
                asyncio.gather(*(join(code) for _, code in people)), timeout=300
            )
            if PROBE:
                for path in ("/healthz", "/api/v1/auth/me"):
                    await asyncio.sleep(2.0)
                    found = await probe(http, server.url, logins, path, rates[0], server.proc.pid)
                    print(f"probe {label}: {found}", flush=True)
            for session_id, rate in zip(session_ids, rates, strict=True):
                print(f"check-in {label} {rate:.0f}/s: pid {server.proc.pid}", flush=True)
                await asyncio.sleep(2.0)  # let the sign-in burst settle
                waves.append(
                    await wave(http, server.url, logins, people, session_id, rate, server.proc.pid)
                )
    finally:
        server.stop()
    for rate, session_id, latencies, acked, failures, wall, cpu, load in waves:
        records, requests, found, doubled = await count_rows(url, session_id, acked)
        lost = len(acked) - found
        verdict = "none lost, none doubled" if lost == 0 and doubled == 0 else "LOST OR DOUBLED"
        latencies.sort()
        timeouts = sum(1 for f in failures if f in ("TimeoutError", "ServerTimeoutError"))
        print(
            f"check-in {label}: {CHECKINS} offered at {rate:.0f}/s ({CHECKINS / rate:.1f} s); "
            f"{len(latencies)} acknowledged, last after {wall:.1f} s; ack latency "
            f"p50 {percentile(latencies, 0.50) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"max {(latencies[-1] if latencies else float('nan')) * 1000:.0f} ms; "
            f"client time-outs {timeouts}, other failures {len(failures) - timeouts} "
            f"{sorted(set(failures) - {'TimeoutError', 'ServerTimeoutError'})}; "
            f"server CPU {cpu:.1f} s ({cpu * 1000 / CHECKINS:.2f} ms a check-in), machine load "
            f"{load:.1f}; "
            f"stored: {records} records, {requests} requests, {found}/{len(acked)} acknowledged "
            f"found, {doubled} trainees doubled -> {verdict}",
            flush=True,
        )


async def bench_checkins(backends: list[str], rates: list[float]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-attendance-") as tmp:
        work = Path(tmp)
        for backend in backends:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
                await run_checkins("sqlite", url, work, rates)
                continue
            url, drop = await create_pg_database()
            try:
                await run_checkins("postgres", url, work, rates)
            finally:
                await drop()


def main() -> None:
    global CHECKINS, PROBE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-planner", action="store_true")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--count", type=int, default=CHECKINS, help="check-ins (trainees)")
    parser.add_argument(
        "--rates",
        default="200,400",
        help="offered check-ins a second, one wave (and one live session) per rate",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="first measure GET /healthz and GET /api/v1/auth/me at the first rate",
    )
    args = parser.parse_args()
    CHECKINS, PROBE = args.count, args.probe
    rates = [float(r) for r in args.rates.split(",") if r]
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    print(f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}, {when}")
    if not args.skip_planner:
        bench_planner()
    asyncio.run(bench_checkins([b for b in args.backends.split(",") if b], rates))


if __name__ == "__main__":
    main()
