"""What the ``classroom-server`` operations commands do against the database and data dir.

Each function migrates the database first (so every command works on an empty one), does its
work in one transaction, writes an audit entry naming the host user (``cli:<user>``) and returns
the line to print.
"""

from __future__ import annotations

import asyncio
import getpass
import html
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import roster_files, security
from server.config import Config
from server.core.errors import InvalidInput
from server.core.passwords import check_password
from server.ops.progress import ProgressBar
from server.store import db as store_db
from server.store.media_models import Recording
from server.store.models import AuditEntry, LoginSession, Role, User
from server.web import exports
from server.web.codes.service import CodeScope, Slip, issue_join_codes, slips_xlsx
from server.web.ledger import reports, sheets
from server.web.roster.service import apply_roster, roster_table


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def _audit(
    db: AsyncSession, action: str, entity: str, entity_id: Any, after: dict[str, Any]
) -> None:
    db.add(
        AuditEntry(
            actor=_actor(),
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=None,
            after=after,
        )
    )


@asynccontextmanager
async def database(config: Config) -> AsyncIterator[Any]:
    url = config.effective_database_url
    await store_db.migrate(url)
    engine = store_db.create_engine(url, pool_size=2)
    try:
        yield store_db.session_factory(engine)
    finally:
        await engine.dispose()


async def create_admin(
    config: Config, username: str, password: str, display_name: str, reset: bool
) -> str:
    check_password(password, username)
    async with database(config) as sessions, sessions() as db, db.begin():
        user = await db.scalar(select(User).where(User.username == username))
        if user is not None and not reset:
            raise InvalidInput(
                "user.exists",
                f"User {username!r} exists; add --reset-password to set a new password.",
            )
        if user is None:
            user = User(username=username, display_name=display_name or username, role=Role.ADMIN)
            db.add(user)
        user.password_hash = security.hash_password(password)
        # only ever adds or keeps an active admin, so roles.check_admins_remain has nothing
        # to refuse here
        user.role = Role.ADMIN
        user.active = True
        await db.flush()
        # a new password ends every login of the user: the server looks the login up on each
        # request (server/web/auth.py), so the next request of an old login is refused
        result = await db.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        ended = int(getattr(result, "rowcount", 0) or 0)
        _audit(
            db,
            "reset_password" if reset else "create_admin",
            "users",
            user.id,
            {"username": username},
        )
    if not reset:
        return f"created admin {username!r} (id {user.id}); sign in at /operator/"
    return (
        f"password set for {username!r} (id {user.id}), {ended} earlier login(s) ended;"
        " sign in at /operator/"
    )


async def import_roster(config: Config, path: Path, update_existing: bool = False) -> str:
    data = path.read_bytes()
    header, rows = await asyncio.to_thread(
        roster_files.read_table, data, path.name, max_bytes=max(len(data), 1)
    )
    async with database(config) as sessions, sessions() as db, db.begin():
        with ProgressBar(f"import {path.name}") as bar:
            result = await apply_roster(
                db, header, rows, progress=bar, update_existing=update_existing
            )
        _audit(
            db,
            "import",
            "trainees",
            "*",
            {"created": result.created, "updated": result.updated, "file": path.name[:100]},
        )
    lines = [f"{result.created} trainees added, {result.updated} updated from {path}"]
    lines += [f"warning: row {w.get('row')}: {w.get('message')}" for w in result.warnings]
    return "\n".join(lines)


async def export_roster(config: Config, path: Path, lang: str) -> str:
    fmt = "csv" if path.suffix.lower() == ".csv" else "xlsx"
    async with database(config) as sessions, sessions() as db:
        header, rows = await roster_table(db, "en" if lang == "en" else "zh")
    with ProgressBar(f"export {path.name}") as bar:
        out: list[list[str]] = []
        for done, row in enumerate(rows, 1):
            out.append(row)
            if done % 500 == 0:
                bar(done, len(rows) + 1)
        if fmt == "csv":
            body = roster_files.write_csv(header, out)
        else:
            body = roster_files.write_xlsx(header, out, "学员名单" if lang != "en" else "Roster")
        bar(len(rows) + 1, len(rows) + 1)
    path.write_bytes(body)
    return f"{len(rows)} trainees written to {path} ({fmt})"


