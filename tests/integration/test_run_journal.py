"""The run journal: a dispatcher's batched writes, in order, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from nadg.errors import RegistryError
from nadg.journal import Journal
from nadg.registry.models import (
    SubtaskSpec,
    SubtaskState,
    SubtaskUpdate,
    TaskOutcome,
    WorkerState,
)
from nadg.registry.store import Registry

PLAN = [SubtaskSpec(f"s{i}", "python", f"print({i})") for i in range(3)]


async def test_record_progress_is_one_transaction_of_updates_counts_and_offline_marks(
    registry: Registry,
) -> None:
    busy = await registry.upsert_worker("http://w1")
    broken = await registry.upsert_worker("http://w2")
    draining = await registry.upsert_worker("http://w3", status=WorkerState.DRAINING)
    run = await registry.create_run("cmd", "rules", PLAN)
    first = run.subtasks[0].id
    before = registry.statements

    await registry.record_progress(
        [
            SubtaskUpdate(first, SubtaskState.RUNNING, worker_id=busy.id, attempts=1),
            SubtaskUpdate(first, SubtaskState.COMPLETED, output="0\n"),  # applied in order
        ],
        [TaskOutcome(busy.id, False, 12.0), TaskOutcome(busy.id, True, 8.0)],
        [broken.id, draining.id, broken.id],
    )

    assert registry.statements - before <= 6  # begin, three statements, commit: not per row
    row = (await registry.get_run(run.id)).subtasks[0]
    assert (row.status, row.worker_id, row.attempts, row.output) == (
        SubtaskState.COMPLETED, busy.id, 1, "0\n",
    )  # fmt: skip
    counted = await registry.get_worker(busy.id)
    assert (counted.total_tasks, counted.failed_tasks, counted.last_latency_ms) == (2, 1, 8.0)
    assert (await registry.get_worker(broken.id)).status == WorkerState.OFFLINE
    assert (await registry.get_worker(draining.id)).status == WorkerState.DRAINING


async def test_the_journal_commits_every_record_in_order_and_says_when(
    registry: Registry,
) -> None:
    run = await registry.create_run("cmd", "rules", PLAN)
    ids = [row.id for row in run.subtasks]
    journal = Journal(registry)

    tickets = [
        journal.record([SubtaskUpdate(ids[0], SubtaskState.RUNNING, attempts=1)]),
        journal.record([SubtaskUpdate(ids[0], SubtaskState.COMPLETED, output="0\n")]),
        journal.record([SubtaskUpdate(ids[1], SubtaskState.FAILED, error="boom")]),
    ]
    await journal.durable(tickets[-1])
    middle = journal.record([SubtaskUpdate(ids[2], SubtaskState.RUNNING, attempts=1)])
    await journal.close()

    assert tickets == [1, 2, 3] and middle == 4
    states = [row.status for row in (await registry.get_run(run.id)).subtasks]
    assert states == [SubtaskState.COMPLETED, SubtaskState.FAILED, SubtaskState.RUNNING]


async def test_a_journal_that_cannot_write_tells_every_waiter(registry: Registry) -> None:
    run = await registry.create_run("cmd", "rules", PLAN)
    journal = Journal(registry)
    async with registry._engine.begin() as connection:  # the table goes away under the journal
        await connection.execute(text("DROP TABLE task_history"))

    ticket = journal.record([SubtaskUpdate(run.subtasks[0].id, SubtaskState.RUNNING)])
    waiters = [asyncio.create_task(journal.durable(ticket)) for _ in range(3)]
    results = await asyncio.gather(*waiters, return_exceptions=True)

    assert all(isinstance(result, RegistryError) for result in results), results
    with pytest.raises(RegistryError):
        journal.record([])
    with pytest.raises(RegistryError):
        await journal.close()
