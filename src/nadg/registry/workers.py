"""The registry's worker queries: `worker_nodes`, with counters updated atomically in SQL."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, Float, Row, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from nadg.errors import InvalidURL, WorkerNotFound
from nadg.registry.base import RegistryBase
from nadg.registry.models import TaskOutcome, Worker, WorkerState
from nadg.registry.schema import heartbeats, task_history, utcnow, worker_nodes
from nadg.registry.urls import normalize_worker_url

W = worker_nodes.c


def to_worker(row: Row[Any]) -> Worker:
    return Worker.model_validate(dict(row._mapping))


def ref_clause(ref: int | str) -> ColumnElement[bool]:
    """A worker by id (an int or a string of digits) or by URL."""
    if isinstance(ref, int) or ref.strip().isdigit():
        return W.id == int(ref)
    try:
        url = normalize_worker_url(ref)  # the one spelling the registry stores
    except InvalidURL:
        url = ref.strip()  # matches nothing: the caller says no such worker
    return W.vm_url == url


def _insert(connection: AsyncConnection) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(worker_nodes)


class WorkerQueries(RegistryBase):
    """Add, find, change and remove workers; count their tasks."""

    async def upsert_worker(
        self,
        vm_url: str,
        *,
        name: str | None = None,
        capabilities: list[str] | None = None,
        max_concurrency: int | None = None,
        isolation: str | None = None,
        status: WorkerState | None = None,
    ) -> Worker:
        """Add a worker, or update the given fields of the one with that URL (no duplicate)."""
        url = normalize_worker_url(vm_url)
        changes: dict[str, Any] = {
            "name": name,
            "capabilities": capabilities,
            "max_concurrency": max_concurrency,
            "isolation": isolation,
            "status": status.value if status else None,
        }
        changes = {key: value for key, value in changes.items() if value is not None}
        if status == WorkerState.ACTIVE:
            changes["consecutive_failures"] = 0
        async with self._write() as connection:
            statement = _insert(connection).values(
                vm_url=url,
                name=name,
                capabilities=capabilities or ["python"],
                max_concurrency=max_concurrency or 1,
                isolation=isolation,
                status=(status or WorkerState.ACTIVE).value,
                created_at=utcnow(),
            )
            if changes:
                statement = statement.on_conflict_do_update(index_elements=["vm_url"], set_=changes)
            else:
                statement = statement.on_conflict_do_nothing(index_elements=["vm_url"])
            await connection.execute(statement)
            row = (await connection.execute(select(worker_nodes).where(W.vm_url == url))).one()
        return to_worker(row)

    async def get_worker(self, ref: int | str) -> Worker:
        async with self._read() as connection:
            row = (await connection.execute(select(worker_nodes).where(ref_clause(ref)))).first()
        if row is None:
            raise WorkerNotFound(f"no worker {ref!r} in the registry")
        return to_worker(row)

    async def list_workers(self, status: WorkerState | None = None) -> list[Worker]:
        query = select(worker_nodes).order_by(W.id)
        if status is not None:
            query = query.where(W.status == status.value)
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return [to_worker(row) for row in rows]

    async def remove_worker(self, ref: int | str) -> Worker:
        """Delete a worker; its past subtasks stay, without a worker, its heartbeats go."""
        async with self._write() as connection:
            row = (await connection.execute(select(worker_nodes).where(ref_clause(ref)))).first()
            if row is None:
                raise WorkerNotFound(f"no worker {ref!r} in the registry")
            worker = to_worker(row)
            # Explicit rather than ON DELETE: an adopted seed database has plain foreign keys.
            await connection.execute(
                update(task_history)
                .where(task_history.c.worker_id == worker.id)
                .values(worker_id=None)
            )
            await connection.execute(delete(heartbeats).where(heartbeats.c.worker_id == worker.id))
            await connection.execute(delete(worker_nodes).where(W.id == worker.id))
        return worker

    async def set_worker_status(self, ref: int | str, status: WorkerState) -> Worker:
        values: dict[str, Any] = {"status": status.value}
        if status == WorkerState.ACTIVE:
            values["consecutive_failures"] = 0
        statement = update(worker_nodes).where(ref_clause(ref)).values(**values)
        async with self._write() as connection:
            row = (await connection.execute(statement.returning(*worker_nodes.c))).first()
        if row is None:
            raise WorkerNotFound(f"no worker {ref!r} in the registry")
        return to_worker(row)

    async def mark_worker_offline(self, worker_id: int) -> None:
        """Offline after a fault seen by the dispatcher; a draining worker stays draining."""
        async with self._write() as connection:
            await connection.execute(offline_statement([worker_id]))

    async def record_task_outcomes(self, outcomes: list[TaskOutcome]) -> None:
        """Count subtasks on their workers in one transaction, as increments in SQL."""
        if not outcomes:
            return
        async with self._write() as connection:
            await connection.execute(outcome_statement(), outcome_params(outcomes))


def offline_statement(worker_ids: list[int]) -> Any:
    """Active workers among `worker_ids` go offline; draining and offline ones stay as they are."""
    return (
        update(worker_nodes)
        .where(W.id.in_(worker_ids), W.status == WorkerState.ACTIVE.value)
        .values(status=WorkerState.OFFLINE.value)
    )


@functools.cache  # built once: the dispatcher's journal runs it for every batch
def outcome_statement() -> Any:
    """total_tasks + 1 (and failed_tasks + 1 on a failure) in SQL, never read-modify-write."""
    return (
        update(worker_nodes)
        .where(W.id == bindparam("w_id"))
        .values(
            total_tasks=W.total_tasks + 1,
            failed_tasks=W.failed_tasks + bindparam("w_failed"),
            last_latency_ms=func.coalesce(bindparam("w_latency", type_=Float), W.last_latency_ms),
        )
    )


def outcome_params(outcomes: list[TaskOutcome]) -> list[dict[str, Any]]:
    return [
        {"w_id": item.worker_id, "w_failed": int(item.failed), "w_latency": item.latency_ms}
        for item in outcomes
    ]
