"""From Streamlit's synchronous script to NADG's async registry and orchestrator.

Each call runs on a private event loop (`asyncio.run`) and opens and closes what it uses, so
nothing async outlives a script run. A run is dispatched on a background thread (`RunJobs`),
and the page reads its live state back from the registry, which is why a refresh or a second
tab sees the same run.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from nadg import fleet as fleet_ops
from nadg.client import WorkerClient
from nadg.config import Settings
from nadg.errors import NadgError
from nadg.events import Event, EventKind
from nadg.fleet import AddedWorker
from nadg.grid import connect
from nadg.heartbeat import Heartbeat, SweepReport
from nadg.orchestrator import Orchestrator, PlannedCommand, Spent
from nadg.planner import Plan
from nadg.registry import Registry
from nadg.registry.models import RunDetail, Worker
from nadg.registry.urls import normalize_worker_url
from nadg.scheduling import RunOptions

logger = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_TIMEOUT = 3.0
TREND_HOURS = (24, 12, 6, 3, 1)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on a private loop, from a thread that may already have one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="nadg-ui-call")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


_MIGRATED: set[str] = set()  # databases this UI process already brought up to date


async def _with_registry(settings: Settings, use: Callable[[Registry], Awaitable[T]]) -> T:
    # The live view opens the registry every second: check the schema once, not each time.
    url = settings.resolved_database_url()
    async with await Registry.open(settings, migrate=url not in _MIGRATED) as registry:
        _MIGRATED.add(url)
        return await use(registry)


def with_registry(settings: Settings, use: Callable[[Registry], Awaitable[T]]) -> T:
    """`await use(registry)` on a registry opened for this call only."""
    return run_sync(_with_registry(settings, use))


async def _with_orchestrator(settings: Settings, use: Callable[[Orchestrator], Awaitable[T]]) -> T:
    async with connect(settings) as orchestrator:
        return await use(orchestrator)


def plan_command(
    settings: Settings, command: str, planner: str, max_subtasks: int | None
) -> PlannedCommand:
    """The planner's plan for `command`, not run yet."""

    async def use(orchestrator: Orchestrator) -> PlannedCommand:
        return await orchestrator.plan(command, planner=planner, max_subtasks=max_subtasks)

    return run_sync(_with_orchestrator(settings, use))


# --- the fleet -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetSnapshot:
    workers: list[Worker]
    uptime: dict[int, float]
    trends: dict[int, list[float]]


async def _fleet(registry: Registry) -> FleetSnapshot:
    now = datetime.now(UTC)
    workers = await registry.list_workers()
    windows = [await registry.uptime(now - timedelta(hours=hours)) for hours in TREND_HOURS]
    trends = {
        worker.id: [window[worker.id] for window in windows if worker.id in window]
        for worker in workers
    }
    return FleetSnapshot(workers, windows[0], trends)


def fleet(settings: Settings) -> FleetSnapshot:
    """The workers, their uptime over 24 h, and uptime over shrinking windows (the trend)."""
    return with_registry(settings, _fleet)


async def _add_worker(settings: Settings, url: str, name: str | None) -> AddedWorker:
    async with (
        await Registry.open(settings) as registry,
        WorkerClient(token=settings.client_token(), connect_timeout=STATUS_TIMEOUT) as client,
    ):
        return await fleet_ops.add_worker(registry, client, url, name=name, timeout=STATUS_TIMEOUT)


def add_worker(settings: Settings, url: str, name: str | None = None) -> tuple[Worker, bool]:
    """Register (or update) a worker; (worker, whether it answered /status). InvalidURL first."""
    added = run_sync(_add_worker(settings, normalize_worker_url(url), name))
    return added.worker, added.status is not None


async def _ping(settings: Settings) -> SweepReport:
    async with (
        await Registry.open(settings) as registry,
        WorkerClient(token=settings.client_token()) as client,
    ):
        return await Heartbeat(registry, client, settings).run_once()


def ping_now(settings: Settings) -> SweepReport:
    """One heartbeat sweep of every worker, now."""
    return run_sync(_ping(settings))


# --- runs in flight --------------------------------------------------------------------------


@dataclass
class Job:
    """One run dispatched from the UI on a background thread."""

    id: str
    label: str
    run_id: str | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    def on_event(self, event: Event) -> None:
        if event.kind == EventKind.PLANNED or self.run_id is None:
            self.run_id = event.run_id


class RunJobs:
    """The runs this UI process has in flight, shared by every browser session."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id or "")

    def submit(
        self,
        settings: Settings,
        command: str,
        *,
        plan: Plan | None,
        planner: str,
        options: RunOptions,
        spent: Spent | None = None,
    ) -> Job:
        """Plan (unless given) and run `command` in the background."""

        async def work(orchestrator: Orchestrator) -> RunDetail:
            return await orchestrator.submit(
                command, planner=planner, plan=plan, options=options, spent=spent
            )

        return self._start(settings, f"run {command[:60]!r}", work)

    def resume(self, settings: Settings, run_id: str) -> Job:
        async def work(orchestrator: Orchestrator) -> RunDetail:
            return await orchestrator.resume(run_id)

        job = self._start(settings, f"resume {run_id}", work)
        job.run_id = run_id
        return job

    def _start(
        self,
        settings: Settings,
        label: str,
        work: Callable[[Orchestrator], Awaitable[RunDetail]],
    ) -> Job:
        job = Job(uuid.uuid4().hex, label)
        with self._lock:
            self._jobs[job.id] = job
        thread = threading.Thread(
            target=_run_job, args=(job, settings, work), name=f"nadg-ui-{job.id[:8]}", daemon=True
        )
        thread.start()
        return job


def _run_job(
    job: Job, settings: Settings, work: Callable[[Orchestrator], Awaitable[RunDetail]]
) -> None:
    async def main() -> RunDetail:
        async with connect(settings, on_event=job.on_event) as orchestrator:
            return await work(orchestrator)

    try:
        run = asyncio.run(main())
        job.run_id = run.id
    except NadgError as exc:
        job.error = exc.message
    except Exception as exc:  # a background thread must record, not vanish
        logger.exception("%s failed", job.label)
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.done.set()
