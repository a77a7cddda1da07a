"""The completion certificate (结业证书) as a PDF: Chinese text, a verification code and a QR.

reportlab draws it: its built-in CID font STSong-Light (Adobe's Asian font pack, which every
PDF reader maps to an installed Song/Ming face) prints Chinese without font files shipped or
embedded, and ``reportlab.graphics.barcode.qr`` draws the QR code as vector shapes. The QR
holds the public verification link ``<origin>/verify/<code>``. Built in a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

FONT = "STSong-Light"
LATIN = "Helvetica"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
RED = HexColor("#b71c1c")


@dataclass(frozen=True, slots=True)
class CertificateText:
    name: str
    program: str
    hours: float
    issued: datetime
    """Local issue time."""
    code: str
    link: str
    issuer: str = "培训办"


def _hours(value: float) -> str:
    return f"{value:g}"


def _wrap(text: str, width: float, size: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for ch in text:
        if pdfmetrics.stringWidth(line + ch, FONT, size) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


def _label_and_value(pdf: Canvas, x: float, y: float, label: str, value: str) -> None:
    """A Chinese label, then Latin text (the code a person types, the link) in Helvetica:
    readers substitute the CID font's Latin glyphs with other widths, which put gaps inside
    the code ("ABCDEFGH JKLM"); Helvetica's metrics are built into every reader."""
    size = 10
    pdf.setFont(FONT, size)
    pdf.drawString(x, y, label)
    pdf.setFont(LATIN, size)
    pdf.drawString(x + pdfmetrics.stringWidth(label, FONT, size), y, value)


def render(cert: CertificateText) -> bytes:
    """The certificate as PDF bytes (A4 landscape, one page)."""
    out = io.BytesIO()
    width, height = landscape(A4)
    pdf = Canvas(out, pagesize=(width, height))
    pdf.setTitle(f"结业证书 {cert.code}")
    pdf.setAuthor(cert.issuer)
    pdf.setStrokeColor(RED)
    pdf.setLineWidth(3)
    pdf.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    pdf.setLineWidth(0.8)
    pdf.rect(16 * mm, 16 * mm, width - 32 * mm, height - 32 * mm)
    pdf.setFillColor(RED)
    pdf.setFont(FONT, 40)
    pdf.drawCentredString(width / 2, height - 52 * mm, "结 业 证 书")
    pdf.setFillColor(HexColor("#000000"))
    size = 18
    pdf.setFont(FONT, size)
    body = (
        f"{cert.name} 同志：于{cert.issued.year}年参加“{cert.program}”学习，"
        f"完成{_hours(cert.hours)}学时，经考核合格，准予结业。特发此证。"
    )
    y = height - 80 * mm
    for line in _wrap(body, width - 80 * mm, size):
        pdf.drawString(40 * mm, y, line)
        y -= size * 1.8
    pdf.setFont(FONT, 14)
    pdf.drawRightString(width - 40 * mm, 52 * mm, cert.issuer)
    pdf.drawRightString(
        width - 40 * mm,
        44 * mm,
        f"{cert.issued.year}年{cert.issued.month}月{cert.issued.day}日",
    )
    _label_and_value(pdf, 40 * mm, 30 * mm, "证书验证码", f" / Verification code: {cert.code}")
    _label_and_value(pdf, 40 * mm, 24 * mm, "扫码或访问验证", f" / Verify: {cert.link}")
    side = 36 * mm
    widget = QrCodeWidget(cert.link, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, 40 * mm, 40 * mm)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
