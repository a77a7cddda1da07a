"""The attendance reports as the training office files them: XLSX/CSV sheets in local time.

A session report workbook: the trainees (detail, the CSV too), a summary by org unit and by
site with the absentees' names, the absentee list, the session's plan and run, then the detail
again as a sheet per org unit and a sheet per site. An org unit
report workbook: the trainees over the date range, the sessions, and summaries by org unit and
by site. Numbers are numbers, times are Excel dates in the configured time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from server.web.exports import Cell, Sheet, local

SESSION_HEADER = [
    "单位",
    "课堂",
    "姓名",
    "工号",
    "应到",
    "出勤情况",
    "签到类型",
    "首次签到",
    "最后签退",
    "在场分钟",
    "迟到",
    "早退",
    "学时",
]
KIND_ZH = {"regular": "正常", "makeup": "补课", "manual": "补签", "": ""}
STATUS_ZH = {
    "present": "出勤",
    "absent": "缺勤",
    "makeup": "补课",
    "pending": "待签到",
    "leave": "请假",
}
PHASE_ZH = {"not_started": "未开始", "in_progress": "进行中", "ended": "已结束"}
SUMMARY_COUNTS = [
    "expected",
    "present",
    "absent",
    "makeup",
    "pending",
    "late",
    "left_early",
    "leave",
]
SUMMARY_HEADER = ["应到", "出勤", "缺勤", "补课", "待签到", "迟到", "早退", "请假", "出勤率(%)"]
UNIT_HEADER = [
    "单位",
    "姓名",
    "工号",
    "应到场次",
    "出勤场次",
    "缺勤场次",
    "补课场次",
    "待签到场次",
    "迟到次数",
    "早退次数",
    "学时",
    "请假场次",
]


def yes(value: bool) -> str:
    return "是" if value else "否"


def _time(value: str | None, zone: tzinfo) -> datetime | None:
    return local(datetime.fromisoformat(value), zone) if value else None


def rate(present: int, expected: int) -> float | None:
    """Attendance rate in percent, one decimal; None when nobody was expected."""
    return round(present / expected * 100, 1) if expected else None


def _summary_rows(groups: Sequence[Mapping[str, Any]], with_names: bool) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for g in groups:
        row: list[Cell] = [g["name"] or "（未指定）"]
        row += [int(g[k]) for k in SUMMARY_COUNTS]
        row.append(rate(g["present"], g["expected"]))
        if with_names:
            row.append("、".join(a["name"] for a in g.get("absentees", [])))
        rows.append(row)
    return rows


def session_sheets(report: Mapping[str, Any], zone: tzinfo) -> list[Sheet]:
    people = report["trainees"]
    detail: list[list[Cell]] = [
        [
            p["org_unit"],
            p["site"],
            p["name"],
            p["staff_no"],
            yes(p["expected"]),
            STATUS_ZH[p["status"]],
            KIND_ZH[p["kind"]],
            _time(p["first_in"], zone),
            _time(p["last_out"], zone),
            p["attended_minutes"],
            yes(p["late"]),
            yes(p["left_early"]),
            p["class_hours"],
        ]
        for p in people
    ]
    absent = [
        [p["org_unit"], p["site"], p["name"], p["staff_no"]]
        for p in people
        if p["status"] == "absent"
    ]
    plan: list[list[Cell]] = [
        ["课次", report["title"] or f"#{report['session_id']}"],
        ["状态", PHASE_ZH.get(report["phase"], report["phase"])],
        ["计划开始", _time(report["starts_at"], zone)],
        ["计划结束", _time(report["ends_at"], zone)],
        ["实际开始", _time(report["started_at"], zone)],
        ["实际结束", _time(report["ended_at"], zone)],
        ["开始偏差(分钟)", report["start_offset_minutes"]],
        ["时区", str(zone)],
    ]
    with_names = [*SUMMARY_HEADER, "缺勤名单"]
    return [
        Sheet("考勤明细", SESSION_HEADER, detail),
        Sheet("按单位汇总", ["单位", *with_names], _summary_rows(report["by_org_unit"], True)),
        Sheet("按课堂汇总", ["课堂", *with_names], _summary_rows(report["by_site"], True)),
        Sheet("缺勤名单", ["单位", "课堂", "姓名", "工号"], absent),
        Sheet("课次信息", ["项目", "内容"], plan),
        *_sheet_each(detail, 0, "单位"),
        *_sheet_each(detail, 1, "课堂"),
    ]


def _sheet_each(detail: list[list[Cell]], column: int, kind: str) -> list[Sheet]:
    """A detail sheet per org unit (``column`` 0) or per site (1), named ``单位-海曙区``, in
    the order they first appear: what the office hands each unit's contact or site."""
    groups: dict[str, list[list[Cell]]] = {}
    for row in detail:
        groups.setdefault(str(row[column] or "（未指定）"), []).append(row)
    return [Sheet(f"{kind}-{name}", SESSION_HEADER, rows) for name, rows in groups.items()]


def _add_counts(acc: dict[str, Any], p: Mapping[str, Any]) -> None:
    acc["expected"] += int(p["expected"])
    acc[p["status"]] += 1
    acc["late"] += int(p["late"])
    acc["left_early"] += int(p["left_early"])
    acc["class_hours"] += p["class_hours"]


def _blank(name: str) -> dict[str, Any]:
    return {"name": name, **dict.fromkeys(SUMMARY_COUNTS, 0), "class_hours": 0.0}


def unit_sheets(
    trainees: Sequence[Mapping[str, Any]],
    reports: Sequence[Mapping[str, Any]],
    zone: tzinfo,
) -> list[Sheet]:
    """``trainees``: the per-trainee totals; ``reports``: each session's report (JSON form)."""
    people: list[list[Cell]] = [
        [
            p["org_unit"],
            p["name"],
            p["staff_no"],
            p["expected"],
            p["present"],
            p["absent"],
            p["makeup"],
            p["pending"],
            p["late"],
            p["left_early"],
            p["class_hours"],
            p["leave"],
        ]
        for p in trainees
    ]
    sessions: list[list[Cell]] = [
        [
            r["title"] or f"#{r['session_id']}",
            _time(r["starts_at"], zone),
            _time(r["started_at"], zone),
            PHASE_ZH.get(r["phase"], r["phase"]),
            *[int(r["totals"][k]) for k in SUMMARY_COUNTS],
            rate(r["totals"]["present"], r["totals"]["expected"]),
        ]
        for r in reports
    ]
    by_unit: dict[str, dict[str, Any]] = {}
    by_site: dict[str, dict[str, Any]] = {}
    for r in reports:
        for p in r["trainees"]:
            _add_counts(by_unit.setdefault(p["org_unit"], _blank(p["org_unit"])), p)
            _add_counts(by_site.setdefault(p["site"], _blank(p["site"])), p)

    def summary(groups: dict[str, dict[str, Any]]) -> list[list[Cell]]:
        ordered = [groups[name] for name in sorted(groups)]
        rows = _summary_rows(ordered, False)
        return [[*row, g["class_hours"]] for row, g in zip(rows, ordered, strict=True)]

    counts_header = [*SUMMARY_HEADER, "学时"]
    return [
        Sheet("单位考勤汇总", UNIT_HEADER, people),
        Sheet(
            "按课次",
            ["课次", "计划开始", "实际开始", "状态", *SUMMARY_HEADER],
            sessions,
        ),
        Sheet("按单位汇总", ["单位", *counts_header], summary(by_unit)),
        Sheet("按课堂汇总", ["课堂", *counts_header], summary(by_site)),
    ]
