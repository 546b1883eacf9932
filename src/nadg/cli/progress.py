"""Live progress of a run on stderr: a table of subtasks and an overall bar (a TTY), or lines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from nadg.events import Event, EventKind

STYLE = {
    "pending": "dim",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "retrying": "magenta",
}
_STATE_OF = {
    EventKind.DISPATCHED: "running",
    EventKind.RETRIED: "retrying",
    EventKind.COMPLETED: "completed",
    EventKind.FAILED: "failed",
    EventKind.CANCELLED: "cancelled",
}


@dataclass
class _Row:
    state: str = "pending"
    worker: str = ""
    attempt: int = 0
    started: float | None = None
    ended: float | None = None
    note: str = ""


class ProgressView:
    """An EventSink that draws the run; use as a context manager around the run."""

    def __init__(self, console: Console | None = None, *, enabled: bool = True) -> None:
        self._console = console or Console(stderr=True)
        self._enabled = enabled
        self._live_mode = enabled and self._console.is_terminal
        self._rows: dict[str, _Row] = {}
        self._total = 0
        self._live: Live | None = None

    def __enter__(self) -> ProgressView:
        if self._live_mode:
            self._live = Live(self._render(), console=self._console, refresh_per_second=8)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(exc_type, exc, tb)

    def __call__(self, event: Event) -> None:
        if event.kind == EventKind.PLANNED:
            self._total = event.total
            self._line(f"run {event.run_id}: {event.total} subtasks")
        elif event.subtask is not None:
            self._update(event)
        elif event.kind == EventKind.FINISHED:
            self._line(f"run {event.run_id} {event.message}")
        if self._live is not None:
            self._live.update(self._render())

    def _update(self, event: Event) -> None:
        assert event.subtask is not None
        row = self._rows.setdefault(event.subtask, _Row())
        row.state = _STATE_OF.get(event.kind, row.state)
        row.worker = event.worker or row.worker
        row.attempt = event.attempt or row.attempt
        now = time.monotonic()
        if event.kind == EventKind.DISPATCHED:
            row.started, row.ended = now, None
        elif event.kind in (EventKind.COMPLETED, EventKind.FAILED, EventKind.CANCELLED):
            row.ended = now
        row.note = (
            "cached"
            if event.cached
            else event.message.splitlines()[0][:80]
            if event.message
            else ""
        )
        where = f" on {row.worker}" if row.worker else ""
        note = f" ({row.note})" if row.note else ""
        self._line(f"  {event.subtask}: {row.state}{where}{note}")

    def _line(self, text: str) -> None:
        if self._enabled and not self._live_mode:
            self._console.print(text, markup=False, highlight=False)

    def _render(self) -> Group:
        table = Table(box=None, pad_edge=False, expand=False)
        for column in ("subtask", "state", "worker", "try", "elapsed", ""):
            table.add_column(column)
        now = time.monotonic()
        for key, row in self._rows.items():
            elapsed = ""
            if row.started is not None:
                elapsed = f"{(row.ended or now) - row.started:.1f} s"
            state = f"[{STYLE.get(row.state, '')}]{row.state}[/]"
            table.add_row(key, state, row.worker, str(row.attempt or ""), elapsed, row.note)
        done = sum(1 for row in self._rows.values() if row.ended is not None)
        total = max(self._total, len(self._rows), 1)
        bar = ProgressBar(total=total, completed=done, width=40)
        return Group(table, bar, f"{done}/{total} subtasks ended")
