"""The registry's run contract, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nadg.errors import RunNotFound
from nadg.registry.models import RunState, SubtaskSpec, SubtaskState, SubtaskUpdate
from nadg.registry.store import Registry

PLAN = [
    SubtaskSpec("a", "python", "print(1)", title="first"),
    SubtaskSpec("b", "prompt", "Say hi", cache_key="k-b"),
    SubtaskSpec("c", "python", "print(context)", depends_on=["a", "b"]),
]


async def test_a_run_is_created_with_its_subtasks(registry: Registry) -> None:
    run = await registry.create_run("count words", "rules", PLAN, {"retries": 2})
    assert len(run.id) == 12
    assert run.status is RunState.PENDING
    assert run.options == {"retries": 2}
    assert [s.key for s in run.subtasks] == ["a", "b", "c"]
    assert [s.position for s in run.subtasks] == [0, 1, 2]
    assert run.subtasks[2].depends_on == ["a", "b"]
    assert run.subtasks[0].title == "first"
    assert run.subtasks[1].cache_key == "k-b"
    assert all(s.status is SubtaskState.PENDING for s in run.subtasks)
    assert run.created_at is not None and run.created_at.tzinfo is not None
    assert (await registry.get_run(run.id)) == run


async def test_updates_leave_none_fields_untouched(registry: Registry) -> None:
    worker = await registry.upsert_worker("http://w1")
    run = await registry.create_run("cmd", "rules", PLAN)
    first, second = run.subtasks[0].id, run.subtasks[1].id
    started = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    await registry.update_subtasks(
        [
            SubtaskUpdate(first, SubtaskState.RUNNING, worker_id=worker.id, attempts=1,
                          started_at=started),
            SubtaskUpdate(second, SubtaskState.FAILED, error="boom", attempts=2),
        ]
    )  # fmt: skip
    done = started + timedelta(seconds=2)
    await registry.update_subtasks(
        [SubtaskUpdate(first, SubtaskState.COMPLETED, output="1\n", completed_at=done,
                       duration_ms=2000.0, input_tokens=3, output_tokens=4, cached=False)]
    )  # fmt: skip
    loaded = await registry.get_run(run.id)
    a, b, c = loaded.subtasks
    assert a.status is SubtaskState.COMPLETED
    assert (a.worker_id, a.attempts, a.output) == (worker.id, 1, "1\n")
    assert a.started_at == started
    assert a.completed_at == done
    assert (a.duration_ms, a.input_tokens, a.output_tokens) == (2000.0, 3, 4)
    assert (b.status, b.error, b.attempts, b.worker_id) == (SubtaskState.FAILED, "boom", 2, None)
    assert c.status is SubtaskState.PENDING
    unfinished = await registry.unfinished_subtasks(run.id)
    assert [s.key for s in unfinished] == ["b", "c"]


async def test_run_status_and_totals(registry: Registry) -> None:
    run = await registry.create_run("cmd", "llm", PLAN)
    finished = datetime.now(UTC)
    await registry.set_run_status(
        run.id, RunState.PARTIAL, result="answer", error="one failed", finished_at=finished,
        input_tokens=10, output_tokens=20, cost_usd=0.0125,
    )  # fmt: skip
    loaded = await registry.get_run(run.id)
    assert loaded.status is RunState.PARTIAL
    assert (loaded.result, loaded.error) == ("answer", "one failed")
    assert loaded.finished_at == finished
    assert (loaded.input_tokens, loaded.output_tokens) == (10, 20)
    assert loaded.cost_usd == pytest.approx(0.0125)
    await registry.set_run_status(run.id, RunState.COMPLETED)
    assert (await registry.get_run(run.id)).result == "answer"


async def test_unknown_runs(registry: Registry) -> None:
    with pytest.raises(RunNotFound):
        await registry.get_run("nope")
    with pytest.raises(RunNotFound):
        await registry.set_run_status("nope", RunState.FAILED)
    with pytest.raises(RunNotFound):
        await registry.unfinished_subtasks("nope")


async def test_list_runs_filters(registry: Registry) -> None:
    old = await registry.create_run("Summarise 100% of the logs", "rules", [])
    new = await registry.create_run("count words_in files", "llm", PLAN)
    await registry.set_run_status(new.id, RunState.COMPLETED)
    assert [r.id for r in await registry.list_runs()] == [new.id, old.id]
    assert [r.id for r in await registry.list_runs(limit=1)] == [new.id]
    assert [r.id for r in await registry.list_runs(status=RunState.COMPLETED)] == [new.id]
    assert [r.id for r in await registry.list_runs(text="100%")] == [old.id]
    assert [r.id for r in await registry.list_runs(text="WORDS_in")] == [new.id]
    assert await registry.list_runs(text="words%in") == []  # % is literal, not a wildcard
    assert created(new) is not None
    assert [r.id for r in await registry.list_runs(since=created(new))] == [new.id]


def created(run: object) -> datetime:
    value = getattr(run, "created_at", None)
    assert isinstance(value, datetime)
    return value


async def test_cached_output_within_ttl(registry: Registry) -> None:
    run = await registry.create_run("cmd", "rules", PLAN)
    target = run.subtasks[1]
    now = datetime.now(UTC)
    assert await registry.cached_output("k-b", 3600, now) is None  # not completed yet
    await registry.update_subtasks(
        [SubtaskUpdate(target.id, SubtaskState.COMPLETED, output="hi", completed_at=now)]
    )
    assert await registry.cached_output("k-b", 3600, now) == "hi"
    assert await registry.cached_output("k-b", 60, now + timedelta(minutes=5)) is None
    assert await registry.cached_output("other", 3600, now) is None
    hits = await registry.cached_outputs(["k-b", "other"], max_age_s=3600, now=now)
    assert hits == {"k-b": "hi"}
    assert await registry.cached_outputs(["k-b"], max_age_s=60, now=now + timedelta(hours=1)) == {}


async def test_task_stats(registry: Registry) -> None:
    run = await registry.create_run("cmd", "rules", PLAN)
    ids = [s.id for s in run.subtasks]
    await registry.update_subtasks(
        [
            SubtaskUpdate(ids[0], SubtaskState.COMPLETED),
            SubtaskUpdate(ids[1], SubtaskState.FAILED),
        ]
    )
    stats = await registry.task_stats(datetime.now(UTC) - timedelta(hours=24))
    assert stats == {"pending": 1, "running": 0, "completed": 1, "failed": 1, "cancelled": 0}
    assert sum((await registry.task_stats(datetime.now(UTC) + timedelta(hours=1))).values()) == 0
