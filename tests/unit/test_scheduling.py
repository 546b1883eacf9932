"""The dispatcher's pure decisions: which worker, which key, what a failure means."""

from __future__ import annotations

import pytest

from nadg.client import is_retryable, is_worker_fault
from nadg.errors import TaskRejected, WorkerBusy, WorkerServerError, WorkerUnreachable
from nadg.protocol import ResultStatus, TaskResult
from nadg.registry.models import Worker, WorkerState
from nadg.scheduling import (
    WorkerSlot,
    cache_key,
    can_take,
    choose_worker,
    failure_text,
    task_id,
)


def slot(
    worker_id: int,
    *,
    capabilities: tuple[str, ...] = ("python",),
    status: WorkerState = WorkerState.ACTIVE,
    max_concurrency: int = 2,
    in_flight: int = 0,
    latency: float | None = None,
    failures: int = 0,
    busy_until: float = 0.0,
) -> WorkerSlot:
    worker = Worker(
        id=worker_id,
        vm_url=f"http://127.0.0.1:{9000 + worker_id}",
        status=status,
        capabilities=list(capabilities),
        max_concurrency=max_concurrency,
        last_latency_ms=latency,
        consecutive_failures=failures,
    )
    return WorkerSlot(worker, in_flight=in_flight, busy_until=busy_until)


def chosen(kind: str, slots: list[WorkerSlot], **kwargs: object) -> int | None:
    pick = choose_worker(kind, slots, now=100.0, **kwargs)  # type: ignore[arg-type]
    return pick.id if pick else None


def test_capability_must_match_the_kind() -> None:
    slots = [slot(1), slot(2, capabilities=("python", "llm"))]
    assert chosen("prompt", slots) == 2
    assert chosen("python", [slot(1, capabilities=("llm",))]) is None


@pytest.mark.parametrize("status", [WorkerState.DRAINING, WorkerState.OFFLINE])
def test_only_active_workers_get_work(status: WorkerState) -> None:
    assert chosen("python", [slot(1, status=status)]) is None
    assert chosen("python", [slot(1, status=status), slot(2)]) == 2


def test_a_full_worker_gets_nothing_more() -> None:
    assert chosen("python", [slot(1, in_flight=2)]) is None
    assert chosen("python", [slot(1, in_flight=2), slot(2, in_flight=1)]) == 2


def test_a_worker_cooling_down_after_429_is_skipped_until_then() -> None:
    assert chosen("python", [slot(1, busy_until=101.0)]) is None
    assert chosen("python", [slot(1, busy_until=99.0)]) == 1


def test_fewest_in_flight_then_fewest_failures_then_lowest_latency() -> None:
    assert chosen("python", [slot(1, in_flight=1), slot(2)]) == 2
    assert chosen("python", [slot(1, failures=2), slot(2, failures=1)]) == 2
    assert chosen("python", [slot(1, latency=50.0), slot(2, latency=5.0)]) == 2
    assert chosen("python", [slot(1, latency=None), slot(2, latency=500.0)]) == 2


def test_avoided_workers_only_when_nothing_else_can_take_it() -> None:
    assert chosen("python", [slot(1), slot(2, latency=900.0)], avoid={1}) == 2
    assert chosen("python", [slot(1), slot(2, in_flight=2)], avoid={1}) == 1


def test_the_preferred_worker_wins_when_it_can_take_it() -> None:
    assert chosen("python", [slot(1), slot(2, in_flight=1)], prefer=2) == 2
    assert chosen("python", [slot(1), slot(2, in_flight=2)], prefer=2) == 1


def test_can_take_counts_max_concurrency_at_least_one() -> None:
    assert can_take(slot(1, max_concurrency=0), "python", 0.0)
    assert not can_take(slot(1, max_concurrency=0, in_flight=1), "python", 0.0)


def test_cache_key_depends_on_kind_task_and_context_only() -> None:
    base = cache_key("python", "print(1)", {"a": "1", "b": "2"})
    assert base == cache_key("python", "print(1)", {"b": "2", "a": "1"})
    assert base != cache_key("prompt", "print(1)", {"a": "1", "b": "2"})
    assert base != cache_key("python", "print(2)", {"a": "1", "b": "2"})
    assert base != cache_key("python", "print(1)", {"a": "1", "b": "3"})


def test_task_id_is_a_valid_idempotency_key_per_attempt() -> None:
    assert task_id("abc123", "part-1", 2) == "abc123:part-1:2"
    assert task_id("abc123", "a b/c", 1) == "abc123:a_b_c:1"
    assert task_id("r", "x", 1) != task_id("r", "x", 2)


def test_failure_text_keeps_status_exit_code_and_stderr_tail() -> None:
    result = TaskResult(
        task_id="t", status=ResultStatus.FAILED, return_code=1, stderr="Traceback\nValueError: x\n"
    )
    assert failure_text(result) == "failed (exit 1): Traceback\nValueError: x"
    timeout = TaskResult(task_id="t", status=ResultStatus.TIMEOUT, return_code=None)
    assert failure_text(timeout) == "timeout (exit None)"


def test_failures_are_classified_once() -> None:
    unreachable, server = WorkerUnreachable(), WorkerServerError()
    busy, rejected = WorkerBusy(retry_after=2.0), TaskRejected(status_code=422)
    assert is_worker_fault(unreachable) and is_worker_fault(server)
    assert not is_worker_fault(busy) and not is_worker_fault(rejected)
    assert is_retryable(busy) and is_retryable(unreachable) and not is_retryable(rejected)
