"""A roster row never renames someone else silently (issue 13.12)."""

from __future__ import annotations

from server.core.roster import TraineeRow
from server.core.roster_merge import Rename, rename_errors, renames


def row(n: int, name: str, staff_no: str) -> TraineeRow:
    return TraineeRow(n, name, staff_no, 1, "", False, 1)


def test_only_another_name_on_a_known_staff_number_is_a_rename() -> None:
    existing = {"T1": "张伟", "T2": "Li Na", "T3": "王强"}
    rows = [
        row(2, "张  伟", "T1"),  # spaces Excel users put in names: the same person
        row(3, "li na", "T2"),  # case: the same person
        row(4, "赵敏", "T3"),  # another person on 王强's number
        row(5, "新人", "T9"),  # a new number
    ]
    assert renames(rows, existing) == (Rename(4, "T3", "王强", "赵敏"),)


def test_each_rename_is_a_row_error_with_both_names() -> None:
    (issue,) = rename_errors([Rename(4, "T3", "王强", "赵敏")])
    assert issue.row == 4 and issue.code == "roster.staff_no_taken" and issue.value == "T3"
    assert "王强" in issue.message_zh and "赵敏" in issue.message_zh
    assert "update existing" in issue.message
