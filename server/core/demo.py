"""Demo data for a fresh install: the Ningbo weekend school (周末知行学堂) in miniature.

Everything is plain frozen dataclasses linked by string keys (``org_unit_key``,
``parent_key``, ``course_key``...); the loader turns keys into database ids and sets the demo
accounts' passwords. :func:`build_demo` is deterministic: the same ``today`` and ``seed`` give
equal data. Nothing here reads the clock; session times are built around ``today``.

Shape (decided here):

* Org units: four districts of Ningbo, 海曙区, 江北区, 北仑区, 鄞州区, as roots. The city
  (宁波市) is the implicit root: it runs the main classroom at the party school and employs no
  trainee in the demo, so it is not an org unit.
* Sites: one main classroom (市委党校主课堂, capacity 300) with one sub-classroom per district
  under it and 2-3 street/town/department rooms under each district room: 14 sub-classrooms,
  capacities 30-120. Every sub-classroom belongs to one district.
* Trainees: 50 per district, 200 in all, staff numbers ``NB0001``..``NB0200``. Each district
  has exactly two leaders (区委书记 and 区长), who attend in the district's own room, and 48
  cadres in a rank pyramid from 科员 to 副区长, spread over the district's rooms. No phone
  numbers: invented numbers could belong to real people.
* Program 2026年周末知行学堂: 6 thematic units (专题), 15 courses, every course held twice, on
  two consecutive days (第一批 / 第二批: the staggered batches led by the secretary and the
  head of the district). Unit ``u`` is four weeks after unit ``u - 1``; the third unit's first
  course opens on ``today``: units 1-2 have ended, exactly one session is on ``today``, the
  rest are upcoming.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from server.core import batches
from server.core.roster_export import EXPORT_HEADERS_ZH
from server.core.sessions import TeachingMethod
from server.core.zone import CHINA_TZ

DEFAULT_SEED = 2026
PROGRAM_NAME = "2026年周末知行学堂"
TRAINEES_PER_ORG_UNIT = 50


AccountRole = Literal["admin", "operator", "moderator"]


@dataclass(frozen=True, slots=True)
class DemoOrgUnit:
    key: str
    code: str
    name: str
    parent_key: str | None


@dataclass(frozen=True, slots=True)
class DemoSite:
    key: str
    code: str
    name: str
    parent_key: str | None  # None for the main classroom
    org_unit_key: str | None  # None for the main classroom (the city's)
    capacity: int

    @property
    def is_main(self) -> bool:
        return self.parent_key is None


@dataclass(frozen=True, slots=True)
class DemoTrainee:
    staff_no: str
    name: str
    gender: Literal["male", "female"]
    org_unit_key: str
    position: str
    is_leader: bool
    home_site_key: str


@dataclass(frozen=True, slots=True)
class DemoProgram:
    key: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class DemoUnit:
    key: str
    program_key: str
    seq: int  # 1-based
    title: str


@dataclass(frozen=True, slots=True)
class DemoCourse:
    key: str
    unit_key: str
    seq: int  # 1-based within the unit
    title: str
    method: TeachingMethod


@dataclass(frozen=True, slots=True)
class DemoSession:
    key: str
    course_key: str
    batch: int  # 1 or 2 (第一批 / 第二批)
    starts_at: dt.datetime  # tz-aware, UTC
    ends_at: dt.datetime  # tz-aware, UTC
    site_keys: tuple[str, ...]  # the main classroom first


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    display_name: str
    role: AccountRole


@dataclass(frozen=True, slots=True)
class DemoData:
    org_units: tuple[DemoOrgUnit, ...]
    sites: tuple[DemoSite, ...]
    trainees: tuple[DemoTrainee, ...]
    program: DemoProgram
    units: tuple[DemoUnit, ...]
    courses: tuple[DemoCourse, ...]
    sessions: tuple[DemoSession, ...]
    accounts: tuple[DemoAccount, ...]
    batch_plans: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Course key -> staff no -> the session (batch) the published plan puts them in."""

    def expected(self, session: DemoSession) -> tuple[DemoTrainee, ...]:
        """The trainees the course's plan puts in ``session``."""
        plan = self.batch_plans.get(session.course_key, {})
        return tuple(t for t in self.trainees if plan.get(t.staff_no) == session.key)


# --- fixed reference data ------------------------------------------------------------------

