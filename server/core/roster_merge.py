"""A roster import never overwrites a person silently.

A row is matched to an existing trainee by staff number (工号). When that trainee has another
name, the row is probably a different person given a reused or mistyped number: updating would
rename and move somebody else. Such a row is an error (``roster.staff_no_taken``) unless the
operator chose to update existing trainees; then it is applied and listed as a rename, so the
answer says who changed.

Pure: the caller passes the parsed rows and the existing trainees' names by staff number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from server.core.roster import RosterField, RosterIssue, TraineeRow, normalize_name


@dataclass(frozen=True, slots=True)
class Rename:
    row: int
    staff_no: str
    old_name: str
    new_name: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _same(a: str, b: str) -> bool:
    return normalize_name(a).casefold() == normalize_name(b).casefold()


def renames(rows: Iterable[TraineeRow], existing_names: Mapping[str, str]) -> tuple[Rename, ...]:
    """Rows whose staff number belongs to an existing trainee with another name."""
    return tuple(
        Rename(r.row, r.staff_no, existing_names[r.staff_no], r.name)
        for r in rows
        if r.staff_no in existing_names and not _same(existing_names[r.staff_no], r.name)
    )


def rename_errors(found: Iterable[Rename]) -> tuple[RosterIssue, ...]:
    """One row error per rename, for an import that did not choose to update."""
    return tuple(
        RosterIssue(
            row=r.row,
            column="工号",
            field=RosterField.STAFF_NO,
            code="roster.staff_no_taken",
            message=(
                f"Staff number {r.staff_no} belongs to {r.old_name}, not {r.new_name}. "
                "Fix the number, or import again choosing to update existing trainees."
            ),
            message_zh=(
                f"工号 {r.staff_no} 已属于 {r.old_name}，与本行姓名 {r.new_name} 不符。"
                "请核对工号；确需更改此人信息，请勾选“更新已有学员”后重新导入"
            ),
            value=r.staff_no,
        )
        for r in found
    )
