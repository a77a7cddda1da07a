from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import InvalidInput, NotFound
from server.core.roster import (
    Gender,
    RosterField,
    RosterParse,
    TraineeRow,
    normalize_phone,
    parse_roster,
)
from server.core.roster_export import (
    EXPORT_HEADERS_EN,
    EXPORT_HEADERS_ZH,
    export_headers,
    export_rows,
)

ORG_UNITS = {"海曙区": 1, "HS": 1, "江北区": 2, "JB": 2}
SITES = {"海曙区分课堂": 10, "HS00": 10, "江北区分课堂": 20, "JB00": 20}
ZH = ["姓名", "工号", "单位", "职务", "是否领导", "所属课堂", "手机"]


def good_row(n: int, **override: str) -> list[str | None]:
    row: dict[str, str] = {
        "name": f"张{'伟强磊军勇杰涛斌超明'[n % 10]}",
        "staff_no": f"NB{n:04d}",
        "org": "海曙区",
        "position": "科员",
        "leader": "否",
        "site": "海曙区分课堂",
        "phone": "",
    }
    row.update(override)
    return list(row.values())


def codes(result: RosterParse) -> list[tuple[int | None, str]]:
    return [(e.row, e.code) for e in result.errors]


def test_chinese_roster_parses_into_trainees_with_file_row_numbers() -> None:
    result = parse_roster(
        ZH, [good_row(1), good_row(2, leader="是", phone="13800138000")], ORG_UNITS, SITES
    )

    assert result.ok
    assert result.rows == (
        TraineeRow(2, "张强", "NB0001", 1, "科员", False, 10, None, None),
        TraineeRow(3, "张磊", "NB0002", 1, "科员", True, 10, "13800138000", None),
    )


def test_english_headers_match_in_any_order_case_and_spacing() -> None:
    header = [" Staff Number ", "NAME", "home_site", "Unit", "position", "Leader", "Gender"]
    rows: list[list[str | None]] = [["A-1", "Li Lei", "JB00", "jb", "科长", "yes", "M"]]

    result = parse_roster(header, rows, ORG_UNITS, SITES)

    assert result.ok, result.errors
    (t,) = result.rows
    assert (t.staff_no, t.name, t.home_site_id, t.org_unit_id) == ("A-1", "Li Lei", 20, 2)
    assert t.is_leader and t.gender is Gender.MALE


def test_aliases_required_marks_and_bracketed_remarks_are_accepted() -> None:
    header = ["*姓名", "人员编号", "部门", "职务", "是否领导（是/否）", "分课堂", "手机号码(选填)"]
    rows: list[list[str | None]] = [["王伟", "001", "海曙区", "科员", "", "海曙区分课堂", ""]]

    result = parse_roster(header, rows, ORG_UNITS, SITES)

    assert result.ok, result.errors
    assert result.rows[0].staff_no == "001"


def test_unknown_columns_are_ignored_with_a_warning_naming_them() -> None:
    header = ["序号", *ZH, "备注", ""]
    rows: list[list[str | None]] = [["1", *good_row(1), "无", "x"]]

    result = parse_roster(header, rows, ORG_UNITS, SITES)

    assert result.ok
    assert [(w.code, w.column) for w in result.warnings] == [
        ("roster.unknown_column", "序号"),
        ("roster.unknown_column", "备注"),
    ]


def test_missing_required_columns_are_one_error_naming_each() -> None:
    result = parse_roster(["姓名", "职务", "手机"], [["张三", "科员", ""]], ORG_UNITS, SITES)

    assert result.rows == ()
    (error,) = result.errors
    assert (error.row, error.code) == (1, "roster.missing_columns")
    for label in ("工号", "单位", "是否领导", "所属课堂"):
        assert label in error.message and label in error.message_zh


def test_two_columns_meaning_the_same_field_are_an_error() -> None:
    result = parse_roster([*ZH, "人员编号"], [[*good_row(1), "X"]], ORG_UNITS, SITES)

    assert codes(result) == [(1, "roster.duplicate_column")]


