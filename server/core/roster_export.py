"""Trainee roster export (学员名单导出): trainees as a table that imports back unchanged.

The headers are the import's own column names (``server.core.roster`` reads them back), in
Chinese or English; the leader column reads 是/否 (yes/no) and the org unit and the classroom
are written by name. ``server.roster_files`` turns the table into CSV or XLSX bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, Protocol

from server.core.errors import NotFound

Lang = Literal["zh", "en"]

EXPORT_HEADERS_ZH: tuple[str, ...] = (
    "姓名",
    "工号",
    "单位",
    "职务",
    "是否领导",
    "所属课堂",
    "手机",
)
EXPORT_HEADERS_EN: tuple[str, ...] = (
    "name",
    "staff_no",
    "org_unit",
    "position",
    "leader",
    "home_site",
    "phone",
)


class TraineeLike(Protocol):
    """What export needs of a trainee: ``server.core.roster.TraineeRow`` and store models fit."""

    @property
    def name(self) -> str: ...
    @property
    def staff_no(self) -> str: ...
    @property
    def org_unit_id(self) -> int: ...
    @property
    def position(self) -> str: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def home_site_id(self) -> int: ...
    @property
    def phone(self) -> str | None: ...


def export_headers(lang: Lang = "zh") -> list[str]:
    return list(EXPORT_HEADERS_ZH if lang == "zh" else EXPORT_HEADERS_EN)


def export_rows(
    trainees: Iterable[TraineeLike],
    org_unit_names: Mapping[int, str],
    site_names: Mapping[int, str],
    lang: Lang = "zh",
) -> list[list[str]]:
    """Rows in the order of :func:`export_headers`; the result imports back unchanged.

    Raises ``NotFound`` if a trainee refers to an org unit or site id missing from the maps.
    """
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    out: list[list[str]] = []
    for t in trainees:
        org = org_unit_names.get(t.org_unit_id)
        site = site_names.get(t.home_site_id)
        if org is None:
            raise NotFound(
                "roster.export_unknown_org_unit",
                f"Org unit id {t.org_unit_id} of trainee {t.staff_no} is not in the export map.",
            )
        if site is None:
            raise NotFound(
                "roster.export_unknown_site",
                f"Site id {t.home_site_id} of trainee {t.staff_no} is not in the export map.",
            )
        leader = yes if t.is_leader else no
        out.append([t.name, t.staff_no, org, t.position, leader, site, t.phone or ""])
    return out
