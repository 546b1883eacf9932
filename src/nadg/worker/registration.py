"""Self-registration: a worker adds itself to the registry on start, goes offline on stop."""

from __future__ import annotations

from nadg.config import Settings
from nadg.protocol import WorkerStatus


async def register_worker(settings: Settings, public_url: str, status: WorkerStatus) -> None:
    """Add or update this worker under `public_url`, active. (Stub: the registry issue.)"""
    raise NotImplementedError


async def unregister_worker(settings: Settings, public_url: str) -> None:
    """Mark this worker offline on a clean shutdown. (Stub: the registry issue.)"""
    raise NotImplementedError
