"""Dispatch end to end: real workers on loopback, a real registry, and workers that fail."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable

from fixtures.grid import executions, register, register_cluster
from nadg.cluster import LocalCluster
from nadg.events import Event, EventKind
from nadg.orchestrator import Orchestrator, default_options
from nadg.planner import Plan, PlanSubtask
from nadg.protocol import TaskKind
from nadg.registry import Registry
from nadg.registry.models import RunState, SubtaskState, WorkerState


def python(key: str, code: str, *deps: str) -> PlanSubtask:
    return PlanSubtask(id=key, kind=TaskKind.PYTHON, task=code, depends_on=list(deps))


def sleeper(key: str, seconds: float) -> PlanSubtask:
    code = (
        "import json, time\n"
        "started = time.time()\n"
        f"time.sleep({seconds})\n"
        f"print(json.dumps([{key!r}, started, time.time()]))\n"
    )
    return python(key, code)


def by_key(run: object) -> dict[str, object]:
    return {row.key: row for row in run.subtasks}  # type: ignore[attr-defined]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = best = 0
    for _, step in edges:
        open_now += step
        best = max(best, open_now)
    return best


async def test_twelve_subtasks_spread_over_three_workers_by_free_slots(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
) -> None:
    cluster = cluster_factory(3, max_concurrency=2)
    await register_cluster(grid_registry, cluster)
    plan = Plan(subtasks=[sleeper(f"s{i}", 0.4) for i in range(12)])

    run = await orchestrator.submit("twelve sleeps", plan=plan)

    assert run.status == RunState.COMPLETED
    per_worker = Counter(row.worker_id for row in run.subtasks)
    assert len(per_worker) == 3 and sum(per_worker.values()) == 12
    assert all(count >= 2 for count in per_worker.values()), per_worker
    for worker_id in per_worker:
        spans = [
            tuple(json.loads(row.output)[1:]) for row in run.subtasks if row.worker_id == worker_id
        ]
        assert max_overlap(spans) <= 2  # never more than max_concurrency at once
    workers = {worker.id: worker for worker in await grid_registry.list_workers()}
    assert {wid: workers[wid].total_tasks for wid in per_worker} == dict(per_worker)


async def test_dag_runs_in_dependency_order_with_context(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
) -> None:
    await register_cluster(grid_registry, cluster_factory(2))
    plan = Plan(
        subtasks=[
            python("a", "print(20)"),
            python("b", "print(int(context['a']) + 1)", "a"),
            python("c", "print(int(context['a']) * 2)", "a"),
            python("d", "print(sorted(context), int(context['b']) + int(context['c']))", "b", "c"),
        ]
    )

    run = await orchestrator.submit("a small dag", plan=plan)

    rows = by_key(run)
    assert run.status == RunState.COMPLETED
    assert rows["d"].output.strip() == "['b', 'c'] 61"  # type: ignore[attr-defined]
    assert rows["b"].started_at >= rows["a"].completed_at  # type: ignore[attr-defined]
    assert rows["d"].started_at >= max(rows["b"].completed_at, rows["c"].completed_at)  # type: ignore[attr-defined]
    assert "61" in (run.result or "")


async def test_a_failed_branch_cancels_its_dependents_and_the_rest_finishes(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
) -> None:
    await register_cluster(grid_registry, cluster_factory(2))
    plan = Plan(
        subtasks=[
            python("bad", "raise ValueError('boom')"),
            python("after-bad", "print('never')", "bad"),
            python("good", "print('fine')"),
            python("after-good", "print(context['good'] + '!')", "good"),
        ]
    )

    run = await orchestrator.submit("one branch fails", plan=plan)

    rows = by_key(run)
    assert run.status == RunState.PARTIAL
    assert rows["bad"].status == SubtaskState.FAILED  # type: ignore[attr-defined]
    assert "ValueError: boom" in rows["bad"].error  # type: ignore[attr-defined]
    assert rows["bad"].attempts == 1  # type: ignore[attr-defined]  # not retried by default
    assert rows["after-bad"].status == SubtaskState.CANCELLED  # type: ignore[attr-defined]
    assert "dependency 'bad' failed" in rows["after-bad"].error  # type: ignore[attr-defined]
    assert rows["after-good"].output.strip() == "fine!"  # type: ignore[attr-defined]


async def test_a_failing_task_is_retried_only_when_asked(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
    grid_settings: object,
) -> None:
    cluster = cluster_factory(2)
    await register_cluster(grid_registry, cluster)
    plan = Plan(subtasks=[python("flaky", "import sys; sys.exit(3)")])
    before = executions(cluster)

    once = await orchestrator.submit("no retries", plan=plan)
    retried = await orchestrator.submit(
        "two retries",
        plan=plan,
        options=default_options(grid_settings, retries=2),  # type: ignore[arg-type]
    )

    assert once.subtasks[0].attempts == 1 and once.status == RunState.FAILED
    assert retried.subtasks[0].attempts == 3 and retried.status == RunState.FAILED
    assert "exit 3" in (retried.subtasks[0].error or "")
    assert executions(cluster) - before == 4


async def test_a_worker_killed_mid_run_loses_nothing(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    grid_settings: object,
) -> None:
    cluster = cluster_factory(3, max_concurrency=2)
    ids = await register_cluster(grid_registry, cluster)
    victim = cluster.workers[0]
    killed = asyncio.Event()

    def kill_on_first_dispatch(event: Event) -> None:
        if (
            event.kind == EventKind.DISPATCHED
            and event.worker == victim.worker_id
            and not killed.is_set()
        ):
            killed.set()
            asyncio.get_running_loop().call_later(0.3, victim.kill)

    from nadg.client import WorkerClient

    async with WorkerClient(token=grid_settings.token()) as client:  # type: ignore[attr-defined]
        orchestrator = Orchestrator(
            grid_settings, grid_registry, client, on_event=kill_on_first_dispatch
        )  # type: ignore[arg-type]
        plan = Plan(subtasks=[sleeper(f"s{i}", 1.0) for i in range(9)])
        run = await orchestrator.submit("survive a dead worker", plan=plan)

    assert killed.is_set() and not victim.alive
    assert run.status == RunState.COMPLETED
    assert all(row.worker_id != ids[victim.worker_id] for row in run.subtasks)
    assert any(row.attempts > 1 for row in run.subtasks)
    dead = await grid_registry.get_worker(ids[victim.worker_id])
    assert dead.status == WorkerState.OFFLINE


async def test_a_hanging_worker_times_out_and_its_subtask_moves(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
    hanging_server: str,
    grid_settings: object,
) -> None:
    cluster = cluster_factory(1)
    await register_cluster(grid_registry, cluster)
    hung = await register(grid_registry, hanging_server, max_concurrency=4, name="hung")
    plan = Plan(subtasks=[python(f"p{i}", f"print({i})") for i in range(4)])
    options = default_options(grid_settings, timeout=1.0, request_slack=0.5)  # type: ignore[arg-type]

    run = await orchestrator.submit("avoid the hung worker", plan=plan, options=options)

    assert run.status == RunState.COMPLETED
    assert {row.output.strip() for row in run.subtasks} == {"0", "1", "2", "3"}  # type: ignore[union-attr]
    assert all(row.worker_id != hung for row in run.subtasks)
    assert (await grid_registry.get_worker(hung)).status == WorkerState.OFFLINE


async def test_a_worker_answering_500_is_marked_offline(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
    failing_server: str,
) -> None:
    await register_cluster(grid_registry, cluster_factory(1))
    broken = await register(grid_registry, failing_server, max_concurrency=8, name="broken")
    plan = Plan(subtasks=[python(f"p{i}", f"print({i} * {i})") for i in range(6)])

    run = await orchestrator.submit("avoid the broken worker", plan=plan)

    assert run.status == RunState.COMPLETED
    assert (await grid_registry.get_worker(broken)).status == WorkerState.OFFLINE
    assert all(row.worker_id != broken for row in run.subtasks)


async def test_a_busy_worker_answering_429_loses_nothing(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
) -> None:
    # The worker has one slot but the registry believes it has four: it must answer 429.
    cluster = cluster_factory(1, max_concurrency=1)
    worker_id = await register(grid_registry, cluster.urls[0], max_concurrency=4)
    plan = Plan(subtasks=[sleeper(f"s{i}", 0.3) for i in range(6)])
    before = executions(cluster)

    run = await orchestrator.submit("squeeze a busy worker", plan=plan)

    assert run.status == RunState.COMPLETED
    assert executions(cluster) - before == 6
    assert all(row.attempts == 1 for row in run.subtasks)  # a 429 is not an attempt
    assert (await grid_registry.get_worker(worker_id)).status == WorkerState.ACTIVE


async def test_cache_serves_an_identical_second_run_unless_disabled(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    orchestrator: Orchestrator,
    grid_settings: object,
) -> None:
    cluster = cluster_factory(1)
    await register_cluster(grid_registry, cluster)
    plan = Plan(subtasks=[python("a", "print(6 * 7)"), python("b", "print(context['a'])", "a")])
    before = executions(cluster)

    first = await orchestrator.submit("cache me", plan=plan)
    second = await orchestrator.submit("cache me", plan=plan)
    no_cache = await orchestrator.submit(
        "cache me",
        plan=plan,
        options=default_options(grid_settings, use_cache=False),  # type: ignore[arg-type]
    )

    assert [row.cached for row in first.subtasks] == [False, False]
    assert [row.cached for row in second.subtasks] == [True, True]
    assert [row.output for row in second.subtasks] == [row.output for row in first.subtasks]
    assert [row.cached for row in no_cache.subtasks] == [False, False]
    assert executions(cluster) - before == 4
