"""Who owns a live broadcast in a cluster, and when another node takes it over (no I/O).

A broadcast's relay lives in one node, its *owner*. The owner writes a durable record of the
broadcast (the start request, not the media) and keeps a short lease on it; every node looks at
the records of broadcasts it does not own. When an owner's lease has run out (the node died,
froze or lost the database for longer than the lease), any other node may claim the record;
the database decides which claim wins (the claim names the generation it saw). The winner
starts the broadcast again from the record, with a new *generation*: agents and screens that
see the generation change connect their peers again, to the new owner.

An owner that finds its record claimed by another node has lost the broadcast and drops its
relay without telling the sites anything (the new owner is telling them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LEASE_SECONDS = 2.0
"""How long an owner's record stays its own without a renewal."""

RENEW_SECONDS = 0.25
"""How often an owner renews its leases and every node looks for expired ones: a dead
owner's broadcast is taken over between ``LEASE_SECONDS`` and ``LEASE_SECONDS +
RENEW_SECONDS`` after its last renewal."""


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    session_id: int
    node_id: str
    generation: int
    lease_until: float  # seconds since the epoch


def lease_until(now: float) -> float:
    return now + LEASE_SECONDS


def expired(record: LeaseRecord, now: float) -> bool:
    return now >= record.lease_until


def claimable(records: Iterable[LeaseRecord], node_id: str, now: float) -> list[LeaseRecord]:
    """The records another node owned whose lease has run out, oldest lease first."""
    found = [r for r in records if r.node_id != node_id and expired(r, now)]
    return sorted(found, key=lambda r: (r.lease_until, r.session_id))


def blocks_start(record: LeaseRecord | None, node_id: str, now: float) -> bool:
    """Whether a record keeps a node from starting the session's broadcast anew: a live lease
    held by another node does (the broadcast runs there); an expired one does not (its owner
    is gone, and starting afresh replaces the record)."""
    return record is not None and record.node_id != node_id and not expired(record, now)


def may_claim(now: float, reachable_since: float) -> bool:
    """Whether a node may claim expired records: only once it has reached the database for a
    whole lease (after its own start, or after an outage that kept every owner from renewing,
    the owners get one lease to renew before anybody takes their broadcasts)."""
    return now - reachable_since >= LEASE_SECONDS


def lost(running: Iterable[int], still_mine: Iterable[int]) -> set[int]:
    """The sessions this node runs whose record is no longer its own."""
    return set(running) - set(still_mine)
