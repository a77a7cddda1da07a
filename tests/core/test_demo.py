from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.batches import BatchProblem, Plan, Slot, validate_plan
from server.core.batches import Trainee as PlanTrainee
from server.core.demo import (
    PROGRAM_NAME,
    DemoData,
    DemoSession,
    TeachingMethod,
    build_demo,
    demo_roster_table,
    sample_trainees,
    todays_session,
)
from server.core.demo_story import (
    DROP_AFTER,
    DROP_FOR,
    DemoPresence,
    DemoRun,
    demo_presence,
    demo_runs,
    demo_story,
)
from server.core.presence import PresenceState, Reason
from server.core.roster import parse_roster
from server.core.zone import CHINA_TZ

TODAY = dt.date(2026, 3, 14)
DEMO = build_demo(TODAY)
CJK_NAME = re.compile(r"[\u4e00-\u9fff]{2,3}")


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA_TZ).date()


def test_demo_has_the_documented_counts() -> None:
    subs = [s for s in DEMO.sites if not s.is_main]

    assert len(DEMO.org_units) == 4
    assert [s.name for s in DEMO.sites if s.is_main] == ["市委党校主课堂"]
    assert len(subs) >= 12
    assert len(DEMO.trainees) == 200
    assert DEMO.program.name == PROGRAM_NAME == "2026年周末知行学堂"
    assert len(DEMO.units) == 6
    assert all(2 <= n <= 3 for n in Counter(c.unit_key for c in DEMO.courses).values())
    assert [(a.username, a.role) for a in DEMO.accounts] == [
        ("admin", "admin"),
        ("operator", "operator"),
        ("moderator", "moderator"),
    ]


def test_sub_classroom_capacities_are_between_30_and_120() -> None:
    assert all(30 <= s.capacity <= 120 for s in DEMO.sites if not s.is_main)


def test_same_today_and_seed_give_equal_data() -> None:
    assert build_demo(TODAY) == DEMO
    assert build_demo(TODAY, seed=7) == build_demo(TODAY, seed=7)


def test_another_seed_gives_other_names_but_the_same_structure() -> None:
    other = build_demo(TODAY, seed=7)

    assert [t.name for t in other.trainees] != [t.name for t in DEMO.trainees]
    assert [t.staff_no for t in other.trainees] == [t.staff_no for t in DEMO.trainees]
    assert other.sessions == DEMO.sessions


def test_staff_numbers_are_unique_and_shaped_nb_and_four_digits() -> None:
    numbers = [t.staff_no for t in DEMO.trainees]

    assert len(set(numbers)) == 200
    assert all(re.fullmatch(r"NB\d{4}", n) for n in numbers)


def test_names_are_chinese_and_unique() -> None:
    names = [t.name for t in DEMO.trainees]

    assert all(CJK_NAME.fullmatch(n) for n in names)
    assert len(set(names)) == len(names)


def test_every_trainee_sits_in_an_existing_room_of_its_own_org_unit() -> None:
    sites = {s.key: s for s in DEMO.sites}
    org_keys = {o.key for o in DEMO.org_units}

    for t in DEMO.trainees:
        assert t.org_unit_key in org_keys
        assert sites[t.home_site_key].org_unit_key == t.org_unit_key


def test_no_room_holds_more_trainees_than_its_capacity() -> None:
    load = Counter(t.home_site_key for t in DEMO.trainees)

    assert all(load[s.key] <= s.capacity for s in DEMO.sites)


def test_each_org_unit_has_exactly_two_leaders_a_secretary_and_a_head() -> None:
    for org in DEMO.org_units:
        leaders = [t for t in DEMO.trainees if t.org_unit_key == org.key and t.is_leader]
        assert sorted(t.position for t in leaders) == ["区委书记", "区长"]
        assert all(t.home_site_key == org.key for t in leaders)  # the district's own room


def test_site_tree_hangs_from_the_main_classroom_and_rooms_stay_in_their_district() -> None:
    sites = {s.key: s for s in DEMO.sites}
    assert len(sites) == len(DEMO.sites)
    assert len({s.code for s in DEMO.sites}) == len(DEMO.sites)

    for site in DEMO.sites:
        depth, node = 0, site
        while node.parent_key is not None:
            parent = sites[node.parent_key]
            if not parent.is_main:
                assert parent.org_unit_key == node.org_unit_key
            node, depth = parent, depth + 1
            assert depth < 10
        assert node.is_main


def test_every_unit_course_and_session_links_to_something_that_exists() -> None:
    unit_keys = {u.key for u in DEMO.units}
    course_keys = {c.key for c in DEMO.courses}
    site_keys = {s.key for s in DEMO.sites}

    assert all(u.program_key == DEMO.program.key for u in DEMO.units)
    assert all(c.unit_key in unit_keys for c in DEMO.courses)
    assert all(s.course_key in course_keys for s in DEMO.sessions)
    assert all(set(s.site_keys) <= site_keys and s.site_keys[0] == "main" for s in DEMO.sessions)
    assert len({s.key for s in DEMO.sessions}) == len(DEMO.sessions)


