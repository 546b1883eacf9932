"""A warm pool of single-use sandboxes: exec chains started ahead of demand.

Each chain is a full `bwrap ... python -I -S -c BOOTSTRAP` process, already past interpreter
start-up and blocked reading its payload from stdin. A task takes one, feeds it and is the only
task it ever runs; the pool starts a replacement in the background. Isolation is unchanged:
every task still gets a fresh process, fresh namespaces and a fresh /tmp. Starting processes
and killing them stays in `sandbox.py`, which passes its `spawn` and `discard` in.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chain:
    """One started exec chain waiting for its payload, with what its sweep and cleanup need."""

    proc: asyncio.subprocess.Process
    marker: str  # in the environment of a fallback-mode chain, to sweep what its task left
    workdir: str | None  # the fallback-mode home and tmp, removed after the task

    def alive(self) -> bool:
        """Not exited yet; peeks with WNOWAIT, so asyncio's child watcher still reaps it."""
        if self.proc.returncode is not None:
            return False
        try:
            return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:  # already reaped by the watcher
            return False


class WarmPool:
    """Keeps up to `size` chains ready; `take()` hands one out and starts a replacement."""

    def __init__(
        self,
        spawn: Callable[[], Awaitable[Chain]],
        discard: Callable[[Chain], Awaitable[None]],
        size: int,
    ) -> None:
        self.size = size
        self._spawn = spawn
        self._discard = discard
        self._ready: deque[Chain] = deque()
        self._refills: set[asyncio.Task[None]] = set()
        self._closed = False
        self._failed = False  # the last refill failed: wait for the next take() to try again

    @property
    def ready(self) -> tuple[Chain, ...]:
        return tuple(self._ready)

    def start(self) -> None:
        """Start filling the pool in the background."""
        self._top_up()

    async def take(self) -> Chain:
        """A ready chain (skipping any that died while idle), else one started on demand."""
        try:
            while self._ready:
                chain = self._ready.popleft()
                if chain.alive():
                    return chain
                logger.warning("a warm sandbox (pid %d) died while idle", chain.proc.pid)
                await self._discard(chain)
        finally:
            self._top_up()
        return await self._spawn()

    async def settle(self) -> None:
        """Wait until no refill is in flight."""
        while self._refills:
            await asyncio.gather(*self._refills, return_exceptions=True)

    async def close(self) -> None:
        """Stop refilling, wait for the refills in flight, and kill every idle chain."""
        self._closed = True
        await self.settle()
        while self._ready:
            await self._discard(self._ready.popleft())

    def _top_up(self) -> None:
        """Start one refill if the pool is short; each refill starts the next when it is done.

        One at a time, on purpose: a burst of tasks would otherwise start a burst of sandboxes
        that competes for the CPU with the very tasks it replaces.
        """
        if self._closed or self._refills or len(self._ready) >= self.size:
            return
        task = asyncio.create_task(self._refill(), name="sandbox-refill")
        self._refills.add(task)
        task.add_done_callback(self._refilled)

    def _refilled(self, task: asyncio.Task[None]) -> None:
        self._refills.discard(task)
        if not task.cancelled() and task.exception() is None and not self._failed:
            self._top_up()

    async def _refill(self) -> None:
        self._failed = False
        try:
            chain = await self._spawn()
        except Exception:  # log and survive: the next take() tries again
            logger.exception("could not start a warm sandbox")
            self._failed = True
            return
        if self._closed:
            await self._discard(chain)
            return
        self._ready.append(chain)
