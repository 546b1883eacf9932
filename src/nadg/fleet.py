"""Fleet operations shared by the CLI, the UI and the local grid: adding workers, showing ages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from nadg.client import WorkerClient
from nadg.errors import NadgError, WorkerNotFound
from nadg.protocol import WorkerStatus
from nadg.registry.models import Worker, WorkerState
from nadg.registry.urls import normalize_worker_url

if TYPE_CHECKING:
    from nadg.registry import Registry


@dataclass(frozen=True)
class AddedWorker:
    worker: Worker
    created: bool
    status: WorkerStatus | None  # what it said on /status; None when it did not answer


async def ask_status(client: WorkerClient, url: str, timeout: float) -> WorkerStatus | None:
    """The worker's /status, or None when it does not answer in time (it may be down now)."""
    try:
        return await client.status(url, timeout=timeout)
    except NadgError:
        return None


async def add_worker(
    registry: Registry,
    client: WorkerClient,
    url: str,
    *,
    name: str | None = None,
    capabilities: Sequence[str] = (),
    max_concurrency: int | None = None,
    timeout: float = 3.0,
    activate: bool = False,
) -> AddedWorker:
    """Register a worker, or update the one with that URL, filling in what its /status says.

    The URL is validated first (InvalidURL, nothing written). Given values win over /status;
    `activate` makes it active now (a local worker just started), else a known worker keeps
    its status and a new one starts active.
    """
    url = normalize_worker_url(url)
    status = await ask_status(client, url, timeout)
    try:
        await registry.get_worker(url)
        created = False
    except WorkerNotFound:
        created = True
    worker = await registry.upsert_worker(
        url,
        name=name or (status.worker_id if status and created else None),
        capabilities=list(capabilities) or (status.capabilities if status else None),
        max_concurrency=max_concurrency or (status.max_concurrency if status else None),
        isolation=status.isolation if status else None,
        status=WorkerState.ACTIVE if activate else None,
    )
    return AddedWorker(worker, created, status)


def format_age(then: datetime | None, now: datetime) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago', or 'never'."""
    if then is None:
        return "never"
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"
