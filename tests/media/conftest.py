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
async def relay() -> AsyncIterator[Relay]:
    """A relay on loopback for one test, closed after it (and the host addresses put back)."""
    relay = Relay(MAIN, loopback_settings())
    yield relay
    await relay.close()
    forward.set_host_addresses(None)
