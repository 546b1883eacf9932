"""The registry's worker contract, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from nadg.errors import InvalidURL, WorkerNotFound
from nadg.registry.models import SubtaskSpec, SubtaskState, SubtaskUpdate, TaskOutcome, WorkerState
from nadg.registry.store import Registry


async def test_adding_the_same_url_twice_updates_one_worker(registry: Registry) -> None:
    first = await registry.upsert_worker("http://127.0.0.1:8001/", name="a")
    second = await registry.upsert_worker(
        "HTTP://127.0.0.1:8001", capabilities=["python", "llm"], max_concurrency=4
    )
    assert second.id == first.id
    assert second.name == "a"  # not given the second time: kept
    assert second.capabilities == ["python", "llm"]
    assert second.max_concurrency == 4
    assert [w.id for w in await registry.list_workers()] == [first.id]


async def test_a_new_worker_has_defaults_and_aware_timestamps(registry: Registry) -> None:
    worker = await registry.upsert_worker("http://w1:7860")
    assert worker.status is WorkerState.ACTIVE
    assert worker.capabilities == ["python"]
    assert worker.total_tasks == worker.failed_tasks == worker.consecutive_failures == 0
    assert worker.created_at is not None
    assert worker.created_at.utcoffset() is not None


async def test_a_bad_url_writes_nothing(registry: Registry) -> None:
    with pytest.raises(InvalidURL):
        await registry.upsert_worker("http://user:secret@host")
    assert await registry.list_workers() == []


async def test_workers_are_found_by_id_or_url(registry: Registry) -> None:
    worker = await registry.upsert_worker("http://w1:7860")
    assert (await registry.get_worker(worker.id)).id == worker.id
    assert (await registry.get_worker(str(worker.id))).id == worker.id
    assert (await registry.get_worker("http://w1:7860/")).id == worker.id
    assert (await registry.get_worker(" HTTP://W1:7860/ ")).id == worker.id  # any spelling
    with pytest.raises(WorkerNotFound):
        await registry.get_worker("not a url")
    with pytest.raises(WorkerNotFound):
        await registry.get_worker(worker.id + 100)
    with pytest.raises(WorkerNotFound):
        await registry.get_worker("http://nowhere")


async def test_drain_and_offline(registry: Registry) -> None:
    one = await registry.upsert_worker("http://w1")
    two = await registry.upsert_worker("http://w2")
    drained = await registry.set_worker_status(one.vm_url, WorkerState.DRAINING)
    assert drained.status is WorkerState.DRAINING
    await registry.mark_worker_offline(one.id)  # a draining worker stays draining
    await registry.mark_worker_offline(two.id)
    assert (await registry.get_worker(one.id)).status is WorkerState.DRAINING
    assert (await registry.get_worker(two.id)).status is WorkerState.OFFLINE
    offline = await registry.list_workers(WorkerState.OFFLINE)
    assert [w.id for w in offline] == [two.id]
    with pytest.raises(WorkerNotFound):
        await registry.set_worker_status(999, WorkerState.ACTIVE)


async def test_task_outcomes_are_counted(registry: Registry) -> None:
    worker = await registry.upsert_worker("http://w1")
    other = await registry.upsert_worker("http://w2")
    await registry.record_task_outcomes(
        [
            TaskOutcome(worker.id, failed=False, latency_ms=10.0),
            TaskOutcome(worker.id, failed=True, latency_ms=None),
            TaskOutcome(worker.id, failed=False, latency_ms=30.0),
            TaskOutcome(other.id, failed=True, latency_ms=5.0),
        ]
    )
    counted = await registry.get_worker(worker.id)
    assert (counted.total_tasks, counted.failed_tasks) == (3, 1)
    assert counted.last_latency_ms == 30.0
    assert (await registry.get_worker(other.id)).failed_tasks == 1


async def test_removing_a_worker_keeps_its_history(registry: Registry) -> None:
    worker = await registry.upsert_worker("http://w1")
    run = await registry.create_run("cmd", "rules", [SubtaskSpec("a", "python", "print(1)")])
    update = SubtaskUpdate(run.subtasks[0].id, SubtaskState.COMPLETED, worker_id=worker.id)
    await registry.update_subtasks([update])
    removed = await registry.remove_worker(worker.vm_url)
    assert removed.id == worker.id
    assert await registry.list_workers() == []
    kept = await registry.get_run(run.id)
    assert kept.subtasks[0].status is SubtaskState.COMPLETED
    assert kept.subtasks[0].worker_id is None
    with pytest.raises(WorkerNotFound):
        await registry.remove_worker(worker.id)


async def test_url_kind(registry: Registry, backend: str) -> None:
    assert registry.url_kind == ("sqlite" if backend == "sqlite" else "postgresql")
