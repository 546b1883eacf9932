"""What the registry returns and takes: plain pydantic models and dataclasses, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WorkerState(StrEnum):
    ACTIVE = "active"
    OFFLINE = "offline"
    DRAINING = "draining"


class SubtaskState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (SubtaskState.COMPLETED, SubtaskState.FAILED, SubtaskState.CANCELLED)


class RunState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"  # some subtasks completed, some failed or were cancelled
    FAILED = "failed"
    CANCELLED = "cancelled"


class Worker(BaseModel):
    """A row of `worker_nodes`, with the registry's column names."""

    model_config = ConfigDict(frozen=True)

    id: int
    vm_url: str
    name: str | None = None
    status: WorkerState = WorkerState.ACTIVE
    capabilities: list[str] = Field(default_factory=lambda: ["python"])
    isolation: str | None = None
    max_concurrency: int = 1
    total_tasks: int = 0
    failed_tasks: int = 0
    consecutive_failures: int = 0
    last_ping: datetime | None = None
    last_latency_ms: float | None = None
    created_at: datetime | None = None

    @property
    def label(self) -> str:
        return self.name or self.vm_url


class Subtask(BaseModel):
    """A row of `task_history`: one subtask of a run. `key` is the plan's id for it."""

    model_config = ConfigDict(frozen=True)

    id: int
    run_id: str
    position: int
    key: str
    kind: str
    task_description: str
    depends_on: list[str] = Field(default_factory=list)
    title: str | None = None
    status: SubtaskState = SubtaskState.PENDING
    worker_id: int | None = None
    attempts: int = 0
    output: str | None = None
    error: str | None = None
    cache_key: str | None = None
    cached: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None


class Run(BaseModel):
    """A row of `runs`."""

    model_config = ConfigDict(frozen=True)

    id: str
    command: str
    planner: str
    status: RunState = RunState.PENDING
    options: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    finished_at: datetime | None = None
    result: str | None = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class RunDetail(Run):
    """A run with its subtasks, in plan order."""

    subtasks: list[Subtask] = Field(default_factory=list)


@dataclass(frozen=True)
class SubtaskSpec:
    """A subtask to create with its run."""

    key: str
    kind: str
    task: str
    depends_on: list[str] = field(default_factory=list)
    title: str | None = None
    cache_key: str | None = None


@dataclass(frozen=True)
class SubtaskUpdate:
    """A change to one subtask; None leaves a column as it is. Applied in batches."""

    subtask_id: int
    status: SubtaskState
    worker_id: int | None = None
    attempts: int | None = None
    output: str | None = None
    error: str | None = None
    cached: bool | None = None
    cache_key: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """One subtask a worker actually ran: counted on that worker, atomically in SQL."""

    worker_id: int
    failed: bool
    latency_ms: float | None = None


@dataclass(frozen=True)
class HeartbeatRecord:
    """One probe of one worker by the heartbeat."""

    worker_id: int
    at: datetime
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
