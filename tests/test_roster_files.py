from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from server import roster_files
from server.core.errors import InvalidInput
from server.core.roster import parse_roster
from server.roster_files import cell_text, read_table, write_csv, write_xlsx

HEADER = ["姓名", "工号", "单位", "职务", "是否领导", "所属课堂", "手机"]
ROWS = [
    ["张伟", "NB0001", "海曙区", "区委书记", "是", "海曙区分课堂", "13800138000"],
    ["李娜", "007", "江北区", "科员", "否", "江北区分课堂", ""],
    ['Ma, "Bob"', "B-2", "海曙区", "科长\n兼主任", "否", "海曙区分课堂", ""],
]
ORG_UNITS = {"海曙区": 1, "江北区": 2}
SITES = {"海曙区分课堂": 10, "江北区分课堂": 20}


def xlsx_of(
    rows: Sequence[Sequence[object]], number_formats: dict[str, str] | None = None
) -> bytes:
    """A workbook as Excel would save it (normal mode: shared strings, typed cells)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    for coordinate, fmt in (number_formats or {}).items():
        ws[coordinate].number_format = fmt
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def error_code(data: bytes, hint: str, **limits: int) -> str:
    with pytest.raises(InvalidInput) as info:
        read_table(data, hint, **limits)
    return info.value.code


def test_csv_round_trip_gives_the_same_table() -> None:
    assert read_table(write_csv(HEADER, ROWS), "名单.csv") == (HEADER, ROWS)


def test_xlsx_round_trip_gives_the_same_table() -> None:
    data = write_xlsx(HEADER, ROWS, "学员名单")

    assert read_table(data, "名单.xlsx") == (HEADER, ROWS)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.lists(
            st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_csv_and_xlsx_round_trip_any_text(rows: list[list[str]]) -> None:
    header = ["a", "b", "c"]
    rows = [[c.strip() or "x" for c in row] for row in rows]  # no blank rows / trailing blanks
    rows = [[("x" + c) if c[0] in "=+-@'" else c for c in row] for row in rows]

    assert read_table(write_csv(header, rows), "t.csv") == (header, rows)
    assert read_table(write_xlsx(header, rows, "t"), "t.xlsx") == (header, rows)


def test_csv_starts_with_a_utf8_bom_and_uses_crlf() -> None:
    data = write_csv(["姓名"], [["张伟"]])

    assert data == "\ufeff姓名\r\n张伟\r\n".encode()


def test_gbk_csv_from_chinese_excel_is_read() -> None:
    text = "姓名,工号,单位\r\n张伟,NB0001,海曙区\r\n"

    header, rows = read_table(text.encode("gbk"), "text/csv")

    assert (header, rows) == (["姓名", "工号", "单位"], [["张伟", "NB0001", "海曙区"]])


def test_bom_csv_header_has_no_bom_character() -> None:
    header, _ = read_table("\ufeff姓名,工号\n张伟,1\n".encode(), "x.csv")

    assert header == ["姓名", "工号"]


def test_utf16_tab_separated_text_from_excel_is_read() -> None:
    data = "姓名\t工号\r\n张伟\t1\r\n".encode("utf-16")

    assert read_table(data, "x.txt") == (["姓名", "工号"], [["张伟", "1"]])


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separators_are_sniffed(sep: str) -> None:
    data = f"name{sep}staff_no{sep}unit\nA{sep}1, 2{sep}u\n".encode()

    assert read_table(data, "x.csv") == (["name", "staff_no", "unit"], [["A", "1, 2", "u"]])


def test_blank_rows_are_kept_in_the_middle_and_dropped_at_the_end() -> None:
    data = b"a,b\n1,2\n\n,\n3,4\n\n,,\n"

    assert read_table(data, "x.csv") == (["a", "b"], [["1", "2"], ["", ""], ["", ""], ["3", "4"]])


def test_xlsx_numbers_dates_and_booleans_become_the_text_the_user_typed() -> None:
    data = xlsx_of(
        [
            ["工号", "编号", "日期", "时间", "领导", "分数"],
            [1001.0, 1001, dt.datetime(2026, 3, 14), dt.datetime(2026, 3, 14, 9, 30), True, 2.5],
            [13800138000.0, 42, dt.date(2026, 1, 2), None, False, -1.0],
        ],
        number_formats={"B2": "000000"},
    )

    _, rows = read_table(data, "x.xlsx")

    assert rows == [
        ["1001", "001001", "2026-03-14", "2026-03-14T09:30:00", "TRUE", "2.5"],
        ["13800138000", "42", "2026-01-02", "", "FALSE", "-1"],
    ]


def test_cell_text_of_plain_values() -> None:
    assert cell_text(None) == ""
    assert cell_text(7.0) == "7"
    assert cell_text(0.1) == "0.1"
    assert cell_text(1e300) == "1e+300"
    assert cell_text(dt.time(8, 5)) == "08:05:00"


def test_xlsx_reads_the_first_sheet_even_if_another_is_active() -> None:
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.append(["姓名"])
    first.append(["张伟"])
    second = wb.create_sheet("说明")
    second.append(["填写说明"])
    wb.active = 1
    out = io.BytesIO()
    wb.save(out)

    assert read_table(out.getvalue(), "x.xlsx") == (["姓名"], [["张伟"]])


@pytest.mark.parametrize(
    "header",
    [HEADER, ["name", "staff_no", "org_unit", "position", "leader", "home_site", "phone"]],
)
def test_a_bad_row_among_good_ones_gives_its_file_row_number(header: list[str]) -> None:
    rows = [list(r) for r in ROWS[:2]] + [
        ["王芳", "NB0009", "宁海县", "科员", "否", "海曙区分课堂", ""]
    ]
    for fmt in ("csv", "xlsx"):
        data = write_csv(header, rows) if fmt == "csv" else write_xlsx(header, rows, "s")

        result = parse_roster(*read_table(data, f"x.{fmt}"), ORG_UNITS, SITES)

        assert result.rows == ()
        assert [(e.row, e.code, e.message_zh) for e in result.errors] == [
            (
                4,
                "roster.unknown_org_unit",
                "未知单位: 宁海县（请填写已有单位的名称或代码；"
                "新单位请先在“基础数据 · 单位”中添加）",
            )
        ]


def test_a_good_xlsx_roster_with_a_numeric_staff_number_imports() -> None:
    data = xlsx_of([HEADER, ["张伟", 1001, "海曙区", "科员", "否", "海曙区分课堂", 13800138000]])

    result = parse_roster(*read_table(data, "x.xlsx"), ORG_UNITS, SITES)

    assert [(t.staff_no, t.phone) for t in result.rows] == [("1001", "13800138000")]


def test_csv_cells_that_look_like_formulas_are_quoted() -> None:
    evil = ['=HYPERLINK("http://x")', "+1", "-1+2", "@SUM(A1)", "\tx", "\rx", "ok=1"]

    _, rows = read_table(write_csv(["h"] * len(evil), [evil]), "x.csv")

    assert rows == [["'" + c for c in evil[:-1]] + ["ok=1"]]


def test_xlsx_cells_that_look_like_formulas_are_stored_as_text() -> None:
    data = write_xlsx(["h", "=1+1"], [["=cmd|' /C calc'!A0", "-2"]], "s")

    ws = load_workbook(io.BytesIO(data)).worksheets[0]  # not data_only: formulas would show

    assert [(c.value, c.data_type) for row in ws.iter_rows() for c in row] == [
        ("h", "s"),
        ("=1+1", "s"),
        ("=cmd|' /C calc'!A0", "s"),
        ("-2", "s"),
    ]
    assert ws["A2"].quotePrefix and not ws["A1"].quotePrefix


def test_xlsx_has_a_bold_frozen_header_and_fitted_columns() -> None:
    rows = [["所属课堂名称很长很长很长", "a"]]

    ws = load_workbook(io.BytesIO(write_xlsx(["课堂", "b"], rows, "学员名单[2026]"))).worksheets[0]

    assert ws.title == "学员名单_2026_"
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.bold and not ws["A2"].font.bold
    assert ws.column_dimensions["A"].width > ws.column_dimensions["B"].width >= 8


def test_xlsx_writer_drops_characters_excel_cannot_store() -> None:
    _, rows = read_table(write_xlsx(["h"], [["a\x00b\x1fc"]], "s"), "x.xlsx")

    assert rows == [["abc"]]


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04 this is not really a zip",
        b"PK\x03\x04" + bytes(range(256)) * 4,
    ],
)
def test_corrupt_xlsx_is_a_bad_file_error(data: bytes) -> None:
    assert error_code(data, "x.xlsx") == "roster.bad_file"


def test_truncated_xlsx_is_a_bad_file_error() -> None:
    data = write_xlsx(HEADER, ROWS, "s")

    assert error_code(data[: len(data) // 2], "x.xlsx") == "roster.bad_file"


def test_a_zip_that_is_not_a_workbook_is_a_bad_file_error() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")

    assert error_code(out.getvalue(), "x.xlsx") == "roster.bad_file"


def test_xlsx_named_but_not_zip_is_a_bad_file_error() -> None:
    assert error_code("姓名,工号\n".encode(), "x.xlsx") == "roster.bad_file"


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (2 * 1024 * 1024))

    assert error_code(out.getvalue(), "x.xlsx", max_bytes=50_000) == "roster.file_too_large"


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "名单.xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "application/vnd.ms-excel"),
        (b"<html><table></table></html>", "export.xls"),
    ],
)
def test_old_excel_files_are_refused_with_a_save_as_xlsx_message(data: bytes, hint: str) -> None:
    with pytest.raises(InvalidInput) as info:
        read_table(data, hint)

    assert info.value.code == "roster.xls_not_supported"
    assert ".xlsx" in info.value.message


def test_ambiguous_excel_content_type_is_decided_by_the_bytes() -> None:
    hint = "application/vnd.ms-excel"

    assert read_table(b"a,b\n1,2\n", hint) == (["a", "b"], [["1", "2"]])
    assert read_table(write_xlsx(["a"], [["1"]], "s"), hint) == (["a"], [["1"]])


def test_binary_junk_of_unknown_type_is_unsupported() -> None:
    assert error_code(b"%PDF-1.7\x00\x01\x02", "application/pdf") == "roster.unsupported_format"


def test_files_over_the_byte_limit_are_refused() -> None:
    data = write_csv(HEADER, ROWS)

    assert read_table(data, "x.csv", max_bytes=len(data))[0] == HEADER
    assert error_code(data, "x.csv", max_bytes=len(data) - 1) == "roster.file_too_large"


def test_default_byte_limit_is_five_mebibytes() -> None:
    assert error_code(b"a" * (5 * 1024 * 1024 + 1), "x.csv") == "roster.file_too_large"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_files_over_the_row_limit_are_refused_but_trailing_blank_rows_do_not_count(
    fmt: str,
) -> None:
    rows = [[str(i), "x"] for i in range(10)]
    blank_tail = rows + [["", ""]] * 20
    write = write_csv if fmt == "csv" else (lambda h, r: write_xlsx(h, r, "s"))

    assert len(read_table(write(["n", "x"], blank_tail), f"x.{fmt}", max_rows=10)[1]) == 10
    assert error_code(write(["n", "x"], rows), f"x.{fmt}", max_rows=9) == "roster.too_many_rows"


def test_blank_rows_between_data_count_towards_the_row_limit() -> None:
    data = b"h\n1\n\n\n2\n"

    assert error_code(data, "x.csv", max_rows=3) == "roster.too_many_rows"


@pytest.mark.parametrize("data", [b"", b"  \r\n", b"\xef\xbb\xbf\r\n,,\r\n"])
def test_empty_files_are_refused(data: bytes) -> None:
    assert error_code(data, "x.csv") == "roster.empty_file"


def test_undecodable_csv_is_a_bad_encoding_error() -> None:
    assert error_code(b"a,b\n\x80\xff\x80\n", "x.csv") == "roster.bad_encoding"


def test_hostile_xlsx_shapes_stop_early_with_a_code_and_honest_ones_read() -> None:
    from tests.security import xlsx_shapes

    for data, code in (
        (xlsx_shapes.one_row_of_millions(), "roster.too_many_columns"),
        (xlsx_shapes.blank_rows(), "roster.too_complex"),
    ):
        started = time.perf_counter()
        with pytest.raises(InvalidInput) as caught:
            roster_files.read_table(data, "x.xlsx", max_bytes=6 * 1024 * 1024)
        assert caught.value.code == code
        assert time.perf_counter() - started < 5
    header, rows = roster_files.read_table(
        xlsx_shapes.blank_cells_everywhere(), "x.xlsx", max_bytes=6 * 1024 * 1024
    )
    assert header == ["姓名", "工号", "单位"] and rows == []
    header, rows = roster_files.read_table(xlsx_shapes.honest_roster(300), "x.xlsx")
    assert len(rows) == 300 and rows[-1] == ["学员301", "S000301", "海曙区"]
