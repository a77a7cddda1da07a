"""The certificate PDF as a reader shows it (poppler's ``pdftotext`` and ``pdffonts``): the
Chinese text, and the code a person types set in Helvetica, whose widths every reader has
(readers drew the CID font's Latin glyphs with other widths: a gap showed inside the code)."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from pathlib import Path

from reportlab.pdfbase import pdfmetrics

from server.web.completion.certificate import CertificateText, render

CODE = "ABCDEFGHJKLMNPQR"


def test_the_certificate_reads_back_with_an_unbroken_code(tmp_path: Path) -> None:
    pdf = render(
        CertificateText(
            name="张三",
            program="2026年度干部轮训",
            hours=32,
            issued=datetime(2026, 12, 6, 9, 30),
            code=CODE,
            link=f"https://train.example.cn/verify/{CODE}",
        )
    )
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    text, boxes = (
        subprocess.run(
            [*tool, str(path), "-"], capture_output=True, check=True, timeout=30
        ).stdout.decode()
        for tool in (["pdftotext", "-layout"], ["pdftotext", "-bbox"])
    )
    # the code is laid out with Helvetica's widths (with the CID font it measured 104 pt, not 110)
    box = re.search(rf'xMin="([\d.]+)" [^>]* xMax="([\d.]+)"[^>]*>{CODE}<', boxes)
    assert box is not None, boxes
    width = float(box[2]) - float(box[1])
    assert abs(width - pdfmetrics.stringWidth(CODE, "Helvetica", 10)) < 0.5, width
    assert "结业证书" in text.replace(" ", "") and "张三" in text and "准予结业" in text
    assert f"证书验证码 / Verification code: {CODE}" in text
    assert f"扫码或访问验证 / Verify: https://train.example.cn/verify/{CODE}" in text
