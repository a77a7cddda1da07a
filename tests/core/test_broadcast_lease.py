"""Who owns a live broadcast, and when another node may take it over (pure rules)."""

from __future__ import annotations

from server.core.broadcast_lease import (
    LEASE_SECONDS,
    LeaseRecord,
    blocks_start,
    claimable,
    expired,
    lease_until,
    lost,
    may_claim,
)

NOW = 1_000_000.0


def record(session_id: int, node: str, until: float, generation: int = 1) -> LeaseRecord:
    return LeaseRecord(session_id, node, generation, until)


def test_a_lease_runs_for_the_lease_seconds_and_expires_at_its_end() -> None:
    r = record(1, "a", lease_until(NOW))
    assert r.lease_until == NOW + LEASE_SECONDS
    assert not expired(r, NOW + LEASE_SECONDS - 0.01)
    assert expired(r, NOW + LEASE_SECONDS)


def test_only_other_nodes_expired_records_are_claimable_oldest_first() -> None:
    records = [
        record(1, "a", NOW - 1),  # a's own: never claimed by a
        record(2, "b", NOW + 1),  # b is alive
        record(3, "b", NOW - 0.5),
        record(4, "c", NOW - 3),
    ]
    assert [r.session_id for r in claimable(records, "a", NOW)] == [4, 3]
    assert [r.session_id for r in claimable(records, "b", NOW)] == [4, 1]


def test_a_live_lease_elsewhere_blocks_a_new_start_but_an_expired_one_does_not() -> None:
    assert not blocks_start(None, "a", NOW)
    assert blocks_start(record(1, "b", NOW + 1), "a", NOW)
    assert not blocks_start(record(1, "b", NOW - 0.1), "a", NOW)
    assert not blocks_start(record(1, "a", NOW + 1), "a", NOW)  # its own: the relay decides


def test_a_node_claims_only_after_reaching_the_database_for_a_whole_lease() -> None:
    assert not may_claim(NOW, NOW)
    assert not may_claim(NOW + LEASE_SECONDS - 0.1, NOW)
    assert may_claim(NOW + LEASE_SECONDS, NOW)


def test_broadcasts_whose_record_is_no_longer_the_nodes_own_are_lost() -> None:
    assert lost([1, 2, 3], [1, 3, 9]) == {2}
    assert lost([], [1]) == set()
