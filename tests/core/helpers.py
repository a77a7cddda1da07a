"""What the core tests share."""

from __future__ import annotations

import pytest

from server.core.errors import DomainError


def raises_code(code: str, call: object, kind: type[DomainError] = DomainError) -> DomainError:
    """The error ``call()`` raises, checked to be a ``kind`` (any DomainError unless said) and
    to carry ``code``."""
    assert callable(call)
    with pytest.raises(kind) as info:
        call()
    assert info.value.code == code
    return info.value