def write_private(path: Path, body: bytes) -> None:
    """Write a file only its owner can read (mode 0600 from the start, also when replaced)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "wb") as out:
        out.write(body)


async def export_attendance(config: Config, session_id: int, fmt: str, path: Path | None) -> str:
    """The session report workbook the console downloads (GET /api/sessions/{id}/report):
    the same data (ledger.reports.session_report), sheets and local time."""
    with ProgressBar(f"export session {session_id}") as bar:
        bar(0, 3)
        async with database(config) as sessions:
            report = await reports.load_session_report(sessions, session_id)
        bar(1, 3)
        tables = sheets.session_sheets(report, config.zone)
        bar(2, 3)
        if fmt == "csv":
            body = await asyncio.to_thread(exports.write_csv, tables[0])
        else:
            body = await asyncio.to_thread(exports.write_workbook, tables)
        out = path if path is not None else Path(f"session-{session_id}-report.{fmt}")
        write_private(out, body)
        bar(3, 3)
    people = len(report["trainees"])
    return f"session {session_id}: {people} trainees written to {out} ({fmt}, {config.time_zone})"


async def issue_codes(
    config: Config, path: Path, scope: CodeScope, base_url: str, lang: str = "zh"
) -> str:
    """New personal codes (server/web/codes/service.py, as the codes page issues them) into a
    printable HTML sheet of slips, or an XLSX for a mail merge (by the file's extension).

    A code is shown only once (the database keeps its hash): the file is the only copy, so it
    is written with mode 0600 and should be printed, handed out and deleted.
    """
    async with database(config) as sessions, sessions() as db, db.begin():
        slips = await issue_join_codes(db, scope, base_url, _actor())
    if path.suffix.lower() == ".xlsx":
        path.write_bytes(slips_xlsx(slips, lang))
    else:
        path.write_text(code_sheet(slips), encoding="utf-8")
    path.chmod(0o600)
    return f"{len(slips)} personal codes written to {path} (print it, hand out, delete it)"


def code_sheet(slips: Sequence[Slip]) -> str:
    """A4 sheet, ten slips a page, cut lines; Chinese first, English below."""
    cells = "\n".join(
        "<div class='slip'>"
        f"<div class='name'>{html.escape(s.name)}</div>"
        f"<div>工号 Staff no: {html.escape(s.staff_no)}</div>"
        f"<div>单位 Unit: {html.escape(s.org_unit)}</div>"
        f"<div>教室 Site: {html.escape(s.site)}</div>"
        f"<div class='code'>{s.code[:5]} {s.code[5:]}</div>"
        f"<div class='how'>手机打开 {html.escape(s.link.split('#')[0])} 输入个人码 · "
        "Open the trainee page and enter this personal code</div>"
        "</div>"
        for s in slips
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>学员个人码 Personal codes</title>
<style>
@page {{ size: A4; margin: 10mm; }}
body {{ font-family: sans-serif; margin: 0; }}
.grid {{ display: grid; grid-template-columns: 1fr 1fr; }}
.slip {{ border: 1px dashed #888; padding: 3mm 4mm; height: 54mm; box-sizing: border-box;
  break-inside: avoid; font-size: 11pt; }}
.name {{ font-size: 15pt; font-weight: bold; }}
.code {{ font: bold 22pt monospace; letter-spacing: 2px; margin: 2mm 0; }}
.how {{ font-size: 8pt; color: #333; }}
</style></head>
<body><div class="grid">
{cells}
</div></body></html>
"""


async def prune_recordings(config: Config, older_than_days: float, dry_run: bool) -> str:
    """Delete finished recordings (file and row) that ended more than N days ago."""
    if older_than_days < 1:
        raise InvalidInput("retention.too_short", "--older-than must be at least 1 day.")
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    folder = config.data_path / "recordings"
    async with database(config) as sessions, sessions() as db, db.begin():
        rows = (
            await db.scalars(
                select(Recording)
                .where(Recording.status != "recording", Recording.ended_at < cutoff)
                .order_by(Recording.ended_at)
            )
        ).all()
        freed = 0
        with ProgressBar("recordings") as bar:
            for done, row in enumerate(rows, 1):
                file = folder / row.file_name  # written by the recorder, never user input
                size = file.stat().st_size if file.is_file() else 0
                freed += size
                if not dry_run:
                    file.unlink(missing_ok=True)
                    await db.delete(row)
                bar(done, len(rows))
        if not dry_run and rows:
            _audit(
                db,
                "prune",
                "recordings",
                "*",
                {"count": len(rows), "bytes": freed, "days": older_than_days},
            )
    verb = "would delete" if dry_run else "deleted"
    mib = freed / 2**20
    return f"{verb} {len(rows)} recordings ended before {cutoff:%Y-%m-%d %H:%M} UTC ({mib:.1f} MiB)"
