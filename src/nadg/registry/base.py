"""What every part of the Registry shares: the engine, transactions, error translation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from nadg.registry.engine import WRITE, translated


class RegistryBase:
    """Holds the engine; `_write()` and `_read()` give translated connections."""

    def __init__(self, engine: AsyncEngine, url: str, kind: str) -> None:
        self._engine = engine
        self._url = url
        self._kind = kind
        self.statements = 0  # statements sent to the database (an executemany counts once)
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        self.statements += 1

    @property
    def url_kind(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._kind

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed at the end, rolled back on an error."""
        with translated(self._url):
            async with self._engine.connect() as connection:
                connection = await connection.execution_options(**{WRITE: True})
                async with connection.begin():
                    yield connection

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        with translated(self._url):
            async with self._engine.connect() as connection:
                yield connection
