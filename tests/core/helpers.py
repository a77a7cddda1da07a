"""What the core tests share."""

from __future__ import annotations

import pytest

from server.core.errors import DomainError


def raises_code(code: str, call: object) -> DomainError:
    """The DomainError ``call()`` raises, checked to carry ``code``."""
    assert callable(call)
    with pytest.raises(DomainError) as info:
        call()
    assert info.value.code == code
    return info.value
