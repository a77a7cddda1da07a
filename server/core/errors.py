"""One root error type for the whole product.

Every error carries a stable, dotted ``code`` (``checkin.code_expired``) that the API returns
unchanged, and a ``message`` that tells the user what to do. The web layer maps the error's
class to an HTTP status; the core never knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the product reports to a user or a client."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(DomainError):
    """The request or message is malformed or breaks a validation rule (HTTP 400/422)."""


class NotFound(DomainError):
    """The named thing does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The request clashes with the current state (HTTP 409)."""


class Unauthenticated(DomainError):
    """No valid credentials (HTTP 401)."""


class Forbidden(DomainError):
    """Valid credentials, but this role may not do this (HTTP 403)."""


class RateLimited(DomainError):
    """Too many requests or messages; retry later (HTTP 429)."""


class RuleViolation(Conflict):
    """A domain rule would be broken (batch plan, check-in window...); ``rule`` names it."""

    def __init__(self, code: str, message: str, rule: str, details: Any = None) -> None:
        super().__init__(code, message, details)
        self.rule = rule
