"""How strong a staff password must be (admins, operators, moderators). Pure: no I/O.

The rule a training office can explain on one line: at least 12 characters, and either 16 or
more (a passphrase) or three of the four kinds (lower case, upper case, digits, other); not the
username, not one character repeated, not a well-known password.
"""

from __future__ import annotations

from server.core.errors import InvalidInput

MIN_LENGTH = 12
PASSPHRASE_LENGTH = 16
MAX_LENGTH = 256
_COMMON = frozenset(
    {
        "password1234",
        "passw0rd1234",
        "123456789012",
        "1234567890ab",
        "qwertyuiop12",
        "administrator",
        "admin1234567",
        "changeme1234",
        "welcome12345",
        "iloveyou1234",
        "qwerty123456",
        "abc123456789",
    }
)


def password_problems(password: str, username: str = "") -> list[str]:
    """Stable codes of what is wrong with ``password``; empty = acceptable."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append("password.too_short")
    if len(password) > MAX_LENGTH:
        problems.append("password.too_long")
    kinds = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if len(password) < PASSPHRASE_LENGTH and kinds < 3:
        problems.append("password.too_simple")
    lowered = password.lower()
    if len(set(password)) <= 2 and password:
        problems.append("password.repeated")
    if username and len(username) >= 3 and username.lower() in lowered:
        problems.append("password.contains_username")
    if lowered in _COMMON:
        problems.append("password.common")
    return problems


MESSAGES = {
    "password.too_short": f"at least {MIN_LENGTH} characters",
    "password.too_long": f"at most {MAX_LENGTH} characters",
    "password.too_simple": (
        f"{PASSPHRASE_LENGTH}+ characters, or three of: lower case, upper case, digits, symbols"
    ),
    "password.repeated": "not one or two characters repeated",
    "password.contains_username": "must not contain the username",
    "password.common": "a well-known password",
}


def check_password(password: str, username: str = "") -> None:
    """Refuse a password that breaks the rule: ``InvalidInput`` with the first problem's code
    (the pages translate it; web_client/shared/errors.js) and every problem in the message.
    Every way a staff password is set calls this: the users API (create, change, reset by an
    admin) and ``classroom-server create-admin``."""
    problems = password_problems(password, username)
    if problems:
        raise InvalidInput(
            problems[0], "Password refused: " + "; ".join(MESSAGES[p] for p in problems) + "."
        )