def test_every_course_is_held_in_two_batches_on_consecutive_days() -> None:
    for course in DEMO.courses:
        first, second = sorted(
            (s for s in DEMO.sessions if s.course_key == course.key), key=lambda s: s.batch
        )
        assert (first.batch, second.batch) == (1, 2)
        assert local_day(second.starts_at) - local_day(first.starts_at) == dt.timedelta(days=1)


def test_all_five_teaching_methods_are_used() -> None:
    assert {c.method for c in DEMO.courses} == set(TeachingMethod)


def sessions_by_day(data: DemoData, today: dt.date) -> tuple[int, int, int]:
    days = [local_day(s.starts_at) for s in data.sessions]
    return (
        sum(d < today for d in days),
        sum(d == today for d in days),
        sum(d > today for d in days),
    )


def test_sessions_are_utc_and_some_ended_one_is_today_and_some_are_upcoming() -> None:
    ended, today, upcoming = sessions_by_day(DEMO, TODAY)

    assert (today, ended > 0, upcoming > 0) == (1, True, True)
    assert all(s.starts_at.utcoffset() == dt.timedelta(0) for s in DEMO.sessions)
    assert all(s.ends_at > s.starts_at for s in DEMO.sessions)


@settings(max_examples=50, deadline=None)
@given(st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2040, 12, 31)))
def test_exactly_one_session_falls_on_any_today(today: dt.date) -> None:
    ended, on_today, upcoming = sessions_by_day(build_demo(today), today)

    assert on_today == 1 and ended > 0 and upcoming > 0


def test_demo_roster_table_imports_cleanly() -> None:
    header, rows = demo_roster_table(DEMO)
    org_ids = {o.name: i for i, o in enumerate(DEMO.org_units)}
    site_ids = {s.name: i for i, s in enumerate(DEMO.sites)}

    result = parse_roster(header, rows, org_ids, site_ids)

    assert result.ok, result.errors[:3]
    assert [t.staff_no for t in result.rows] == [t.staff_no for t in DEMO.trainees]
    assert sum(t.is_leader for t in result.rows) == 8


def test_todays_session_is_scheduled_around_the_server_start() -> None:
    now = dt.datetime(2026, 3, 14, 6, 3, 20, tzinfo=dt.UTC)  # 14:03 in Beijing
    data = build_demo(TODAY, now=now)
    (today,) = [s for s in data.sessions if local_day(s.starts_at) == TODAY]
    assert today.starts_at == dt.datetime(2026, 3, 14, 6, 15, tzinfo=dt.UTC)  # 14:15, 12 min on
    assert today.ends_at - today.starts_at == dt.timedelta(hours=2, minutes=30)
    others = {s.key: s for s in DEMO.sessions}
    assert all(others[s.key] == s for s in data.sessions if s.key != today.key)


def test_the_story_is_the_last_session_before_today_and_has_a_bit_of_everything() -> None:
    story = demo_story(DEMO, TODAY)
    assert story is not None
    session = next(s for s in DEMO.sessions if s.key == story.session_key)
    assert local_day(session.ends_at) < TODAY
    assert not any(local_day(session.ends_at) < local_day(s.ends_at) < TODAY for s in DEMO.sessions)
    assert story.started_at - session.starts_at == dt.timedelta(minutes=4)
    expected = {t.staff_no for t in DEMO.expected(session)}
    came = {s.staff_no for s in story.stays}
    assert came <= expected  # only the session's batch
    assert 0.8 * len(expected) <= len(came) < len(expected)  # some stayed away
    late = [s for s in story.stays if s.start > story.started_at + dt.timedelta(minutes=10)]
    early = [s for s in story.stays if s.end < story.ended_at - dt.timedelta(minutes=10)]
    assert late and early
    assert any(q.anonymous for q in story.questions) and any(q.answered for q in story.questions)
    assert all(q.staff_no in came and set(q.votes) <= came for q in story.questions)
    assert story.poll.answers and {no for no, _ in story.poll.answers} <= came
    assert demo_story(DEMO, TODAY) == story  # deterministic


def test_every_session_before_today_ran_and_the_last_run_is_the_story() -> None:
    runs = demo_runs(DEMO, TODAY)
    past = [s for s in DEMO.sessions if local_day(s.starts_at) < TODAY]
    assert [r.session_key for r in runs] == [s.key for s in sorted(past, key=lambda s: s.starts_at)]
    sessions = {s.key: s for s in DEMO.sessions}
    for run in runs:
        session = sessions[run.session_key]
        expected = {t.staff_no for t in DEMO.expected(session)}
        assert run.started_at > session.starts_at and run.ended_at > session.ends_at
        assert {stay.staff_no for stay in run.stays} <= expected
        assert 0.7 * len(expected) <= len(run.stays) < len(expected)
    story = demo_story(DEMO, TODAY)
    assert story is not None and runs[-1].stays == story.stays
    assert len({r.stays for r in runs}) == len(runs)  # each run has its own attendance
    assert demo_runs(DEMO, TODAY) == runs  # deterministic


