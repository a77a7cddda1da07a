"""Personal join codes in bulk: a unit (with its sub-units), a site (with its rooms) or everyone,
for printed slips. Shared by the HTTP API (server/web/codes/http.py) and the server host's
command line (``classroom-server issue-codes``).

Only the code's SHA-256 is stored, so a code exists in clear only in the answer of the call that
issued it: the caller prints it (slips) or saves it (XLSX) at once. Issuing a new code replaces
the trainee's old one (a lost slip stops working); ``only_missing`` leaves trainees who already
have a code alone, for onboarding late arrivals without invalidating slips already handed out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import security
from server.core.errors import InvalidInput, NotFound
from server.core.trees import subtree
from server.roster_files import write_xlsx
from server.store.models import AuditEntry, OrgUnit, Site, Trainee

MAX_CODES = 5000
"""One batch at most: a bigger roster is issued unit by unit (slips are printed per unit)."""

_BASE_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class CodeScope:
    """Whose codes to issue: exactly one of a unit, a site or everyone."""

    org_unit_id: int | None = None
    site_id: int | None = None
    everyone: bool = False
    only_missing: bool = False

    def check(self) -> None:
        chosen = (self.org_unit_id is not None) + (self.site_id is not None) + self.everyone
        if chosen != 1:
            raise InvalidInput(
                "codes.bad_scope", "Choose exactly one: an org unit, a site, or everyone."
            )

    def describe(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}


@dataclass(frozen=True, slots=True)
class Slip:
    """One printed slip: who, where, the code in clear and the link that signs in with it."""

    trainee_id: int
    name: str
    staff_no: str
    org_unit: str
    site: str
    code: str
    link: str


def join_link(base_url: str, code: str) -> str:
    """The QR's link: opens the phone page and signs in with the code (``#join=``: a fragment,
    so the code never reaches a server log or a proxy)."""
    base = base_url.rstrip("/")
    if not _BASE_URL.fullmatch(base):
        raise InvalidInput(
            "codes.bad_base_url",
            "Give the server's public address, such as https://peixun.example.cn.",
        )
    return f"{base}/trainee/#join={code}"


async def _parents(db: AsyncSession, model: type[OrgUnit] | type[Site]) -> dict[int, int | None]:
    return {i: p for i, p in (await db.execute(select(model.id, model.parent_id))).all()}


async def issue_join_codes(
    db: AsyncSession, scope: CodeScope, base_url: str, actor: str
) -> list[Slip]:
    """Issue new codes to the active trainees in ``scope`` inside the caller's transaction,
    ordered by unit then staff number; one audit entry names the scope and the count."""
    scope.check()
    join_link(base_url, "X")  # a bad address fails before any code is replaced
    query = select(Trainee).where(Trainee.active.is_(True))
    if scope.org_unit_id is not None:
        if await db.get(OrgUnit, scope.org_unit_id) is None:
            raise NotFound("org_unit.not_found", f"There is no org unit {scope.org_unit_id}.")
        units = subtree(scope.org_unit_id, await _parents(db, OrgUnit))
        query = query.where(Trainee.org_unit_id.in_(units))
    if scope.site_id is not None:
        if await db.get(Site, scope.site_id) is None:
            raise NotFound("site.not_found", f"There is no site {scope.site_id}.")
        sites = subtree(scope.site_id, await _parents(db, Site))
        query = query.where(Trainee.home_site_id.in_(sites))
    if scope.only_missing:
        query = query.where(Trainee.join_code_hash.is_(None))
    trainees = (await db.scalars(query.order_by(Trainee.org_unit_id, Trainee.staff_no))).all()
    if len(trainees) > MAX_CODES:
        raise InvalidInput(
            "codes.too_many",
            f"{len(trainees)} trainees: issue at most {MAX_CODES} codes at once, unit by unit.",
            {"count": len(trainees), "max": MAX_CODES},
        )
    unit_names = dict((await db.execute(select(OrgUnit.id, OrgUnit.name))).all())
    site_names = dict((await db.execute(select(Site.id, Site.name))).all())
    slips: list[Slip] = []
    for trainee in trainees:
        code, digest = security.new_join_code()
        trainee.join_code_hash = digest
        slips.append(
            Slip(
                trainee_id=trainee.id,
                name=trainee.name,
                staff_no=trainee.staff_no,
                org_unit=unit_names.get(trainee.org_unit_id, ""),
                site=""
                if trainee.home_site_id is None
                else site_names.get(trainee.home_site_id, ""),
                code=code,
                link=join_link(base_url, code),
            )
        )
    db.add(
        AuditEntry(
            actor=actor,
            action="issue_join_codes",
            entity="trainees",
            entity_id="bulk",
            before=None,
            after={**scope.describe(), "issued": len(slips)},
            reason="",
        )
    )
    await db.flush()
    return slips


SLIP_HEADER = {
    "zh": ["姓名", "工号", "单位", "课堂", "个人码", "登录链接"],
    "en": ["Name", "Staff no.", "Org unit", "Site", "Personal code", "Sign-in link"],
}


def slips_xlsx(slips: Sequence[Slip], lang: str = "zh") -> bytes:
    """The slips as a workbook (one row a trainee) for a mail merge or a label printer."""
    header = SLIP_HEADER["en" if lang == "en" else "zh"]
    rows = [[s.name, s.staff_no, s.org_unit, s.site, s.code, s.link] for s in slips]
    return write_xlsx(header, rows, "个人码" if lang != "en" else "Personal codes")
