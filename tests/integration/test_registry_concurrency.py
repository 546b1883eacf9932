"""Several processes count tasks on the same worker at once, with the heartbeat: none lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from nadg.config import Settings
from nadg.registry.store import Registry

PROCESSES = 4
INCREMENTS = 40

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from nadg.config import Settings
    from nadg.registry.models import HeartbeatRecord, TaskOutcome
    from nadg.registry.store import Registry

    async def main(url, home, worker_id, role, count):
        settings = Settings(database_url=url, home=home)
        async with await Registry.open(settings) as registry:
            for i in range(count):
                if role == "beat":
                    ok = i % 2 == 0
                    record = HeartbeatRecord(worker_id, datetime.now(UTC), ok, 1.0)
                    await registry.record_heartbeats([record], failures_threshold=3)
                else:
                    outcome = TaskOutcome(worker_id, failed=i % 4 == 0, latency_ms=float(i))
                    await registry.record_task_outcomes([outcome])

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
    """
)


async def test_counters_lose_no_increment(
    registry: Registry, registry_settings: Settings, tmp_path: Path
) -> None:
    worker = await registry.upsert_worker("http://shared-worker:7860")
    url = registry_settings.resolved_database_url()
    roles = ["count"] * PROCESSES + ["beat"]
    home = str(tmp_path / "home")
    args = [url, home, str(worker.id)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, *args, role, str(INCREMENTS)], stderr=subprocess.PIPE
        )
        for role in roles
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=100)
        assert process.returncode == 0, stderr.decode()[-2000:]
    counted = await registry.get_worker(worker.id)
    assert counted.total_tasks == PROCESSES * INCREMENTS
    assert counted.failed_tasks == PROCESSES * INCREMENTS // 4
