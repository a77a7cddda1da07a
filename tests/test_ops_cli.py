"""The operations commands as an operator types them on the server host (docs/deploy.md):
real processes, a real SQLite file and a real PostgreSQL database of the test's own."""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import openpyxl
import pytest

from server.ops.db_guard import hold_for_restore
from server.ops.progress import ProgressBar
from tests.conftest import create_pg_database
from tests.server_process import ServerProcess

STRONG = "Tr4ining-Office!"


def cli(*args: str, data: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )


def ok(*args: str, data: Path) -> str:
    done = cli(*args, data=data)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        found = conn.execute(sql).fetchall()
    conn.close()
    return found


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """An empty data dir migrated and filled with the demo data, as `--demo` does."""
    data = tmp_path / "data"
    ok("--demo", "--migrate-only", data=data)
    return data


def test_create_admin_from_an_empty_database_refuses_weak_passwords(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    weak = tmp_path / "weak"
    weak.write_text("classroom1\n")
    refused = cli("create-admin", "head", "--password-file", str(weak), data=data)
    assert refused.returncode == 1 and "password.too_short" in refused.stderr
    no_tty = cli("create-admin", "head", data=data, stdin="")
    assert no_tty.returncode == 1 and "password.no_terminal" in no_tty.stderr
    good = tmp_path / "good"
    good.write_text(STRONG + "\n")
    assert "created admin 'head'" in ok(
        "create-admin", "head", "--password-file", str(good), data=data
    )
    again = cli("create-admin", "head", "--password-file", str(good), data=data)
    assert again.returncode == 1 and "user.exists" in again.stderr
    ((role, active, hashed),) = rows(
        data / "classroom.db", "SELECT role, active, password_hash FROM users WHERE username='head'"
    )
    assert role == "admin" and active == 1 and hashed.startswith("$argon2id$")
    ((actor,),) = rows(
        data / "classroom.db", "SELECT actor FROM audit_log WHERE action='create_admin'"
    )
    assert str(actor).startswith("cli")
    # a forgotten password: the new one must pass the same rule, and every old login ends
    with sqlite3.connect(data / "classroom.db") as db:
        db.execute(
            "INSERT INTO login_sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
            " VALUES ('h1', 1, 'c', '2026-01-01 00:00:00', '2099-01-01 00:00:00')"
        )
    assert (
        "password.too_short"
        in cli(
            "create-admin", "head", "--reset-password", "--password-file", str(weak), data=data
        ).stderr
    )
    assert rows(data / "classroom.db", "SELECT count(*) FROM login_sessions") == [(1,)]
    newer = tmp_path / "newer"
    newer.write_text("Another-Strong-Pass-9\n")
    reset = ok("create-admin", "head", "--reset-password", "--password-file", str(newer), data=data)
    assert "password set for 'head'" in reset and "1 earlier login(s) ended" in reset
    assert rows(data / "classroom.db", "SELECT count(*) FROM login_sessions") == [(0,)]
    ((after,),) = rows(data / "classroom.db", "SELECT password_hash FROM users WHERE id=1")
    assert after != hashed


def test_roster_export_import_round_trip_and_printable_codes(demo: Path, tmp_path: Path) -> None:
    db = demo / "classroom.db"
    ((count,),) = rows(db, "SELECT count(*) FROM trainees WHERE home_site_id IS NOT NULL")
    exported = tmp_path / "roster.csv"
    assert f"{count} trainees written" in ok("export", "roster", str(exported), data=demo)
    assert len(exported.read_text(encoding="utf-8-sig").splitlines()) == count + 1
    xlsx = tmp_path / "roster.xlsx"
    ok("export", "roster", str(xlsx), "--lang", "en", data=demo)
    assert xlsx.read_bytes()[:2] == b"PK"
    done = cli("import-roster", str(exported), data=demo)
    assert done.returncode == 0, done.stderr
    assert f"0 trainees added, {count} updated" in done.stdout
    assert f"{count}/{count} (100%)" in done.stderr  # the progress bar, plain lines in a pipe
    bad = tmp_path / "bad.csv"
    bad.write_text("nonsense,header\n1,2\n", encoding="utf-8")
    refused = cli("import-roster", str(bad), data=demo)
    assert refused.returncode == 1 and "roster." in refused.stderr

    leaf = "id NOT IN (SELECT parent_id FROM sites WHERE parent_id IS NOT NULL)"
    ((site, at_site),) = rows(
        db,
        f"SELECT home_site_id, count(*) FROM trainees WHERE active AND home_site_id IN"
        f" (SELECT id FROM sites WHERE {leaf}) GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )
    sheet = tmp_path / "codes.html"
    out = ok("issue-codes", str(sheet), "--site", str(site), data=demo)
    assert f"{at_site} personal codes" in out
    assert sheet.stat().st_mode & 0o077 == 0
    codes = re.findall(r"<div class='code'>(\w{5}) (\w{5})</div>", sheet.read_text())
    assert len(codes) == at_site
    stored = {
        h for (h,) in rows(db, f"SELECT join_code_hash FROM trainees WHERE home_site_id={site}")
    }
    assert {hashlib.sha256((a + b).encode()).hexdigest() for a, b in codes} == stored
    again = ok(
        "issue-codes", str(tmp_path / "none.html"), "--only-missing", "--site", str(site), data=demo
    )
    assert again.startswith("0 personal codes")
    everyone = tmp_path / "everyone.xlsx"  # no scope: everyone, as a workbook
    ((active,),) = rows(db, "SELECT count(*) FROM trainees WHERE active")
    assert ok("issue-codes", str(everyone), data=demo).startswith(f"{active} personal codes")
    assert everyone.read_bytes()[:2] == b"PK" and everyone.stat().st_mode & 0o077 == 0


async def test_attendance_export_is_the_workbook_the_console_downloads(
    demo: Path, tmp_path: Path
) -> None:
    db = demo / "classroom.db"
    ((session_id, checked_in),) = rows(
        db,
        "SELECT session_id, count(*) FROM attendance_records GROUP BY session_id"
        " ORDER BY count(*) DESC, session_id LIMIT 1",
    )  # a past session most trainees came to: times and numbers in every sheet
    assert int(str(checked_in)) > 0
    sid = str(session_id)
    out = tmp_path / "reports" / "att.xlsx"
    out.parent.mkdir()
    done = cli("export", "attendance", "--session", sid, "--out", str(out), data=demo)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"session {sid}: " in done.stdout and str(out) in done.stdout
    assert f"export session {sid}: 3/3 (100%)" in done.stderr  # the progress, as in a log
    assert out.stat().st_mode & 0o777 == 0o600
    csv_out = tmp_path / "att.csv"
    ok(
        "export",
        "attendance",
        "--session",
        sid,
        "--format",
        "csv",
        "--out",
        str(csv_out),
        data=demo,
    )
    assert csv_out.stat().st_mode & 0o777 == 0o600
    missing = cli("export", "attendance", "--session", "99999", data=demo)
    assert missing.returncode == 1 and "session.not_found" in missing.stderr
    no_session = cli("export", "attendance", data=demo)
    assert no_session.returncode == 1 and "export.session_required" in no_session.stderr

    password = tmp_path / "pw"
    password.write_text(STRONG + "\n")
    ok("create-admin", "head", "--password-file", str(password), data=demo)
    with ServerProcess(demo) as server:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            login = await http.post(
                server.url + "/api/v1/auth/login", json={"username": "head", "password": STRONG}
            )
            assert login.status == 200
            report = server.url + f"/api/v1/sessions/{sid}/report"
            async with http.get(report, params={"format": "xlsx"}) as answer:
                assert answer.status == 200
                (tmp_path / "web.xlsx").write_bytes(await answer.read())
            async with http.get(report, params={"format": "csv"}) as answer:
                web_csv = await answer.read()
    mine = openpyxl.load_workbook(out)
    web = openpyxl.load_workbook(tmp_path / "web.xlsx")
    assert mine.sheetnames == web.sheetnames and len(mine.sheetnames) >= 3
    for name in web.sheetnames:  # a past session: every cell the same, typed the same
        assert list(mine[name].values) == list(web[name].values), name
    detail = list(mine.worksheets[0].values)
    came = [r for r in detail[1:] if isinstance(r[7], datetime)]
    assert len(came) >= 1 and all(isinstance(r[9], int | float) for r in detail[1:])
    assert csv_out.read_bytes() == web_csv


def test_sqlite_backup_and_restore(demo: Path, tmp_path: Path) -> None:
    db = demo / "classroom.db"
    before = rows(db, "SELECT count(*) FROM trainees")
    copy = tmp_path / "backups" / "classroom.sqlite"
    assert "sqlite backup written" in ok("backup", str(copy), data=demo)
    assert copy.stat().st_mode & 0o077 == 0
    assert cli("backup", str(copy), data=demo).returncode == 1  # never overwrites a backup
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit_log")
        conn.execute("UPDATE trainees SET name = 'changed'")
    conn.close()
    unconfirmed = cli("restore", str(copy), data=demo, stdin="")
    assert unconfirmed.returncode == 1 and "restore.unconfirmed" in unconfirmed.stderr
    with ServerProcess(demo) as server:  # a running server: restore refuses and changes nothing
        assert server.proc is not None
        running = cli("restore", str(copy), "--yes", data=demo)
        assert running.returncode == 1 and "restore.server_running" in running.stderr
        assert f"pid {server.proc.pid}" in running.stderr and "stop every node" in running.stderr
        assert rows(db, "SELECT count(*) FROM trainees WHERE name = 'changed'") == before
    crashed = ServerProcess(demo).start()
    crashed.kill()  # SIGKILL leaves its lock file with a dead pid: not a reason to refuse
    assert crashed.proc is not None
    assert (demo / "classroom.db.lock").read_text().strip() == str(crashed.proc.pid)
    held = hold_for_restore(f"sqlite+aiosqlite:///{db}")  # a restore under way...
    assert held is not None
    with pytest.raises(RuntimeError, match=r"serve\.restore_running"):
        ServerProcess(demo).start()  # ...and a server does not start on the half-copied file
    held.close()
    assert "restored" in ok("restore", str(copy), "--yes", data=demo)
    assert rows(db, "SELECT count(*) FROM trainees WHERE name = 'changed'") == [(0,)]
    assert rows(db, "SELECT count(*) FROM trainees") == before
    not_backup = tmp_path / "not.sqlite"
    not_backup.write_bytes(b"hello")
    refused = cli("restore", str(not_backup), "--yes", data=demo)
    assert refused.returncode == 1 and "backup.not_a_backup" in refused.stderr


@pytest.mark.postgres
async def test_postgresql_backup_and_restore_with_pg_dump(tmp_path: Path) -> None:
    url, drop = await create_pg_database()
    try:
        data = tmp_path / "data"
        password = tmp_path / "pw"
        password.write_text(STRONG)
        for user in ("first", "second"):
            ok(
                "--database-url",
                url,
                "create-admin",
                user,
                "--password-file",
                str(password),
                data=data,
            )
        dump = tmp_path / "classroom.dump"
        assert "postgresql backup written" in ok(
            "--database-url", url, "backup", str(dump), data=data
        )
        assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
        dsn = url.replace("+asyncpg", "")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DELETE FROM audit_log")
            await conn.execute("DELETE FROM users WHERE username = 'second'")
            busy = cli("--database-url", url, "restore", str(dump), "--yes", data=data)
            assert busy.returncode == 1 and "restore.server_running" in busy.stderr
            assert await conn.fetchval("SELECT count(*) FROM users") == 1  # nothing changed
            await conn.close()  # the last other session gone: restore goes ahead
            ok("--database-url", url, "restore", str(dump), "--yes", data=data)
            conn = await asyncpg.connect(dsn)
            names = [r[0] for r in await conn.fetch("SELECT username FROM users ORDER BY id")]
            assert names == ["first", "second"]
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 2
        finally:
            await conn.close()
    finally:
        await drop()


def test_prune_recordings_deletes_old_files_and_rows_only(demo: Path) -> None:
    db = demo / "classroom.db"
    folder = demo / "recordings"
    folder.mkdir(exist_ok=True)  # the demo may have put its own recent recording there
    ((session,),) = rows(db, "SELECT id FROM class_sessions ORDER BY id LIMIT 1")
    now = datetime.now(UTC)
    with sqlite3.connect(db) as conn:
        for name, age in (("old.webm", 40), ("new.webm", 2)):
            (folder / name).write_bytes(b"\0" * 2048)
            ended = (now - timedelta(days=age)).strftime("%Y-%m-%d %H:%M:%S.%f")
            conn.execute(
                "INSERT INTO recordings (session_id, file_name, format, status, source,"
                " started_at, ended_at, bytes, duration_s, video_frames, switches, started_by)"
                " VALUES (?, ?, 'webm', 'done', 'agent', ?, ?, 2048, 1.0, 30, '[]', 'test')",
                (session, name, ended, ended),
            )
    conn.close()
    assert "would delete 1 recordings" in ok(
        "prune-recordings", "--older-than", "30", "--dry-run", data=demo
    )
    assert (folder / "old.webm").exists()
    assert "deleted 1 recordings" in ok("prune-recordings", "--older-than", "30", data=demo)
    assert not (folder / "old.webm").exists() and (folder / "new.webm").exists()
    names = {name for (name,) in rows(db, "SELECT file_name FROM recordings")}
    assert "new.webm" in names and "old.webm" not in names
    assert cli("prune-recordings", "--older-than", "0", data=demo).returncode == 1


def test_progress_bar_redraws_on_a_terminal_and_prints_tenths_in_a_pipe() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    with ProgressBar("import", tty) as bar:
        for i in range(1, 1001):
            bar(i, 1000)
    assert tty.getvalue().startswith("\rimport [") and tty.getvalue().endswith("1000/1000 100%\n")
    assert tty.getvalue().count("\r") < 50  # throttled, not a line per row
    pipe = io.StringIO()
    with ProgressBar("import", pipe) as bar:
        for i in range(1, 1001):
            bar(i, 1000)
    lines = pipe.getvalue().splitlines()
    assert (
        "\r" not in pipe.getvalue() and len(lines) == 11 and lines[-1] == "import: 1000/1000 (100%)"
    )
