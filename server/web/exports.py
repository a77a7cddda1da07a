"""Report downloads: XLSX workbooks with typed cells and several sheets, or CSV, in local time.

A cell is text, a number, a local date/time or empty. In XLSX numbers stay numbers (they sum
and sort in Excel) and times are real Excel dates in the configured time zone (``time_zone``,
default Asia/Shanghai), shown as ``yyyy-mm-dd hh:mm``; text keeps leading zeros and is never
run as a formula. CSV (first sheet only) writes the same cells as text.

Times reach this module as aware datetimes; :func:`local` turns them into the naive local
time a spreadsheet shows. The bytes are built in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from aiohttp import web
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from server import roster_files
from server.web.keys import CONFIG

Cell = str | int | float | datetime | date | None

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"


@dataclass(frozen=True, slots=True)
class Sheet:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]] = field(default_factory=list)


def zone_of(request: web.Request) -> tzinfo:
    """The deployment's time zone for everything a person reads."""
    return request.app[CONFIG].zone


def local(value: datetime | None, zone: tzinfo) -> datetime | None:
    """An aware time as the naive local time people read (None stays None)."""
    return None if value is None else value.astimezone(zone).replace(tzinfo=None)


def as_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _width(value: Cell) -> int:
    if isinstance(value, datetime):
        return 16
    return roster_files._display_width(as_text(value))


def _typed(sheet: WriteOnlyWorksheet, value: Cell, font: Font | None = None) -> object:
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"  # never a formula, whatever the text starts with
        if roster_files._is_formula_like(text):
            cell.quotePrefix = True
    else:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, date):
            cell.number_format = DATE_FORMAT
    if font is not None:
        cell.font = font
    return cell


def write_workbook(sheets: Sequence[Sheet]) -> bytes:
    """One sheet per :class:`Sheet`: bold frozen header, fitted widths, typed cells."""
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    used: set[str] = set()
    for spec in sheets:
        title = roster_files._sheet_title(spec.title)
        n = 2
        # two units may share a name in different districts; Excel ignores case in names
        while title.casefold() in used:
            title = roster_files._sheet_title(f"{spec.title[:27]}~{n}")
            n += 1
        used.add(title.casefold())
        sheet = workbook.create_sheet(title)
        widths = [roster_files._display_width(h) for h in spec.header]
        for row in spec.rows:
            for i, value in enumerate(row):
                if i >= len(widths):
                    widths.append(0)
                widths[i] = max(widths[i], _width(value))
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
        sheet.freeze_panes = "A2"
        sheet.append([_typed(sheet, h, bold) for h in spec.header])
        for row in spec.rows:
            sheet.append([_typed(sheet, v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def write_csv(sheet: Sheet) -> bytes:
    return roster_files.write_csv(sheet.header, ([as_text(v) for v in r] for r in sheet.rows))


async def download(name: str, sheets: Sequence[Sheet], fmt: str) -> web.Response:
    """A file answer: ``fmt`` "csv" (the first sheet) or "xlsx" (every sheet)."""
    if fmt == "csv":
        body, media = await asyncio.to_thread(write_csv, sheets[0]), CSV
    else:
        body, media = await asyncio.to_thread(write_workbook, sheets), XLSX
    return web.Response(
        body=body,
        headers={
            "Content-Type": media,
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
        },
    )
