"""The heartbeat: probe every registered worker's /health, record it, move statuses, alert.

The decisions are pure functions with `now` passed in (`next_status`, `offline_alerts`,
`failure_rate_alert`); `Heartbeat` does the I/O around them. One sweep probes all workers
concurrently, at most `heartbeat_concurrency` at a time, each bounded by `heartbeat_timeout`,
so a thousand workers take about one timeout, and writes the results in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from nadg.client import WorkerClient
from nadg.config import Settings
from nadg.registry.models import HeartbeatRecord, SubtaskState, Worker, WorkerState

if TYPE_CHECKING:
    from nadg.registry.store import Registry

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)


# --- decisions -------------------------------------------------------------------------------


def failures_after(consecutive_failures: int, ok: bool) -> int:
    """Failures in a row once this probe is counted."""
    return 0 if ok else consecutive_failures + 1


def next_status(
    current: WorkerState, consecutive_failures: int, ok: bool, threshold: int
) -> WorkerState:
    """A worker's status after one probe; `consecutive_failures` counts those before it.

    Draining stays draining (it is an operator's choice); one success makes a worker active;
    `threshold` failures in a row make it offline.
    """
    if current == WorkerState.DRAINING:
        return current
    if ok:
        return WorkerState.ACTIVE
    if failures_after(consecutive_failures, ok) >= threshold:
        return WorkerState.OFFLINE
    return current


def probe_order(workers: list[Worker]) -> list[Worker]:
    """Workers that failed last time first: their likely timeouts then overlap the others'
    probes instead of starting after them, so a sweep lasts about one timeout."""
    return sorted(workers, key=lambda worker: worker.consecutive_failures == 0)


@dataclass(frozen=True)
class Alert:
    """Something a human should look at."""

    kind: str  # "worker_offline" | "failure_rate"
    message: str
    worker_id: int | None = None
    value: float | None = None


def offline_alerts(workers: list[Worker], now: datetime, minutes: float) -> list[Alert]:
    """Workers offline for more than `minutes` since their last successful ping."""
    alerts = []
    for worker in workers:
        if worker.status != WorkerState.OFFLINE:
            continue
        seen = worker.last_ping or worker.created_at
        if seen is None or now - seen <= timedelta(minutes=minutes):
            continue
        offline_min = (now - seen).total_seconds() / 60.0
        alerts.append(
            Alert(
                "worker_offline",
                f"worker {worker.id} ({worker.label}) offline for {offline_min:.0f} min",
                worker.id,
                round(offline_min, 1),
            )
        )
    return alerts


def failure_rate(stats: dict[str, int]) -> float | None:
    """Failed among finished subtasks (completed + failed); None when none finished."""
    failed = stats.get(SubtaskState.FAILED.value, 0)
    finished = failed + stats.get(SubtaskState.COMPLETED.value, 0)
    return failed / finished if finished else None


def failure_rate_alert(stats: dict[str, int], threshold: float) -> Alert | None:
    """An alert when more than `threshold` of the last 24 h's finished subtasks failed."""
    rate = failure_rate(stats)
    if rate is None or rate <= threshold:
        return None
    failed = stats.get(SubtaskState.FAILED.value, 0)
    return Alert(
        "failure_rate",
        f"task failure rate {rate:.0%} over 24 h ({failed} failed), above {threshold:.0%}",
        None,
        round(rate, 4),
    )


# --- one sweep's report ----------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    worker_id: int
    vm_url: str
    before: WorkerState
    after: WorkerState


@dataclass
class SweepReport:
    """What one sweep saw and did."""

    at: datetime
    timeout_s: float
    duration_s: float = 0.0
    workers: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    pruned: int = 0

    @property
    def ok(self) -> int:
        return sum(1 for worker in self.workers if worker["ok"])

    @property
    def failed(self) -> int:
        return len(self.workers) - self.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "timeout_s": self.timeout_s,
            "checked": len(self.workers),
            "ok": self.ok,
            "failed": self.failed,
            "workers": self.workers,
            "transitions": [
                {"id": t.worker_id, "vm_url": t.vm_url, "from": t.before, "to": t.after}
                for t in self.transitions
            ],
            "alerts": [asdict(alert) for alert in self.alerts],
            "pruned": self.pruned,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- the loop --------------------------------------------------------------------------------


class Heartbeat:
    """Sweeps the fleet; `run_once()` is one sweep, `run_forever()` repeats it."""

    def __init__(
        self,
        registry: Registry,
        client: WorkerClient,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._registry = registry
        self._client = client
        self._settings = settings
        self._http = http  # for the alert webhook
        self._clock = clock

    async def probe_all(self, workers: list[Worker]) -> list[HeartbeatRecord]:
        """GET /health on every worker at once, `heartbeat_concurrency` at most in flight."""
        semaphore = asyncio.Semaphore(self._settings.heartbeat_concurrency)
        return list(await asyncio.gather(*(self._probe(w, semaphore) for w in workers)))

    async def _probe(self, worker: Worker, semaphore: asyncio.Semaphore) -> HeartbeatRecord:
        timeout = self._settings.heartbeat_timeout
        async with semaphore:
            at = self._clock()
            try:
                # httpx bounds each phase; this bounds the whole probe, slow drips included.
                async with asyncio.timeout(timeout + 0.5):
                    probe = await self._client.probe(worker.vm_url, timeout=timeout)
            except TimeoutError:
                return HeartbeatRecord(
                    worker.id, at, False, timeout * 1000.0, f"no answer within {timeout:g} s"
                )
        return HeartbeatRecord(worker.id, at, probe.ok, round(probe.latency_ms, 2), probe.error)

    async def run_once(self) -> SweepReport:
        """One sweep: probe, record, transition, prune old probes, alert."""
        settings = self._settings
        started = self._clock()
        report = SweepReport(at=started, timeout_s=settings.heartbeat_timeout)
        workers = probe_order(await self._registry.list_workers())
        records = await self.probe_all(workers)
        changes = await self._registry.record_heartbeats(
            records, failures_threshold=settings.heartbeat_failures
        )
        report.transitions = [Transition(w.id, w.vm_url, a, b) for w, a, b in changes]
        for before_after in report.transitions:
            logger.info(
                "worker %s %s -> %s", before_after.vm_url, before_after.before, before_after.after
            )
        report.workers = _worker_rows(workers, records, changes)
        now = self._clock()
        retention = timedelta(days=settings.heartbeat_retention_days)
        report.pruned = await self._registry.prune_heartbeats(now - retention)
        report.alerts = await self._alerts(now)
        report.duration_s = (self._clock() - started).total_seconds()
        await self._send_alerts(report)
        return report

    async def _alerts(self, now: datetime) -> list[Alert]:
        workers = await self._registry.list_workers()
        alerts = offline_alerts(workers, now, self._settings.alert_offline_minutes)
        stats = await self._registry.task_stats(now - DAY)
        rate = failure_rate_alert(stats, self._settings.alert_failure_rate)
        return [*alerts, rate] if rate else alerts

    async def _send_alerts(self, report: SweepReport) -> None:
        url = self._settings.alert_webhook
        if not url or not report.alerts or self._http is None:
            return
        body: dict[str, Any] = {
            "source": "nadg heartbeat",
            "at": report.at.isoformat(),
            "alerts": [asdict(alert) for alert in report.alerts],
        }
        try:
            response = await self._http.post(url, json=body, timeout=10.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning("alert webhook failed: %s: %s", type(exc).__name__, exc)

    async def run_forever(
        self, every: float | None = None, on_report: Callable[[SweepReport], None] | None = None
    ) -> None:
        """Sweep every `every` seconds (default heartbeat_interval) until cancelled."""
        interval = every if every is not None else self._settings.heartbeat_interval
        while True:
            started = asyncio.get_running_loop().time()
            try:
                report = await self.run_once()
            except Exception:
                logger.exception("heartbeat sweep failed; trying again in %g s", interval)
            else:
                if on_report is not None:
                    on_report(report)
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, interval - elapsed))


def _worker_rows(
    workers: list[Worker],
    records: list[HeartbeatRecord],
    changes: list[tuple[Worker, WorkerState, WorkerState]],
) -> list[dict[str, Any]]:
    status = {worker.id: worker.status for worker in workers}
    status.update({worker.id: after for worker, _, after in changes})
    return [
        {
            "id": worker.id,
            "vm_url": worker.vm_url,
            "name": worker.name,
            "ok": record.ok,
            "latency_ms": record.latency_ms,
            "error": record.error,
            "status": status[worker.id].value,
        }
        for worker, record in zip(workers, records, strict=True)
    ]
