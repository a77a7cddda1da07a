"""Plain-text logs with UTC timestamps, to standard error and a rotating file.

The site secret never reaches a log line: the formatter replaces it (and its random part)
wherever it appears, whatever logged it (this package, websockets' debug logs, tracebacks).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

REDACTED = "[redacted]"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5


def secret_variants(secret: str) -> list[str]:
    """The strings to hide for one site secret: itself and the random part after ``site<ID>.``."""
    variants = [secret] if secret else []
    _, dot, tail = secret.partition(".")
    if dot and len(tail) >= 8:
        variants.append(tail)
    return variants


class RedactingFormatter(logging.Formatter):
    """``2026-05-09T07:35:25.123Z INFO classroom_agent.agent: message``, secrets hidden."""

    def __init__(self, hidden: Iterable[str] = ()) -> None:
        super().__init__()
        self.hidden = sorted({h for h in hidden if h}, key=len, reverse=True)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        text = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return self.redact(text)

    def redact(self, text: str) -> str:
        for hidden in self.hidden:
            text = text.replace(hidden, REDACTED)
        return text


def configure_logging(
    level: str = "INFO", log_file: str = "", hidden: Iterable[str] = ()
) -> list[logging.Handler]:
    """Send every log record to stderr (journald under systemd) and, unless ``log_file`` is
    empty or ``-``, to a rotating file (5 x 5 MiB). Returns the installed handlers."""
    formatter = RedactingFormatter(hidden)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file and log_file != "-":
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    if level.upper() != "DEBUG":
        logging.getLogger("websockets").setLevel(logging.WARNING)
    return handlers
