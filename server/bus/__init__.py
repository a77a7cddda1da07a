"""The live fan-out bus: a port (:mod:`server.bus.port`) and two adapters.

- :class:`MemoryBus` (default): one server process; several buses may share a
  :class:`MemoryBroker` to stand for several processes in tests.
- :class:`RedisBus`: pub/sub fan-out across processes, presence keys with a time to live and a
  bounded history per topic in Redis.

Redis holds only what is live; the SQL store holds every record. The package names the
adapters and the types callers handle; the rest of the port (handler types, presence records,
the checks adapters share) stays in :mod:`server.bus.port`.
"""

from server.bus.memory import MemoryBroker, MemoryBus
from server.bus.port import Bus, BusEvent, BusUnavailable
from server.bus.redis_bus import RedisBus

__all__ = ["Bus", "BusEvent", "BusUnavailable", "MemoryBroker", "MemoryBus", "RedisBus"]
