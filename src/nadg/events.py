"""Progress events of a run, for the CLI's live view and the UI."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class EventKind(StrEnum):
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    RETRIED = "retried"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINISHED = "finished"  # the run


@dataclass(frozen=True)
class Event:
    """A progress event for the CLI and the UI."""

    kind: EventKind
    run_id: str
    subtask: str | None = None
    worker: str | None = None
    attempt: int = 0
    message: str = ""
    cached: bool = False
    total: int = 0  # on PLANNED: how many subtasks the run has
    at: float = field(default_factory=time.monotonic)


EventSink = Callable[[Event], None]
