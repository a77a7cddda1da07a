"""Set reading and the write-up: text limits, attachments by their bytes, marking."""

from __future__ import annotations

import pytest

from server.core.errors import Conflict, DomainError, InvalidInput
from server.core.writeup import (
    DOCX,
    JPEG,
    PDF,
    PNG,
    TEXT_MIN_LEN,
    Mark,
    WriteupState,
    check_open,
    check_reading,
    clean_text,
    file_kind,
    mark,
    resubmit,
)


def test_attachments_are_recognised_by_their_first_bytes() -> None:
    assert file_kind(b"%PDF-1.7 ...") is PDF
    assert file_kind(b"\x89PNG\r\n\x1a\n....") is PNG
    assert file_kind(b"\xff\xd8\xff\xe0....") is JPEG
    assert file_kind(b"PK\x03\x04....word/document.xml") is DOCX
    for data, code in (
        (b"", "writeup.file_empty"),
        (b"MZ\x90\x00 an exe named report.pdf", "writeup.file_type"),
        (b"PK\x03\x04 a zip that is no docx", "writeup.file_type"),
        (b"%PDF-" + b"0" * 40, "writeup.file_too_big"),
    ):
        with pytest.raises(InvalidInput) as info:
            file_kind(data, max_bytes=40)
        assert info.value.code == code


def test_the_text_has_a_minimum_and_a_maximum_length() -> None:
    text = "学" * TEXT_MIN_LEN
    assert clean_text(f"  {text}  ") == text
    for bad, code in (
        ("学" * (TEXT_MIN_LEN - 1), "writeup_text.too_short"),
        ("学" * 5001, "writeup_text.too_long"),
        ("", "writeup_text.empty"),
        ("学" * 60 + "\u202e", "writeup_text.bad_characters"),
    ):
        with pytest.raises(DomainError) as info:
            clean_text(bad)
        assert info.value.code == code


def test_the_write_up_opens_after_the_first_live_day() -> None:
    check_open(100.0, 99.0)
    for end in (None, 101.0):
        with pytest.raises(Conflict) as info:
            check_open(100.0, end)
        assert info.value.code == "writeup.not_open"


def test_marking_and_resubmitting() -> None:
    assert mark(WriteupState.SUBMITTED, Mark.ACCEPT, "") == (WriteupState.ACCEPTED, "")
    assert mark(WriteupState.SUBMITTED, Mark.REVISE, " 请补充案例 ") == (
        WriteupState.NEEDS_REVISION,
        "请补充案例",
    )
    with pytest.raises(InvalidInput) as info:
        mark(WriteupState.SUBMITTED, Mark.REVISE, "  ")
    assert info.value.code == "writeup_comment.empty"
    with pytest.raises(Conflict):
        mark(WriteupState.ACCEPTED, Mark.ACCEPT, "")
    assert resubmit(None) is WriteupState.SUBMITTED
    assert resubmit(WriteupState.NEEDS_REVISION) is WriteupState.SUBMITTED
    with pytest.raises(Conflict) as conflict:
        resubmit(WriteupState.ACCEPTED)
    assert conflict.value.code == "writeup.already_accepted"


def test_a_reading_has_a_title_and_a_web_link_or_a_file() -> None:
    check_reading(
        "习近平新时代中国特色社会主义思想学习纲要", "中宣部", "https://example.org/b", False
    )
    check_reading("案例选编", "", None, True)
    for args, code in (
        (("", "", None, False), "reading.title_required"),
        (("书", "", "https://x.org/a", True), "reading.link_or_file"),
        (("书", "", "javascript:alert(1)", False), "reading.link_invalid"),
    ):
        with pytest.raises(InvalidInput) as info:
            check_reading(*args)  # type: ignore[arg-type]
        assert info.value.code == code