MAIN_SITE = DemoSite("main", "NB00", "市委党校主课堂", None, None, 300)

# (key, code, district name, district room capacity, [(room key, room name, capacity)])
_DISTRICTS: tuple[tuple[str, str, str, int, tuple[tuple[str, str, int], ...]], ...] = (
    (
        "haishu",
        "HS",
        "海曙区",
        120,
        (
            ("gulou", "鼓楼街道分课堂", 60),
            ("shiqi", "石碶街道分课堂", 45),
            ("fgj", "海曙区发改局分课堂", 30),
        ),
    ),
    (
        "jiangbei",
        "JB",
        "江北区",
        100,
        (("zhuangqiao", "庄桥街道分课堂", 50), ("cicheng", "慈城镇分课堂", 80)),
    ),
    (
        "beilun",
        "BL",
        "北仑区",
        110,
        (
            ("xinqi", "新碶街道分课堂", 70),
            ("chunxiao", "春晓街道分课堂", 35),
            ("yjj", "北仑区应急管理局分课堂", 30),
        ),
    ),
    (
        "yinzhou",
        "YZ",
        "鄞州区",
        120,
        (("zhonggongmiao", "钟公庙街道分课堂", 90), ("jiangshan", "姜山镇分课堂", 60)),
    ),
)

LEADER_POSITIONS: tuple[str, str] = ("区委书记", "区长")
# Non-leaders of one district, top to bottom: 48 cadres.
_RANKS: tuple[tuple[str, int], ...] = (
    ("副区长", 1),
    ("副书记", 2),
    ("主任", 4),
    ("副主任", 5),
    ("科长", 8),
    ("副科长", 10),
    ("科员", 18),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董潘袁蔡蒋余杜叶程魏苏吕丁沈姚卢傅钟姜崔谭廖范汪陆金"
    "石戴贾夏邱方侯邹孟秦江薛尹顾毛钱严洪应竺虞"
)
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁浩凯俊健峰建国志海东晨宇博文"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪慧颖琳洁红梅莉萍倩佳琪悦欣怡晶蕾丹月"

# (unit title, [(course title, method)])
_CURRICULUM: tuple[tuple[str, tuple[tuple[str, TeachingMethod], ...]], ...] = (
    (
        "理想信念与党性修养",
        (
            ("新时代中国特色社会主义思想概论", TeachingMethod.LECTURE),
            ("红色家风与廉洁自律访谈", TeachingMethod.INTERVIEW),
            ("党性修养与作风建设研讨", TeachingMethod.SEMINAR),
        ),
    ),
    (
        "推动高质量发展",
        (
            ("新质生产力与产业升级", TeachingMethod.LECTURE),
            ("宁波舟山港港口经济发展案例", TeachingMethod.CASE),
        ),
    ),
    (
        "基层治理现代化",
        (
            ("新时代枫桥经验与基层治理", TeachingMethod.LECTURE),
            ("社区治理创新案例", TeachingMethod.CASE),
            ("学员论坛：我的基层治理实践", TeachingMethod.FORUM),
        ),
    ),
    (
        "共同富裕示范区建设",
        (
            ("高质量发展建设共同富裕示范区", TeachingMethod.LECTURE),
            ("山海协作与乡村振兴访谈", TeachingMethod.INTERVIEW),
        ),
    ),
    (
        "应急管理与风险防范",
        (
            ("突发事件应急处置案例", TeachingMethod.CASE),
            ("安全生产与防灾减灾", TeachingMethod.LECTURE),
            ("领导干部媒介素养研讨", TeachingMethod.SEMINAR),
        ),
    ),
    (
        "数字化改革",
        (
            ("数字政府建设", TeachingMethod.LECTURE),
            ("学员论坛：数字化改革实践分享", TeachingMethod.FORUM),
        ),
    ),
)

_TODAY_UNIT = 2  # 0-based: the third unit's first course, batch 1, is on `today`
_UNIT_SPACING_DAYS = 28
_COURSE_SPACING_DAYS = 7
_BATCH_START = dt.time(9, 0)
_BATCH_LENGTH = dt.timedelta(hours=2, minutes=30)

ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "系统管理员", "admin"),
    DemoAccount("operator", "主课堂操作员", "operator"),
    DemoAccount("moderator", "互动主持人", "moderator"),
)


