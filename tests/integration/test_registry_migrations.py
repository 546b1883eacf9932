"""Migrations: applied on first use, idempotent, and the schema matches the tables' code."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from nadg.config import Settings
from nadg.errors import DatabaseUnavailable
from nadg.registry.migrate import HEAD, script_head
from nadg.registry.schema import metadata
from nadg.registry.store import Registry, upgrade_database


def test_head_constant_matches_the_scripts() -> None:
    assert script_head() == HEAD


def _columns(url: str) -> dict[str, set[str]]:
    sync_url = url.replace("sqlite:///", "sqlite+pysqlite:///").replace(
        "postgresql://", "postgresql+psycopg://"
    )
    engine = create_engine(sync_url)
    try:
        inspector = inspect(engine)
        return {
            t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()
        }
    finally:
        engine.dispose()


async def test_first_use_creates_every_table(
    registry_settings: Settings, database_url: str
) -> None:
    async with await Registry.open(registry_settings):
        pass
    columns = _columns(database_url)
    for table in metadata.sorted_tables:
        assert {c.name for c in table.columns} == columns[table.name]
    assert "alembic_version" in columns
    where, changed = await upgrade_database(registry_settings)
    assert changed is False
    assert "registry" in where or "test" in where


async def test_db_upgrade_on_an_empty_database(registry_settings: Settings) -> None:
    _, changed = await upgrade_database(registry_settings)
    assert changed is True


async def test_an_unreachable_database_is_one_clear_error() -> None:
    settings = Settings(database_url="postgresql://nadg:s3cretpw@127.0.0.1:1/nadg")
    with pytest.raises(DatabaseUnavailable) as caught:
        await Registry.open(settings)
    assert "s3cretpw" not in caught.value.message
    assert "\n" not in caught.value.message
