"""Idempotency by task_id: a task sent again while running or recently finished runs once.

Running tasks are kept until they end; finished results in a bounded LRU with a TTL. `now` is
passed in, so the expiry rules are plain functions of data.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

from nadg.protocol import TaskResult


@dataclass
class IdempotencyCache:
    """task_id → the running asyncio.Task, or the finished result and when it finished."""

    max_entries: int
    ttl: float
    running: dict[str, asyncio.Task[TaskResult]] = field(default_factory=dict)
    finished: OrderedDict[str, tuple[float, TaskResult]] = field(default_factory=OrderedDict)

    def lookup(self, task_id: str, now: float) -> asyncio.Task[TaskResult] | TaskResult | None:
        """The running task, or a finished result that has not expired, or None."""
        if task_id in self.running:
            return self.running[task_id]
        entry = self.finished.get(task_id)
        if entry is None:
            return None
        finished_at, result = entry
        if now - finished_at > self.ttl:
            del self.finished[task_id]
            return None
        self.finished.move_to_end(task_id)
        return result

    def start(self, task_id: str, task: asyncio.Task[TaskResult]) -> None:
        self.running[task_id] = task

    def finish(self, task_id: str, result: TaskResult | None, now: float) -> None:
        """The task ended; remember its result (None: it did not run, so forget it)."""
        self.running.pop(task_id, None)
        if result is None:
            return
        self.finished[task_id] = (now, result)
        self.finished.move_to_end(task_id)
        self.expire(now)

    def expire(self, now: float) -> None:
        """Drop expired results (oldest first) and keep at most `max_entries`."""
        while self.finished:
            oldest, (finished_at, _) = next(iter(self.finished.items()))
            if len(self.finished) <= self.max_entries and now - finished_at <= self.ttl:
                break
            del self.finished[oldest]
