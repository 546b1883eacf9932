"""The registry's heartbeat queries: probes recorded in bulk, status transitions, uptime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, bindparam, case, delete, func, insert, select, update

from nadg.heartbeat import failures_after, next_status
from nadg.registry.base import RegistryBase
from nadg.registry.models import HeartbeatRecord, Worker, WorkerState
from nadg.registry.schema import heartbeats, worker_nodes
from nadg.registry.workers import to_worker

W = worker_nodes.c
H = heartbeats.c

Transition = tuple[Worker, WorkerState, WorkerState]


@dataclass
class _Tracked:
    """A worker's state while a batch of probes is applied to it."""

    worker: Worker
    status: WorkerState
    failures: int
    last_ping: datetime | None
    latency_ms: float | None


def _apply(
    tracked: _Tracked, record: HeartbeatRecord, threshold: int
) -> tuple[WorkerState, WorkerState] | None:
    """Fold one probe into the worker's state; the (before, after) pair when status changed."""
    before = tracked.status
    tracked.status = next_status(before, tracked.failures, record.ok, threshold)
    tracked.failures = failures_after(tracked.failures, record.ok)
    if record.ok:  # last_ping and latency describe the last successful contact
        tracked.last_ping = record.at
        tracked.latency_ms = record.latency_ms
    return (before, tracked.status) if tracked.status != before else None


_UPDATE = (
    update(worker_nodes)
    .where(W.id == bindparam("w_id"))
    .values(
        status=bindparam("w_status"),
        consecutive_failures=bindparam("w_failures", type_=Integer),
        last_ping=bindparam("w_ping", type_=W.last_ping.type),
        last_latency_ms=bindparam("w_latency", type_=Float),
    )
)


def _update_params(item: _Tracked) -> dict[str, Any]:
    return {
        "w_id": item.worker.id,
        "w_status": item.status.value,
        "w_failures": item.failures,
        "w_ping": item.last_ping,
        "w_latency": item.latency_ms,
    }


class HeartbeatQueries(RegistryBase):
    """What the heartbeat writes and what the UI reads of it."""

    async def record_heartbeats(
        self, records: list[HeartbeatRecord], *, failures_threshold: int
    ) -> list[Transition]:
        """Store a sweep's probes and apply the status transitions, in one transaction.

        A constant number of statements whatever the number of workers: one locking SELECT,
        one executemany UPDATE, one bulk INSERT. Returns (worker after, before, after) for
        every worker whose status changed.
        """
        if not records:
            return []
        ids = sorted({record.worker_id for record in records})
        async with self._write() as connection:
            locked = select(worker_nodes).where(W.id.in_(ids)).order_by(W.id).with_for_update()
            rows = (await connection.execute(locked)).all()
            tracked = {row.id: _track(to_worker(row)) for row in rows}
            changes: dict[int, tuple[WorkerState, WorkerState]] = {}
            for record in sorted(records, key=lambda item: item.at):
                item = tracked.get(record.worker_id)
                change = _apply(item, record, failures_threshold) if item else None
                if change:
                    first = changes.get(record.worker_id, change)
                    changes[record.worker_id] = (first[0], change[1])
            if tracked:
                await connection.execute(_UPDATE, [_update_params(t) for t in tracked.values()])
                await connection.execute(insert(heartbeats), _heartbeat_rows(records, tracked))
        return [
            (_updated(tracked[worker_id]), before, after)
            for worker_id, (before, after) in sorted(changes.items())
            if before != after
        ]

    async def uptime(self, since: datetime) -> dict[int, float]:
        """Per worker id, the percentage of probes since `since` that succeeded."""
        ok = func.sum(case((H.ok.is_(True), 1), else_=0))
        query = select(H.worker_id, func.count(), ok).where(H.at >= since).group_by(H.worker_id)
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return {int(worker): 100.0 * int(good or 0) / int(total) for worker, total, good in rows}

    async def prune_heartbeats(self, before: datetime) -> int:
        """Delete probes older than `before` (the retention); how many went."""
        async with self._write() as connection:
            result = await connection.execute(delete(heartbeats).where(H.at < before))
        return int(result.rowcount or 0)


def _track(worker: Worker) -> _Tracked:
    return _Tracked(
        worker, worker.status, worker.consecutive_failures, worker.last_ping, worker.last_latency_ms
    )


def _updated(item: _Tracked) -> Worker:
    return item.worker.model_copy(
        update={
            "status": item.status,
            "consecutive_failures": item.failures,
            "last_ping": item.last_ping,
            "last_latency_ms": item.latency_ms,
        }
    )


def _heartbeat_rows(
    records: list[HeartbeatRecord], tracked: dict[int, _Tracked]
) -> list[dict[str, Any]]:
    return [
        {
            "worker_id": record.worker_id,
            "at": record.at,
            "ok": record.ok,
            "latency_ms": record.latency_ms,
            "error": (record.error or None) and record.error[:1000],
        }
        for record in records
        if record.worker_id in tracked
    ]
