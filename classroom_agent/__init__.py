"""The classroom agent: the program on the PC beside a branch site's projector.

It keeps one WebSocket to the server's ``/ws/agent`` (protocol 1.0, msgpack frames; see
``docs/agent-protocol.md``), sends a heartbeat with the site's health, follows the site's
command stream (live sessions, question on air, roll calls) and queues check-ins, roll-call
answers and its own outages in an on-disk outbox until the server acknowledges them.

Modules: :mod:`.agent` (the connection loop), :mod:`.outbox` (SQLite outbox),
:mod:`.outbox_sender` (sending the outbox over the connection, acks, check-ins not yet acked),
:mod:`.state` (site state and the persisted stream cursor), :mod:`.protocol` (message
building and framing), :mod:`.backoff`, :mod:`.health`, :mod:`.config`, :mod:`.logs`,
:mod:`.cli` (the ``classroom-agent`` command).
"""

from __future__ import annotations

__version__ = "0.1.0"
