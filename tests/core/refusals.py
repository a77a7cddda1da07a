"""What the rules' tests share: a call the core refuses, and with which stable code."""

from __future__ import annotations

import pytest

from server.core.errors import DomainError


def raises_code(code: str, call: object) -> DomainError:
    """The error ``call()`` raises, checked to carry ``code``."""
    assert callable(call)
    with pytest.raises(DomainError) as info:
        call()
    assert info.value.code == code
    return info.value
