"""Self-registration: a worker adds itself to the registry on start, goes offline on stop.

A new Hugging Face Space is discovered this way without anyone typing its URL: `nadg worker
--register` with a database URL upserts itself under its public URL (worker/app.py decides
which: `--public-url`, or `https://$SPACE_HOST` on a Space).
"""

from __future__ import annotations

import logging

from nadg.config import Settings
from nadg.errors import WorkerNotFound
from nadg.protocol import WorkerStatus
from nadg.registry.models import Worker, WorkerState
from nadg.registry.store import Registry

logger = logging.getLogger(__name__)


async def register_worker(settings: Settings, public_url: str, status: WorkerStatus) -> Worker:
    """Add or update this worker under `public_url`, active (a draining worker stays draining)."""
    async with await Registry.open(settings) as registry:
        worker = await registry.upsert_worker(
            public_url,
            name=status.worker_id,
            capabilities=status.capabilities,
            max_concurrency=status.max_concurrency,
            isolation=status.isolation,
        )
        if worker.status == WorkerState.OFFLINE:
            worker = await registry.set_worker_status(worker.id, WorkerState.ACTIVE)
    logger.info("registered as worker %d at %s (%s)", worker.id, worker.vm_url, worker.status)
    return worker


async def unregister_worker(settings: Settings, public_url: str) -> None:
    """Mark this worker offline on a clean shutdown (draining stays draining)."""
    async with await Registry.open(settings) as registry:
        try:
            worker = await registry.get_worker(public_url)
        except WorkerNotFound:
            logger.warning("not in the registry at shutdown: %s", public_url)
            return
        await registry.mark_worker_offline(worker.id)
    logger.info("marked worker %d offline at shutdown", worker.id)
