"""Apply the registry's Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from nadg.registry.engine import WRITE

logger = logging.getLogger(__name__)

HEAD = "0001"  # the newest revision; a test checks it against the scripts
MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK = 0x6E616467  # "nadg": one migrator at a time per database


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def script_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def ensure_schema(engine: AsyncEngine) -> bool:
    """Upgrade the database to HEAD when it is behind; True when something was applied."""
    async with engine.connect() as connection:
        if await connection.run_sync(current_revision) == HEAD:
            return False
    return await upgrade(engine)


async def upgrade(engine: AsyncEngine) -> bool:
    """Run every pending migration in one transaction, one migrator at a time."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(**{WRITE: True})
        async with connection.begin():
            if connection.dialect.name == "postgresql":
                await connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK})"))
            before = await connection.run_sync(current_revision)
            if before == HEAD:
                return False
            await connection.run_sync(_upgrade_sync)
    logger.info("registry migrated from %s to %s", before or "nothing", HEAD)
    return True


def _upgrade_sync(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
