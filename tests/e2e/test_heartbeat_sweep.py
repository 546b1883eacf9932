"""The heartbeat against real workers and endpoints that refuse, hang or answer 500."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from e2e.loopback import Endpoint
from nadg.client import WorkerClient
from nadg.cluster import LocalCluster, free_port
from nadg.config import Settings
from nadg.heartbeat import Heartbeat, SweepReport
from nadg.registry.models import HeartbeatRecord, WorkerState
from nadg.registry.store import Registry

TIMEOUT = 1.0


@pytest.fixture
async def endpoints() -> AsyncIterator[Callable[[str], Awaitable[Endpoint]]]:
    started: list[Endpoint] = []

    async def start(mode: str) -> Endpoint:
        endpoint = await Endpoint(mode).start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        await endpoint.stop()


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'beat.db'}",
        heartbeat_timeout=TIMEOUT,
        **values,  # type: ignore[arg-type]
    )


async def _sweep(settings: Settings, registry: Registry) -> SweepReport:
    async with httpx.AsyncClient() as http:
        return await Heartbeat(registry, WorkerClient(http), settings, http=http).run_once()


async def test_each_kind_of_endpoint_ends_in_the_right_status(
    tmp_path: Path,
    endpoints: Callable[[str], Awaitable[Endpoint]],
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    settings = _settings(tmp_path)
    cluster = cluster_factory(1)
    healthy = await endpoints("ok")
    broken = await endpoints("error")
    hanging = await endpoints("hang")
    refused = f"http://127.0.0.1:{free_port()}"
    async with await Registry.open(settings) as registry:
        real = await registry.upsert_worker(cluster.urls[0], status=WorkerState.OFFLINE)
        ok = await registry.upsert_worker(healthy.url)
        bad = await registry.upsert_worker(broken.url)
        hung = await registry.upsert_worker(hanging.url)
        gone = await registry.upsert_worker(refused)
        drained = await registry.upsert_worker(f"http://127.0.0.1:{free_port()}",
                                               status=WorkerState.DRAINING)  # fmt: skip
        started = time.monotonic()
        report = await _sweep(settings, registry)
        elapsed = time.monotonic() - started
        workers = {w.id: w for w in await registry.list_workers()}
    assert elapsed < TIMEOUT + 2.0
    assert workers[real.id].status is WorkerState.ACTIVE  # offline -> active on one success
    assert workers[ok.id].status is WorkerState.ACTIVE
    assert workers[ok.id].last_ping is not None
    for failed in (bad, hung, gone):
        assert workers[failed.id].status is WorkerState.OFFLINE
        assert workers[failed.id].consecutive_failures == 1
    assert workers[drained.id].status is WorkerState.DRAINING
    rows = {row["id"]: row for row in report.to_dict()["workers"]}
    assert "500" in rows[bad.id]["error"]
    assert "no answer" in rows[hung.id]["error"]
    assert rows[real.id]["ok"] is True


async def test_flapping_holds_below_the_threshold(
    tmp_path: Path, endpoints: Callable[[str], Awaitable[Endpoint]]
) -> None:
    settings = _settings(tmp_path, heartbeat_failures=2)
    flappy = await endpoints("ok")
    async with await Registry.open(settings) as registry:
        worker = await registry.upsert_worker(flappy.url)
        seen = []
        for mode in ["error", "ok", "error", "ok", "error", "error", "ok"]:
            flappy.mode = mode
            await _sweep(settings, registry)
            seen.append((await registry.get_worker(worker.id)).status.value)
    assert seen == ["active"] * 5 + ["offline", "active"]


async def test_alerts_are_printed_and_sent_to_the_webhook(
    tmp_path: Path, endpoints: Callable[[str], Awaitable[Endpoint]]
) -> None:
    hook = await endpoints("ok")
    settings = _settings(tmp_path, alert_webhook=hook.url + "/alerts")
    async with await Registry.open(settings) as registry:
        worker = await registry.upsert_worker(f"http://127.0.0.1:{free_port()}")
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        await registry.record_heartbeats(
            [HeartbeatRecord(worker.id, an_hour_ago, True, 1.0)], failures_threshold=1
        )
        report = await _sweep(settings, registry)
    alerts = report.to_dict()["alerts"]
    assert [alert["kind"] for alert in alerts] == ["worker_offline"]
    assert hook.received[0]["alerts"][0]["worker_id"] == worker.id
