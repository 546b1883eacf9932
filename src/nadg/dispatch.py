"""Dispatch: send a run's subtasks to workers the moment they are ready; fail over; lose nothing.

The decisions (which worker, under which key, what a result means) are plain functions in
`scheduling.py`; `Dispatcher` only acts on them. Every change goes through the run's
journal, and a send waits until its `running` mark is written, so a master that dies
mid-run leaves a history that `resume` can finish without running anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nadg.client import WorkerClient, is_worker_fault
from nadg.errors import NadgError, WorkerBusy, WorkerError
from nadg.events import Event, EventKind, EventSink
from nadg.journal import Journal
from nadg.protocol import TaskKind, TaskRequest, TaskResult
from nadg.registry.models import (
    RunDetail,
    Subtask,
    SubtaskState,
    SubtaskUpdate,
    TaskOutcome,
    Worker,
)
from nadg.scheduling import (
    MAX_ERROR_CHARS,
    RunOptions,
    WorkerSlot,
    cache_key,
    choose_worker,
    failure_text,
    required_capability,
    task_id,
)

if TYPE_CHECKING:
    from nadg.registry import Registry

logger = logging.getLogger(__name__)


@dataclass
class _Item:
    """One subtask's live state in this dispatcher."""

    row: Subtask
    state: SubtaskState
    attempts: int  # sends so far, across resumes: numbers the idempotency keys
    output: str | None = None
    task_failures: int = 0  # the task's own failures in this dispatch
    worker_faults: int = 0  # sends lost to failing workers in this dispatch
    avoid: set[int] = field(default_factory=set)
    prefer: int | None = None
    reuse_attempt: int | None = None  # resend under the same key (it may already have run)
    in_flight: bool = False
    cache_key: str | None = None  # set once its dependencies are done; looked up only then

    @property
    def key(self) -> str:
        return self.row.key


@dataclass(frozen=True)
class _Attempt:
    item: _Item
    slot: WorkerSlot
    attempt: int
    elapsed_ms: float
    result: TaskResult | None = None
    error: WorkerError | None = None