def test_no_story_without_a_past_session() -> None:
    assert demo_runs(DEMO, dt.date(2020, 1, 1)) == ()
    assert demo_story(DEMO, dt.date(2020, 1, 1)) is None


def test_the_demo_has_a_moderator_login() -> None:
    assert {a.role for a in DEMO.accounts} == {"admin", "operator", "moderator"}


def test_every_course_begun_has_a_plan_that_puts_each_trainee_of_its_rooms_in_one_batch() -> None:
    sessions = {s.key: s for s in DEMO.sessions}
    begun = {s.course_key for s in DEMO.sessions if local_day(s.starts_at) <= TODAY}
    assert set(DEMO.batch_plans) == begun and len(begun) < len(DEMO.courses)  # some to plan
    for course in DEMO.courses:
        if course.key not in begun:
            continue
        held = [s for s in DEMO.sessions if s.course_key == course.key]
        rooms = held[0].site_keys
        plan = DEMO.batch_plans[course.key]
        assert set(plan) == {t.staff_no for t in DEMO.trainees if t.home_site_key in rooms}
        assert {sessions[key].course_key for key in plan.values()} == {course.key}
        sizes = Counter(plan.values())
        assert len(sizes) == 2 and abs(sizes[held[0].key] - sizes[held[1].key]) <= 8
        # the product's own rules hold: half of each district on duty, leaders apart, capacity
        problem = BatchProblem(
            slots=tuple(Slot(s.key) for s in held),
            trainees=tuple(
                PlanTrainee(t.staff_no, t.org_unit_key, t.home_site_key, t.is_leader)
                for t in DEMO.trainees
                if t.staff_no in plan
            ),
            site_capacity={s.key: s.capacity for s in DEMO.sites if s.key in rooms},
        )
        assert validate_plan(problem, Plan(dict(plan))) == []


def test_the_secretary_leads_the_first_batch_and_the_head_the_second() -> None:
    for course_key, plan in DEMO.batch_plans.items():
        for t in DEMO.trainees:
            if t.is_leader and t.staff_no in plan:
                batch = 1 if plan[t.staff_no].endswith("batch1") else 2
                assert batch == (1 if t.position == "区委书记" else 2), (course_key, t)


def test_nobody_is_credited_twice_for_one_course() -> None:
    attended = Counter(
        (stay.staff_no, run.session_key.rsplit(".", 1)[0])
        for run in demo_runs(DEMO, TODAY)
        for stay in run.stays
    )
    assert attended and max(attended.values()) == 1


def test_the_printed_trainees_can_check_in_today() -> None:
    today = todays_session(DEMO, TODAY)
    assert today is not None
    sample = sample_trainees(DEMO, TODAY)
    assert len(sample) == 3 and set(sample) <= set(DEMO.expected(today))


def test_rooms_were_online_around_each_run_and_one_dropped_in_the_latest() -> None:
    runs = demo_runs(DEMO, TODAY)
    changes = demo_presence(DEMO, runs)
    assert demo_presence(DEMO, runs) == changes  # deterministic
    by_site: dict[str, list[DemoPresence]] = {}
    for c in changes:
        by_site.setdefault(c.site_key, []).append(c)
    online, offline = PresenceState.ONLINE, PresenceState.OFFLINE
    for key, seq in by_site.items():  # online, offline, online ... ending offline
        assert [c.state for c in seq] == [online, offline] * (len(seq) // 2), key
        assert all(c.previous != c.state for c in seq)
    sessions = {s.key: s for s in DEMO.sessions}
    for run in runs:  # every room was up from before the start to after the end
        for key in sessions[run.session_key].site_keys:
            ups = by_site[key][::2]
            assert any(
                up.at < run.started_at and down.at > run.ended_at
                for up, down in zip(ups, by_site[key][1::2], strict=True)
            ) or (run is runs[-1] and key == _dropped(runs, sessions)), (run.session_key, key)
    (lost,) = [c for c in changes if c.reason is Reason.CONNECTION_LOST]
    back = by_site[lost.site_key][by_site[lost.site_key].index(lost) + 1]
    assert lost.at == runs[-1].started_at + DROP_AFTER and back.at - lost.at == DROP_FOR
    assert back.state is online and back.reason is Reason.CONNECTED


def _dropped(runs: tuple[DemoRun, ...], sessions: dict[str, DemoSession]) -> str:
    rooms = sessions[runs[-1].session_key].site_keys
    return rooms[len(rooms) * 2 // 3]
