"""Hostile and honest XLSX shapes for the roster reader's budgets (tests and bench)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
        'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}


def xlsx(rows: Iterator[str]) -> bytes:
    """A workbook whose first sheet's <sheetData> holds these <row> strings, streamed."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">'.encode()
            )
            sheet.write(b"<sheetData>")
            batch: list[str] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= 10_000:
                    sheet.write("".join(batch).encode())
                    batch.clear()
            sheet.write("".join(batch).encode())
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _header() -> str:
    cells = "".join(
        f'<c r="{col}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for col, name in zip("ABC", ("姓名", "工号", "单位"), strict=True)
    )
    return f'<row r="1">{cells}</row>'


def one_row_of_millions(cells: int = 3_000_000) -> bytes:
    """One row of millions of numeric cells (the issue's 124 KB file)."""

    def rows() -> Iterator[str]:
        yield '<row r="1">'
        yield from ("<c><v>1</v></c>" for _ in range(cells))
        yield "</row>"

    return xlsx(rows())


def blank_rows(last: int = 1_048_576) -> bytes:
    """A header, then blank rows down to Excel's last row (the issue's 348 KB file)."""

    def rows() -> Iterator[str]:
        yield _header()
        yield from (f'<row r="{r}"/>' for r in range(2, last + 1))

    return xlsx(rows())


def honest_roster(count: int) -> bytes:
    """A real-looking roster of ``count`` trainees (inline strings)."""

    def rows() -> Iterator[str]:
        yield _header()
        for r in range(2, count + 2):
            yield (
                f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>学员{r}</t></is></c>'
                f'<c r="B{r}" t="inlineStr"><is><t>S{r:06d}</t></is></c>'
                f'<c r="C{r}" t="inlineStr"><is><t>海曙区</t></is></c></row>'
            )

    return xlsx(rows())


def blank_cells_everywhere(rows: int = 599, cells: int = 1000) -> bytes:
    """The most blank cells the budgets let through: full rows of 1,000 empty styled cells."""

    def make() -> Iterator[str]:
        yield _header()
        for r in range(2, rows + 2):
            yield f'<row r="{r}">' + '<c s="0"/>' * cells + "</row>"

    return xlsx(make())