# --- builders ------------------------------------------------------------------------------


def demo_org_units() -> tuple[DemoOrgUnit, ...]:
    return tuple(DemoOrgUnit(key, code, name, None) for key, code, name, _, _ in _DISTRICTS)


def demo_sites() -> tuple[DemoSite, ...]:
    """Main classroom first, then each district room followed by its rooms."""
    sites = [MAIN_SITE]
    for key, code, name, capacity, rooms in _DISTRICTS:
        sites.append(DemoSite(key, f"{code}00", f"{name}分课堂", MAIN_SITE.key, key, capacity))
        for n, (room_key, room_name, room_capacity) in enumerate(rooms, start=1):
            sites.append(
                DemoSite(f"{key}.{room_key}", f"{code}{n:02d}", room_name, key, key, room_capacity)
            )
    return tuple(sites)


def _unique_name(rng: random.Random, given: str, used: set[str]) -> str:
    while True:
        length = 1 if rng.random() < 0.3 else 2
        name = rng.choice(SURNAMES) + "".join(rng.choice(given) for _ in range(length))
        if name not in used:
            used.add(name)
            return name


def demo_trainees(sites: Sequence[DemoSite], seed: int = DEFAULT_SEED) -> tuple[DemoTrainee, ...]:
    """50 trainees per district; leaders first; cadres spread over the district's rooms."""
    rng = random.Random(seed)
    used: set[str] = set()
    trainees: list[DemoTrainee] = []
    for org_key, *_ in _DISTRICTS:
        district_room = org_key
        rooms = [s.key for s in sites if s.org_unit_key == org_key]
        positions = [(p, True) for p in LEADER_POSITIONS] + [
            (p, False) for p, count in _RANKS for _ in range(count)
        ]
        for position, is_leader in positions:
            male = rng.random() < (0.8 if is_leader else 0.6)
            name = _unique_name(rng, GIVEN_MALE if male else GIVEN_FEMALE, used)
            trainees.append(
                DemoTrainee(
                    staff_no=f"NB{len(trainees) + 1:04d}",
                    name=name,
                    gender="male" if male else "female",
                    org_unit_key=org_key,
                    position=position,
                    is_leader=is_leader,
                    home_site_key=district_room if is_leader else rng.choice(rooms),
                )
            )
    return tuple(trainees)


def _session_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, _BATCH_START, CHINA_TZ).astimezone(dt.UTC)
    return start, start + _BATCH_LENGTH


def _participating_sites(method: TeachingMethod, sites: Sequence[DemoSite]) -> tuple[str, ...]:
    """Lectures, cases and interviews go to every room; seminars and forums to district rooms."""
    if method in (TeachingMethod.SEMINAR, TeachingMethod.FORUM):
        return tuple(s.key for s in sites if s.is_main or s.parent_key == MAIN_SITE.key)
    return tuple(s.key for s in sites)


