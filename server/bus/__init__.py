"""The live fan-out bus: a port (:mod:`server.bus.port`) and two adapters.

- :class:`MemoryBus` (default): one server process; several buses may share a
  :class:`MemoryBroker` to stand for several processes in tests.
- :class:`RedisBus`: pub/sub fan-out across processes, presence keys with a time to live and a
  bounded history per topic in Redis.

Redis holds only what is live; the SQL store holds every record.
"""

from server.bus.memory import MemoryBroker, MemoryBus
from server.bus.port import (
    DEFAULT_HISTORY,
    Bus,
    BusEvent,
    BusUnavailable,
    EventHandler,
    GapHandler,
    PresenceRecord,
)
from server.bus.redis_bus import RedisBus

__all__ = [
    "DEFAULT_HISTORY",
    "Bus",
    "BusEvent",
    "BusUnavailable",
    "EventHandler",
    "GapHandler",
    "MemoryBroker",
    "MemoryBus",
    "PresenceRecord",
    "RedisBus",
]
