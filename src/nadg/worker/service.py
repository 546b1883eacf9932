"""The worker's state: slots, idempotency, counters and metrics around the executor.

No queue: when every slot is busy the request is refused (429) and the master picks another
worker. A task runs as its own asyncio task, so a client that hangs up does not kill it and a
resend of the same task_id gets its result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nadg.errors import TaskRejected, WorkerBusy
from nadg.protocol import ResultStatus, TaskKind, TaskRequest, TaskResult
from nadg.worker.executors import NO_LLM, Executor
from nadg.worker.idempotency import IdempotencyCache
from nadg.worker.metrics import WorkerMetrics

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1


@dataclass
class Counters:
    completed: int = 0
    failed: int = 0


class WorkerService:
    """Admits, runs and remembers tasks; one per app, built in its lifespan."""

    def __init__(
        self,
        executor: Executor,
        *,
        max_concurrency: int,
        cache: IdempotencyCache,
        metrics: WorkerMetrics,
    ) -> None:
        self.executor = executor
        self.max_concurrency = max_concurrency
        self.cache = cache
        self.metrics = metrics
        self.counters = Counters()
        self._tasks: set[asyncio.Task[TaskResult]] = set()

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def execute(self, request: TaskRequest) -> TaskResult:
        """The task's result: from the cache, from the same task running, or by running it."""
        if request.kind == TaskKind.PROMPT and self.executor.llm is None:
            raise TaskRejected(NO_LLM, status_code=501)
        known = self.cache.lookup(request.task_id, time.monotonic())
        if isinstance(known, TaskResult):
            return known
        if known is None:
            known = self._start(request)
        # shield: a client hanging up must not cancel the task another request may wait for.
        return await asyncio.shield(known)

    def _start(self, request: TaskRequest) -> asyncio.Task[TaskResult]:
        if self.running >= self.max_concurrency:
            raise WorkerBusy(
                f"all {self.max_concurrency} slots are busy", retry_after=RETRY_AFTER_S
            )
        task = asyncio.create_task(self.executor.run(request), name=f"task:{request.task_id}")
        self._tasks.add(task)
        self.cache.start(request.task_id, task)
        self.metrics.running.set(self.running)
        task.add_done_callback(lambda done: self._finished(request, done))
        return task

    def _finished(self, request: TaskRequest, task: asyncio.Task[TaskResult]) -> None:
        self._tasks.discard(task)
        self.metrics.running.set(self.running)
        result = None if task.cancelled() or task.exception() else task.result()
        self.cache.finish(request.task_id, result, time.monotonic())
        if result is None:
            if not task.cancelled():
                logger.error(
                    "task %s could not run: %s", request.task_id, task.exception(),
                    extra={"task_id": request.task_id},
                )  # fmt: skip
            return
        if result.status == ResultStatus.COMPLETED:
            self.counters.completed += 1
        else:
            self.counters.failed += 1
        self.metrics.observe(result.kind.value, result.status.value, result.duration_ms / 1000)
        logger.debug(  # not INFO: a line per task costs the hot path (uvicorn logs each request)
            "task %s %s in %.1f ms", request.task_id, result.status.value, result.duration_ms,
            extra={"task_id": request.task_id},
        )  # fmt: skip

    async def close(self) -> None:
        """Cancel what is running; each sandbox kills its processes on the way out."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
