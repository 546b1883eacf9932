"""The run journal: a dispatcher's writes, committed in the background in as few batches as
the load allows (group commit).

`record()` never waits, so the dispatcher keeps scheduling while the database works; a send
waits on `durable(ticket)` for the batch holding its `running` mark, so nothing is sent before
it is written. Batches are committed in order, one transaction each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from nadg.registry.models import SubtaskUpdate, TaskOutcome

if TYPE_CHECKING:
    from nadg.registry import Registry

logger = logging.getLogger(__name__)


class Journal:
    """Collects a run's progress and writes it from one background task."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._updates: list[SubtaskUpdate] = []
        self._outcomes: list[TaskOutcome] = []
        self._offline: list[int] = []
        self._recorded = 0  # tickets handed out
        self._durable = 0  # tickets committed
        self._error: BaseException | None = None
        self._changed = asyncio.Condition()
        self._wake = asyncio.Event()
        self._closing = False
        self._writer = asyncio.create_task(self._write_forever(), name="journal-writer")

    def record(
        self,
        updates: Iterable[SubtaskUpdate] = (),
        outcomes: Iterable[TaskOutcome] = (),
        offline: Iterable[int] = (),
    ) -> int:
        """Queue changes for the next batch; returns the ticket `durable()` waits for."""
        self._raise_if_failed()
        self._updates.extend(updates)
        self._outcomes.extend(outcomes)
        self._offline.extend(offline)
        self._recorded += 1
        self._wake.set()
        return self._recorded

    async def durable(self, ticket: int) -> None:
        """Wait until the batch holding `ticket` is committed (or raise why it never will be)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._durable >= ticket or self._error is not None)
        self._raise_if_failed()

    async def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        self._closing = True
        self._wake.set()
        await asyncio.shield(self._writer)
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._recorded > self._durable:
                await self._write_batch()
            if self._error is not None or (self._closing and self._recorded == self._durable):
                return

    async def _write_batch(self) -> None:
        ticket = self._recorded
        updates, self._updates = self._updates, []
        outcomes, self._outcomes = self._outcomes, []
        offline, self._offline = self._offline, []
        try:
            await self._registry.record_progress(updates, outcomes, offline)
        except Exception as exc:  # the run cannot go on unrecorded: every waiter gets this
            logger.exception("could not record the run's progress")
            self._error = exc
        else:
            self._durable = ticket
        async with self._changed:
            self._changed.notify_all()