def test_every_row_error_is_collected_and_nothing_is_imported() -> None:
    rows = [
        good_row(1),
        good_row(2, org="宁海县"),
        good_row(1),  # duplicate staff number of row 2
        good_row(4, name=""),
        good_row(5, name="很" * 65),
        good_row(6, staff_no="NB 0006"),
        good_row(7, leader="也许"),
        good_row(8, site="火星分课堂"),
        good_row(9, phone="12345"),
        good_row(10, position="", staff_no=""),
        good_row(11),
    ]

    result = parse_roster(ZH, rows, ORG_UNITS, SITES)

    assert result.rows == ()
    assert codes(result) == [
        (3, "roster.unknown_org_unit"),
        (4, "roster.duplicate_staff_no"),
        (5, "roster.empty_field"),
        (6, "roster.too_long"),
        (7, "roster.bad_staff_no"),
        (8, "roster.bad_leader_flag"),
        (9, "roster.unknown_site"),
        (10, "roster.bad_phone"),
        (11, "roster.empty_field"),
        (11, "roster.empty_field"),
    ]
    unknown = result.errors[0]
    assert (
        unknown.message_zh
        == "未知单位: 宁海县（请填写已有单位的名称或代码；新单位请先在“基础数据 · 单位”中添加）"
    )
    assert (unknown.column, unknown.field, unknown.value) == (
        "单位",
        RosterField.ORG_UNIT,
        "宁海县",
    )
    assert "row 2" in result.errors[1].message


def test_duplicate_staff_numbers_differing_only_in_case_or_width_are_caught() -> None:
    rows = [good_row(1, staff_no="nb0001"), good_row(2, staff_no="ＮＢ０００１")]

    assert codes(parse_roster(ZH, rows, ORG_UNITS, SITES)) == [(3, "roster.duplicate_staff_no")]


def test_limits_on_field_lengths() -> None:
    ok = [good_row(1, name="名" * 64, position="职" * 64, staff_no="A" * 32)]
    too_long = [good_row(1, position="职" * 65), good_row(2, staff_no="A" * 33)]

    assert parse_roster(ZH, ok, ORG_UNITS, SITES).ok
    assert codes(parse_roster(ZH, too_long, ORG_UNITS, SITES)) == [
        (2, "roster.too_long"),
        (3, "roster.too_long"),
    ]


def test_control_characters_in_text_are_an_error() -> None:
    result = parse_roster(ZH, [good_row(1, position="科\x07员")], ORG_UNITS, SITES)

    assert codes(result) == [(2, "roster.bad_characters")]


def test_text_direction_characters_in_a_name_are_an_error() -> None:
    """U+202E (and the other bidi controls) would render a name reversed on the console and the
    screens: the roster refuses them like every other human-entered field (issue 14.9)."""
    rows = [good_row(1, name="李\u202e四"), good_row(2, position="科\u2066员"), good_row(3)]

    result = parse_roster(ZH, rows, ORG_UNITS, SITES)

    assert codes(result) == [(2, "roster.bad_characters"), (3, "roster.bad_characters")]


def test_blank_rows_are_skipped_but_still_counted_in_row_numbers() -> None:
    rows: list[list[str | None]] = [good_row(1), [None] * 7, ["", " ", "\u3000"], []]
    rows.append(good_row(2, org="?"))

    result = parse_roster(ZH, rows, ORG_UNITS, SITES)

    assert codes(result) == [(6, "roster.unknown_org_unit")]


def test_short_rows_read_missing_cells_as_empty() -> None:
    result = parse_roster(ZH, [["张三", "NB1", "海曙区", "科员"]], ORG_UNITS, SITES)

    assert codes(result) == [(2, "roster.empty_field")]
    assert result.errors[0].field is RosterField.HOME_SITE


def test_a_roster_with_no_data_rows_is_an_error() -> None:
    assert codes(parse_roster(ZH, [[], [""] * 7], ORG_UNITS, SITES)) == [(None, "roster.empty")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("是", True),
        ("Y", True),
        ("yes", True),
        ("TRUE", True),
        ("1", True),
        ("否", False),
        ("n", False),
        ("No", False),
        ("false", False),
        ("0", False),
        ("", False),
        (" 是 ", True),
    ],
)
def test_leader_flag_accepts_common_spellings(text: str, expected: bool) -> None:
    result = parse_roster(ZH, [good_row(1, leader=text)], ORG_UNITS, SITES)

    assert result.rows[0].is_leader is expected


@pytest.mark.parametrize("text", ["hs", "ＨＳ", " 海曙区 ", "海 曙 区"])
def test_org_unit_matches_name_or_code_ignoring_case_width_and_spaces(text: str) -> None:
    result = parse_roster(ZH, [good_row(1, org=text, site="hs00")], ORG_UNITS, SITES)

    assert (result.rows[0].org_unit_id, result.rows[0].home_site_id) == (1, 10)


