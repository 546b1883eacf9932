"""The Registry: the fleet and the runs, on SQLite or PostgreSQL. All of NADG's SQL lives here."""

from __future__ import annotations

import logging
from types import TracebackType

from nadg.config import Settings
from nadg.registry.engine import async_url, create_engine, redact, translated, url_kind
from nadg.registry.heartbeats import HeartbeatQueries
from nadg.registry.migrate import ensure_schema, upgrade
from nadg.registry.models import SubtaskUpdate, TaskOutcome
from nadg.registry.runs import RunQueries, subtask_update_params, subtask_update_statement
from nadg.registry.workers import (
    WorkerQueries,
    offline_statement,
    outcome_params,
    outcome_statement,
)

logger = logging.getLogger(__name__)


class Registry(WorkerQueries, RunQueries, HeartbeatQueries):
    """Open with `await Registry.open(settings)` (or `async with`); close when done."""

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> Registry:
        """Connect, and bring the schema up to date on first use."""
        url = settings.resolved_database_url()
        engine = create_engine(url)  # a SQLite file's folder (~/.nadg by default) is created
        try:
            if migrate:
                with translated(url):
                    await ensure_schema(engine)
        except BaseException:
            await engine.dispose()
            raise
        logger.debug("registry open at %s", redact(url))
        return cls(engine, url, url_kind(async_url(url)))

    async def close(self) -> None:
        await self._engine.dispose()

    async def record_progress(
        self,
        updates: list[SubtaskUpdate],
        outcomes: list[TaskOutcome],
        offline: list[int],
    ) -> None:
        """A dispatcher's batch in ONE transaction: subtask changes (in order), worker counts
        (atomic increments) and workers seen failing (active -> offline)."""
        if not (updates or outcomes or offline):
            return
        async with self._write() as connection:
            if updates:
                params = [subtask_update_params(item) for item in updates]
                await connection.execute(subtask_update_statement(), params)
            if outcomes:
                await connection.execute(outcome_statement(), outcome_params(outcomes))
            if offline:
                await connection.execute(offline_statement(sorted(set(offline))))

    async def __aenter__(self) -> Registry:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def upgrade_database(settings: Settings) -> tuple[str, bool]:
    """`nadg db upgrade`: migrate to the newest revision; (where, whether anything changed)."""
    url = settings.resolved_database_url()
    engine = create_engine(url)
    try:
        with translated(url):
            changed = await upgrade(engine)
    finally:
        await engine.dispose()
    return redact(url), changed
