"""Set reading (研读书目) and the write-up (学用成果总结) of a program.

Decisions:

* A program (or one of its units) lists books and materials: a title, an author, and a link
  (http/https only) or an uploaded file. Nothing else is a reading.
* One write-up per trainee and program. It opens once the program's first live session has
  ended (the write-up is about applying what was taught); it is text of ``TEXT_MIN_LEN`` to
  ``TEXT_MAX_LEN`` characters with an optional attachment (PDF, Word .docx, PNG or JPEG, at
  most ``ATTACHMENT_MAX_BYTES``), recognised by its first bytes, not by its name.
* States: ``submitted`` → ``accepted`` | ``needs_revision`` (the office marks it, a comment
  is required for a revision); a trainee may submit again while it is submitted or needs
  revision (back to ``submitted``); an accepted write-up is final.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from server.core.errors import Conflict, InvalidInput
from server.core.text import clean_user_text

TEXT_MIN_LEN = 50
TEXT_MAX_LEN = 5000
COMMENT_MAX_LEN = 1000
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
READING_FILE_MAX_BYTES = 5 * 1024 * 1024
_LINK_RE = re.compile(r"https?://[^\s<>\"']{3,490}")


class WriteupState(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    NEEDS_REVISION = "needs_revision"


class Mark(StrEnum):
    ACCEPT = "accept"
    REVISE = "revise"


@dataclass(frozen=True, slots=True)
class FileKind:
    extension: str
    media_type: str


PDF = FileKind("pdf", "application/pdf")
DOCX = FileKind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
PNG = FileKind("png", "image/png")
JPEG = FileKind("jpg", "image/jpeg")


def file_kind(data: bytes, max_bytes: int = ATTACHMENT_MAX_BYTES) -> FileKind:
    """What an uploaded file is, by its first bytes; ``writeup.file_type`` / ``.file_too_big``
    / ``.file_empty``."""
    if not data:
        raise InvalidInput("writeup.file_empty", "The file is empty.")
    if len(data) > max_bytes:
        raise InvalidInput(
            "writeup.file_too_big",
            f"The file may be at most {max_bytes // (1024 * 1024)} MB.",
            {"max_bytes": max_bytes, "size": len(data)},
        )
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04") and b"word/" in data[:65536]:
        return DOCX
    raise InvalidInput(
        "writeup.file_type", "Attach a PDF, a Word (.docx) document, or a PNG or JPEG picture."
    )


def clean_text(text: str) -> str:
    """The write-up text to store: ``writeup_text.empty`` / ``.too_long`` / ``.too_short``."""
    clean = clean_user_text(text, max_len=TEXT_MAX_LEN, code_prefix="writeup_text", what="write-up")
    if len(clean) < TEXT_MIN_LEN:
        raise InvalidInput(
            "writeup_text.too_short",
            f"Write at least {TEXT_MIN_LEN} characters.",
            {"min_len": TEXT_MIN_LEN, "length": len(clean)},
        )
    return clean


def check_open(now: float, first_live_end: float | None) -> None:
    """``writeup.not_open`` until the program's first live session has ended."""
    if first_live_end is None or now < first_live_end:
        raise Conflict("writeup.not_open", "The write-up opens after the program's first live day.")


def resubmit(state: WriteupState | None) -> WriteupState:
    """The state after a trainee (re)submits; ``writeup.already_accepted`` when final."""
    if state is WriteupState.ACCEPTED:
        raise Conflict("writeup.already_accepted", "Your write-up was accepted already.")
    return WriteupState.SUBMITTED


def mark(state: WriteupState, how: Mark, comment: str) -> tuple[WriteupState, str]:
    """The office's mark: (new state, cleaned comment). A revision needs a comment."""
    clean = clean_user_text(
        comment,
        max_len=COMMENT_MAX_LEN,
        code_prefix="writeup_comment",
        allow_empty=True,
        what="comment",
    )
    if state is not WriteupState.SUBMITTED:
        raise Conflict(
            "writeup.not_submitted",
            "Only a submitted write-up can be marked.",
            {"state": state.value},
        )
    if how is Mark.REVISE:
        if not clean:
            raise InvalidInput("writeup_comment.empty", "Say what the trainee should revise.")
        return WriteupState.NEEDS_REVISION, clean
    return WriteupState.ACCEPTED, clean


def check_reading(title: str, author: str, link: str | None, has_file: bool) -> None:
    """A reading has a title, and a link (http/https) or a file, not both."""
    if not title.strip():
        raise InvalidInput("reading.title_required", "Give the book or material a title.")
    if link and has_file:
        raise InvalidInput("reading.link_or_file", "Give a link or a file, not both.")
    if link is not None and link != "" and not _LINK_RE.fullmatch(link):
        raise InvalidInput(
            "reading.link_invalid", "A link starts with http:// or https://.", {"link": link[:100]}
        )
    del author