class Dispatcher:
    """Runs one run's unfinished subtasks over the given workers until each has ended."""

    def __init__(
        self,
        registry: Registry,
        client: WorkerClient,
        run: RunDetail,
        workers: Sequence[Worker],
        options: RunOptions,
        *,
        on_event: EventSink | None = None,
    ) -> None:
        self._registry = registry
        self._client = client
        self._run = run
        self._options = options
        self._emit = on_event or (lambda event: None)
        self._slots = [WorkerSlot(worker) for worker in workers]
        self._items = {row.key: _start_state(row) for row in run.subtasks}
        self._tasks: set[asyncio.Task[_Attempt]] = set()
        self._updates: list[SubtaskUpdate] = []
        self._outcomes: list[TaskOutcome] = []
        self._offline: list[int] = []
        self._journal: Journal | None = None
        self._ended_badly = True  # a subtask failed or was cancelled since the last orphan check
        self.usage = [0, 0]  # input, output tokens of prompt subtasks

    async def run(self) -> None:
        self._journal = Journal(self._registry)
        try:
            await self._dispatch_all()
        except BaseException:
            await self._cancel_in_flight()  # Ctrl-C, or the registry failed: stop every send
            with contextlib.suppress(NadgError):  # a journal failure is already on its way up
                await self._close_journal()
            raise
        await self._close_journal()

    async def _dispatch_all(self) -> None:
        while True:
            self._cancel_orphans()
            launches = await self._schedule()
            ticket = self._record()  # each send waits until its `running` mark is written
            for item, slot, attempt in launches:
                self._launch(item, slot, attempt, ticket)
            if not self._tasks:
                if self._all_ended():
                    return
                if self._nothing_can_start():
                    self._fail_unrunnable()
                    continue
            await self._wait()

    # scheduling ---------------------------------------------------------------------------

    def _ready(self) -> list[_Item]:
        return [
            item
            for item in self._items.values()
            if item.state == SubtaskState.PENDING
            and not item.in_flight
            and all(self._items[dep].state == SubtaskState.COMPLETED for dep in item.row.depends_on)
        ]

    def _context(self, item: _Item) -> dict[str, str]:
        """Dependency id → its output, without the newline `print` ends it with."""
        return {dep: (self._items[dep].output or "").rstrip("\n") for dep in item.row.depends_on}

    async def _schedule(self) -> list[tuple[_Item, WorkerSlot, int]]:
        ready = self._ready()
        while ready and self._options.use_cache:
            left = await self._serve_from_cache(ready)
            if len(left) == len(ready):
                break
            ready = self._ready()  # cache hits may have made their dependents ready
        now = time.monotonic()
        launches = []
        full: set[str] = set()  # kinds no worker can take more of in this pass
        for item in ready:
            if item.row.kind in full:
                continue
            slot = choose_worker(
                item.row.kind, self._slots, now=now, avoid=item.avoid, prefer=item.prefer
            )
            if slot is None:
                full.add(item.row.kind)
                continue
            attempt = self._next_attempt(item)
            slot.in_flight += 1
            item.in_flight = True
            launches.append((item, slot, attempt))
            self._updates.append(
                SubtaskUpdate(
                    item.row.id,
                    SubtaskState.RUNNING,
                    worker_id=slot.id,
                    attempts=attempt,
                    started_at=_utcnow(),
                )
            )
        return launches

    @staticmethod
    def _next_attempt(item: _Item) -> int:
        if item.reuse_attempt is not None:
            attempt, item.reuse_attempt = item.reuse_attempt, None
            return attempt
        item.attempts += 1
        return item.attempts

    async def _serve_from_cache(self, ready: list[_Item]) -> list[_Item]:
        """Complete the ready subtasks an identical earlier one answered; return the rest.

        Each subtask is looked up once, when it first becomes ready: one waiting for a free
        slot is not asked about again on every pass.
        """
        fresh = [item for item in ready if item.cache_key is None]
        for item in fresh:
            item.cache_key = self._cache_key(item)
        hits: dict[str, str] = {}
        if fresh:
            hits = await self._registry.cached_outputs(
                sorted({item.cache_key for item in fresh if item.cache_key}),
                max_age_s=self._options.cache_ttl,
                now=_utcnow(),
            )
        looked_up = {item.key for item in fresh}
        left = []
        for item in ready:
            if item.key in looked_up and item.cache_key in hits:
                self._complete(item, hits[item.cache_key], None, cached=True)
            else:
                left.append(item)
        return left

    def _cache_key(self, item: _Item) -> str:
        return cache_key(item.row.kind, item.row.task_description, self._context(item))

    def _launch(self, item: _Item, slot: WorkerSlot, attempt: int, ticket: int) -> None:
        request = TaskRequest(
            task_id=task_id(self._run.id, item.key, attempt),
            kind=TaskKind(item.row.kind),
            task=item.row.task_description,
            timeout=self._options.timeout,
            context=self._context(item),
        )
        send = self._send(item, slot, attempt, request, ticket)
        task = asyncio.create_task(send, name=request.task_id)
        self._tasks.add(task)
        self._emit(self._event(EventKind.DISPATCHED, item, slot, attempt))
        logger.debug(
            "dispatched %s to %s",
            request.task_id,
            slot.worker.vm_url,
            extra={"run_id": self._run.id, "subtask": item.key, "worker_id": slot.id},
        )

    async def _send(
        self, item: _Item, slot: WorkerSlot, attempt: int, request: TaskRequest, ticket: int
    ) -> _Attempt:
        assert self._journal is not None
        await self._journal.durable(ticket)
        started = time.perf_counter()
        try:
            result = await self._client.execute(
                slot.worker.vm_url, request, slack=self._options.request_slack
            )
        except WorkerError as exc:
            return _Attempt(item, slot, attempt, _ms_since(started), error=exc)
        return _Attempt(item, slot, attempt, _ms_since(started), result=result)

    async def _wait(self) -> None:
        """Until a send finishes, or a worker that said 429 may be asked again."""
        if not self._tasks:
            await asyncio.sleep(self._next_wake() or 0.0)
            return
        done, _ = await asyncio.wait(
            self._tasks, timeout=self._next_wake(), return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            self._tasks.discard(task)
            self._on_attempt(task.result())

    def _next_wake(self) -> float | None:
        """When a worker that said 429 may be asked again (None: only a finished send wakes us)."""
        now = time.monotonic()
        waits = [slot.busy_until - now for slot in self._slots if slot.busy_until > now]
        return max(0.0, min(waits)) if waits else None

    # outcomes -----------------------------------------------------------------------------

    def _on_attempt(self, attempt: _Attempt) -> None:
        item, slot = attempt.item, attempt.slot
        slot.in_flight -= 1
        item.in_flight = False
        item.prefer = None
        if attempt.result is not None:
            self._on_result(attempt, attempt.result)
        elif isinstance(attempt.error, WorkerBusy):
            slot.busy_until = time.monotonic() + attempt.error.retry_after
            item.reuse_attempt = attempt.attempt  # a refusal is not an attempt
            self._requeue(item, slot, f"busy: {attempt.error.message}")
        elif attempt.error is not None and is_worker_fault(attempt.error):
            self._on_worker_fault(attempt, attempt.error)
        elif attempt.error is not None:
            self._fail(item, attempt.error.message, slot)

    def _on_result(self, attempt: _Attempt, result: TaskResult) -> None:
        item, slot = attempt.item, attempt.slot
        self._outcomes.append(TaskOutcome(slot.id, not result.ok, attempt.elapsed_ms))
        tokens = (result.usage.input_tokens, result.usage.output_tokens) if result.usage else (0, 0)
        self.usage = [self.usage[0] + tokens[0], self.usage[1] + tokens[1]]
        if result.ok:
            self._complete(item, result.stdout, slot, duration_ms=result.duration_ms, tokens=tokens)
        elif item.task_failures < self._options.retries:
            item.task_failures += 1
            item.avoid.add(slot.id)
            self._requeue(item, slot, failure_text(result))
        else:
            self._fail(item, failure_text(result), slot, output=result.stdout)

    def _on_worker_fault(self, attempt: _Attempt, error: WorkerError) -> None:
        item, slot = attempt.item, attempt.slot
        logger.warning("worker %s failed: %s", slot.worker.vm_url, error.message)
        if not slot.down:
            slot.down = True
            slot.faults += 1
            self._offline.append(slot.id)
        item.avoid.add(slot.id)
        item.worker_faults += 1
        if item.worker_faults < self._options.max_attempts:
            self._requeue(item, slot, error.message)
        else:
            message = f"gave up after {item.worker_faults} attempts: {error.message}"
            self._fail(item, message, slot)

    def _requeue(self, item: _Item, slot: WorkerSlot, reason: str) -> None:
        item.state = SubtaskState.PENDING
        self._updates.append(SubtaskUpdate(item.row.id, SubtaskState.PENDING, error=reason))
        self._emit(self._event(EventKind.RETRIED, item, slot, item.attempts, reason))

    def _complete(
        self,
        item: _Item,
        output: str,
        slot: WorkerSlot | None,
        *,
        cached: bool = False,
        duration_ms: float | None = None,
        tokens: tuple[int, int] = (0, 0),
    ) -> None:
        item.state, item.output = SubtaskState.COMPLETED, output
        key = item.cache_key or self._cache_key(item)
        self._updates.append(
            SubtaskUpdate(
                item.row.id,
                SubtaskState.COMPLETED,
                worker_id=slot.id if slot else None,
                output=output,
                error="",
                cached=cached,
                cache_key=key,
                completed_at=_utcnow(),
                duration_ms=0.0 if cached else duration_ms,
                input_tokens=tokens[0],
                output_tokens=tokens[1],
            )
        )
        self._emit(self._event(EventKind.COMPLETED, item, slot, item.attempts, cached=cached))

    def _fail(
        self, item: _Item, error: str, slot: WorkerSlot | None, *, output: str | None = None
    ) -> None:
        self._end(item, SubtaskState.FAILED, error, slot, output=output)

    def _end(
        self,
        item: _Item,
        state: SubtaskState,
        error: str,
        slot: WorkerSlot | None,
        *,
        output: str | None = None,
    ) -> None:
        item.state = state
        self._ended_badly = True
        self._updates.append(
            SubtaskUpdate(
                item.row.id,
                state,
                error=error[:MAX_ERROR_CHARS],
                output=output,
                completed_at=_utcnow(),
            )
        )
        kind = EventKind.FAILED if state == SubtaskState.FAILED else EventKind.CANCELLED
        self._emit(self._event(kind, item, slot, item.attempts, error))

    def _cancel_orphans(self) -> None:
        """A subtask whose dependency failed or was cancelled is cancelled, with that reason."""
        if not self._ended_badly:
            return
        self._ended_badly = False
        changed = True
        while changed:
            changed = False
            for item in self._items.values():
                if item.state != SubtaskState.PENDING or item.in_flight:
                    continue
                broken = [
                    dep for dep in item.row.depends_on if self._items[dep].state in _ENDED_BADLY
                ]
                if broken:
                    reason = f"dependency {broken[0]!r} {self._items[broken[0]].state.value}"
                    self._end(item, SubtaskState.CANCELLED, reason, None)
                    changed = True

    def _all_ended(self) -> bool:
        return all(item.state.finished for item in self._items.values())

    def _nothing_can_start(self) -> bool:
        """Nothing in flight, nobody cooling down after a 429, and no ready subtask was sent."""
        return self._next_wake() is None

    def _fail_unrunnable(self) -> None:
        """Nothing is in flight, yet ready subtasks found no worker: no worker is left for them."""
        for item in self._ready():
            need = required_capability(item.row.kind)
            self._fail(item, f"no active worker with capability {need!r} is left to run it", None)

    async def _cancel_in_flight(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for item in self._items.values():
            if item.in_flight:
                item.in_flight = False
                self._end(item, SubtaskState.CANCELLED, "cancelled by the user", None)

    def _record(self) -> int:
        """Hand what changed to the journal (it writes in the background); 0 if nothing did."""
        assert self._journal is not None
        if not (self._updates or self._outcomes or self._offline):
            return 0
        ticket = self._journal.record(self._updates, self._outcomes, self._offline)
        self._updates, self._outcomes, self._offline = [], [], []
        return ticket

    async def _close_journal(self) -> None:
        assert self._journal is not None
        self._record()
        await self._journal.close()

    def _event(
        self,
        kind: EventKind,
        item: _Item,
        slot: WorkerSlot | None,
        attempt: int,
        message: str = "",
        *,
        cached: bool = False,
    ) -> Event:
        worker = slot.worker.label if slot else None
        return Event(kind, self._run.id, item.key, worker, attempt, message, cached)


_ENDED_BADLY = (SubtaskState.FAILED, SubtaskState.CANCELLED)


def _start_state(row: Subtask) -> _Item:
    """A subtask as found in the registry; what did not complete is run (again)."""
    if row.status == SubtaskState.COMPLETED:
        return _Item(row, SubtaskState.COMPLETED, row.attempts, row.output)
    if row.status == SubtaskState.RUNNING and row.attempts > 0:
        # The master died waiting for it: ask the same worker under the same key, so a send
        # that already ran returns its result instead of running again.
        return _Item(
            row,
            SubtaskState.PENDING,
            row.attempts,
            prefer=row.worker_id,
            reuse_attempt=row.attempts,
        )
    return _Item(row, SubtaskState.PENDING, row.attempts)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
