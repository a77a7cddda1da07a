"""Workbooks the office opens in Excel: sheet names Excel accepts, however units are named."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from server.web.exports import Sheet, write_workbook


def test_sheet_names_are_unique_as_excel_compares_them() -> None:
    """Excel refuses two sheets whose names differ only in case, and names over 31 characters
    or with ``[]:*?/\\``; units of the same name in two districts each keep a sheet."""
    long = "宁波市海曙区石碶街道党群服务中心分教室（二楼多功能厅）"
    sheets = [Sheet(t, ["姓名"], [[t]]) for t in ("单位-Town", "单位-town", long, long, "a/b:c")]
    book = load_workbook(io.BytesIO(write_workbook(sheets)))
    titles = book.sheetnames
    assert len({t.casefold() for t in titles}) == 5 and all(len(t) <= 31 for t in titles)
    assert titles[:2] == ["单位-Town", "单位-town~2"] and titles[4] == "a_b_c"
    assert [book[t]["A2"].value for t in titles] == [s.rows[0][0] for s in sheets]
