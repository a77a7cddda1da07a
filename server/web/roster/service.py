"""Roster import and export against the database, shared by the HTTP API (server/web/roster/http.py)
and the server host's command line (``classroom-server import-roster`` / ``export roster``).

The rules (header matching, row validation) live in server/core/roster.py; the file formats in
server/roster_files.py. Import is all or nothing: any bad row raises before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.roster import parse_roster
from server.core.roster_export import Lang, export_headers, export_rows
from server.core.roster_merge import rename_errors, renames
from server.store.models import OrgUnit, Site, Trainee

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class RosterImport:
    created: int = 0
    updated: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, Any]] = field(default_factory=list)
    """Existing trainees whose name this import changed (only with ``update_existing``)."""


def _aliases(rows: Sequence[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for item_id, name, code in rows:
        found[name] = item_id
        if code:
            found[code] = item_id
    return found


async def apply_roster(
    db: AsyncSession,
    header: list[str],
    rows: list[list[str]],
    progress: Progress | None = None,
    *,
    update_existing: bool = False,
) -> RosterImport:
    """Validate every row, then add new trainees and update those matched by staff number.

    A row whose staff number belongs to a trainee with another name is a row error
    (``roster.staff_no_taken``) unless ``update_existing`` (server/core/roster_merge.py).
    Runs inside the caller's transaction; raises InvalidInput (every row's problem) on a bad file.
    """
    units = _aliases((await db.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.code))).all())
    sites = _aliases((await db.execute(select(Site.id, Site.name, Site.code))).all())
    parsed = parse_roster(header, rows, units, sites)
    parsed.raise_if_invalid()
    staff_nos = [r.staff_no for r in parsed.rows]
    existing = {
        t.staff_no: t
        for t in (await db.scalars(select(Trainee).where(Trainee.staff_no.in_(staff_nos)))).all()
    }
    found = renames(parsed.rows, {no: t.name for no, t in existing.items()})
    if found and not update_existing:
        replace(parsed, errors=rename_errors(found)).raise_if_invalid()
    result = RosterImport(
        warnings=[w.to_dict() for w in parsed.warnings], renamed=[r.to_dict() for r in found]
    )
    total = len(parsed.rows)
    for done, row in enumerate(parsed.rows, 1):
        values = {
            "name": row.name,
            "org_unit_id": row.org_unit_id,
            "position": row.position,
            "is_leader": row.is_leader,
            "home_site_id": row.home_site_id,
            "phone": row.phone,
            "gender": None if row.gender is None else row.gender.value,
        }
        trainee = existing.get(row.staff_no)
        if trainee is None:
            db.add(Trainee(staff_no=row.staff_no, **values))
            result.created += 1
        else:
            for key, value in values.items():
                setattr(trainee, key, value)
            result.updated += 1
        if progress is not None and (done % 200 == 0 or done == total):
            progress(done, total)
    return result


async def roster_table(db: AsyncSession, lang: Lang) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the roster export (trainees with a home site, by staff number)."""
    trainees: Sequence[Any] = (
        await db.scalars(
            select(Trainee).where(Trainee.home_site_id.is_not(None)).order_by(Trainee.staff_no)
        )
    ).all()
    units = {r[0]: r[1] for r in (await db.execute(select(OrgUnit.id, OrgUnit.name))).all()}
    sites = {r[0]: r[1] for r in (await db.execute(select(Site.id, Site.name))).all()}
    return export_headers(lang), export_rows(trainees, units, sites, lang)
