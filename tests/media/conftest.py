"""Fixtures shared by the media tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.media import forward
from server.media.peers import loopback_settings
from server.media.relay import Relay

MAIN = "main"
"""The main classroom's room in the relay fixture."""


@pytest.fixture
async def relay(request: pytest.FixtureRequest) -> AsyncIterator[Relay]:
    """A relay on loopback for one test, closed after it (and the host addresses put back).
    Parametrized indirectly, ``request.param`` is its ``native_send`` setting (default on)."""
    relay = Relay(MAIN, loopback_settings(native_send=getattr(request, "param", True)))
    yield relay
    await relay.close()
    forward.set_host_addresses(None)
