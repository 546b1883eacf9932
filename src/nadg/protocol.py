"""The wire protocol shared by the master and the workers: the only module both sides import."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

AUTH_HEADER = "X-NADG-AUTH"
MAX_TIMEOUT_S = 24 * 3600.0  # a worker may refuse less via its own max_task_timeout


class TaskKind(StrEnum):
    PYTHON = "python"
    PROMPT = "prompt"


class ResultStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class TaskRequest(BaseModel):
    """POST /execute: one subtask. `task_id` doubles as the idempotency key."""

    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")
    kind: TaskKind = TaskKind.PYTHON
    task: str = Field(min_length=1)
    timeout: float = Field(30.0, gt=0, le=MAX_TIMEOUT_S)
    context: dict[str, str] = Field(default_factory=dict)


class PythonTaskRequest(BaseModel):
    """POST /execute-python: the seed's endpoint; `code` is accepted as the old name of `task`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    task_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")
    task: str = Field(min_length=1, validation_alias="code")
    timeout: float = Field(30.0, gt=0, le=MAX_TIMEOUT_S)
    context: dict[str, str] = Field(default_factory=dict)


class TaskResult(BaseModel):
    """The answer to a task that ran: completed, or failed/timeout with its stderr."""

    task_id: str
    kind: TaskKind = TaskKind.PYTHON
    status: ResultStatus
    stdout: str = ""  # a python task's output, or a prompt task's text
    stderr: str = ""
    return_code: int | None = None
    duration_ms: float = 0.0
    worker_id: str = ""
    truncated: bool = False
    usage: TokenUsage | None = None

    @property
    def ok(self) -> bool:
        return self.status == ResultStatus.COMPLETED


class Root(BaseModel):
    status: str = "active"
    service: str = "NADG Worker Node"
    timestamp: datetime


class Health(BaseModel):
    status: str = "healthy"
    worker_id: str
    uptime_s: float
    timestamp: datetime


class WorkerStatus(BaseModel):
    worker_id: str
    version: str
    capabilities: list[str]
    running: int
    max_concurrency: int
    completed: int
    failed: int
    isolation: str  # e.g. "bwrap+uid+rlimits", or "rlimits" where bwrap is missing
    isolation_layers: list[str] = Field(default_factory=list)
    network: bool = False


class ErrorBody(BaseModel):
    """Every refusal's JSON body."""

    error: str
    detail: object | None = None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
