"""Benchmark of staggered batches and check-in.

(a) Planner time for 10,000 trainees in 40 units into 2 and 3 batches (the problem of
    bench/planner.py, reused).
(b) 2,000 trainees check in within 10 s through the HTTP API of a real server process, on
    SQLite and on PostgreSQL; clients on loopback. Prints the acknowledgement latency (p50,
    p99, max) and counts the stored rows ("none lost": one record per acknowledged check-in).

Run: .venv/bin/python bench/attendance.py [--skip-planner] [--backends sqlite,postgres]
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
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import planner as planner_bench  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from server import security  # noqa: E402
from server.core.batches import plan_batches  # noqa: E402
from server.core.checkin import current_code  # noqa: E402
from server.store import db as store_db  # noqa: E402
from server.store.attendance_models import AttendanceRecordRow, CheckinRequest  # noqa: E402
from server.store.models import (  # noqa: E402
    ClassSession,
    Course,
    OrgUnit,
    Program,
    ProgramUnit,
    SessionStatus,
    Site,
    SiteKind,
    TeachingMethod,
    Trainee,
    session_sites,
    utcnow,
)
from server.web.attendance_api import checkin_secret  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

CHECKINS = 2_000
SPREAD_SECONDS = 10.0
SITES = 20
KEY = "bench-secret-key-0123456789abcdef"
PG_ADMIN_DSN = os.environ.get("CLASSROOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


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


async def seed(url: str) -> tuple[int, list[tuple[int, str]]]:
    """A live session over SITES sub-classrooms and CHECKINS trainees; (session, [(site, code)])."""
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
            program = Program(name="基准", year=2026)
            db.add(program)
            await db.flush()
            punit = ProgramUnit(program_id=program.id, title="专题")
            db.add(punit)
            await db.flush()
            course = Course(unit_id=punit.id, title="课程")
            db.add(course)
            await db.flush()
            now = utcnow()
            session = ClassSession(
                course_id=course.id,
                title="基准场次",
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
            return session.id, people
    finally:
        await engine.dispose()


async def count_rows(url: str, acked: list[str]) -> tuple[int, int, int]:
    """(all records, all stored requests, acknowledged requests found in the store)."""
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db:
            records = await db.scalar(select(func.count()).select_from(AttendanceRecordRow))
            requests = await db.scalar(select(func.count()).select_from(CheckinRequest))
            found = 0
            for i in range(0, len(acked), 500):
                found += int(
                    await db.scalar(
                        select(func.count()).where(CheckinRequest.client_id.in_(acked[i : i + 500]))
                    )
                    or 0
                )
            return int(records or 0), int(requests or 0), found
    finally:
        await engine.dispose()


async def run_checkins(label: str, url: str, work: Path) -> None:
    session_id, people = await seed(url)
    server = ServerProcess(
        work / label,
        None,
        "--database-url",
        url,
        env={"CLASSROOM_SECRET_KEY": KEY, "CLASSROOM_LOG_LEVEL": "WARNING"},
    )
    await asyncio.to_thread(server.start, 60.0)
    secret = checkin_secret(KEY)
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=500)
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
            latencies: list[float] = []
            acked: list[str] = []
            failures: list[str] = []
            begin = time.perf_counter() + 0.5

            async def checkin(i: int) -> None:
                await asyncio.sleep(
                    max(0.0, begin + SPREAD_SECONDS * i / CHECKINS - time.perf_counter())
                )
                site, _ = people[i]
                code = current_code(secret, str(site), str(session_id), time.time()).code
                sent = time.perf_counter()
                try:
                    async with http.post(
                        f"{server.url}/api/v1/sessions/{session_id}/checkin",
                        json={"code": code, "client_id": f"bench-{i}"},
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
                acked.append(f"bench-{i}")

            await asyncio.wait_for(
                asyncio.gather(*(checkin(i) for i in range(CHECKINS))), timeout=SPREAD_SECONDS + 120
            )
            wall = time.perf_counter() - begin
    finally:
        server.stop()
    records, requests, found = await count_rows(url, acked)
    verdict = "none lost" if found == len(acked) and records == requests else "LOST"
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    print(
        f"check-in {label}: {len(latencies)}/{CHECKINS} acknowledged in {wall:.1f} s "
        f"(offered over {SPREAD_SECONDS:.0f} s); ack latency p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, max {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms; "
        f"failures {len(failures)} {sorted(set(failures))}; rows: {records} records, "
        f"{requests} requests; {found} of the {len(acked)} acknowledged stored -> {verdict}"
    )


async def bench_checkins(backends: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-attendance-") as tmp:
        work = Path(tmp)
        for backend in backends:
            if backend == "sqlite":
                await run_checkins("sqlite", f"sqlite+aiosqlite:///{work / 'bench.db'}", work)
                continue
            name = f"classroom_bench_{uuid.uuid4().hex[:10]}"
            conn = await asyncpg.connect(PG_ADMIN_DSN)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
            try:
                await run_checkins("postgres", f"{base}/{name}", work)
            finally:
                conn = await asyncpg.connect(PG_ADMIN_DSN)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()


def main() -> None:
    global CHECKINS, SPREAD_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-planner", action="store_true")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--count", type=int, default=CHECKINS, help="check-ins (trainees)")
    parser.add_argument("--spread", type=float, default=SPREAD_SECONDS, help="seconds")
    args = parser.parse_args()
    CHECKINS, SPREAD_SECONDS = args.count, args.spread
    print(f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    if not args.skip_planner:
        bench_planner()
    asyncio.run(bench_checkins([b for b in args.backends.split(",") if b]))


if __name__ == "__main__":
    main()