def _today_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Today's session when the server starts at ``now``: it begins at the next 5-minute mark
    at least ten minutes away (time to open the console and the rooms), 2.5 hours long."""
    base = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    start = base + dt.timedelta(minutes=10 + (-base.minute) % 5)
    return start, start + _BATCH_LENGTH


def build_demo(
    today: dt.date, seed: int = DEFAULT_SEED, now: dt.datetime | None = None
) -> DemoData:
    """The whole demo data set, with sessions placed around ``today`` (China local dates).

    With ``now`` (the server's start), today's session is scheduled around it instead of 09:00.
    """
    sites = demo_sites()
    program = DemoProgram(
        "weekend2026",
        PROGRAM_NAME,
        "党校主课堂与视频分课堂相结合，分批组织与错时参训相结合；每月一个专题，集中授课研讨。",
    )
    units: list[DemoUnit] = []
    courses: list[DemoCourse] = []
    sessions: list[DemoSession] = []
    for u, (unit_title, unit_courses) in enumerate(_CURRICULUM):
        unit = DemoUnit(f"unit{u + 1}", program.key, u + 1, f"专题{u + 1}：{unit_title}")
        units.append(unit)
        for c, (title, method) in enumerate(unit_courses):
            course = DemoCourse(f"{unit.key}.course{c + 1}", unit.key, c + 1, title, method)
            courses.append(course)
            first_day = (u - _TODAY_UNIT) * _UNIT_SPACING_DAYS + c * _COURSE_SPACING_DAYS
            for batch in (1, 2):
                day = first_day + batch - 1
                if day == 0 and now is not None:
                    starts_at, ends_at = _today_window(now)
                else:
                    starts_at, ends_at = _session_window(today + dt.timedelta(days=day))
                sessions.append(
                    DemoSession(
                        f"{course.key}.batch{batch}",
                        course.key,
                        batch,
                        starts_at,
                        ends_at,
                        _participating_sites(method, sites),
                    )
                )
    trainees = demo_trainees(sites, seed)
    return DemoData(
        org_units=demo_org_units(),
        sites=sites,
        trainees=trainees,
        program=program,
        units=tuple(units),
        courses=tuple(courses),
        sessions=tuple(sessions),
        accounts=ACCOUNTS,
        batch_plans=demo_batch_plans(sites, trainees, sessions, today),
    )


def demo_batch_plans(
    sites: Sequence[DemoSite],
    trainees: Sequence[DemoTrainee],
    sessions: Sequence[DemoSession],
    today: dt.date,
) -> dict[str, dict[str, str]]:
    """The published batch plan of every course that has begun by ``today`` (the later ones
    are still to plan: the office's job before each month), made by the product's planner:
    the trainees whose room takes part, half of each district on duty while the other half is
    in class, the secretary leading 第一批 and the head of the district 第二批, within the
    rooms' capacity."""
    capacity = {s.key: s.capacity for s in sites}
    solved: dict[tuple[str, ...], batches.Plan] = {}  # the same rooms: the same plan
    plans: dict[str, dict[str, str]] = {}
    by_course: dict[str, list[DemoSession]] = {}
    for session in sessions:
        by_course.setdefault(session.course_key, []).append(session)
    for course_key, held in by_course.items():
        if min(s.starts_at for s in held).astimezone(CHINA_TZ).date() > today:
            continue
        rooms = held[0].site_keys
        if rooms not in solved:
            solved[rooms] = batches.plan_batches(_batch_problem(trainees, rooms, capacity))
        slot_session = {str(s.batch): s.key for s in held}
        plans[course_key] = {
            staff_no: slot_session[slot] for staff_no, slot in solved[rooms].assignment.items()
        }
    return plans


def _batch_problem(
    trainees: Sequence[DemoTrainee], rooms: Sequence[str], capacity: Mapping[str, int]
) -> batches.BatchProblem:
    secretary, head = LEADER_POSITIONS
    pinned = {secretary: frozenset({"2"}), head: frozenset({"1"})}  # unavailable in that batch
    return batches.BatchProblem(
        slots=(batches.Slot("1"), batches.Slot("2")),
        trainees=tuple(
            batches.Trainee(
                t.staff_no,
                t.org_unit_key,
                t.home_site_key,
                t.is_leader,
                pinned.get(t.position, frozenset()) if t.is_leader else frozenset(),
            )
            for t in trainees
            if t.home_site_key in rooms
        ),
        site_capacity={room: capacity[room] for room in rooms},
        rules=batches.BatchRules(on_duty_share=0.5),
    )


def demo_roster_table(data: DemoData) -> tuple[list[str], list[list[str]]]:
    """The demo trainees as an importable roster table (Chinese headers, names not codes).

    Handy as a sample file for the import page; it passes ``parse_roster`` unchanged.
    """
    org_names = {o.key: o.name for o in data.org_units}
    site_names = {s.key: s.name for s in data.sites}
    rows = [
        [
            t.name,
            t.staff_no,
            org_names[t.org_unit_key],
            t.position,
            "是" if t.is_leader else "否",
            site_names[t.home_site_key],
            "",
        ]
        for t in data.trainees
    ]
    return list(EXPORT_HEADERS_ZH), rows


def todays_session(data: DemoData, today: dt.date) -> DemoSession | None:
    """The session held on ``today`` (China dates), if any."""
    return next(
        (s for s in data.sessions if s.starts_at.astimezone(CHINA_TZ).date() == today), None
    )


def sample_trainees(data: DemoData, today: dt.date, count: int = 3) -> tuple[DemoTrainee, ...]:
    """Whom to print personal codes for: trainees of today's batch, who can check in today."""
    today_session = todays_session(data, today)
    expected = data.expected(today_session) if today_session is not None else ()
    return (expected or data.trainees)[:count]