def test_a_name_matching_two_org_units_loosely_is_ambiguous() -> None:
    org_units = {"Yinzhou": 3, "YINZHOU": 4}

    result = parse_roster(ZH, [good_row(1, org="yinzhou")], org_units, SITES)

    assert codes(result) == [(2, "roster.ambiguous_org_unit")]


def test_spaces_used_to_align_chinese_names_are_removed() -> None:
    rows = [
        good_row(1, name="王  伟"),
        good_row(2, name="王\u3000伟"),
        good_row(3, name=" Li   Lei "),
    ]

    result = parse_roster(ZH, rows, ORG_UNITS, SITES)

    assert [t.name for t in result.rows] == ["王伟", "王伟", "Li Lei"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("12800138000", None),
        ("0574-87654321", None),
    ],
)
def test_phone_is_normalised_to_an_eleven_digit_mobile(text: str, expected: str | None) -> None:
    assert normalize_phone(text) == expected


def test_gender_is_optional_and_validated() -> None:
    header = [*ZH, "性别"]
    rows = [[*good_row(1), "女"], [*good_row(2), ""], [*good_row(3), "其他"]]

    bad = parse_roster(header, rows, ORG_UNITS, SITES)
    good = parse_roster(header, rows[:2], ORG_UNITS, SITES)

    assert codes(bad) == [(4, "roster.bad_gender")]
    assert [t.gender for t in good.rows] == [Gender.FEMALE, None]


def test_raise_if_invalid_carries_every_error() -> None:
    result = parse_roster(ZH, [good_row(1, org="?"), good_row(2, site="?")], ORG_UNITS, SITES)

    with pytest.raises(InvalidInput) as info:
        result.raise_if_invalid()

    assert info.value.code == "roster.invalid"
    assert [e["row"] for e in info.value.details["errors"]] == [2, 3]


def test_export_rows_import_back_to_the_same_trainees() -> None:
    trainees = [
        TraineeRow(2, "张伟", "NB0001", 1, "区委书记", True, 10, "13800138000"),
        TraineeRow(3, "李娜", "NB0002", 2, "科员", False, 20),
    ]
    orgs, sites = {1: "海曙区", 2: "江北区"}, {10: "海曙区分课堂", 20: "江北区分课堂"}

    rows = export_rows(trainees, orgs, sites)
    back = parse_roster(export_headers("zh"), rows, ORG_UNITS, SITES)

    assert rows[0] == ["张伟", "NB0001", "海曙区", "区委书记", "是", "海曙区分课堂", "13800138000"]
    assert back.rows == tuple(trainees)


def test_english_export_uses_english_headers_and_yes_no() -> None:
    rows = export_rows([TraineeRow(2, "A", "1", 1, "p", True, 10)], {1: "o"}, {10: "s"}, "en")

    assert export_headers("en") == list(EXPORT_HEADERS_EN)
    assert export_headers() == list(EXPORT_HEADERS_ZH)
    assert rows == [["A", "1", "o", "p", "yes", "s", ""]]


def test_export_refuses_a_trainee_whose_site_is_not_in_the_map() -> None:
    with pytest.raises(NotFound) as info:
        export_rows([TraineeRow(2, "A", "1", 1, "p", True, 99)], {1: "o"}, {10: "s"})

    assert info.value.code == "roster.export_unknown_site"


cell = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["海曙区", "HS00", "是", "NB1"]))


@settings(max_examples=200, deadline=None)
@given(
    header=st.lists(st.one_of(st.sampled_from(ZH), st.text(max_size=4)), max_size=9),
    rows=st.lists(st.lists(cell, max_size=9), max_size=6),
)
def test_any_table_gives_either_rows_or_errors_never_both_and_never_raises(
    header: list[str], rows: list[list[str | None]]
) -> None:
    result = parse_roster(header, rows, ORG_UNITS, SITES)

    assert bool(result.rows) != bool(result.errors)
    assert all(e.row is None or 1 <= e.row <= len(rows) + 1 for e in result.errors)


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=30),
    bad=st.data(),
)
def test_one_bad_row_anywhere_blocks_the_whole_import(n: int, bad: st.DataObject) -> None:
    rows = [good_row(i) for i in range(n)]
    at = bad.draw(st.integers(min_value=0, max_value=n - 1))
    rows[at] = good_row(at, site="不存在的课堂")

    result = parse_roster(ZH, rows, ORG_UNITS, SITES)

    assert result.rows == ()
    assert codes(result) == [(at + 2, "roster.unknown_site")]
