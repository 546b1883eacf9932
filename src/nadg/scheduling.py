"""Scheduling decisions: which worker takes a subtask, under which key, and what a result means.

Plain functions over data with `now` passed in; `dispatch.py` calls them and acts.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nadg.planner.plan import CAPABILITY_FOR
from nadg.protocol import TaskResult
from nadg.registry.models import Worker, WorkerState

MAX_ERROR_CHARS = 4000
_CAPABILITY_BY_KIND = {kind.value: capability for kind, capability in CAPABILITY_FOR.items()}


@dataclass(frozen=True)
class RunOptions:
    """How one run is dispatched; stored with the run so `resume` dispatches it the same way."""

    retries: int = 0  # extra tries for a task's own failure (exception, timeout, limit)
    max_attempts: int = 3  # sends per subtask when workers fail (Ray's default)
    timeout: float = 60.0  # per subtask, enforced by the worker
    request_slack: float = 10.0  # how much longer the master waits for the answer
    use_cache: bool = True
    cache_ttl: float = 24 * 3600.0
    synthesize: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class WorkerSlot:
    """A worker as the dispatcher sees it during one run."""

    worker: Worker
    in_flight: int = 0
    faults: int = 0
    busy_until: float = 0.0  # monotonic time before which it said 429
    down: bool = False

    @property
    def id(self) -> int:
        return self.worker.id


def required_capability(kind: str) -> str:
    """python -> `python`, prompt -> `llm`, as the planner validates it."""
    return _CAPABILITY_BY_KIND.get(kind, kind)


def can_take(slot: WorkerSlot, kind: str, now: float) -> bool:
    """Active, capable, not cooling down after a 429, and with a free slot."""
    worker = slot.worker
    return (
        not slot.down
        and worker.status == WorkerState.ACTIVE
        and required_capability(kind) in worker.capabilities
        and slot.in_flight < max(1, worker.max_concurrency)
        and now >= slot.busy_until
    )


def choose_worker(
    kind: str,
    slots: Sequence[WorkerSlot],
    *,
    now: float,
    avoid: Collection[int] = (),
    prefer: int | None = None,
) -> WorkerSlot | None:
    """The best worker for a subtask now, or None when every capable worker is full.

    `prefer` (the worker that had the subtask when a master died) wins when it can take it, so
    the resend hits that worker's idempotency cache. Otherwise workers the subtask already failed
    on are avoided where another exists, then: fewest in flight, fewest recent failures, lowest
    latency.
    """
    candidates = [slot for slot in slots if can_take(slot, kind, now)]
    if not candidates:
        return None
    for slot in candidates:
        if slot.id == prefer:
            return slot
    fresh = [slot for slot in candidates if slot.id not in avoid] or candidates
    return min(fresh, key=_worker_rank)


def _worker_rank(slot: WorkerSlot) -> tuple[int, int, float, int]:
    latency = slot.worker.last_latency_ms
    recent_failures = slot.faults + slot.worker.consecutive_failures
    return (slot.in_flight, recent_failures, math.inf if latency is None else latency, slot.id)


def cache_key(kind: str, task: str, context: Mapping[str, str]) -> str:
    """Identical subtasks (kind, task and the outputs they depend on) share a key."""
    payload = json.dumps([kind, task, sorted(context.items())], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def task_id(run_id: str, key: str, attempt: int) -> str:
    """The idempotency key of one send: the same run, subtask and attempt run at most once."""
    safe_key = re.sub(r"[^A-Za-z0-9._-]", "_", key)[:120]
    return f"{run_id}:{safe_key}:{attempt}"


def failure_text(result: TaskResult) -> str:
    """A task's own failure, in one short text: its status, return code and stderr's tail."""
    head = f"{result.status.value} (exit {result.return_code})"
    stderr = result.stderr.strip()
    return f"{head}: {stderr[-MAX_ERROR_CHARS:]}" if stderr else head
