"""The warm pool of single-use sandboxes, in-process against real processes on this host."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.worker import BOOTSTRAP_LINE, descendants
from nadg.config import Settings
from nadg.errors import SandboxError
from nadg.worker.pool import WarmPool
from nadg.worker.sandbox import Sandbox, detect_sandbox

FRESH_TMP = (
    "import os, tempfile\n"
    "path = os.path.join(tempfile.gettempdir(), 'left-by-a-task')\n"
    "print(os.path.exists(path))\n"
    "open(path, 'w').write('x')\n"
)


@pytest.fixture
async def warm(settings: Settings) -> AsyncIterator[Sandbox]:
    """The strongest sandbox with a full pool of 2 (pools exist only under bwrap)."""
    sandbox = await detect_sandbox(settings)
    if not sandbox.plan.bwrap:
        pytest.skip(f"no bwrap here (isolation {sandbox.isolation}): no warm pool")
    sandbox.warm_up(2)
    try:
        await pool_of(sandbox).settle()
        yield sandbox
    finally:
        await sandbox.close()


def pool_of(sandbox: Sandbox) -> WarmPool:
    assert sandbox.pool is not None
    return sandbox.pool


def ready_pids(pool: WarmPool) -> set[int]:
    return {chain.proc.pid for chain in pool.ready}


def is_sandbox(pid: int) -> bool:
    """A live process of an exec chain (its argv carries the bootstrap); zombies are dead."""
    try:
        return BOOTSTRAP_LINE in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def poll(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return condition()


async def test_a_task_uses_one_ready_sandbox_and_the_pool_refills(warm: Sandbox) -> None:
    pool = pool_of(warm)
    before = ready_pids(pool)
    assert len(before) == 2
    outcome = await warm.run("print('hi')", {}, timeout=20)
    assert outcome.return_code == 0, outcome.stderr
    assert outcome.stdout == "hi\n"
    await pool.settle()
    after = ready_pids(pool)
    assert len(after) == 2 and all(chain.alive() for chain in pool.ready)
    used = before - after
    assert len(used) == 1  # the task ran in a pre-started process ...
    assert not is_sandbox(used.pop())  # ... which is gone: one task per process


async def test_idle_sandboxes_that_died_are_discarded(warm: Sandbox) -> None:
    pool = pool_of(warm)
    dead = pool.ready
    for chain in dead:
        os.killpg(chain.proc.pid, signal.SIGKILL)
    assert await poll(lambda: not any(chain.alive() for chain in dead))
    outcome = await warm.run("print('still runs')", {}, timeout=20)
    assert outcome.stdout == "still runs\n", outcome.stderr
    assert all(chain.proc.returncode is not None for chain in dead)  # reaped, not zombies
    await pool.settle()
    assert len(pool.ready) == 2
    assert not ready_pids(pool) & {chain.proc.pid for chain in dead}


async def test_close_leaves_no_sandbox_process(warm: Sandbox) -> None:
    await warm.run("print(1)", {}, timeout=20)  # close() while its refill is in flight
    chains = descendants(os.getpid())
    assert any(map(is_sandbox, chains))
    await warm.close()
    assert warm.pool is None
    left = set(chains) | set(descendants(os.getpid()))
    assert await poll(lambda: not any(map(is_sandbox, left))), [p for p in left if is_sandbox(p)]


async def test_every_task_sees_a_fresh_tmp(warm: Sandbox) -> None:
    for _ in range(3):  # two started together, then one refilled after the first task
        outcome = await warm.run(FRESH_TMP, {}, timeout=20)
        assert outcome.return_code == 0, outcome.stderr
        assert outcome.stdout == "False\n"


async def test_no_pool_without_a_pid_namespace(settings: Settings) -> None:
    """Without bwrap a task could write into an idle sandbox's stdin via /proc: cold only."""
    weaker = await detect_sandbox(settings.model_copy(update={"sandbox_use_bwrap": False}))
    weaker.warm_up(2)
    assert weaker.pool is None
    outcome = await weaker.run("print('cold')", {}, timeout=20)
    assert outcome.stdout == "cold\n", outcome.stderr


async def test_a_failing_refill_is_logged_and_the_task_fails_cleanly(
    warm: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    plan = replace(warm.plan, bwrap="/nonexistent/bwrap")
    broken = Sandbox(plan, warm.limits, 1024)
    broken.warm_up(2)
    try:
        with caplog.at_level(logging.ERROR, logger="nadg.worker.pool"):
            await pool_of(broken).settle()
        assert pool_of(broken).ready == ()
        assert "could not start a warm sandbox" in caplog.text
        with pytest.raises(SandboxError):
            await broken.run("print(1)", {}, timeout=20)
    finally:
        await broken.close()
