"""The warm pool through a real worker: how many sandboxes wait, and that none outlives it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fixtures.worker import (
    BOOTSTRAP_LINE,
    descendants,
    execute,
    idle_sandboxes,
    leftovers,
    running_worker,
)


def poll(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def is_sandbox(pid: int) -> bool:
    try:
        return BOOTSTRAP_LINE in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def require_bwrap(url: str) -> None:
    """Pools exist only under bwrap (see Sandbox.warm_up)."""
    status = httpx.get(f"{url}/status").json()
    if "bwrap" not in status["isolation_layers"]:
        pytest.skip(f"no bwrap here (isolation {status['isolation']}): no warm pool")


def run_one(url: str, code: str = "print(1)") -> dict[str, object]:
    with httpx.Client(timeout=30.0) as http:
        response = execute(http, url, None, code)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_pool_keeps_one_sandbox_per_slot_and_refills(tmp_path: Path) -> None:
    with running_worker(tmp_path, None, max_concurrency=3) as cluster:
        require_bwrap(cluster.urls[0])
        pid = cluster.workers[0].process.pid
        assert poll(lambda: len(idle_sandboxes(pid)) == 3)
        before = set(idle_sandboxes(pid))
        assert run_one(cluster.urls[0])["stdout"] == "1\n"
        assert poll(lambda: len(idle_sandboxes(pid)) == 3)
        assert len(before - set(idle_sandboxes(pid))) == 1  # one was used, and replaced
        assert poll(lambda: not leftovers(pid))


def test_warm_zero_spawns_per_task(tmp_path: Path) -> None:
    env = {"NADG_SANDBOX_WARM": "0"}
    with running_worker(tmp_path, None, env=env) as cluster:
        pid = cluster.workers[0].process.pid
        assert run_one(cluster.urls[0])["stdout"] == "1\n"
        assert poll(lambda: not leftovers(pid, idle_ok=False))


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_no_idle_sandbox_outlives_the_worker(tmp_path: Path, how: str) -> None:
    """Stopped: the lifespan closes the pool; crashed: bwrap's die-with-parent."""
    with running_worker(tmp_path, None) as cluster:
        require_bwrap(cluster.urls[0])
        worker = cluster.workers[0]
        assert run_one(cluster.urls[0])["stdout"] == "1\n"
        assert poll(lambda: len(idle_sandboxes(worker.process.pid)) == 2)
        chains = descendants(worker.process.pid)
        if how == "crash":
            worker.kill()
        else:
            cluster.stop()
        worker.process.wait(timeout=20)
        assert poll(lambda: not any(map(is_sandbox, chains))), [p for p in chains if is_sandbox(p)]
