"""Heartbeat records: transitions in one transaction, constant statements, uptime, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nadg.registry.models import HeartbeatRecord, WorkerState
from nadg.registry.store import Registry

NOW = datetime.now(UTC).replace(microsecond=0)


async def test_transitions_follow_the_threshold(registry: Registry) -> None:
    one = await registry.upsert_worker("http://w1")
    two = await registry.upsert_worker("http://w2")
    drained = await registry.upsert_worker("http://w3", status=WorkerState.DRAINING)
    batch = [
        HeartbeatRecord(one.id, NOW, False, 3.0, "refused"),
        HeartbeatRecord(two.id, NOW, True, 4.5),
        HeartbeatRecord(drained.id, NOW, False, None, "refused"),
    ]
    assert await registry.record_heartbeats(batch, failures_threshold=2) == []
    later = NOW + timedelta(seconds=10)
    batch = [
        HeartbeatRecord(one.id, later, False, 3.0, "refused"),
        HeartbeatRecord(two.id, later, True, 5.0),
        HeartbeatRecord(drained.id, later, False, None, "refused"),
    ]
    changes = await registry.record_heartbeats(batch, failures_threshold=2)
    assert [(w.id, a, b) for w, a, b in changes] == [
        (one.id, WorkerState.ACTIVE, WorkerState.OFFLINE)
    ]
    assert changes[0][0].status is WorkerState.OFFLINE
    stored = {w.id: w for w in await registry.list_workers()}
    assert stored[one.id].consecutive_failures == 2
    assert stored[one.id].last_ping is None
    assert stored[two.id].last_ping == later
    assert stored[two.id].last_latency_ms == 5.0
    assert stored[drained.id].status is WorkerState.DRAINING
    back = await registry.record_heartbeats(
        [HeartbeatRecord(one.id, later + timedelta(seconds=10), True, 1.0)], failures_threshold=2
    )
    assert [(w.id, a, b) for w, a, b in back] == [(one.id, WorkerState.OFFLINE, WorkerState.ACTIVE)]
    assert (await registry.get_worker(one.id)).consecutive_failures == 0


async def test_probes_of_removed_workers_are_ignored(registry: Registry) -> None:
    worker = await registry.upsert_worker("http://w1")
    await registry.remove_worker(worker.id)
    records = [HeartbeatRecord(worker.id, NOW, False, None, "gone")]
    assert await registry.record_heartbeats(records, failures_threshold=1) == []


async def _sweep_statements(registry: Registry, count: int, offset: int) -> int:
    workers = [await registry.upsert_worker(f"http://w{offset + i}") for i in range(count)]
    records = [HeartbeatRecord(w.id, NOW, i % 3 != 0, 1.0) for i, w in enumerate(workers)]
    before = registry.statements
    await registry.record_heartbeats(records, failures_threshold=1)
    return registry.statements - before


async def test_a_sweep_is_a_constant_number_of_statements(registry: Registry) -> None:
    small = await _sweep_statements(registry, 5, 0)
    large = await _sweep_statements(registry, 150, 1000)
    assert small == large
    assert large <= 6


async def test_uptime_and_pruning(registry: Registry) -> None:
    one = await registry.upsert_worker("http://w1")
    two = await registry.upsert_worker("http://w2")
    old = NOW - timedelta(days=40)
    records = [
        HeartbeatRecord(one.id, old, False, None, "down"),
        HeartbeatRecord(one.id, NOW - timedelta(hours=3), True, 1.0),
        HeartbeatRecord(one.id, NOW - timedelta(hours=2), True, 1.0),
        HeartbeatRecord(one.id, NOW - timedelta(hours=1), True, 1.0),
        HeartbeatRecord(one.id, NOW, False, None, "timeout"),
        HeartbeatRecord(two.id, NOW, True, 2.0),
    ]
    await registry.record_heartbeats(records, failures_threshold=5)
    uptime = await registry.uptime(NOW - timedelta(hours=24))
    assert uptime == {one.id: 75.0, two.id: 100.0}
    assert await registry.prune_heartbeats(NOW - timedelta(days=30)) == 1
    assert await registry.prune_heartbeats(NOW - timedelta(days=30)) == 0
    assert (await registry.uptime(NOW - timedelta(days=365)))[one.id] == 75.0
